import { EventEmitter } from "node:events";
import { PipesConnection, type ConnectionLogger, type ConnectionOptions, type StateChange } from "./connection";
import { PipesError } from "./errors";
import { Outbox } from "./outbox";
import { ERROR_CODES, type ConnectionScope, type InboundMessage, type ReplyStatus, type WhatsAppReply } from "./protocol";
import { PipesRestClient, type DownloadedMedia, type SendBody } from "./rest";
import type { SendMessageResponse } from "./protocol";

/**
 * Everything one Pipes.bot account/scope needs, shared by every node that uses it: ONE socket
 * (started by the first socket user, stopped by the last), the reply outbox, the REST client,
 * inbound dispatch with replay protection, and a small holding buffer for inbound messages that
 * arrive while no receiver is registered (between the close and restart of a redeployed node).
 */

export interface ClientOptions extends Omit<ConnectionOptions, "logger"> {
  outboxLimit?: number;
  outboxMaxWaitMs?: number;
  restTimeoutMs?: number;
  /** How long the socket stays up after its last user left without being removed (a redeploy). */
  idleCloseMs?: number;
  /** See OutboxOptions: pause after a time-out, and how long a late status is still expected. */
  lateStatusGraceMs?: number;
  lateStatusWindowMs?: number;
  /** Inbound messages held while no receiver is registered. */
  holdLimit?: number;
  /** Message ids remembered to drop exact replays. */
  dedupeWindow?: number;
  logger?: ConnectionLogger & { error?(text: string): void };
}

export interface ClientEvents {
  state: [StateChange];
}

export type InboundListener = (message: InboundMessage) => void;

export class PipesClient extends EventEmitter<ClientEvents> {
  readonly connection: PipesConnection;
  readonly outbox: Outbox;
  readonly rest: PipesRestClient;
  readonly scope: ConnectionScope;
  readonly conversationId: string | undefined;
  private readonly options: ClientOptions;
  private readonly socketUsers = new Set<object>();
  private readonly receivers = new Set<InboundListener>();
  private readonly held: InboundMessage[] = [];
  private readonly seenIds = new Set<string>();
  /** The ids in seenIds, oldest at seenHead once the ring is full. */
  private readonly seenOrder: string[] = [];
  private seenHead = 0;
  private readonly dedupeWindow: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private backlogFlush: NodeJS.Immediate | undefined;
  private stopped = false;
  private warnedUnmatched = false;
  private warnedHolding = false;
  private readonly frameWarnings = new Set<string>();

  constructor(options: ClientOptions) {
    super();
    this.setMaxListeners(0);
    this.options = options;
    const window = options.dedupeWindow ?? 10_000;
    this.dedupeWindow = Number.isFinite(window) ? Math.max(0, Math.floor(window)) : 10_000;
    this.scope = options.scope;
    this.conversationId = options.scope === "conversation" ? options.conversationId : undefined;
    this.connection = new PipesConnection({ ...options, logger: options.logger });
    this.outbox = new Outbox(this.connection, {
      limit: options.outboxLimit ?? 1000,
      maxWaitMs: options.outboxMaxWaitMs ?? 300_000,
      lateStatusGraceMs: options.lateStatusGraceMs,
      lateStatusWindowMs: options.lateStatusWindowMs,
      onUnmatchedStatus: (status) => this.unmatchedStatus(status),
    });
    this.rest = new PipesRestClient({ baseUrl: options.baseUrl, apiKey: options.apiKey, timeoutMs: options.restTimeoutMs, tls: options.tls, proxyUrl: options.proxyUrl });

    this.connection.on("state", (change) => {
      this.emit("state", change);
      // Replies waiting for a connection that will not come back until a redeploy fail now.
      if (change.state === "auth_failed" || change.state === "forbidden") this.outbox.failQueued(this.terminalState()!);
    });
    this.connection.on("connected", () => this.outbox.flush());
    this.connection.on("disconnected", () => this.outbox.connectionLost());
    this.connection.on("reply_status", (status) => this.outbox.handleStatus(status));
    this.connection.on("message", (message) => this.dispatch(message));
    this.connection.on("frame_error", (reason) => this.frameError(reason));
  }

  get state(): StateChange {
    return this.connection.status;
  }

  /** A node that needs the socket (receives, or replies over it). The first one opens it. */
  acquireSocket(user: object): void {
    if (this.stopped) return;
    this.socketUsers.add(user);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.connection.start();
  }

