/**
 * Builds the `data` of a whatsapp_message from an InjectInput (docs/protocol.md#inbound-messages, #media-object) and records the
 * conversation. Answers to buttons and lists take the answerShape option's shape (docs/decisions/0038-emulator-interactive-answers.md);
 * a message with nothing in it is refused (docs/decisions/0039-emulator-inbound-content.md).
 */
import { REST_PATHS, type InboundMessage, type MediaObject } from "../lib/protocol";
import type { Conversation } from "./conversations";
import type { EmulatorContext } from "./context";
import { EmulatorInputError } from "./errors";
import { newInboundMessageId } from "./ids";
import { mediaKindFor } from "../lib/media";
import type { Tenant } from "./tenants";
import type { InboundAnswer, InjectInput } from "./types";

export interface BuiltInbound {
  tenant: Tenant;
  conversation: Conversation;
  message: InboundMessage;
}

export function buildInbound(ctx: EmulatorContext, input: InjectInput): BuiltInbound {
  if (!input || typeof input.fromNumber !== "string" || input.fromNumber === "") {
    throw new EmulatorInputError("inject needs a fromNumber");
  }
  const tenant = recipient(ctx, input);
  const tenants = ctx.tenants();
  const poolNumber = input.poolNumberId === undefined ? tenant.poolNumbers[0] : tenants.poolNumber(tenant, input.poolNumberId);
  if (!poolNumber) throw new EmulatorInputError(`inject: pool number ${String(input.poolNumberId)} is not ${tenant.userId}'s`);
  if (input.answer !== undefined) checkAnswer(input.answer);
  if (!hasContent(input)) {
    throw new EmulatorInputError("inject: the message needs text, media, location, contacts, reaction or answer (or extra[type])");
  }
  const shape = ctx.options().answerShape;

  const now = ctx.clock.now();
  // Media is stored before the conversation is touched, so a bad media input changes nothing.
  const media = input.media ? buildMedia(ctx, tenant.userId, input.media, now) : undefined;
  const conversation = ctx.store.conversations.recordInbound(tenant.userId, poolNumber.id, input.fromNumber, now, input.fromName);

  const message: InboundMessage = {
    messageId: input.messageId ?? newInboundMessageId(),
    conversationId: conversation.conversationId,
    poolNumberId: poolNumber.id,
    poolNumberPhoneNumber: poolNumber.phoneNumber,
    fromNumber: input.fromNumber,
    timestamp: input.timestamp ?? new Date(now).toISOString(),
    type: input.type ?? deriveType(input, media, shape),
  };
  if (input.fromName !== undefined) message.fromName = input.fromName;
  if (poolNumber.label !== undefined) message.label = poolNumber.label;
  // `body` duplicates `text` (docs/protocol.md#inbound-messages). Media and location messages always carry both, empty
  // without a caption; an answer carries the title it shows.
  const text = input.text ?? input.answer?.title ?? (media || input.location ? "" : undefined);
  if (text !== undefined) {
    message.text = text;
    message.body = text;
  }
  if (media) message.media = media;
  if (input.location) message.location = input.location;
  if (input.contacts) message.contacts = input.contacts;
  if (input.reaction) message.reaction = input.reaction;
  if (input.answer) Object.assign(message, answerFields(input.answer, shape));
  if (input.extra) Object.assign(message, input.extra);
  ctx.store.messages.addInbound(conversation.conversationId, message.messageId);
  return { tenant, conversation, message };
}

/**
 * Whose message it is: the key's account; else the App whose BYON number `poolNumberId` names (any user may write to an
 * App's number, docs/decisions/0049-emulator-byon-apps.md); else the first tenant, as before Apps existed.
 */
function recipient(ctx: EmulatorContext, input: InjectInput): Tenant {
  const tenants = ctx.tenants();
  if (input.apiKey !== undefined) {
    const tenant = tenants.byApiKey(input.apiKey);
    if (!tenant) throw new EmulatorInputError("inject: unknown apiKey");
    return tenant;
  }
  const first = tenants.first();
  if (input.poolNumberId !== undefined && !tenants.poolNumber(first, input.poolNumberId)) {
    return tenants.appOfNumber(input.poolNumberId) ?? first;
  }
  return first;
}

