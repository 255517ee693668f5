/**
 * Decides the outcome of a client frame answered by reply_status (docs/protocol.md#replies, #scopes, #service-window):
 * whatsapp_reply, and the first-party client's whatsapp_reaction and whatsapp_media_reply
 * (docs/decisions/0036-emulator-reaction-and-media-frames.md). Checks run in a fixed order: routing fields, conversation
 * ownership, connection scope, the frame's content (text, reaction target, media), service window.
 */
import { ERROR_CODES, LIMITS, type ReplyStatus } from "../lib/protocol";
import { mediaKindFor } from "../lib/media";
import { compactBase64, decodedLength, isBase64 } from "./base64";
import type { Connection } from "./connections";
import { windowOpen, type Conversation } from "./conversations";
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

/** The `data` of a client frame; only `conversationId` is known to be a non-empty string. */
export type FrameData = Record<string, unknown> & { conversationId: string };

/** The content check of one frame kind: a refusal, or what the success record carries (run only once the frame is sent). */
type ContentCheck =
  { refuse: { code: string; error: string } } | { fill: (record: SentRecord, conversation: Conversation, now: number) => void };

const nonEmptyString = (value: unknown): value is string => typeof value === "string" && value !== "";
const refuse = (code: string, error: string): ContentCheck => ({ refuse: { code, error } });

export function decideReply(ctx: EmulatorContext, connection: Connection, data: FrameData): ReplyDecision {
  return decide(ctx, connection, data, () => {
    const { text } = data;
    // An empty reply is answered, not ignored: the client's stop-and-wait needs a status for each reply (docs/decisions/0036).
    if (!nonEmptyString(text)) return refuse(ERROR_CODES.INVALID_REQUEST, "whatsapp_reply needs a non-empty text");
    if (text.length > LIMITS.textMax) return refuse(ERROR_CODES.TEXT_TOO_LONG, `text longer than ${LIMITS.textMax} characters`);
    return {
      fill: (record) => {
        record.kind = "text";
        record.text = text;
      },
    };
  });
}

/** whatsapp_reaction: `messageId` an inbound message of the conversation (Pipes `msg_…` id) or a wamid sent into it. */
export function decideReaction(ctx: EmulatorContext, connection: Connection, data: FrameData): ReplyDecision {
  return decide(ctx, connection, data, (conversation) => {
    const { messageId, emoji } = data;
    if (!nonEmptyString(messageId)) return refuse(ERROR_CODES.INVALID_REQUEST, "whatsapp_reaction needs a messageId");
    if (emoji !== undefined && typeof emoji !== "string")
      return refuse(ERROR_CODES.INVALID_REQUEST, "whatsapp_reaction: emoji must be a string");
    if (!ctx.store.messages.isKnown(conversation.conversationId, messageId)) {
      return refuse(ERROR_CODES.INVALID_REQUEST, `message ${messageId.slice(0, 80)} is not in this conversation`);
    }
    return {
      fill: (record) => {
        record.kind = "reaction";
        // No emoji, like an empty one, removes the reaction.
        record.reaction = { messageId, emoji: emoji ?? "" };
      },
    };
  });
}

/** whatsapp_media_reply: `media: { data: base64, mimeType, fileName? }`, `caption?`; checked like a base64 REST send. */
export function decideMediaReply(ctx: EmulatorContext, connection: Connection, data: FrameData): ReplyDecision {
  return decide(ctx, connection, data, () => {
    const { media, caption } = data;
    if (typeof media !== "object" || media === null || Array.isArray(media)) {
      return refuse(ERROR_CODES.INVALID_REQUEST, "whatsapp_media_reply needs a media object");
    }
    const { data: base64Raw, mimeType, fileName } = media as Record<string, unknown>;
    if (!nonEmptyString(mimeType)) return refuse(ERROR_CODES.INVALID_REQUEST, "whatsapp_media_reply needs media.mimeType");
    if (fileName !== undefined && typeof fileName !== "string")
      return refuse(ERROR_CODES.INVALID_REQUEST, "media.fileName must be a string");
    if (caption !== undefined && typeof caption !== "string") return refuse(ERROR_CODES.INVALID_REQUEST, "caption must be a string");
    if (caption && caption.length > LIMITS.captionMax) {
      return refuse(ERROR_CODES.CAPTION_TOO_LONG, `caption longer than ${LIMITS.captionMax} characters`);
    }
    const base64 = typeof base64Raw === "string" ? compactBase64(base64Raw) : "";
    if (!isBase64(base64)) return refuse(ERROR_CODES.INVALID_REQUEST, "media.data must be non-empty base64");
    const byteSize = decodedLength(base64);
    const maxMediaBytes = ctx.options().maxMediaBytes;
    if (byteSize > maxMediaBytes) return refuse(ERROR_CODES.MEDIA_TOO_LARGE, `media larger than ${maxMediaBytes} bytes`);
    return {
      fill: (record, conversation, now) => {
        // Stored like an upload, so it can be sent again by id (docs/protocol.md#media-object).
        const stored = ctx.store.media.put(conversation.userId, Buffer.from(base64, "base64"), mimeType, now, fileName);
        record.kind = mediaKindFor(mimeType);
        record.media = { mode: "base64", mediaId: stored.mediaId, mimeType, byteSize: stored.bytes.length };
        if (fileName) record.media.fileName = fileName;
        if (caption) record.caption = caption;
      },
    };
  });
}

function decide(
  ctx: EmulatorContext,
  connection: Connection,
  data: FrameData,
  content: (conversation: Conversation) => ContentCheck,
): ReplyDecision {
  const options = ctx.options();
  const { conversationId } = data;
  const fail = (code: string, error: string): ReplyDecision => ({
    status: { conversationId, success: false, error, code },
  });

  if (options.requireReplyRouting && (!nonEmptyString(data.poolNumberId) || !nonEmptyString(data.toNumber))) {
    return fail(ERROR_CODES.INVALID_REQUEST, "the frame needs poolNumberId and toNumber");
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

  const check = content(conversation);
  if ("refuse" in check) return fail(check.refuse.code, check.refuse.error);

  const now = ctx.clock.now();
  if (!windowOpen(conversation, now, options.serviceWindowMs)) {
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
    poolNumberId: nonEmptyString(data.poolNumberId) ? data.poolNumberId : conversation.poolNumberId,
    toNumber: nonEmptyString(data.toNumber) ? data.toNumber : conversation.fromNumber,
    kind: "text",
    at: now,
  };
  check.fill(record, conversation, now);
  return { status: { conversationId, success: true, messageId }, record };
}