  /**
   * The node no longer needs the socket. When it was the last user: a removed node closes the
   * socket now; a node being redeployed leaves it open briefly for its replacement, so a partial
   * deploy does not drop and re-drain the connection.
   */
  async releaseSocket(user: object, removed: boolean): Promise<void> {
    this.socketUsers.delete(user);
    this.outbox.cancel(user);
    if (this.socketUsers.size > 0 || this.stopped) return;
    if (removed) {
      await this.closeSocket();
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.socketUsers.size === 0) void this.closeSocket();
    }, this.options.idleCloseMs ?? 5000);
  }

  /**
   * Subscribes a receiver. Messages held while nobody listened go out one tick later, to every
   * receiver registered by then: after a redeploy, all restarted pipes-in nodes (each with its own
   * type filter) get the backlog, not just the first to start.
   */
  addReceiver(listener: InboundListener): () => void {
    this.receivers.add(listener);
    this.warnedHolding = false;
    if (this.held.length && !this.backlogFlush) {
      this.backlogFlush = setImmediate(() => {
        this.backlogFlush = undefined;
        for (const message of this.held.splice(0)) this.dispatch(message, false);
      });
    }
    return () => this.receivers.delete(listener);
  }

  /**
   * Replies over the socket, one message in one or more parts (all into one conversation).
   * Resolves with every part's success status; rejects with a PipesError.
   */
  reply(parts: WhatsAppReply[], options: { timeoutMs: number; owner?: object }): Promise<ReplyStatus[]> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    const refusal = parts.map((part) => this.scopeRefusal(part.conversationId)).find(Boolean);
    if (refusal) return Promise.reject(refusal);
    const terminal = this.terminalState();
    if (terminal) return Promise.reject(terminal);
    return this.outbox.enqueueAll(parts, options);
  }

  /** POST /v1/messages/send (REST ignores socket scoping, pipes-api.md §2.5). */
  send(body: SendBody, data?: Buffer, timeoutMs?: number): Promise<SendMessageResponse> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    // The server would accept it (REST ignores socket scoping), but a connection configured for one
    // conversation is the user's statement of where this flow may write.
    const refusal = this.scopeRefusal(body.conversationId);
    if (refusal) return Promise.reject(refusal);
    return this.rest.send(body, data, timeoutMs);
  }

  download(downloadUrl: string, maxBytes: number, timeoutMs?: number): Promise<DownloadedMedia> {
    return this.rest.download(downloadUrl, maxBytes, timeoutMs);
  }

  /** A conversation-scoped connection may only reply into its own conversation (pipes-api.md §2.5). */
  scopeRefusal(conversationId: string): PipesError | undefined {
    if (this.scope === "conversation" && this.conversationId && conversationId !== this.conversationId) {
      return new PipesError(ERROR_CODES.OUT_OF_SCOPE, `this connection is scoped to conversation ${this.conversationId} and cannot reply to ${conversationId}`);
    }
    return undefined;
  }

  /** Everything stops: socket, timers, outbox (waiting replies fail), REST requests. */
  async stop(timeoutMs = 1500): Promise<void> {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.backlogFlush) clearImmediate(this.backlogFlush);
    this.backlogFlush = undefined;
    this.socketUsers.clear();
    this.receivers.clear();
    this.held.length = 0;
    this.outbox.stop();
    await Promise.all([this.connection.stop(timeoutMs), this.rest.close()]);
  }

  private async closeSocket(): Promise<void> {
    await this.connection.stop();
    this.outbox.connectionLost();
  }

  private terminalState(): PipesError | undefined {
    const state = this.connection.state;
    if (state === "auth_failed") return new PipesError(ERROR_CODES.NOT_CONNECTED, "not connected: the API key was refused (HTTP 401)");
    if (state === "forbidden") return new PipesError(ERROR_CODES.NOT_CONNECTED, "not connected: Pipes.bot refused the connection (HTTP 403)");
    return undefined;
  }

  private dispatch(message: InboundMessage, checkReplay = true): void {
    if (checkReplay && this.isReplay(message.messageId)) {
      this.options.logger?.debug?.(`dropped a replayed message ${message.messageId}`);
      return;
    }
    if (this.receivers.size === 0) {
      this.hold(message);
      return;
    }
    for (const receiver of this.receivers) receiver(message);
  }

  private hold(message: InboundMessage): void {
    const limit = this.options.holdLimit ?? 1000;
    this.held.push(message);
    if (this.held.length > limit) {
      this.held.shift();
      this.options.logger?.error?.(`no pipes-in node is receiving; dropped the oldest held message (holding ${limit})`);
    }
    if (!this.warnedHolding) {
      this.warnedHolding = true;
      this.options.logger?.warn("a WhatsApp message arrived but no pipes-in node uses this connection; holding it until one starts");
    }
  }

  /**
   * Remembers the last `dedupeWindow` ids. The Set answers "seen?"; the ring `seenOrder` keeps them
   * oldest first, so evicting the oldest is O(1). (Taking the oldest from the Set itself,
   * `values().next()`, walks over every slot deleted since the table was last rehashed: several
   * microseconds per message once the window is full.)
   */
  private isReplay(id: string): boolean {
    if (this.seenIds.has(id)) return true;
    const window = this.dedupeWindow;
    if (window === 0) return false;
    this.seenIds.add(id);
    if (this.seenOrder.length < window) {
      this.seenOrder.push(id);
    } else {
      this.seenIds.delete(this.seenOrder[this.seenHead]);
      this.seenOrder[this.seenHead] = id;
      this.seenHead = (this.seenHead + 1) % window;
    }
    return false;
  }

  /** A bad frame is logged once per kind as a warning (a misbehaving server must not flood the log). */
  private frameError(reason: string): void {
    const kind = reason.replace(/'[^']*'/g, "'…'");
    if (this.frameWarnings.has(kind) || this.frameWarnings.size >= 20) {
      this.options.logger?.debug?.(`ignored a frame from Pipes.bot: ${reason}`);
      return;
    }
    this.frameWarnings.add(kind);
    this.options.logger?.warn(`ignored a frame from Pipes.bot: ${reason} (more like it are logged at debug level)`);
  }

  private unmatchedStatus(status: ReplyStatus): void {
    if (this.warnedUnmatched) return;
    this.warnedUnmatched = true;
    this.options.logger?.warn(`received a reply_status for conversation ${status.conversationId} that no reply was waiting for (logged once)`);
  }
}
