import { badInput, PipesError } from "./errors";
import { ERROR_CODES, LIMITS, MEDIA_ID_PATTERN } from "./protocol";

/** What a `pipes-send-media` payload is, decided before anything is sent. */
export type MediaSource = { mode: "base64"; data: Buffer } | { mode: "url"; url: string } | { mode: "id"; mediaId: string };

/** The kinds of WhatsApp media message; Pipes.bot picks one from the MIME type (INFERRED, docs/decisions/0006-media-kind-and-upload-size.md). */
export type MediaKind = "image" | "audio" | "video" | "document" | "sticker";

/** Largest Buffer sent as base64 unless the caller says otherwise; the server's own limit is UNSTATED (docs/decisions/0006). */
export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

/**
 * Classifies a payload: a Buffer (or a Buffer that went through JSON, `{type:"Buffer",data:[...]}`,
 * or a `data:` URI), an https URL, or a 21-character media id. Anything else is a BAD_INPUT error
 * that says what would have been accepted.
 */
export function classifyMediaPayload(payload: unknown): MediaSource & { mimeType?: string } {
  if (Buffer.isBuffer(payload)) return { mode: "base64", data: payload };
  if (payload instanceof Uint8Array) return { mode: "base64", data: Buffer.from(payload) };
  if (isSerialisedBuffer(payload)) return { mode: "base64", data: Buffer.from(payload.data) };
  if (typeof payload === "string") {
    const value = payload.trim();
    if (/^https:\/\//i.test(value)) {
      try {
        new URL(value);
      } catch {
        throw badInput(`media URL is not a valid URL: ${value.slice(0, 80)}`);
      }
      return { mode: "url", url: value };
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      throw badInput("media URL must use https:// (Pipes.bot fetches only https URLs)");
    }
    if (MEDIA_ID_PATTERN.test(value)) return { mode: "id", mediaId: value };
    const dataUri = /^data:([\w.+-]+\/[\w.+-]+)?(;[^,]*)?;base64,(.*)$/is.exec(value);
    if (dataUri) return { mode: "base64", data: decodeBase64(dataUri[3]), mimeType: dataUri[1] };
    throw badInput("media string is neither an https:// URL nor a 21-character media id; send a Buffer for file contents");
  }
  const kind = payload === null ? "null" : typeof payload;
  throw badInput(`media payload must be a Buffer, an https:// URL or a media id, got ${kind}`);
}

/**
 * Strict base64 (standard or URL-safe alphabet, padding optional, line breaks ignored as in MIME):
 * Node's own decoder skips every character it does not know, so "this is not base64" would
 * silently become bytes.
 */
function decodeBase64(text: string): Buffer {
  const compact = text.replace(/\r?\n/g, "");
  if (!compact) throw badInput("the data: URI has no data after base64,");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) || compact.length % 4 === 1 || (compact.includes("=") && compact.length % 4 !== 0)) {
    throw badInput("the data: URI is not valid base64");
  }
  return Buffer.from(compact, "base64");
}

function isSerialisedBuffer(value: unknown): value is { type: "Buffer"; data: number[] } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { type?: unknown }).type === "Buffer" &&
    Array.isArray((value as { data?: unknown }).data)
  );
}

const MIME_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;

export function isValidMimeType(value: string): boolean {
  return MIME_PATTERN.test(value);
}

