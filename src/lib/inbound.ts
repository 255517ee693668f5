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
export async function inboundPayload(message: InboundMessage, download?: MediaDownloader): Promise<InboundContent> {
  const ready = immediatePayload(message, download);
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
export function immediatePayload(message: InboundMessage, download?: MediaDownloader): InboundContent | undefined {
  const text = message.text ?? message.body;
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
      return { payload: media, ...base, mediaError: { code: "MEDIA_TOO_LARGE", message: `media is ${media.byteSize} bytes; the download limit is ${download.maxBytes} bytes` } };
    }
    return undefined;
  }
  // Unsupported or unknown types: the type's own field when there is one, else the text.
  // Own fields only: a type named "constructor" or "__proto__" must not reach Object.prototype.
  const own = Object.hasOwn(message, message.type) ? message[message.type] : undefined;
  return { payload: own !== undefined ? own : (text ?? null) };
}
