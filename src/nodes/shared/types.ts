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
  /** Several Node-RED instances on this account, through Redis (docs/high-availability.md): redis:// or rediss://. */
  redisUrl?: string;
  /** Prepended to every Redis key (several bots share one Redis). Default "pipes:". */
  redisPrefix?: string;
  /** This instance's name in "standby (leader: …)"; default host:pid. */
  redisInstance?: string;
  /** Seconds a dead leader blocks the standbys. */
  redisLeaseSeconds?: number | string;
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
  redisPassword?: string;
}

export interface PipesConfigNode extends Node<PipesConfigCredentials> {
  /** Undefined when the configuration is unusable; `configError` then says why. */
  client?: PipesClient;
  configError?: string;
}

export interface UsesConnection extends NodeDef {
  connection: string;
}

export interface PipesInDef extends UsesConnection {
  types?: string[] | string;
  downloadMedia?: boolean;
  maxMediaMB?: number | string;
}

/** Where a message goes, as typedInputs; empty fields take their value from msg.pipes. */
export interface RoutingFields {
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