/** Recognises the formats WhatsApp accepts by their first bytes. */
export function sniffMimeType(data: Buffer): string | undefined {
  const ascii = (start: number, end: number) => data.subarray(start, end).toString("latin1");
  if (data.length >= 8 && data.readUInt32BE(0) === 0x89504e47) return "image/png";
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return "image/jpeg";
  if (data.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  if (data.length >= 6 && ascii(0, 4) === "GIF8") return "image/gif";
  if (data.length >= 5 && ascii(0, 5) === "%PDF-") return "application/pdf";
  if (data.length >= 4 && ascii(0, 4) === "OggS") return "audio/ogg";
  if (data.length >= 3 && ascii(0, 3) === "ID3") return "audio/mpeg";
  if (data.length >= 2 && data[0] === 0xff && (data[1] & 0xe0) === 0xe0) return "audio/mpeg";
  if (data.length >= 6 && ascii(0, 6) === "#!AMR\n") return "audio/amr";
  if (data.length >= 12 && ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (brand.startsWith("3g")) return "video/3gpp";
    if (brand === "M4A " || brand === "M4B ") return "audio/mp4";
    return "video/mp4";
  }
  return undefined;
}

const EXTENSION_MIME: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  amr: "audio/amr",
  mp4: "video/mp4",
  "3gp": "video/3gpp",
  pdf: "application/pdf",
  txt: "text/plain",
  csv: "text/csv",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  zip: "application/zip",
};

export function mimeTypeFromFileName(fileName: string | undefined): string | undefined {
  const ext = fileName?.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  return ext ? EXTENSION_MIME[ext] : undefined;
}

/** The kind Pipes.bot will send for a MIME type (stickers are WebP images). */
export function mediaKindFor(mimeType: string | undefined): MediaKind {
  const mime = (mimeType ?? "").toLowerCase();
  if (mime === "image/webp") return "sticker";
  if (mime.startsWith("image/")) return "image";
  if (mime.startsWith("audio/")) return "audio";
  if (mime.startsWith("video/")) return "video";
  return "document";
}

export interface MediaSendInput {
  payload: unknown;
  mimeType?: unknown;
  fileName?: unknown;
  caption?: unknown;
  maxUploadBytes?: number;
}

export interface PreparedMedia {
  /** The `media` field of POST /v1/messages/send for URL and id modes. */
  media?: string;
  /** The bytes for base64 mode: kept as a Buffer so the REST client can stream the base64. */
  data?: Buffer;
  mode: MediaSource["mode"];
  mimeType?: string;
  fileName?: string;
  caption?: string;
  kind?: MediaKind;
  byteSize?: number;
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw badInput(`${what} must be a string, got ${typeof value}`);
  return value;
}

/** Validates everything about a media send that can be checked before the request goes out. */
export function prepareMedia(input: MediaSendInput): PreparedMedia {
  const source = classifyMediaPayload(input.payload);
  const caption = optionalString(input.caption, "caption");
  if (caption !== undefined && caption.length > LIMITS.captionMax) {
    throw new PipesError(ERROR_CODES.CAPTION_TOO_LONG, `caption is ${caption.length} characters; WhatsApp allows ${LIMITS.captionMax}`);
  }
  const fileName = optionalString(input.fileName, "filename");
  let mimeType = optionalString(input.mimeType, "mimetype") ?? ("mimeType" in source ? source.mimeType : undefined);
  if (mimeType !== undefined && !isValidMimeType(mimeType))
    throw badInput(`mimetype '${mimeType.slice(0, 60)}' is not a MIME type like image/png`);

  if (source.mode !== "base64") {
    return {
      media: source.mode === "url" ? source.url : source.mediaId,
      mode: source.mode,
      mimeType,
      fileName,
      caption,
      kind: mimeType ? mediaKindFor(mimeType) : undefined,
    };
  }
  const max = input.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  if (source.data.length === 0) throw badInput("media Buffer is empty");
  if (source.data.length > max) {
    throw new PipesError(ERROR_CODES.MEDIA_TOO_LARGE, `media is ${source.data.length} bytes; the limit is ${max} bytes`);
  }
  mimeType ??= sniffMimeType(source.data) ?? mimeTypeFromFileName(fileName);
  if (!mimeType) {
    throw new PipesError(
      ERROR_CODES.UNKNOWN_MIME_TYPE,
      "cannot tell the media type: set msg.mimetype (e.g. image/png) or msg.filename with an extension",
    );
  }
  return { data: source.data, mode: "base64", mimeType, fileName, caption, kind: mediaKindFor(mimeType), byteSize: source.data.length };
}
