/**
 * Decides the outcome of a client's whatsapp_reply (docs/protocol.md#replies, #scopes, #service-window). Checks run in a fixed order:
 * routing fields, conversation ownership, connection scope, text length, service window.
 */
import { ERROR_CODES, LIMITS, type ReplyStatus, type WhatsAppReply } from "../lib/protocol";
import type { Connection } from "./connections";
import type { EmulatorContext } from "./context";
import { newWamid } from "./ids";
import type { SentRecord } from "./types";

export interface ReplyDecision {
  /** null: the emulator stays silent (no reply_status frame). */
  status: ReplyStatus | null;
  /** With status null: the code it would have answered, for the refused log. */
  silentCode?: string;
  /** Set on success: what the bot sent. */
  record?: SentRecord;
}

const nonEmptyString = (value: unknown): value is string => typeof value === "string" && value !== "";

export function decideReply(ctx: EmulatorContext, connection: Connection, reply: WhatsAppReply): ReplyDecision {
  const options = ctx.options();
  const { conversationId } = reply;
  const fail = (code: string, error: string): ReplyDecision => ({
    status: { conversationId, success: false, error, code },
  });

  if (options.requireReplyRouting && (!nonEmptyString(reply.poolNumberId) || !nonEmptyString(reply.toNumber))) {
    return fail(ERROR_CODES.INVALID_REQUEST, "whatsapp_reply needs poolNumberId and toNumber");
  }

  const conversation = ctx.store.conversations.getOwned(conversationId, connection.info.userId);
  if (!conversation) {
    return options.foreignConversationReply === "error"
      ? fail(ERROR_CODES.CONVERSATION_NOT_FOUND, "conversation not found")
      : { status: null, silentCode: ERROR_CODES.CONVERSATION_NOT_FOUND };
  }

  if (connection.info.scope === "conversation" && connection.info.conversationId !== conversationId) {
    return options.outOfScopeReply === "error"
      ? fail(ERROR_CODES.OUT_OF_SCOPE, "this connection may only reply to its own conversation")
      : { status: null, silentCode: ERROR_CODES.OUT_OF_SCOPE };
  }

  if (reply.text.length > LIMITS.textMax) {
    return fail(ERROR_CODES.TEXT_TOO_LONG, `text longer than ${LIMITS.textMax} characters`);
  }

  const now = ctx.clock.now();
  if (now - conversation.lastInboundAt > options.serviceWindowMs) {
    return fail(ERROR_CODES.SERVICE_WINDOW_EXPIRED, "service window closed (last inbound > 24h)");
  }

  const messageId = newWamid();
  // Records the routing the bot asked for (falling back to the conversation's), so a test can see a
  // bot that addressed the wrong number; the server's own check of toNumber is UNSTATED (docs/decisions/0029-emulator-reply-routing-required.md).
  const record: SentRecord = {
    messageId,
    via: "ws",
    userId: conversation.userId,
    conversationId,
    poolNumberId: nonEmptyString(reply.poolNumberId) ? reply.poolNumberId : conversation.poolNumberId,
    toNumber: nonEmptyString(reply.toNumber) ? reply.toNumber : conversation.fromNumber,
    text: reply.text,
    kind: "text",
    at: now,
  };
  return { status: { conversationId, success: true, messageId }, record };
}
