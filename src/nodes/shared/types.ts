import type { Node, NodeDef } from "node-red";
import type { PipesClient } from "../../lib/client";
import type { LongTextMode } from "../../lib/reply";
import type { ConnectionScope } from "../../lib/protocol";

/** Values a typedInput stores: the value and its type (msg, flow, global, str, env, ...). */
export type TypedInputType = "msg" | "flow" | "global" | "str" | "num" | "env" | "json" | "jsonata";

export interface PipesConfigDef extends NodeDef {
  baseUrl: string;
  scope: ConnectionScope;
  conversationId?: string;
  poolNumberId?: string;
  backoffMaxSeconds?: number | string;
  /** An explicit HTTP proxy (http://host:port); empty: HTTP(S)_PROXY / NO_PROXY from the environment. */
  proxyUrl?: string;
  /** Id of a Node-RED tls-config node (custom CA, client certificate, verification). */
  tls?: string;
  outboxLimit?: number | string;
  outboxMaxWaitSeconds?: number | string;
  /** Media downloads at once, and megabytes being downloaded at once, per connection. */
  downloadConcurrency?: number | string;
  downloadBufferMB?: number | string;
  /**
   * Timing knobs not shown in the editor; flows (and our tests) may set them to shorten
   * the handshake, heartbeat and backoff timings. Milliseconds.
   */
  tuning?: {
    handshakeTimeoutMs?: number;
    pingIntervalMs?: number;
    pongTimeoutMs?: number;
    backoffBaseMs?: number;
    stableAfterMs?: number;
    idleCloseMs?: number;
    lateStatusGraceMs?: number;
    lateStatusWindowMs?: number;
  };
}

export interface PipesConfigCredentials {
  apiKey?: string;
  proxyUsername?: string;
  proxyPassword?: string;
}

export interface PipesConfigNode extends Node<PipesConfigCredentials> {
  /** Undefined when the configuration is unusable; `configError` then says why. */
  client?: PipesClient;
  configError?: string;
}

interface UsesConnection extends NodeDef {
  connection: string;
}

export interface PipesInDef extends UsesConnection {
  types?: string[] | string;
  downloadMedia?: boolean;
  maxMediaMB?: number | string;
}

/** Where a message goes, as typedInputs; empty fields take their value from msg.pipes. */
interface RoutingFields {
  conversationId?: string;
  conversationIdType?: TypedInputType;
  poolNumberId?: string;
  poolNumberIdType?: TypedInputType;
  toNumber?: string;
  toNumberType?: TypedInputType;
}

export interface PipesReplyDef extends UsesConnection, RoutingFields {
  text?: string;
  textType?: TypedInputType;
  transport?: "ws" | "rest";
  longText?: LongTextMode;
  timeout?: number | string;
  wires: string[][];
}

export interface PipesSendMediaDef extends UsesConnection {
  media?: string;
  mediaType?: TypedInputType;
  caption?: string;
  captionType?: TypedInputType;
  mimetype?: string;
  mimetypeType?: TypedInputType;
  filename?: string;
  filenameType?: TypedInputType;
  conversationId?: string;
  conversationIdType?: TypedInputType;
  timeout?: number | string;
  wires: string[][];
}

/** One row of a list message as the editor stores it. */
export interface ListRow {
  id: string;
  title: string;
  description?: string;
}

export interface PipesSendDef extends UsesConnection, RoutingFields {
  /** What to send: one of the forms, or "msg" (the whole message from `message`, default msg.payload). */
  kind?: "msg" | "buttons" | "list" | "cta_url" | "location" | "contacts" | "reaction" | "raw";
  message?: string;
  messageType?: TypedInputType;
  body?: string;
  bodyType?: TypedInputType;
  header?: string;
  headerType?: TypedInputType;
  footer?: string;
  footerType?: TypedInputType;
  /** Reply buttons, as typed in the editor. */
  buttons?: { id: string; title: string }[];
  /** List: the label of the button that opens it, one section's title and rows. */
  listButton?: string;
  listButtonType?: TypedInputType;
  sectionTitle?: string;
  rows?: ListRow[];
  /** Link button: its text and address. */
  linkText?: string;
  linkTextType?: TypedInputType;
  url?: string;
  urlType?: TypedInputType;
  /** Location ("place" is its name: the node has a name of its own). */
  latitude?: string;
  latitudeType?: TypedInputType;
  longitude?: string;
  longitudeType?: TypedInputType;
  place?: string;
  placeType?: TypedInputType;
  address?: string;
  addressType?: TypedInputType;
  /** Contacts: one card from the form (several come from msg). */
  contactName?: string;
  contactNameType?: TypedInputType;
  contactPhone?: string;
  contactPhoneType?: TypedInputType;
  /** Reaction: the message reacted to (default msg.pipes.messageId) and the emoji (empty removes it). */
  reactTo?: string;
  reactToType?: TypedInputType;
  emoji?: string;
  emojiType?: TypedInputType;
  /** Check the limits only third-party SDK docs state (default true). */
  softLimits?: boolean;
  /** How a reaction travels: auto (a wamid. id by REST passthrough, a Pipes id by the socket), socket, passthrough. */
  reactVia?: "auto" | "socket" | "passthrough";
  timeout?: number | string;
  wires: string[][];
}
