/** Conversations: one per (tenant, pool number, sender), with the last-inbound time for the 24 h window. */
import { newConversationId } from "./ids";

export interface Conversation {
  conversationId: string;
  userId: string;
  poolNumberId: string;
  fromNumber: string;
  fromName?: string;
  createdAt: number;
  /** Emulator clock of the last inbound message; the service window counts from here (docs/protocol.md#service-window). */
  lastInboundAt: number;
}

export class ConversationStore {
  private readonly byId = new Map<string, Conversation>();
  private readonly byRoute = new Map<string, Conversation>();

  private static routeKey(userId: string, poolNumberId: string, fromNumber: string): string {
    return `${userId}\u0000${poolNumberId}\u0000${fromNumber}`;
  }

  /** Finds or creates the conversation and records an inbound message at `now`. */
  recordInbound(userId: string, poolNumberId: string, fromNumber: string, now: number, fromName?: string): Conversation {
    const key = ConversationStore.routeKey(userId, poolNumberId, fromNumber);
    let conversation = this.byRoute.get(key);
    if (!conversation) {
      conversation = { conversationId: newConversationId(), userId, poolNumberId, fromNumber, createdAt: now, lastInboundAt: now };
      this.byRoute.set(key, conversation);
      this.byId.set(conversation.conversationId, conversation);
    }
    conversation.lastInboundAt = now;
    if (fromName !== undefined) conversation.fromName = fromName;
    return conversation;
  }

  get(conversationId: string): Conversation | undefined {
    return this.byId.get(conversationId);
  }

  /** The conversation only if `userId` owns it: foreign and unknown look the same to a caller. */
  getOwned(conversationId: string | undefined, userId: string): Conversation | undefined {
    const conversation = conversationId ? this.byId.get(conversationId) : undefined;
    return conversation && conversation.userId === userId ? conversation : undefined;
  }

  all(): Conversation[] {
    return [...this.byId.values()];
  }

  clear(): void {
    this.byId.clear();
    this.byRoute.clear();
  }
}
