import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket from "ws";
import { fullJitterDelay } from "./backoff";
import { parseServerFrame, socketUrl, type ConnectedFrame, type ConnectionScope, type InboundMessage, type ReplyStatus } from "./protocol";
import { maskUrl, redact } from "./redact";
import { displayProxy, proxyFor, tunnelAgent } from "./proxy";
import { describeNetworkError, type TlsOptions } from "./tls";

/**
 * One authenticated Pipes.bot WebSocket and everything needed to keep it alive: an explicit state
 * machine, a handshake time-out (upgrade + `connected` frame), a ping/pong heartbeat that replaces
 * half-open sockets, reconnection forever with capped full-jitter backoff, terminal states for
 * 401/403, and a close that always finishes within its time limit. It knows nothing about msgs.
 */

export type ConnectionState =
  | "idle" // never started
  | "connecting" // first attempt in progress
  | "open" // `connected` frame received
  | "reconnecting" // lost or failed; waiting for or making the next attempt
  | "auth_failed" // HTTP 401 at the upgrade: wrong key; no retries until redeployed
  | "forbidden" // HTTP 403 at the upgrade: conversation/pool number not ours; no retries
  | "closing"
  | "closed";

export interface ConnectionOptions {
  baseUrl: string;
  apiKey: string;
  scope: ConnectionScope;
  conversationId?: string;
  poolNumberId?: string;
  /** Upgrade plus `connected` frame must complete within this. */
  handshakeTimeoutMs?: number;
  pingIntervalMs?: number;
  /** Silence (no pong, no frame) for this long means the socket is dead. */
  pongTimeoutMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** The backoff resets only once a connection has stayed open this long (stops flapping storms). */
  stableAfterMs?: number;
  /** Largest inbound frame accepted; bigger ones close the socket (ws code 1009). */
  maxPayloadBytes?: number;
  /** TLS settings (custom CA, client certificate, verification) for wss. */
  tls?: TlsOptions;
  /** An explicit HTTP proxy (may carry user:password); without it the environment's proxy rules apply. */
  proxyUrl?: string;
  logger?: ConnectionLogger;
  random?: () => number;
}

export interface ConnectionLogger {
  info(text: string): void;
  warn(text: string): void;
  debug?(text: string): void;
}

export interface StateChange {
  state: ConnectionState;
  /** Why we are in this state, fit for a log line or status text (never contains the key). */
  reason?: string;
  /** Next reconnect attempt number and its delay, while reconnecting. */
  attempt?: number;
  retryInMs?: number;
  /** HTTP status of a refused upgrade. */
  httpStatus?: number;
  /** The system code of the last failure (e.g. a TLS or proxy code), for a precise status. */
  errorCode?: string;
}

export interface ConnectionEvents {
  state: [StateChange];
  connected: [ConnectedFrame];
  /** An inbound message and the size of the frame it came in. */
  message: [InboundMessage, number];
  reply_status: [ReplyStatus];
  /** A frame that could not be used (not JSON, unknown type, missing fields). */
  frame_error: [string];
  /** The socket went away while open (before the reconnect is scheduled). */
  disconnected: [];
}

/** Frames per write batch (see batchWrites). */
const BATCH_FRAMES = 32;

const DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  pingIntervalMs: 25_000,
  pongTimeoutMs: 50_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  stableAfterMs: 30_000,
  maxPayloadBytes: 4 * 1024 * 1024,
};

export class PipesConnection extends EventEmitter<ConnectionEvents> {
  private readonly options: ConnectionOptions & typeof DEFAULTS;
  private socket: WebSocket | undefined;
  private current: StateChange = { state: "idle" };
  private attempt = 0;
  private timers = new Set<NodeJS.Timeout>();
  private lastSeenAt = 0;
  private outageStartedAt = 0;
  private outageLogged = false;
  private welcome: ConnectedFrame | undefined;
  private lastError: string | undefined;
  private lastErrorCode: string | undefined;
  private proxyLogged = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** The open socket's TCP (or TLS) stream, and the write batch being filled (see batchWrites). */
  private stream: Duplex | undefined;
  private batch: { stream: Duplex; frames: number } | undefined;
  /**
   * The socket stop() is closing. Until its close handshake ends the server may still send
   * messages on it (it counts them as delivered): they are read and passed on, not dropped.
   */
  private draining: WebSocket | undefined;
  /** start() was called while a stop() was still closing: start again once it has finished. */
  private restartAfterStop = false;

