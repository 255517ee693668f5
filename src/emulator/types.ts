/** Public record and event types of the emulator (the option types live in options.ts). */
import type {
  ConnectionScope,
  ContactCard,
  InboundMessage,
  LocationObject,
  ReactionObject,
  ReplyStatus,
  WhatsAppReply,
} from "../lib/protocol";
import type { MediaKind } from "../lib/media";
import type { AppDeliveryInfo } from "./app-delivery";
import type { DeliveryInfo } from "./delivery";

export interface InjectInput {
  /** Which tenant; default the first tenant. */
  apiKey?: string;
  /** Sender, "+1555…" form. */
  fromNumber: string;
  fromName?: string;
  /**
   * The bot number written to: one of the tenant's pool numbers, or (without apiKey) any App's BYON number, which routes the
   * message to that App. Default the tenant's first pool number.
   */
  poolNumberId?: string;
  /** Default "text", or derived from media MIME / location / contacts / reaction. */
  type?: string;
  /** Text or caption (sets both `text` and `body`). */
  text?: string;
  media?: { data: Buffer; mimeType: string; fileName?: string } | { unavailable: true; mimeType: string };
  location?: LocationObject;
  contacts?: ContactCard[];
  reaction?: ReactionObject;
  /**
   * A tap on a reply button, a list row or a template's quick-reply button, answering `toMessageId` (a wamid the bot sent).
   * Its shape on the socket follows the answerShape option; `text` and `body` carry the title.
   */
  answer?: InboundAnswer;
  /** Default "msg_" + random. */
  messageId?: string;
  /** Default the emulator clock, ISO 8601. */
  timestamp?: string;
  /** Raw fields merged into data last (to test unknown fields and unknown types). */
  extra?: Record<string, unknown>;
}

export interface InboundAnswer {
  kind: "button" | "list" | "template_button";
  /** The button's or row's id (a template button's payload). */
  id: string;
  title: string;
  /** List rows only. */
  description?: string;
  /** The message whose button or row was tapped. */
  toMessageId?: string;
}

/** What a sent or refused message was. The last five come from POST /v1/messages/passthrough (or the socket's reaction frame). */
export type SentKind = "text" | MediaKind | "interactive" | "location" | "contacts" | "reaction" | "template";

/** The client frames the emulator answers with reply_status. */
export type ClientFrameType = "whatsapp_reply" | "whatsapp_reaction" | "whatsapp_media_reply";

export interface SentMedia {
  mode: "id" | "url" | "base64";
  mediaId?: string;
  url?: string;
  mimeType?: string;
  fileName?: string;
  byteSize?: number;
}

export interface SentRecord {
  /** "wamid." + random. */
  messageId: string;
  via: "ws" | "rest";
  userId: string;
  conversationId: string;
  poolNumberId: string;
  toNumber: string;
  text?: string;
  caption?: string;
  kind: SentKind;
  media?: SentMedia;
  /** POST /v1/messages/passthrough: the Meta body as the bot sent it (without conversationId). */
  message?: Record<string, unknown>;
  /** Reactions (passthrough or socket frame): the message reacted to and the emoji ("" removes the reaction). */
  reaction?: { messageId: string; emoji: string };
  /** Template sends (an App's passthrough): the template, the values given and the filled-in message. `text` is the filled body. */
  template?: SentTemplate;
  /** Emulator clock. */
  at: number;
}

/**
 * A send the emulator refused (reply_status with success false, a REST error answer, or a reply it
 * deliberately left without reply_status). Kept so a person can see what the bot tried and why it
 * was not delivered; `GET /_emulator/refused` lists them.
 */
export interface RefusedRecord {
  via: "ws" | "rest";
  userId: string;
  /** As the bot gave it; absent when the request had none. */
  conversationId?: string;
  /** The conversation's phone number, when the conversation is the tenant's. */
  toNumber?: string;
  /** The text or caption the bot tried to send, cut to 4,100 characters. */
  text?: string;
  kind: SentKind;
  code: string;
  message: string;
  /** REST: the HTTP status of the answer. */
  httpStatus?: number;
  /** WebSocket: true when the emulator sent no reply_status at all (the client times out). */
  silent?: boolean;
  /** Emulator clock. */
  at: number;
}

export interface ConnectionInfo {
  connectionId: string;
  userId: string;
  scope: ConnectionScope;
  conversationId?: string;
  poolNumberId?: string;
  remotePort: number;
  /** Emulator clock. */
  openedAt: number;
}

export interface ReplyEvent {
  connectionId: string;
  /** The `data` of the client's whatsapp_reply frame. */
  data: WhatsAppReply;
  /** The reply_status that will be sent, or null when the emulator stays silent. */
  status: ReplyStatus | null;
}

/** A whatsapp_reaction or whatsapp_media_reply frame and its answer (events "reaction" and "media-reply"). */
export interface FrameReplyEvent {
  connectionId: string;
  /** The frame's `data` as sent (a media reply's base64 included). */
  data: Record<string, unknown>;
  /** The reply_status that will be sent, or null when the emulator stays silent. */
  status: ReplyStatus | null;
}

/** Where an injected message went: a socket, the offline queue, or (webhook mode) a webhook delivery that is under way. */
export type InboundOutcome = "live" | "queued" | "webhook";

/** One POST of a webhook delivery (docs/decisions/0042-emulator-webhook-retries.md). */
export interface WebhookAttempt {
  /** 1, 2 or 3. */
  attempt: number;
  /** Emulator clock when it started. */
  at: number;
  /** Real time it took, ms. */
  durationMs: number;
  /** A 2xx answer. */
  ok: boolean;
  /** The HTTP status, when one came. */
  status?: number;
  /** Why no status came: "timed out after N ms", a network or DNS error. */
  error?: string;
}

