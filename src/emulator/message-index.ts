/**
 * Which message ids belong to which conversation, so a reaction can be checked against the message it names: the inbound
 * messages' Pipes ids (`msg_…`) and the wamids the emulator issued for what the bot sent.
 */
export class MessageIndex {
  private readonly inbound = new Map<string, Set<string>>();
  private readonly outbound = new Map<string, Set<string>>();

  addInbound(conversationId: string, messageId: string): void {
    add(this.inbound, conversationId, messageId);
  }

  addOutbound(conversationId: string, messageId: string): void {
    add(this.outbound, conversationId, messageId);
  }

  /** A wamid the emulator issued for a send into this conversation. */
  isOutbound(conversationId: string, messageId: string): boolean {
    return this.outbound.get(conversationId)?.has(messageId) ?? false;
  }

  /** An inbound message of this conversation, or a wamid sent into it. */
  isKnown(conversationId: string, messageId: string): boolean {
    return (this.inbound.get(conversationId)?.has(messageId) ?? false) || this.isOutbound(conversationId, messageId);
  }

  clear(): void {
    this.inbound.clear();
    this.outbound.clear();
  }
}

function add(map: Map<string, Set<string>>, conversationId: string, messageId: string): void {
  let ids = map.get(conversationId);
  if (!ids) map.set(conversationId, (ids = new Set()));
  ids.add(messageId);
}