  constructor(options: ConnectionOptions) {
    super();
    this.setMaxListeners(0); // one listener per dependent node; flows can have hundreds
    this.options = { ...DEFAULTS, ...stripUndefined(options) };
  }

  get state(): ConnectionState {
    return this.current.state;
  }

  get status(): StateChange {
    return this.current;
  }

  /** The `connected` frame of the open socket, if any. */
  get info(): ConnectedFrame | undefined {
    return this.state === "open" ? this.welcome : undefined;
  }

  get isOpen(): boolean {
    return this.state === "open" && this.socket?.readyState === WebSocket.OPEN;
  }

  /** The socket URL with the key masked, for logs. */
  get displayUrl(): string {
    return maskUrl(this.url());
  }

  start(): void {
    if (this.state === "closing") {
      this.restartAfterStop = true;
      return;
    }
    if (this.state !== "idle" && this.state !== "closed") return;
    this.attempt = 0;
    this.outageLogged = false;
    this.transition({ state: "connecting" });
    this.open();
  }

  /** Writes one text frame; false when the socket is not open (the caller keeps the frame). */
  send(frame: string, onWritten?: (err?: Error) => void): boolean {
    if (!this.isOpen || !this.socket) return false;
    this.batchWrites();
    this.socket.send(frame, onWritten);
    return true;
  }

  /**
   * Frames written close together leave in one write: the TCP stream is corked at the first frame
   * and uncorked after 32 frames or at the end of the event-loop turn (setImmediate), whichever
   * comes first. A flow answering a burst of messages then makes one system call per 32 replies
   * instead of one per reply (a write costs about as much as the rest of our per-reply work); the
   * cap lets the server start on a batch while the rest of the burst is being answered. Same bytes
   * in the same order; a frame waits at most until the current turn ends.
   */
  private batchWrites(): void {
    const stream = this.stream;
    if (!stream) return;
    const current = this.batch;
    if (current && current.stream === stream && current.frames < BATCH_FRAMES) {
      current.frames++;
      return;
    }
    // A full batch leaves now, so the server can start on it while the rest of the burst is answered.
    this.flushBatch();
    const batch = { stream, frames: 1 };
    this.batch = batch;
    stream.cork();
    setImmediate(() => {
      if (this.batch === batch) this.flushBatch();
    });
  }

  /** Every corked stream is uncorked exactly once: here, by its batch's end of turn or by the next batch. */
  private flushBatch(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    batch.stream.uncork();
  }

  /**
   * Closes the socket and cancels every timer. Resolves within `timeoutMs` even when the server has
   * gone silent: a polite close first, then terminate.
   */
  stop(timeoutMs = 1500): Promise<void> {
    this.restartAfterStop = false;
    if (this.stopping) return this.stopping;
    if (this.state === "closed" || this.state === "idle") {
      this.transition({ state: "closed" });
      return Promise.resolve();
    }
    this.transition({ state: "closing" });
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined; // from here on, only the messages this socket still brings are read
    this.stream = undefined;
    this.draining = socket;
    this.stopping = (async () => {
      if (socket) {
        await closeWithin(socket, timeoutMs);
        if (this.draining === socket) this.draining = undefined;
        socket.removeAllListeners();
        socket.on("error", () => undefined); // a late error after terminate must not go unhandled
      }
      this.clearTimers();
      this.stopping = undefined;
      this.transition({ state: "closed" });
      if (this.restartAfterStop) {
        this.restartAfterStop = false;
        this.start();
      }
    })();
    return this.stopping;
  }

  private url(): URL {
    const { baseUrl, apiKey, scope, conversationId, poolNumberId } = this.options;
    return socketUrl(baseUrl, { apiKey, conversationId: scope === "conversation" ? conversationId : undefined, poolNumberId });
  }

