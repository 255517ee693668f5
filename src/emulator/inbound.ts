/** Builds the `data` of a whatsapp_message from an InjectInput (docs/protocol.md#inbound-messages, #media-object) and records the conversation. */
import { REST_PATHS, type InboundMessage, type MediaObject } from "../lib/protocol";
import type { Conversation } from "./conversations";
import type { EmulatorContext } from "./context";
import { EmulatorInputError } from "./errors";
import { newInboundMessageId } from "./ids";
import { mediaKindFor } from "../lib/media";
import type { Tenant } from "./tenants";
import type { InjectInput } from "./types";

export interface BuiltInbound {
  tenant: Tenant;
  conversation: Conversation;
  message: InboundMessage;
}

export function buildInbound(ctx: EmulatorContext, input: InjectInput): BuiltInbound {
  if (!input || typeof input.fromNumber !== "string" || input.fromNumber === "") {
    throw new EmulatorInputError("inject needs a fromNumber");
  }
  const tenants = ctx.tenants();
  const tenant = input.apiKey === undefined ? tenants.first() : tenants.byApiKey(input.apiKey);
  if (!tenant) throw new EmulatorInputError("inject: unknown apiKey");
  const poolNumber = input.poolNumberId === undefined ? tenant.poolNumbers[0] : tenants.poolNumber(tenant, input.poolNumberId);
  if (!poolNumber) throw new EmulatorInputError(`inject: pool number ${String(input.poolNumberId)} is not ${tenant.userId}'s`);

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
    type: input.type ?? deriveType(input, media),
  };
  if (input.fromName !== undefined) message.fromName = input.fromName;
  if (poolNumber.label !== undefined) message.label = poolNumber.label;
  if (input.text !== undefined) {
    // `body` duplicates `text` (docs/protocol.md#inbound-messages).
    message.text = input.text;
    message.body = input.text;
  }
  if (media) message.media = media;
  if (input.location) message.location = input.location;
  if (input.contacts) message.contacts = input.contacts;
  if (input.reaction) message.reaction = input.reaction;
  if (input.extra) Object.assign(message, input.extra);
  return { tenant, conversation, message };
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

function deriveType(input: InjectInput, media: MediaObject | undefined): string {
  if (media) return mediaKindFor(media.mimeType);
  if (input.location) return "location";
  if (input.contacts) return "contacts";
  if (input.reaction) return "reaction";
  return "text";
}