/** Text, media, location, contacts, reaction or an answer; or, for a hand-made message, extra text or extra[type]. */
function hasContent(input: InjectInput): boolean {
  if (
    (typeof input.text === "string" && input.text !== "") ||
    input.media ||
    input.location ||
    input.contacts ||
    input.reaction ||
    input.answer
  ) {
    return true;
  }
  const extra = input.extra;
  if (!extra) return false;
  return (typeof extra.text === "string" && extra.text !== "") || (input.type !== undefined && extra[input.type] !== undefined);
}

function checkAnswer(answer: InboundAnswer): void {
  if (typeof answer !== "object" || answer === null) throw new EmulatorInputError("inject: answer must be an object");
  if (!["button", "list", "template_button"].includes(answer.kind)) {
    throw new EmulatorInputError("inject: answer.kind must be button, list or template_button");
  }
  for (const field of ["id", "title"] as const) {
    if (typeof answer[field] !== "string" || answer[field] === "")
      throw new EmulatorInputError(`inject: answer.${field} must be a non-empty string`);
  }
  for (const field of ["description", "toMessageId"] as const) {
    if (answer[field] !== undefined && typeof answer[field] !== "string")
      throw new EmulatorInputError(`inject: answer.${field} must be a string`);
  }
}

/** The answer's fields in the chosen shape (the type is set by deriveType); the webhook payload uses the "meta" shape. */
export function answerFields(answer: InboundAnswer, shape: "meta" | "flat"): Record<string, unknown> {
  const { kind, id, title, description, toMessageId } = answer;
  if (shape === "flat") {
    const fields: Record<string, unknown> = { answer: { id, title, ...(description !== undefined ? { description } : {}) } };
    if (toMessageId !== undefined) fields.replyTo = toMessageId;
    return fields;
  }
  const fields: Record<string, unknown> =
    kind === "template_button"
      ? { button: { text: title, payload: id } }
      : kind === "button"
        ? { interactive: { type: "button_reply", button_reply: { id, title } } }
        : { interactive: { type: "list_reply", list_reply: { id, title, ...(description !== undefined ? { description } : {}) } } };
  if (toMessageId !== undefined) fields.context = { id: toMessageId };
  return fields;
}

function buildMedia(ctx: EmulatorContext, userId: string, media: NonNullable<InjectInput["media"]>, now: number): MediaObject {
  if (typeof media.mimeType !== "string" || media.mimeType === "") throw new EmulatorInputError("inject: media needs a mimeType");
  if ("unavailable" in media) {
    // Pipes.bot could not fetch it from WhatsApp: no id, no URL, size 0 (docs/protocol.md#media-object).
    return { mimeType: media.mimeType, byteSize: 0, unavailable: true };
  }
  if (!Buffer.isBuffer(media.data)) throw new EmulatorInputError("inject: media.data must be a Buffer");
  const stored = ctx.store.media.put(userId, media.data, media.mimeType, now, media.fileName);
  const object: MediaObject = {
    mediaId: stored.mediaId,
    downloadUrl: REST_PATHS.mediaDownload(stored.mediaId),
    mimeType: stored.mimeType,
    byteSize: stored.bytes.length,
  };
  if (stored.fileName !== undefined) object.fileName = stored.fileName;
  return object;
}

function deriveType(input: InjectInput, media: MediaObject | undefined, shape: "meta" | "flat"): string {
  if (media) return mediaKindFor(media.mimeType);
  if (input.answer) {
    const { kind } = input.answer;
    if (shape === "flat") return kind === "button" ? "button_reply" : kind === "list" ? "list_reply" : "template_button";
    return kind === "template_button" ? "button" : "interactive";
  }
  if (input.location) return "location";
  if (input.contacts) return "contacts";
  if (input.reaction) return "reaction";
  return "text";
}