  private open(): void {
    let url: URL;
    try {
      url = this.url();
    } catch (err) {
      this.fail(`invalid base URL: ${(err as Error).message}`);
      return;
    }
    const proxy = proxyFor(url, this.options.proxyUrl);
    const secure = url.protocol === "wss:";
    if (proxy && !this.proxyLogged) {
      this.proxyLogged = true;
      this.options.logger?.info(`connecting through the proxy ${displayProxy(proxy)}`);
    }
    const socket = new WebSocket(url, {
      ...(secure ? this.options.tls : {}),
      ...(proxy ? { agent: tunnelAgent(proxy, secure, this.options.tls ?? {}, this.options.handshakeTimeoutMs) } : {}),
      handshakeTimeout: this.options.handshakeTimeoutMs,
      maxPayload: this.options.maxPayloadBytes,
      perMessageDeflate: false,
    });
    this.socket = socket;
    let refusedStatus: number | undefined;

    // Upgrade + `connected` frame together must beat the handshake time-out.
    const welcomeTimer = this.later(this.options.handshakeTimeoutMs, () => {
      if (socket === this.socket && this.state !== "open") {
        this.dropSocket(socket, "no 'connected' frame within the handshake time-out");
      }
    });

    socket.on("unexpected-response", (_req, res: IncomingMessage) => {
      refusedStatus = res.statusCode;
      res.resume();
      socket.terminate();
    });
    socket.on("upgrade", (res: IncomingMessage) => {
      if (socket === this.socket) this.stream = res.socket;
    });
    socket.on("open", () => {
      this.lastSeenAt = Date.now();
    });
    socket.on("message", (data, isBinary) => {
      if (socket !== this.socket) {
        // A socket being closed by stop(): keep its messages; anything else it says no longer matters.
        if (socket === this.draining && !isBinary) this.onDrainingFrame(data as Buffer);
        return;
      }
      this.lastSeenAt = Date.now();
      if (isBinary) {
        this.emit("frame_error", "binary frame ignored");
        return;
      }
      this.onFrame(socket, data as Buffer, welcomeTimer);
    });
    socket.on("pong", () => {
      this.lastSeenAt = Date.now();
    });
    socket.on("error", (err: Error) => {
      // 'close' always follows; remember the reason for the one log line of this outage.
      const described = describeNetworkError(err);
      this.lastError = redact(described.message, [this.options.apiKey, this.options.proxyUrl]);
      this.lastErrorCode = described.code;
    });
    socket.on("close", (code: number, reasonBuffer: Buffer) => {
      this.cancel(welcomeTimer);
      if (socket !== this.socket) return; // a socket we already replaced or stopped
      this.socket = undefined;
      this.stream = undefined;
      const wasOpen = this.state === "open";
      this.stopHeartbeat();
      if (refusedStatus === 401 || refusedStatus === 403) {
        this.terminal(refusedStatus);
        return;
      }
      const reason = refusedStatus
        ? `server answered HTTP ${refusedStatus} to the upgrade`
        : (this.lastError ??
          (code
            ? `closed with code ${code}${reasonBuffer.length ? ` (${reasonBuffer.toString().slice(0, 100)})` : ""}`
            : "connection closed"));
      const errorCode = this.lastErrorCode;
      this.lastError = undefined;
      this.lastErrorCode = undefined;
      if (wasOpen) this.emit("disconnected");
      this.scheduleReconnect(reason, wasOpen, errorCode);
    });
  }

  private onFrame(socket: WebSocket, data: Buffer, welcomeTimer: NodeJS.Timeout): void {
    if (socket !== this.socket) return; // a socket being closed or already replaced
    const parsed = parseServerFrame(data);
    if (!parsed.ok) {
      this.emit("frame_error", parsed.reason);
      return;
    }
    const frame = parsed.value;
    switch (frame.type) {
      case "connected":
        this.cancel(welcomeTimer);
        this.welcome = frame;
        this.onOpen(socket);
        break;
      case "whatsapp_message":
        this.emit("message", frame.data, data.length);
        break;
      case "reply_status":
        this.emit("reply_status", frame.data);
        break;
    }
  }

