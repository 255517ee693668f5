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

export interface InjectInput {
  /** Which tenant; default the first tenant. */
  apiKey?: string;
  /** Sender, "+1555…" form. */
  fromNumber: string;
  fromName?: string;
  /** Default the tenant's first pool number. */
  poolNumberId?: string;
  /** Default "text", or derived from media MIME / location / contacts / reaction. */
  type?: string;
  /** Text or caption (sets both `text` and `body`). */
  text?: string;
  media?: { data: Buffer; mimeType: string; fileName?: string } | { unavailable: true; mimeType: string };
  location?: LocationObject;
  contacts?: ContactCard[];
  reaction?: ReactionObject;
  /** Default "msg_" + random. */
  messageId?: string;
  /** Default the emulator clock, ISO 8601. */
  timestamp?: string;
  /** Raw fields merged into data last (to test unknown fields and unknown types). */
  extra?: Record<string, unknown>;
}

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
  kind: "text" | MediaKind;
  media?: SentMedia;
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
  kind: "text" | MediaKind;
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

export interface EmulatorEvents {
  connection: [ConnectionInfo];
  disconnect: [ConnectionInfo];
  "client-frame": [{ connectionId: string; raw: string }];
  reply: [ReplyEvent];
  sent: [SentRecord];
  queued: [InboundMessage];
  delivered: [{ connectionId: string; message: InboundMessage }];
  /** Every injected inbound message, with where it went. */
  inbound: [{ message: InboundMessage; outcome: "live" | "queued" }];
  refused: [RefusedRecord];
  /** A presigned download started or ended; `active` counts those in progress. */
  storage: [{ active: number }];
  clock: [{ advancedMs: number; now: number }];
  reset: [];
}
