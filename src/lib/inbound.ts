import { toPipesError } from "./errors";
import { isMediaMessageType, MESSAGE_TYPES, type InboundMessage } from "./protocol";
import type { DownloadedMedia } from "./rest";

/** The set of message types a receiver accepts; undefined accepts everything. */
export type TypeFilter = ReadonlySet<string> | undefined;

/** Editor value (array, or comma-separated text) to a filter; an empty list accepts every type. */
export function parseTypeFilter(value: string[] | string | undefined): TypeFilter {
  const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  const types = list.map((t) => String(t).trim()).filter(Boolean);
  return types.length ? new Set(types) : undefined;
}

/** Types this version does not know count as "unsupported" for filtering. */
export function acceptsType(filter: TypeFilter, type: string): boolean {
  if (!filter) return true;
  const known = (MESSAGE_TYPES as readonly string[]).includes(type);
  return filter.has(known ? type : "unsupported");
}

/** A user's answer to one of our interactive messages: a reply button, a list row, a template quick reply. */
export interface Answer {
  kind: "button" | "list" | "template_button";
  id: string;
  title: string;
  description?: string;
  /** Which of our messages it answers, when the event says so. */
  toMessageId?: string;
}

/**
 * The answer an inbound message carries, in either shape we accept (how the socket carries answers
 * is UNSTATED, docs/decisions/0034): Meta's (`type: "interactive"` with `button_reply` /
 * `list_reply`, or `type: "button"` for a template quick reply, `context.id`) or flat
 * (`type: "button_reply" | "list_reply" | "template_button"`, `answer: {id, title, description}`,
 * `replyTo`). Anything else is not an answer.
 */
export function answerOf(message: InboundMessage): Answer | undefined {
  const record = message as Record<string, unknown>;
  switch (message.type) {
    case "interactive": {
      const interactive = record.interactive;
      if (!isObject(interactive)) return undefined;
      if (interactive.type === "button_reply") return answerFrom(record, "button", interactive.button_reply);
      if (interactive.type === "list_reply") return answerFrom(record, "list", interactive.list_reply);
      return undefined;
    }
    case "button":
      return answerFrom(record, "template_button", record.button, "payload", "text");
    case "button_reply":
      return answerFrom(record, "button", record.answer);
    case "list_reply":
      return answerFrom(record, "list", record.answer);
    case "template_button":
      return answerFrom(record, "template_button", record.answer);
  }
  // Every other type (nearly every message) is not an answer: nothing more to read.
  return undefined;
}

function answerFrom(
  record: Record<string, unknown>,
  kind: Answer["kind"],
  source: unknown,
  idKey = "id",
  titleKey = "title",
): Answer | undefined {
  if (!isObject(source) || typeof source[idKey] !== "string" || typeof source[titleKey] !== "string") return undefined;
  const context = record.context;
  const toMessageId =
    isObject(context) && typeof context.id === "string" ? context.id : typeof record.replyTo === "string" ? record.replyTo : undefined;
  const description = typeof source.description === "string" ? source.description : undefined;
  return {
    kind,
    id: source[idKey],
    title: source[titleKey],
    ...(description ? { description } : {}),
    ...(toMessageId ? { toMessageId } : {}),
  };
}

/** The type a receiver filters on: an answer is button_reply or list_reply whatever shape it came in. */
export function messageKind(message: InboundMessage, answer = answerOf(message)): string {
  if (answer) return answer.kind === "list" ? "list_reply" : "button_reply";
  return message.type;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export interface InboundContent {
  payload: unknown;
  mimetype?: string;
  filename?: string;
  /** Set when media was to be downloaded but could not be; payload is then the media object. */
  mediaError?: { code: string; message: string };
}

export interface MediaDownloader {
  client: { download(downloadUrl: string, maxBytes: number, timeoutMs?: number, expectedBytes?: number): Promise<DownloadedMedia> };
  maxBytes: number;
}

/** The msg.payload for an inbound message (docs/protocol.md#message-types), downloading media when asked. */
export async function inboundPayload(
  message: InboundMessage,
  download?: MediaDownloader,
  answer = answerOf(message),
): Promise<InboundContent> {
  const ready = immediatePayload(message, download, answer);
  if (ready) return ready;
  // immediatePayload leaves out exactly this case: media to download, within the size limit.
  const media = message.media!;
  try {
    const file = await download!.client.download(media.downloadUrl!, download!.maxBytes, undefined, media.byteSize);
    return { payload: file.data, mimetype: media.mimeType || file.mimeType, filename: media.fileName };
  } catch (err) {
    const error = toPipesError(err);
    return { payload: media, mimetype: media.mimeType, filename: media.fileName, mediaError: { code: error.code, message: error.message } };
  }
}

/**
 * inboundPayload without the wait, for every message that needs no download (all of them unless
 * "download media" is on): the same content, computed at once. Undefined when media is to be
 * downloaded; use inboundPayload then.
 */
export function immediatePayload(
  message: InboundMessage,
  download?: MediaDownloader,
  answer = answerOf(message),
): InboundContent | undefined {
  const text = message.text ?? message.body;
  if (answer)
    return { payload: { id: answer.id, title: answer.title, ...(answer.description ? { description: answer.description } : {}) } };
  switch (message.type) {
    case "text":
      return { payload: text ?? "" };
    case "location":
      return { payload: message.location ?? null };
    case "contacts":
      return { payload: message.contacts ?? [] };
    case "reaction":
      return { payload: message.reaction ?? null };
  }
  if (isMediaMessageType(message.type) && message.media) {
    const media = message.media;
    const base = { mimetype: media.mimeType, filename: media.fileName };
    if (!download || media.unavailable || !media.downloadUrl) return { payload: media, ...base };
    if (media.byteSize > download.maxBytes) {
      return {
        payload: media,
        ...base,
        mediaError: {
          code: "MEDIA_TOO_LARGE",
          message: `media is ${media.byteSize} bytes; the download limit is ${download.maxBytes} bytes`,
        },
      };
    }
    return undefined;
  }
  // Unsupported or unknown types: the type's own field when there is one, else the text.
  // Own fields only: a type named "constructor" or "__proto__" must not reach Object.prototype.
  const own = Object.hasOwn(message, message.type) ? message[message.type] : undefined;
  return { payload: own !== undefined ? own : (text ?? null) };
}