  private onDrainingFrame(data: Buffer): void {
    const parsed = parseServerFrame(data);
    if (parsed.ok && parsed.value.type === "whatsapp_message") this.emit("message", parsed.value.data, data.length);
  }

  private onOpen(socket: WebSocket): void {
    if (this.state === "open") return; // a second `connected` frame changes nothing
    const recovered = this.outageLogged;
    const downFor = this.outageStartedAt ? Date.now() - this.outageStartedAt : 0;
    this.outageLogged = false;
    this.outageStartedAt = 0;
    this.transition({ state: "open" });
    if (recovered) this.options.logger?.info(`reconnected after ${(downFor / 1000).toFixed(1)} s`);
    this.startHeartbeat(socket);
    this.cancel(this.stableTimer);
    this.stableTimer = this.later(this.options.stableAfterMs, () => {
      this.attempt = 0;
    });
    if (this.welcome) this.emit("connected", this.welcome);
  }

  private startHeartbeat(socket: WebSocket): void {
    this.stopHeartbeat();
    const every = Math.max(10, Math.min(this.options.pingIntervalMs, this.options.pongTimeoutMs / 2));
    this.heartbeat = setInterval(() => {
      if (socket !== this.socket) return;
      if (Date.now() - this.lastSeenAt > this.options.pongTimeoutMs) {
        this.dropSocket(socket, `no pong for ${Math.round(this.options.pongTimeoutMs / 1000)} s`);
        return;
      }
      if (Date.now() - this.lastSeenAt >= this.options.pingIntervalMs - every / 2) socket.ping();
    }, every);
    this.timers.add(this.heartbeat);
  }

  private stopHeartbeat(): void {
    this.cancel(this.heartbeat);
    this.heartbeat = undefined;
    this.cancel(this.stableTimer);
    this.stableTimer = undefined;
  }

  /** Replaces a socket we no longer trust: terminate it; its 'close' schedules the reconnect. */
  private dropSocket(socket: WebSocket, reason: string): void {
    this.lastError = reason;
    socket.terminate();
  }

  private scheduleReconnect(reason: string, wasOpen: boolean, errorCode?: string): void {
    if (this.state === "closing" || this.state === "closed") return;
    const delay = fullJitterDelay(this.attempt, this.options.backoffBaseMs, this.options.backoffMaxMs, this.options.random);
    this.attempt++;
    if (!this.outageLogged) {
      // One line per outage, not one per attempt.
      this.outageLogged = true;
      this.outageStartedAt = Date.now();
      this.options.logger?.warn(
        `${wasOpen ? "connection lost" : "cannot connect"} to ${this.displayUrl}: ${reason}; reconnecting with backoff`,
      );
    } else {
      this.options.logger?.debug?.(`reconnect attempt ${this.attempt} failed: ${reason}`);
    }
    this.transition({ state: "reconnecting", reason, attempt: this.attempt, retryInMs: delay, errorCode });
    this.later(delay, () => {
      if (this.state === "reconnecting") this.open();
    });
  }

  private terminal(status: 401 | 403): void {
    const auth = status === 401;
    const reason = auth ? "invalid API key (HTTP 401)" : "forbidden (HTTP 403): conversation or pool number not owned by this key";
    this.options.logger?.warn(`${reason}; not retrying until the configuration is fixed and redeployed`);
    this.transition({ state: auth ? "auth_failed" : "forbidden", reason, httpStatus: status });
  }

  private fail(reason: string): void {
    this.options.logger?.warn(reason);
    this.transition({ state: "closed", reason });
  }

  private transition(change: StateChange): void {
    const same = this.current.state === change.state && this.current.attempt === change.attempt && this.current.reason === change.reason;
    this.current = change;
    if (!same) this.emit("state", change);
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private cancel(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    clearInterval(timer);
    this.timers.delete(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this.timers.clear();
    this.heartbeat = undefined;
    this.stableTimer = undefined;
  }
}

function closeWithin(socket: WebSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => undefined);
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else socket.close(1000, "client stopping");
  });
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
