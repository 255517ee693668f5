/**
 * Conversations: one per (account, number, user), with the last-inbound time for the 24 h window. An account is a tenant
 * or a BYON App (docs/decisions/0049-emulator-byon-apps.md); an App's template send may open a conversation the user
 * never wrote into, whose window stays closed until the user writes (docs/decisions/0051-emulator-template-sends.md).
 */
import { newConversationId } from "./ids";

export interface Conversation {
  conversationId: string;
  userId: string;
  poolNumberId: string;
  fromNumber: string;
  fromName?: string;
  createdAt: number;
  /**
   * Emulator clock of the last inbound message; the service window counts from here (docs/protocol.md#service-window).
   * null: the user has not written yet (a template started the conversation).
   */
  lastInboundAt: number | null;
}

/** Whether free-form messages may go to this conversation at `now`: the user wrote within the last `windowMs`. */
export function windowOpen(conversation: Conversation, now: number, windowMs: number): boolean {
  return conversation.lastInboundAt !== null && now - conversation.lastInboundAt <= windowMs;
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

  /** The conversation of (account, number, user), if there is one. */
  find(userId: string, poolNumberId: string, fromNumber: string): Conversation | undefined {
    return this.byRoute.get(ConversationStore.routeKey(userId, poolNumberId, fromNumber));
  }

  /** Finds or creates the conversation without recording an inbound message: a new one has no open window. */
  openOutbound(userId: string, poolNumberId: string, toNumber: string, now: number): Conversation {
    const existing = this.find(userId, poolNumberId, toNumber);
    if (existing) return existing;
    const conversation: Conversation = {
      conversationId: newConversationId(),
      userId,
      poolNumberId,
      fromNumber: toNumber,
      createdAt: now,
      lastInboundAt: null,
    };
    this.byRoute.set(ConversationStore.routeKey(userId, poolNumberId, toNumber), conversation);
    this.byId.set(conversation.conversationId, conversation);
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
