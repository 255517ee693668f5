/**
 * The Pipes.bot wire protocol in one place: frame and REST types, documented limits, error codes,
 * and the parse/build helpers both the nodes and the emulator use.
 *
 * Source of truth: docs/protocol.md (choices in docs/decisions/). Where it says UNSTATED, the parser is lenient
 * (unknown fields pass through, unknown frame and message types are reported, never thrown) and the
 * emulator turns the open question into an option instead of a hard-coded guess.
 */

// ---------------------------------------------------------------------------------------------
// Limits (docs/protocol.md#limits)
// ---------------------------------------------------------------------------------------------

export const LIMITS = {
  /** Maximum characters of a text reply or a REST text send. */
  textMax: 4096,
  /** Maximum characters of a media caption. */
  captionMax: 1024,
  /** Length of a Pipes.bot media id. */
  mediaIdLength: 21,
  /** Free-form messages are allowed this long after the user's last inbound message. */
  serviceWindowMs: 24 * 60 * 60 * 1000,
  /** Stored media (received or uploaded) lives this long. */
  mediaTtlMs: 48 * 60 * 60 * 1000,
  /** A presigned download URL is valid this long. */
  presignedUrlTtlMs: 5 * 60 * 1000,
  /** Offline queue: messages kept per sender per account. */
  offlineQueuePerSender: 100,
  /** Offline queue: how long a queued message lives. */
  offlineQueueTtlMs: 24 * 60 * 60 * 1000,
  /** Offline queue: pause between drained messages. */
  offlineDrainPacingMs: 750,
} as const;

/**
 * WhatsApp's limits on the message kinds sent through POST /v1/messages/passthrough (Meta Cloud API
 * bodies). `soft` ones come only from third-party SDK docs: checked by default, relaxable by an option
 * (docs/protocol.md#message-kinds). Lengths count characters as a person sees them (code points).
 */
export const MESSAGE_LIMITS = {
  /** Interactive body text (buttons, list, cta_url). */
  bodyText: 1024,
  /** Interactive header text, footer text. */
  headerText: 60,
  footerText: 60,
  /** Reply buttons: how many, title length, id length. */
  buttonsMin: 1,
  buttonsMax: 3,
  buttonTitle: 20,
  buttonId: 256,
  /** List: sections, rows across all sections, row fields, the button that opens it, section titles. */
  sectionsMax: 10,
  rowsMax: 10,
  rowId: 200,
  rowTitle: 24,
  rowDescription: 72,
  /** Soft (third-party SDK docs only). */
  listButton: 20,
  sectionTitle: 24,
  ctaText: 20,
} as const;

/** The limits in MESSAGE_LIMITS that only third-party SDK docs state. */
export const SOFT_MESSAGE_LIMITS: readonly (keyof typeof MESSAGE_LIMITS)[] = ["listButton", "sectionTitle", "ctaText"];

/** Pool keys (pool numbers) and App keys (the business's own numbers, BYON) start with these. */
export const API_KEY_PREFIXES = ["pk_", "ak_"] as const;

/**
 * What a key can do (docs/protocol.md#api-keys): a pool key replies into conversations; an App key
 * (BYON) also sends templates, writes first (POST /v1/messages/app/send) and manages templates.
 * Only the prefix is checked (docs/decisions/0020).
 */
export type KeyKind = "pool" | "app";
export function keyKind(apiKey: string): KeyKind | undefined {
  return apiKey.startsWith("ak_") ? "app" : apiKey.startsWith("pk_") ? "pool" : undefined;
}

/** Media ids are 21 characters of the nanoid alphabet (INFERRED, docs/protocol.md#identifiers). */
export const MEDIA_ID_PATTERN = /^[A-Za-z0-9_-]{21}$/;

// ---------------------------------------------------------------------------------------------
// Inbound messages (docs/protocol.md#inbound-messages, #media-object)
// ---------------------------------------------------------------------------------------------

