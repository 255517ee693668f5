/**
 * POST /v1/messages/send (docs/protocol.md#sending-messages): validates a send and records it. Checks run in this order: body
 * shape, conversation, text/caption length, service window, then the media (mode auto-detected).
 * Status codes and error codes are UNSTATED by the docs; these are the emulator's (docs/decisions/0027-emulator-rest-statuses.md).
 */
import { ERROR_CODES, LIMITS, MEDIA_ID_PATTERN } from "../lib/protocol";
import { compactBase64, decodedLength, isBase64 } from "./base64";
import { windowOpen, type Conversation } from "./conversations";
import type { EmulatorContext } from "./context";
import { newWamid } from "./ids";
import { mediaKindFor, mimeTypeFromFileName } from "../lib/media";
import type { Tenant } from "./tenants";
import type { SentMedia, SentRecord } from "./types";

export interface SendFailure {
  ok: false;
  status: number;
  code: string;
  message: string;
}
export type SendOutcome = { ok: true; record: SentRecord } | SendFailure;

const fail = (status: number, code: string, message: string): SendFailure => ({ ok: false, status, code, message });
const invalid = (message: string): SendFailure => fail(400, ERROR_CODES.INVALID_REQUEST, message);

const OPTIONAL_STRINGS = ["text", "media", "mimeType", "fileName", "caption"] as const;

export function processSend(ctx: EmulatorContext, tenant: Tenant, body: Record<string, unknown> | undefined): SendOutcome {
  if (!body) return invalid("body must be a JSON object");
  const { conversationId } = body;
  if (typeof conversationId !== "string" || conversationId === "") return invalid("conversationId is required");
  for (const field of OPTIONAL_STRINGS) {
    if (body[field] !== undefined && typeof body[field] !== "string") return invalid(`${field} must be a string`);
  }
  const text = body.text as string | undefined;
  const media = body.media as string | undefined;
  const caption = body.caption as string | undefined;
  if (!text && !media) return invalid("text or media is required");

  const conversation = ctx.store.conversations.getOwned(conversationId, tenant.userId);
  if (!conversation) return fail(404, ERROR_CODES.CONVERSATION_NOT_FOUND, "conversation not found");

  if (text && text.length > LIMITS.textMax) {
    return fail(400, ERROR_CODES.TEXT_TOO_LONG, `text longer than ${LIMITS.textMax} characters`);
  }
  // With media, `text` becomes the caption when `caption` is absent (docs/protocol.md#sending-messages), so it meets the caption limit too.
  const effectiveCaption = media ? (caption ?? text) : caption;
  if (effectiveCaption && effectiveCaption.length > LIMITS.captionMax) {
    return fail(400, ERROR_CODES.CAPTION_TOO_LONG, `caption longer than ${LIMITS.captionMax} characters`);
  }

  const now = ctx.clock.now();
  if (!windowOpen(conversation, now, ctx.options().serviceWindowMs)) {
    return fail(403, ERROR_CODES.SERVICE_WINDOW_EXPIRED, "service window closed (last inbound > 24h)");
  }

  const record: SentRecord = {
    messageId: newWamid(),
    via: "rest",
    userId: tenant.userId,
    conversationId,
    poolNumberId: conversation.poolNumberId,
    toNumber: conversation.fromNumber,
    kind: "text",
    at: now,
  };
  if (text) record.text = text;
  if (!media) return { ok: true, record };

  const resolved = resolveMedia(ctx, conversation, media, body, now);
  if (!resolved.ok) return resolved;
  record.media = resolved.media;
  record.kind = mediaKindFor(resolved.media.mimeType);
  if (effectiveCaption) record.caption = effectiveCaption;
  return { ok: true, record };
}

type MediaResolution = { ok: true; media: SentMedia } | SendFailure;

function resolveMedia(
  ctx: EmulatorContext,
  conversation: Conversation,
  media: string,
  body: Record<string, unknown>,
  now: number,
): MediaResolution {
  const mimeType = body.mimeType as string | undefined;
  const fileName = body.fileName as string | undefined;

  if (/^https:\/\//i.test(media)) {
    // URL mode: recorded, never fetched (the emulator must not reach out to the network).
    if (!URL.canParse(media)) return invalid("media URL does not parse");
    const result: SentMedia = { mode: "url", url: media };
    // The emulator never fetches the URL: guess the type from its path when the sender gave none.
    const guessed = mimeType ?? mimeTypeFromFileName(new URL(media).pathname);
    if (guessed) result.mimeType = guessed;
    if (fileName) result.fileName = fileName;
    return { ok: true, media: result };
  }
  // Base64 has no ':', so anything scheme-like is a URL we refuse: http:// (the real service blocks
  // private addresses and the docs speak of https only), data:, ftp:, file: ...
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(media)) return invalid("media URL must use https://");

  if (MEDIA_ID_PATTERN.test(media)) {
    const stored = ctx.store.media.getOwned(media, conversation.userId, now);
    if (!stored) return fail(404, ERROR_CODES.MEDIA_NOT_FOUND, "media not found or expired");
    const result: SentMedia = { mode: "id", mediaId: stored.mediaId, mimeType: stored.mimeType, byteSize: stored.bytes.length };
    const name = fileName ?? stored.fileName;
    if (name) result.fileName = name;
    return { ok: true, media: result };
  }

  const base64 = compactBase64(media);
  if (!isBase64(base64)) return invalid("media is neither a media id, an https:// URL nor valid base64");
  if (!mimeType) return invalid("mimeType is required with base64 media");
  const byteSize = decodedLength(base64);
  if (byteSize > ctx.options().maxMediaBytes) {
    return fail(413, ERROR_CODES.MEDIA_TOO_LARGE, `media larger than ${ctx.options().maxMediaBytes} bytes`);
  }
  // An upload becomes stored media, reusable by id within its TTL (docs/protocol.md#media-object).
  const stored = ctx.store.media.put(conversation.userId, Buffer.from(base64, "base64"), mimeType, now, fileName);
  const result: SentMedia = { mode: "base64", mediaId: stored.mediaId, mimeType, byteSize };
  if (fileName) result.fileName = fileName;
  return { ok: true, media: result };
}