/** A message delivered by webhook: its attempts and outcome (GET /_emulator/webhook-deliveries, /webhook-failures). */
export interface WebhookDeliveryRecord {
  /** "whd_" + random. */
  deliveryId: string;
  messageId: string;
  conversationId: string;
  userId: string;
  poolNumberId: string;
  url: string;
  /** Sent with X-Pipes-Signature (a secret was set). */
  signed: boolean;
  state: "pending" | "delivered" | "failed";
  attempts: WebhookAttempt[];
  /** After the last failed attempt of a pool number's delivery: where the socket path put the message. */
  fallback?: "live" | "queued";
  /** A BYON App's delivery: its sockets got the message in parallel, so a failure has no fallback. */
  dual?: true;
  /** Emulator clock. */
  createdAt: number;
  finishedAt?: number;
}

/** The answer to POST /_emulator/delivery/:poolNumberId/test: one attempt, never retried. */
export interface WebhookTestResult {
  userId: string;
  poolNumberId: string;
  url: string;
  signed: boolean;
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
  /** Emulator clock. */
  at: number;
}

export interface EmulatorEvents {
  connection: [ConnectionInfo];
  disconnect: [ConnectionInfo];
  "client-frame": [{ connectionId: string; raw: string }];
  reply: [ReplyEvent];
  /** A whatsapp_reaction frame, answered (or refused, per the reactionFrame option). */
  reaction: [FrameReplyEvent];
  /** A whatsapp_media_reply frame, answered (or refused, per the mediaReplyFrame option). */
  "media-reply": [FrameReplyEvent];
  sent: [SentRecord];
  queued: [InboundMessage];
  delivered: [{ connectionId: string; message: InboundMessage }];
  /** Every injected inbound message, with where it went; `dual`: an App's, on its way to its webhook too. */
  inbound: [{ message: InboundMessage; outcome: InboundOutcome; dual?: true }];
  refused: [RefusedRecord];
  /** A presigned download started or ended; `active` counts those in progress. */
  storage: [{ active: number }];
  clock: [{ advancedMs: number; now: number }];
  reset: [];
  /** A pool number's delivery setting changed (setDelivery, the control API, the phone page). */
  delivery: [DeliveryInfo];
  /** An App's webhook setting changed (setAppDelivery, the control API, the phone page). */
  "app-delivery": [AppDeliveryInfo];
  /** A webhook POST ended (2xx, another status, a time-out or an error). */
  "webhook-attempt": [{ delivery: WebhookDeliveryRecord; attempt: WebhookAttempt }];
  /** A webhook delivery got its 2xx. */
  "webhook-delivered": [WebhookDeliveryRecord];
  /** Every attempt failed: recorded as failed and (a pool number's) handed to the socket path (`fallback` says where it went). */
  "webhook-failed": [WebhookDeliveryRecord];
  /** A test call's one attempt ended. */
  "webhook-test": [WebhookTestResult];
}

/** A template's review state (docs/protocol.md#templates). */
export type TemplateStatus = "APPROVED" | "PENDING" | "REJECTED";
export type TemplateHeaderFormat = "TEXT" | "IMAGE" | "VIDEO" | "DOCUMENT" | "LOCATION";

/** A template button, in the shape Meta lists it. */
export type TemplateButton =
  | { type: "QUICK_REPLY"; text: string }
  | { type: "URL"; text: string; url: string }
  | { type: "PHONE_NUMBER"; text: string; phone_number: string }
  | { type: "COPY_CODE"; text?: string; example?: string };

/** A template component, in the shape Meta lists it (`{{1}}`, `{{2}}`… are the variables). */
export type TemplateComponent =
  | { type: "HEADER"; format: TemplateHeaderFormat; text?: string }
  | { type: "BODY"; text: string }
  | { type: "FOOTER"; text: string }
  | { type: "BUTTONS"; buttons: TemplateButton[] };

/** A template an App number starts with (AppNumberSpec.templates); `status` default APPROVED, and a seed's never changes. */
export interface TemplateSeed {
  name: string;
  /** Meta's language code, e.g. "en_US". */
  language: string;
  category: string;
  status?: TemplateStatus;
  components: TemplateComponent[];
  /** With status REJECTED. */
  rejectedReason?: string;
}

/** One template as GET /v1/pool-numbers/:id/templates lists it (Meta's shape). */
export interface TemplateDefinition {
  id: string;
  name: string;
  language: string;
  status: TemplateStatus;
  category: string;
  components: TemplateComponent[];
  rejected_reason?: string;
}

/** A template send as the sent log keeps it: what was asked for, and what the user sees. */
export interface SentTemplate {
  name: string;
  language: string;
  /** The values given for each slot: the header's, the body's `{{n}}` in order, each button's payload or URL suffix. */
  parameters: {
    header?: { text?: string; media?: SentMedia; location?: Record<string, unknown> };
    body: string[];
    buttons: { index: number; subType: string; value: string }[];
  };
  /** The template with the values filled in. */
  rendered: {
    header?: { format: TemplateHeaderFormat; text?: string; media?: SentMedia; location?: Record<string, unknown> };
    body: string;
    footer?: string;
    /** A quick reply's payload is what its tap sends back (the button's text when the send gave none). */
    buttons: { type: TemplateButton["type"]; text: string; payload?: string; url?: string }[];
  };
}
