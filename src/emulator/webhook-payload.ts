/**
 * What a webhook delivery carries (docs/protocol.md#webhooks): Meta's webhook envelope with one message, plus a `pipes`
 * object with the reply handle and the usable media; and its signature. The points the documented example leaves open are
 * docs/decisions/0045-emulator-webhook-payload.md; the test call's payload is docs/decisions/0046-emulator-webhook-test-call.md.
 */
import { randomInt } from "node:crypto";
import type { InboundMessage } from "../lib/protocol";
import { answerFields } from "./inbound";
import type { InboundAnswer } from "./types";

const MEDIA_TYPES = new Set(["image", "video", "document", "audio", "sticker"]);

type Json = Record<string, unknown>;

interface PoolNumberRef {
  id: string;
  phoneNumber?: string;
  label?: string;
}

/**
 * The payload of one inbound message. `answer` is the injected tap on a button or list row: the webhook carries it in
 * Meta's shape whatever the answerShape option gives the socket.
 */
export function webhookPayload(message: InboundMessage, answer?: InboundAnswer): Json {
  const digits = message.fromNumber.replace(/^\+/, "");
  const contact: Json = { profile: message.fromName === undefined ? {} : { name: message.fromName }, wa_id: digits };
  const value: Json = {
    messaging_product: "whatsapp",
    metadata: metadata({ id: message.poolNumberId, phoneNumber: message.poolNumberPhoneNumber }),
    messages: [metaMessage(message, digits, answer)],
    contacts: [contact],
  };
  const pipes: Json = { conversationId: message.conversationId, poolNumberId: message.poolNumberId };
  if (message.label !== undefined) pipes.label = message.label;
  if (message.media) pipes.media = { ...message.media };
  return envelope(message.poolNumberId, value, pipes);
}

/** The test call's payload: the same envelope with no message, and `pipes.test: true`. */
export function webhookTestPayload(pool: PoolNumberRef): Json {
  const value: Json = { messaging_product: "whatsapp", metadata: metadata(pool), messages: [], contacts: [] };
  const pipes: Json = { test: true, poolNumberId: pool.id };
  if (pool.label !== undefined) pipes.label = pool.label;
  return envelope(pool.id, value, pipes);
}

function envelope(poolNumberId: string, value: Json, pipes: Json): Json {
  return { object: "whatsapp_business_account", entry: [{ id: poolNumberId, changes: [{ field: "messages", value }] }], pipes };
}

function metadata(pool: PoolNumberRef): Json {
  return { display_phone_number: pool.phoneNumber ?? "", phone_number_id: pool.id };
}

/** messages[0]: Meta's message object, with Pipes' message id. */
function metaMessage(message: InboundMessage, from: string, answer: InboundAnswer | undefined): Json {
  const meta: Json = { id: message.messageId, from, timestamp: message.timestamp };
  if (answer) {
    const fields = answerFields(answer, "meta");
    meta.type = answer.kind === "template_button" ? "button" : "interactive";
    return { ...meta, ...fields };
  }
  const type = message.type;
  meta.type = type;
  const text = typeof message.text === "string" ? message.text : undefined;
  if (type === "text") {
    meta.text = { body: text ?? "" };
  } else if (MEDIA_TYPES.has(type) && message.media) {
    const media: Json = { id: metaMediaId(), mime_type: message.media.mimeType };
    if (text) media.caption = text;
    if (message.media.fileName !== undefined) media.filename = message.media.fileName;
    meta[type] = media;
  } else if (type === "location" && message.location) {
    meta.location = { ...message.location };
  } else if (type === "contacts" && message.contacts) {
    meta.contacts = structuredClone(message.contacts);
  } else if (type === "reaction" && message.reaction) {
    const reaction: Json = { message_id: message.reaction.messageId };
    if (message.reaction.emoji !== undefined) reaction.emoji = message.reaction.emoji;
    meta.reaction = reaction;
  } else if (message[type] !== undefined) {
    // A hand-made message (InjectInput.extra) or Meta-shaped fields: its own field, as the socket carries it.
    meta[type] = structuredClone(message[type]);
  }
  // An answer injected in Meta's shape through `extra`, or a quoted reply: Meta's context object.
  if (message.context !== undefined) meta.context = structuredClone(message.context);
  return meta;
}

/** Meta's media id: 16 digits the emulator cannot serve (the usable media is pipes.media). */
function metaMediaId(): string {
  return String(randomInt(1e9, 1e10)) + String(randomInt(1e5, 1e6));
}