export const MESSAGE_TYPES = [
  "text",
  "image",
  "audio",
  "video",
  "document",
  "sticker",
  "location",
  "contacts",
  "reaction",
  // Answers to our buttons (and template quick replies) and lists: how the socket carries them is
  // UNSTATED; see inbound.ts answerOf (docs/decisions/0034).
  "button_reply",
  "list_reply",
  "unsupported",
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const MEDIA_MESSAGE_TYPES = ["image", "audio", "video", "document", "sticker"] as const;
export type MediaMessageType = (typeof MEDIA_MESSAGE_TYPES)[number];

export function isMediaMessageType(type: string): type is MediaMessageType {
  return (MEDIA_MESSAGE_TYPES as readonly string[]).includes(type);
}

export interface MediaObject {
  /** Absent when the media is unavailable. */
  mediaId?: string;
  /** Relative path `/v1/media/download/{mediaId}`; prefix with the REST base URL. */
  downloadUrl?: string;
  mimeType: string;
  fileName?: string;
  /** Bytes; 0 when unavailable. */
  byteSize: number;
  /** True when Pipes.bot could not fetch the media from WhatsApp; the message is still delivered. */
  unavailable?: boolean;
}

export interface LocationObject {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}

export interface ContactCard {
  name: { formatted_name: string; [key: string]: unknown };
  phones?: { phone: string; type?: string }[];
  emails?: { email: string; type?: string }[];
  [key: string]: unknown;
}

export interface ReactionObject {
  /** The Pipes.bot id of the message reacted to. */
  messageId: string;
  /** Missing or empty: the reaction was removed. */
  emoji?: string;
}

/** `data` of a `whatsapp_message` frame. Unknown extra fields are kept as they are. */
export interface InboundMessage {
  messageId: string;
  conversationId: string;
  poolNumberId: string;
  poolNumberPhoneNumber?: string;
  fromNumber: string;
  fromName?: string;
  /** ISO 8601. */
  timestamp: string;
  label?: string;
  /** One of MESSAGE_TYPES, or a type this version does not know yet. */
  type: string;
  text?: string;
  body?: string;
  media?: MediaObject;
  location?: LocationObject;
  contacts?: ContactCard[];
  reaction?: ReactionObject;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames (docs/protocol.md#socket)
// ---------------------------------------------------------------------------------------------

export type ConnectionScope = "user" | "conversation";

export interface ConnectedFrame {
  type: "connected";
  userId: string;
  connectionId: string;
  scope: ConnectionScope;
  /** Only when scope is "conversation". */
  conversationId?: string;
  [key: string]: unknown;
}

export interface WhatsAppMessageFrame {
  type: "whatsapp_message";
  data: InboundMessage;
}

export interface ReplyStatus {
  conversationId: string;
  success: boolean;
  /** Meta `wamid.…` id, on success. */
  messageId?: string;
  /** Human-readable text, on failure. */
  error?: string;
  /** Machine code, on failure, e.g. SERVICE_WINDOW_EXPIRED. */
  code?: string;
  [key: string]: unknown;
}

export interface ReplyStatusFrame {
  type: "reply_status";
  data: ReplyStatus;
}

export type ServerFrame = ConnectedFrame | WhatsAppMessageFrame | ReplyStatusFrame;

export interface WhatsAppReply {
  conversationId: string;
  poolNumberId: string;
  toNumber: string;
  text: string;
}

export interface WhatsAppReplyFrame {
  type: "whatsapp_reply";
  data: WhatsAppReply;
}

/**
 * A reaction over the socket, as the first-party client sends it (NOT in the public docs): the
 * Pipes messageId of the message reacted to, which is all an inbound event gives us
 * (docs/decisions/0033). Answered by a `reply_status` like a reply (UNSTATED; the emulator does).
 */
export interface WhatsAppReaction {
  conversationId: string;
  poolNumberId: string;
  toNumber: string;
  messageId: string;
  /** Empty removes the reaction. */
  emoji: string;
}

export interface WhatsAppReactionFrame {
  type: "whatsapp_reaction";
  data: WhatsAppReaction;
}

/** A media reply over the socket, as the first-party client sends it (NOT in the public docs). */
export interface WhatsAppMediaReplyFrame {
  type: "whatsapp_media_reply";
  data: {
    conversationId: string;
    poolNumberId: string;
    toNumber: string;
    media: { data: string; mimeType: string; fileName?: string };
    caption?: string;
  };
}

export type ClientFrame = WhatsAppReplyFrame | WhatsAppReactionFrame | WhatsAppMediaReplyFrame;

// ---------------------------------------------------------------------------------------------
// REST (docs/protocol.md#rest)
// ---------------------------------------------------------------------------------------------

export const REST_PATHS = {
  send: "/v1/messages/send",
  passthrough: "/v1/messages/passthrough",
  appSend: "/v1/messages/app/send",
  templates: (poolNumberId: string) => `/v1/pool-numbers/${encodeURIComponent(poolNumberId)}/templates`,
  mediaDownload: (mediaId: string) => `/v1/media/download/${encodeURIComponent(mediaId)}`,
} as const;

/** Body of POST /v1/messages/send: text, or media (id, https URL or raw base64) with optional caption. */
export interface SendMessageRequest {
  conversationId: string;
  text?: string;
  media?: string;
  /** Required with base64 media. */
  mimeType?: string;
  fileName?: string;
  caption?: string;
}

export interface SendMessageResponse {
  success: boolean;
  messageId?: string;
  conversationId?: string;
  [key: string]: unknown;
}

/** Body of POST /v1/messages/app/send (App keys): plain text from a BYON number to any WhatsApp user. */
export interface AppSendRequest {
  poolNumberId: string;
  /** Digits only, no "+" (docs/protocol.md#identifiers). */
  toNumber: string;
  text: string;
}

/** Meta's send answer, which app/send and the passthrough return. */
export interface MetaSendResponse {
  messaging_product?: "whatsapp";
  contacts?: { input?: string; wa_id?: string }[];
  messages?: { id?: string }[];
}

/** One template of GET /v1/pool-numbers/:id/templates (Meta's shape, docs/protocol.md#templates). */
export interface TemplateDefinition {
  name: string;
  language: string;
  /** APPROVED, PENDING, REJECTED (and Meta's PAUSED, DISABLED...): only APPROVED ones can be sent. */
  status: string;
  category?: string;
  id?: string;
  components: TemplateComponentDefinition[];
}

export interface TemplateComponentDefinition {
  /** HEADER, BODY, FOOTER or BUTTONS. */
  type: string;
  /** HEADER: TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION. */
  format?: string;
  text?: string;
  buttons?: TemplateButtonDefinition[];
}

export interface TemplateButtonDefinition {
  /** QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE (and Meta's others). */
  type: string;
  text?: string;
  /** URL buttons: a {{1}} at its end takes a suffix from each send. */
  url?: string;
}

export interface TemplateListResponse {
  data: TemplateDefinition[];
  paging?: { cursors?: { before?: string; after?: string }; next?: string };
}

/** The `template` object of a Meta template message (what follows `type: "template"`). */
export interface TemplateMessage {
  name: string;
  language: { code: string };
  components?: Record<string, unknown>[];
}

/**
 * The REST error body is UNSTATED (docs/decisions/0004). We read `error.code`/`error.message`, each
 * falling back to the top-level `code`/`message`, then a string `error`. The emulator answers
 * `{ success: false, error: { code, message } }`.
 */
export interface RestErrorBody {
  success?: false;
  error?: { code?: string; message?: string } | string;
  code?: string;
  message?: string;
}

export function readRestError(body: unknown): { code?: string; message?: string } {
  if (!isRecord(body)) return {};
  const nested = body.error;
  if (isRecord(nested)) {
    // Meta's own error, forwarded by the passthrough: a numeric code and the details apart.
    const metaCode = typeof nested.code === "number" ? `WHATSAPP_${nested.code}` : undefined;
    const details = isRecord(nested.error_data) ? stringOrUndefined(nested.error_data.details) : undefined;
    const message = stringOrUndefined(nested.message) ?? stringOrUndefined(body.message);
    return {
      code: stringOrUndefined(nested.code) ?? metaCode ?? stringOrUndefined(body.code),
      message: details && message ? `${message}: ${details}` : (details ?? message),
    };
  }
  return {
    code: stringOrUndefined(body.code),
    message: stringOrUndefined(body.message) ?? stringOrUndefined(nested),
  };
}

// ---------------------------------------------------------------------------------------------
// Error codes: the server's (documented or emulator-chosen) and ours
// ---------------------------------------------------------------------------------------------

export const ERROR_CODES = {
  // Documented server code.
  SERVICE_WINDOW_EXPIRED: "SERVICE_WINDOW_EXPIRED",
  // Server-side codes the docs leave UNSTATED; the emulator uses these names (docs/decisions/0027).
  CONVERSATION_NOT_FOUND: "CONVERSATION_NOT_FOUND",
  OUT_OF_SCOPE: "OUT_OF_SCOPE",
  TEXT_TOO_LONG: "TEXT_TOO_LONG",
  CAPTION_TOO_LONG: "CAPTION_TOO_LONG",
  INVALID_REQUEST: "INVALID_REQUEST",
  MEDIA_NOT_FOUND: "MEDIA_NOT_FOUND",
  MEDIA_TOO_LARGE: "MEDIA_TOO_LARGE",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  RATE_LIMITED: "RATE_LIMITED",
  // Client-side codes (raised by this package before or instead of a server answer).
  TIMEOUT: "TIMEOUT",
  NOT_CONNECTED: "NOT_CONNECTED",
  BAD_INPUT: "BAD_INPUT",
  MISSING_ROUTING: "MISSING_ROUTING",
  UNKNOWN_MIME_TYPE: "UNKNOWN_MIME_TYPE",
  QUEUE_FULL: "QUEUE_FULL",
  QUEUE_EXPIRED: "QUEUE_EXPIRED",
  OUTCOME_UNKNOWN: "OUTCOME_UNKNOWN",
  STOPPED: "STOPPED",
  NETWORK_ERROR: "NETWORK_ERROR",
  HTTP_ERROR: "HTTP_ERROR",
  DOWNLOAD_FAILED: "DOWNLOAD_FAILED",
  TLS_ERROR: "TLS_ERROR",
  PROXY_ERROR: "PROXY_ERROR",
  /** A rich message WhatsApp would refuse (a limit, a missing field): found before sending. */
  INVALID_MESSAGE: "INVALID_MESSAGE",
  /** The send needs an App key (ak_): templates and writing first are not offered to pool keys (pk_). */
  APP_KEY_REQUIRED: "APP_KEY_REQUIRED",
  /** A template that does not exist (name and language) or is not APPROVED: found before sending. */
  TEMPLATE_NOT_USABLE: "TEMPLATE_NOT_USABLE",
  /** A node's own settings are unusable (a number out of range, a password in the proxy URL, ...). */
  INVALID_CONFIG: "INVALID_CONFIG",
  /** A fault inside this package (a bug, or a msg that broke our code); never a network problem. */
  INTERNAL_ERROR: "INTERNAL_ERROR",
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

export const DEFAULT_BASE_URL = "https://api.pipes.bot";

export interface SocketQuery {
  apiKey: string;
  conversationId?: string;
  poolNumberId?: string;
}

/** The socket URL derives from the REST base: https -> wss, http -> ws, path `/ws` (keeps a base path). */
export function socketUrl(baseUrl: string, query: SocketQuery): URL {
  const url = new URL(baseUrl);
  if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol === "http:") url.protocol = "ws:";
  else throw new Error(`base URL must be http or https, got ${url.protocol}`);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/ws`;
  url.search = "";
  url.searchParams.set("apiKey", query.apiKey);
  if (query.conversationId) url.searchParams.set("conversationId", query.conversationId);
  if (query.poolNumberId) url.searchParams.set("poolNumberId", query.poolNumberId);
  return url;
}

/** Join the REST base URL and an absolute API path (the media `downloadUrl` is relative, too). */
export function restUrl(baseUrl: string, path: string): URL {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, "");
  return new URL(`${prefix}${path.startsWith("/") ? path : `/${path}`}`, base);
}

// ---------------------------------------------------------------------------------------------
// Parsing: never throws; a rejection says why in words fit for a log line.
// ---------------------------------------------------------------------------------------------

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
function missingStrings(record: Record<string, unknown>, fields: readonly string[]): string[] {
  return fields.filter((f) => typeof record[f] !== "string" || record[f] === "");
}

function parseJsonObject(raw: string | Buffer): ParseResult<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    return { ok: false, reason: "frame is not JSON" };
  }
  if (!isRecord(value)) return { ok: false, reason: "frame is not a JSON object" };
  if (typeof value.type !== "string") return { ok: false, reason: "frame has no string 'type'" };
  return { ok: true, value };
}

const INBOUND_REQUIRED = ["messageId", "conversationId", "fromNumber", "type"] as const;

/** Validates one frame from the server. Unknown `type` values are rejected with their name. */
export function parseServerFrame(raw: string | Buffer): ParseResult<ServerFrame> {
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) return parsed;
  const frame = parsed.value;
  switch (frame.type) {
    case "connected": {
      // Lenient on purpose: the welcome of an App (ak_) key or of a poolNumberId-filtered socket is
      // UNSTATED. Refusing a `connected` frame with other fields would leave the socket never open,
      // reconnecting every handshake time-out forever. Only a string scope we know is kept.
      const welcome: ConnectedFrame = {
        ...frame,
        type: "connected",
        userId: stringOrUndefined(frame.userId) ?? "",
        connectionId: stringOrUndefined(frame.connectionId) ?? "",
        scope: frame.scope === "conversation" ? "conversation" : "user",
      };
      return { ok: true, value: welcome };
    }
    case "whatsapp_message": {
      if (!isRecord(frame.data)) return { ok: false, reason: "whatsapp_message frame has no data object" };
      const missing = missingStrings(frame.data, INBOUND_REQUIRED);
      if (missing.length) return { ok: false, reason: `whatsapp_message lacks ${missing.join(", ")}` };
      return { ok: true, value: frame as unknown as WhatsAppMessageFrame };
    }
    case "reply_status": {
      const data = frame.data;
      if (!isRecord(data)) return { ok: false, reason: "reply_status frame has no data object" };
      if (typeof data.conversationId !== "string" || typeof data.success !== "boolean") {
        return { ok: false, reason: "reply_status lacks conversationId or success" };
      }
      return { ok: true, value: frame as unknown as ReplyStatusFrame };
    }
    default:
      return { ok: false, reason: `unknown frame type '${String(frame.type).slice(0, 64)}'` };
  }
}

/** Validates one frame from a client (used by the emulator). */
export function parseClientFrame(raw: string | Buffer): ParseResult<ClientFrame> {
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) return parsed;
  const frame = parsed.value;
  const type = frame.type;
  if (type !== "whatsapp_reply" && type !== "whatsapp_reaction" && type !== "whatsapp_media_reply") {
    return { ok: false, reason: `unknown frame type '${String(type).slice(0, 64)}'` };
  }
  const data = frame.data;
  if (!isRecord(data)) return { ok: false, reason: `${type} frame has no data object` };
  if (typeof data.conversationId !== "string" || data.conversationId === "") return { ok: false, reason: `${type} lacks conversationId` };
  // Empty strings are the server's to refuse (an empty text, an emoji that removes a reaction).
  if (type === "whatsapp_reply" && typeof data.text !== "string") return { ok: false, reason: "whatsapp_reply lacks text" };
  if (
    type === "whatsapp_reaction" &&
    (typeof data.messageId !== "string" || (data.emoji !== undefined && typeof data.emoji !== "string"))
  ) {
    return { ok: false, reason: "whatsapp_reaction lacks messageId or has a non-text emoji" };
  }
  if (
    type === "whatsapp_media_reply" &&
    !(isRecord(data.media) && typeof data.media.data === "string" && typeof data.media.mimeType === "string")
  ) {
    return { ok: false, reason: "whatsapp_media_reply lacks media.data or media.mimeType" };
  }
  return { ok: true, value: frame as unknown as ClientFrame };
}

export function buildReactionFrame(reaction: WhatsAppReaction): string {
  const frame: WhatsAppReactionFrame = { type: "whatsapp_reaction", data: reaction };
  return JSON.stringify(frame);
}

export function buildReplyFrame(reply: WhatsAppReply): string {
  const frame: WhatsAppReplyFrame = { type: "whatsapp_reply", data: reply };
  return JSON.stringify(frame);
}
