import { createHmac, timingSafeEqual } from "node:crypto";
import { answerOf } from "./inbound";
import type { InboundMessage, MediaObject } from "./protocol";

/**
 * Pipes.bot's webhook delivery (docs/protocol.md#webhooks): one inbound message per signed POST,
 * in Meta's webhook shape plus a `pipes` object. This module checks the signature and turns the
 * payload into exactly the `whatsapp_message` data the socket would carry, so pipes-webhook-in and
 * pipes-in share everything after it.
 */

/** `X-Pipes-Signature`: lowercase hex HMAC-SHA256 of the exact request bytes with the webhook secret. */
export const SIGNATURE_HEADER = "x-pipes-signature";

/** True when `header` is the signature of `raw` under `secret`; compared in constant time. */
export function verifySignature(raw: Buffer, header: unknown, secret: string): boolean {
  const value: unknown = Array.isArray(header) ? (header as unknown[])[0] : header;
  if (typeof value !== "string" || !/^[0-9a-f]{64}$/i.test(value.trim())) return false;
  const expected = createHmac("sha256", secret).update(raw).digest();
  return timingSafeEqual(expected, Buffer.from(value.trim(), "hex"));
}

export function signPayload(raw: Buffer | string, secret: string): string {
  return createHmac("sha256", secret).update(raw).digest("hex");
}

export type WebhookPayload =
  | { ok: true; message: InboundMessage }
  /** A delivery without a message (Pipes' "test webhook" call, a status update): answered, not emitted. */
  | { ok: true; message: undefined }
  /** `kind` groups the reasons for logging once per kind. */
  | { ok: false; kind: string; reason: string };

type Obj = Record<string, unknown>;
const isObject = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** Meta's webhook payload (+ `pipes`) to the socket's inbound message. Never throws. */
export function inboundFromWebhook(payload: unknown): WebhookPayload {
  if (!isObject(payload)) return refuse("not-object", "the payload is not a JSON object");
  const entry: unknown = Array.isArray(payload.entry) ? payload.entry[0] : undefined;
  const change: unknown = isObject(entry) && Array.isArray(entry.changes) ? entry.changes[0] : undefined;
  const value = isObject(change) ? change.value : undefined;
  if (!isObject(value)) return refuse("no-value", "the payload has no entry[0].changes[0].value");
  const messages = value.messages;
  if (messages === undefined || (Array.isArray(messages) && messages.length === 0)) return { ok: true, message: undefined };
  const m: unknown = Array.isArray(messages) ? messages[0] : undefined;
  if (!isObject(m)) return refuse("no-message", "value.messages[0] is not an object");
  const id = str(m.id);
  const from = str(m.from);
  const type = str(m.type);
  if (!id || !from || !type) return refuse("message-fields", "value.messages[0] lacks id, from or type");
  const pipes = isObject(payload.pipes) ? payload.pipes : {};
  const metadata = isObject(value.metadata) ? value.metadata : {};
  const conversationId = str(pipes.conversationId);
  if (!conversationId) return refuse("no-conversation", "the payload has no pipes.conversationId");
  const contact: unknown = Array.isArray(value.contacts) ? value.contacts[0] : undefined;
  const profile = isObject(contact) && isObject(contact.profile) ? contact.profile : {};
  const content = isObject(m[type]) ? m[type] : undefined;
  const text = type === "text" ? str(content?.body) : str(content?.caption);

  const message: InboundMessage = {
    messageId: id,
    conversationId,
    poolNumberId: str(pipes.poolNumberId) ?? str(metadata.phone_number_id) ?? (isObject(entry) ? (str(entry.id) ?? "") : ""),
    fromNumber: from.startsWith("+") ? from : `+${from}`,
    timestamp: str(m.timestamp) ?? "",
    type,
    // As on the socket: text and body carry the text or caption, empty when there is none.
    text: text ?? "",
    body: text ?? "",
  };
  const phone = str(metadata.display_phone_number);
  if (phone) message.poolNumberPhoneNumber = phone;
  const name = str(profile.name);
  if (name) message.fromName = name;
  const label = str(pipes.label);
  if (label) message.label = label;
  if (isObject(pipes.media)) message.media = pipes.media as unknown as MediaObject;
  switch (type) {
    case "location":
      if (content) message.location = content as unknown as InboundMessage["location"];
      break;
    case "contacts":
      if (Array.isArray(m.contacts)) message.contacts = m.contacts as InboundMessage["contacts"];
      break;
    case "reaction":
      if (content) message.reaction = { messageId: str(content.message_id) ?? "", emoji: str(content.emoji) ?? "" };
      break;
    case "text":
    case "image":
    case "audio":
    case "video":
    case "document":
    case "sticker":
      // The usable media is pipes.media (above); Meta's own media id cannot be downloaded from Pipes.
      break;
    default:
      // Answers (interactive, button), and kinds this version does not know, keep Meta's own
      // object under their type, as the socket carries an unknown type's field.
      if (m[type] !== undefined) message[type] = m[type];
  }
  if (m.context !== undefined) message.context = m.context;
  // An answer's text is what the user tapped, as on the socket.
  const answer = answerOf(message);
  if (answer && !message.text) message.text = message.body = answer.title;
  return { ok: true, message };
}

function refuse(kind: string, reason: string): WebhookPayload {
  return { ok: false, kind, reason };
}
