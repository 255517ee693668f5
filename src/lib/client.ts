import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { PipesConnection, type ConnectionLogger, type ConnectionOptions, type StateChange } from "./connection";
import { DownloadGate } from "./download-gate";
import { PipesError } from "./errors";
import { claimHandovers, depositHandover, type Handover, type HeldMessage } from "./handover";
import { Outbox } from "./outbox";
import {
  buildReactionFrame,
  ERROR_CODES,
  type ConnectionScope,
  type InboundMessage,
  type ReplyStatus,
  type WhatsAppReaction,
  type WhatsAppReply,
  keyKind,
  type AppSendRequest,
  type KeyKind,
  type TemplateDefinition,
} from "./protocol";
import { PipesRestClient, type DownloadedMedia, type PassthroughBody, type SendBody } from "./rest";
import type { SendMessageResponse } from "./protocol";
import { shortText } from "./redact";
import { accountHash, RedisCoordinator, type ClaimResult, type CoordinationOptions, type CoordinatorState } from "./coordination";
import { HandlingWaits } from "./handling";
import { ReplayFilter } from "./replay-filter";

/**
 * Everything one Pipes.bot account/scope needs, shared by every node that uses it: ONE socket
 * (opened by the first node that receives, closed after the last), the reply outbox, the REST
 * client, bounded media downloads, inbound dispatch with replay protection, and a small holding
 * buffer for inbound messages that arrive while no receiver is registered (between the close and
 * restart of a redeployed node). What it still holds when it stops goes to the next client of the
 * same account (see handover.ts).
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
  /** Inbound messages held while no receiver is registered: at most this many... */
  holdLimit?: number;
  /** ...and at most this many bytes (of the frames they came in). */
  holdBytes?: number;
  /** Message ids remembered to drop exact replays. */
  dedupeWindow?: number;
  /** Media downloads at once, bytes being downloaded at once, and downloads waiting for a turn. */
  downloadConcurrency?: number;
  downloadBufferBytes?: number;
  downloadQueueLimit?: number;
  /** How long messages left by a stopped client wait for the next client of the account. */
  handoverTtlMs?: number;
  /** Several Node-RED instances on one account, through Redis (src/lib/coordination.ts); none: alone. */
  coordination?: CoordinationOptions;
  logger?: ConnectionLogger & { error?(text: string): void };
}

/** A node that uses the socket: receivers (pipes-in) read from it; senders only write replies. */
export type SocketRole = "receiver" | "sender";

/**
 * A socket message another instance holds (its webhook copy, "answer when handled") is asked about
 * again after this long: longer than such a hold (the 9 s wait limit plus 1 s).
 */
const RECHECK_AFTER_MS = 10_500;
/** How many times (about a minute): long enough for Pipes' webhook retries to settle elsewhere. */
const RECHECK_ATTEMPTS = 6;

/** Held messages cover a redeploy (seconds of traffic): 4 MB is thousands of ordinary messages. */
const DEFAULT_HOLD_BYTES = 4 * 1024 * 1024;

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
  /** Webhook deliveries waiting to be answered until their msg is handled (src/lib/handling.ts). */
  readonly handling = new HandlingWaits();
  /** "pool" (pk_) or "app" (ak_, BYON): what the key may do (templates and writing first need "app"). */
  readonly keyKind: KeyKind | undefined;
  private readonly templateCache = new Map<string, { at: number; list: Promise<TemplateDefinition[]> }>();
  /** Set when several instances coordinate through Redis: only the lease holder opens the socket. */
  private readonly coordinator: RedisCoordinator | undefined;
  private readonly rechecks = new Set<NodeJS.Timeout>();
  /** Coordinated socket messages are acted on in the order they came, whatever order Redis answers in. */
  private claimsInOrder: Promise<void> = Promise.resolve();
  private readonly options: ClientOptions;
  private readonly socketUsers = new Map<object, SocketRole>();
  private readonly receivers = new Set<InboundListener>();
  private held: HeldMessage[] = [];
  private heldBytes = 0;
  private readonly replayFilter: ReplayFilter;
  private readonly downloads: DownloadGate;
  private readonly account: string;
  private readonly releaseHandovers: () => void;
  private idleTimer: NodeJS.Timeout | undefined;
  private backlogFlush: NodeJS.Immediate | undefined;
  private stopped = false;
  private warnedUnmatched = false;
  private warnedHolding = false;
  private readonly frameWarnings = new Set<string>();
  private droppedHeld: HeldMessage[] = [];

  constructor(options: ClientOptions) {
    super();
    this.setMaxListeners(0);
    this.options = options;
    this.replayFilter = new ReplayFilter(options.dedupeWindow ?? 10_000);
    this.scope = options.scope;
    this.keyKind = keyKind(options.apiKey);
    this.conversationId = options.scope === "conversation" ? options.conversationId : undefined;
    this.connection = new PipesConnection({ ...options, logger: options.logger });
    this.outbox = new Outbox(this.connection, {
      limit: options.outboxLimit ?? 1000,
      maxWaitMs: options.outboxMaxWaitMs ?? 300_000,
      lateStatusGraceMs: options.lateStatusGraceMs,
      lateStatusWindowMs: options.lateStatusWindowMs,
      onUnmatchedStatus: (status) => this.unmatchedStatus(status),
    });
    this.rest = new PipesRestClient({
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      timeoutMs: options.restTimeoutMs,
      tls: options.tls,
      proxyUrl: options.proxyUrl,
    });
    this.downloads = new DownloadGate({
      concurrency: options.downloadConcurrency ?? 4,
      maxBytes: options.downloadBufferBytes ?? 32 * 1024 * 1024,
      maxWaiting: options.downloadQueueLimit ?? 1000,
    });

    this.connection.on("state", (change) => {
      this.emit("state", change);
      // Replies waiting for a connection that will not come back until a redeploy fail now.
      if (change.state === "auth_failed" || change.state === "forbidden") this.outbox.failQueued(this.terminalState()!);
    });
    this.connection.on("connected", () => this.outbox.flush());
    this.connection.on("disconnected", () => this.outbox.connectionLost());
    this.connection.on("reply_status", (status) => this.outbox.handleStatus(status));
    this.connection.on("message", (message, bytes) => this.receive(message, bytes));
    this.connection.on("frame_error", (reason) => this.frameError(reason));

    if (options.coordination) {
      const coordinator = new RedisCoordinator(
        { ...options.coordination, logger: options.coordination.logger ?? options.logger },
        accountHash(options.apiKey, options.scope, this.conversationId),
      );
      this.coordinator = coordinator;
      // Leader: open the socket when a receiver wants it; standby: close it. Statuses follow.
      coordinator.on("state", () => {
        if (this.stopped) return;
        if (this.needsSocket()) this.connection.start();
        else if (!coordinator.isLeader && this.repliesOverSocket) void this.closeSocket();
        this.emit("state", this.connection.status);
      });
      coordinator.start();
    }

    // Messages a previous client of this account held when it stopped (a full deploy) are ours now.
    this.account = accountKey(options);
    const { waiting, release } = claimHandovers(this.account, (handover) => this.adopt(handover));
    this.releaseHandovers = release;
    if (waiting) this.adopt(waiting);
  }

  /** True once stop() was called: every send fails with STOPPED from then on. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Whether socket replies go over the socket. A user-scoped socket collects the account's offline
   * queue when it connects, so it is opened only for nodes that read what arrives (pipes-in): a flow
   * with only socket pipes-reply nodes sends over REST instead of draining messages nobody reads.
   */
  get repliesOverSocket(): boolean {
    const state = this.connection.state;
    return state !== "idle" && state !== "closed" && state !== "closing";
  }

  get state(): StateChange {
    return this.connection.status;
  }

  /**
   * A node that uses the socket. Receivers open it; senders keep it only on a conversation-scoped
   * connection (which never collects the offline queue), see repliesOverSocket.
   */
  acquireSocket(user: object, role: SocketRole = "receiver"): void {
    if (this.stopped) return;
    this.socketUsers.set(user, role);
    if (!this.needsSocket()) return;
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
    if (this.needsSocket() || this.stopped) return;
    if (removed) {
      await this.closeSocket();
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.needsSocket()) void this.closeSocket();
    }, this.options.idleCloseMs ?? 5000);
  }

  private needsSocket(): boolean {
    // Coordinated: only the instance holding the lease opens the account's socket.
    if (this.coordinator && !this.coordinator.isLeader) return false;
    for (const role of this.socketUsers.values()) if (role === "receiver" || this.scope === "conversation") return true;
    return false;
  }

  /** The coordination state (leader, standby, Redis up), when several instances share the account. */
  get coordination(): CoordinatorState | undefined {
    return this.coordinator?.state;
  }

  /** A message from the socket: coordinated, it is claimed first so no other instance handles it too. */
  private receive(message: InboundMessage, bytes: number): void {
    const coordinator = this.coordinator;
    if (!coordinator) return this.dispatch(message, bytes);
    if (this.replayFilter.isReplay(message.messageId)) return;
    // Claims run at once, one per message; they are acted on in the order the messages came.
    const claimed = coordinator.claim(message.messageId);
    this.claimsInOrder = this.claimsInOrder
      .then(() => claimed)
      .then((claim) => {
        if (claim === "mine") return this.dispatch(message, bytes, false);
        if (claim === "elsewhere") {
          // Not a repeat for this instance: another one holds it, and may yet give it up.
          this.replayFilter.forget(message.messageId);
          return this.recheckLater(message, bytes, 1);
        }
        this.options.logger?.debug?.(`dropped ${describeId(message)}: another instance handled it`);
      })
      .catch((err: unknown) => this.options.logger?.error?.(`could not dispatch ${describeId(message)}: ${String(err)}`));
  }

  /**
   * A socket message another instance is still working on (its webhook copy): the socket will not
   * bring it again, so it is asked about again once that instance's hold has run out, a few times
   * (the other instance may answer 503 and a third take it). If nobody handled it, this one does.
   * Bounded: past 1,000 waiting, or after the last try, it is logged.
   */
  private recheckLater(message: InboundMessage, bytes: number, attempt: number): void {
    if (this.stopped) return;
    if (this.rechecks.size >= 1000 || attempt > RECHECK_ATTEMPTS) {
      const why = attempt > RECHECK_ATTEMPTS ? "it still holds it" : "too many messages are held elsewhere";
      this.options.logger?.warn(`${describeId(message)} stays with another instance (${why}): this instance will not handle it`);
      return;
    }
    const timer = setTimeout(() => {
      this.rechecks.delete(timer);
      if (this.stopped || !this.coordinator) return;
      void this.coordinator
        .claim(message.messageId)
        .then((claim) => {
          if (claim === "mine") this.dispatch(message, bytes, false);
          else if (claim === "elsewhere") this.recheckLater(message, bytes, attempt + 1);
        })
        .catch((err: unknown) => this.options.logger?.error?.(`could not re-check ${describeId(message)}: ${String(err)}`));
    }, RECHECK_AFTER_MS);
    this.rechecks.add(timer);
  }

  /**
   * Subscribes a receiver. Messages held while nobody listened go out one tick later, to every
   * receiver registered by then: after a redeploy, all restarted pipes-in nodes (each with its own
   * type filter) get the backlog, not just the first to start.
   */
  addReceiver(listener: InboundListener): () => void {
    this.receivers.add(listener);
    this.warnedHolding = false;
    this.flushHeldSoon();
    return () => this.receivers.delete(listener);
  }

  /**
   * Replies over the socket, one message in one or more parts (all into one conversation).
   * Resolves with every part's success status; rejects with a PipesError.
   */
  reply(parts: WhatsAppReply[], options: { timeoutMs: number; owner?: object }): Promise<ReplyStatus[]> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    for (const part of parts) {
      const refusal = this.scopeRefusal(part.conversationId);
      if (refusal) return Promise.reject(refusal);
    }
    const terminal = this.terminalState();
    if (terminal) return Promise.reject(terminal);
    return this.outbox.enqueueAll(parts, options);
  }

  /**
   * A message that arrived another way than the socket (a webhook POST): false when this connection
   * has seen its messageId already, by socket or by webhook (Pipes may deliver one message both
   * ways: webhook retries, and the fallback to the socket after failed attempts).
   */
  acceptInbound(message: InboundMessage): boolean {
    return !this.replayFilter.isReplay(message.messageId);
  }

  /**
   * acceptInbound, and when several instances coordinate, a claim in Redis (a webhook answered
   * "when handled" holds it `holdMs` while the flow works, then settleClaim). A repeat this instance
   * saw is "handled". A promise only when coordinated.
   */
  claimInbound(message: InboundMessage, holdMs?: number): ClaimResult | Promise<ClaimResult> {
    if (!this.acceptInbound(message)) return "handled";
    if (!this.coordinator) return "mine";
    return this.coordinator.claim(message.messageId, holdMs).then((claim) => {
      // Another instance is working on it: its next delivery here must be asked about again, not
      // taken for a repeat (that instance may die, and then this one must handle it).
      if (claim === "elsewhere") this.replayFilter.forget(message.messageId);
      return claim;
    });
  }

  /**
   * The end of a claimed delivery: handled (its claim kept, so later deliveries are dropped
   * everywhere), or given back (answered 503) so Pipes' next delivery runs the flow again, here (the
   * replay filter forgets it) or on another instance (the claim is released).
   */
  settleClaim(messageId: string, handled: boolean): Promise<void> {
    if (!handled) this.replayFilter.forget(messageId);
    if (!this.coordinator) return Promise.resolve();
    return handled ? this.coordinator.handled(messageId) : this.coordinator.unclaim(messageId);
  }

  /**
   * A reaction over the socket (`whatsapp_reaction`, with the Pipes messageId an inbound event
   * carries), answered by a `reply_status` like a reply. Needs the socket: a user-scoped one is open
   * only while a pipes-in uses the connection (docs/decisions/0010, 0033).
   */
  react(reaction: WhatsAppReaction, options: { timeoutMs: number; owner?: object }): Promise<ReplyStatus> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    const refusal = this.scopeRefusal(reaction.conversationId) ?? this.terminalState();
    if (refusal) return Promise.reject(refusal);
    if (!this.repliesOverSocket) {
      return Promise.reject(
        new PipesError(
          ERROR_CODES.NOT_CONNECTED,
          "a reaction to a received message goes over the socket, which only a pipes-in on this connection opens",
        ),
      );
    }
    return this.outbox.enqueueFrame(reaction.conversationId, buildReactionFrame(reaction), options);
  }

  /** POST /v1/messages/passthrough: a Meta message body into a conversation (scope checked like send). */
  passthrough(body: PassthroughBody, timeoutMs?: number): Promise<SendMessageResponse> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    // A send to a number (App keys) has no conversation: a conversation-scoped connection refuses it.
    const refusal = this.scopeRefusal(typeof body.conversationId === "string" ? body.conversationId : "");
    if (refusal) return Promise.reject(refusal);
    if (body.type === "template") {
      const needsApp = this.appKeyRefusal("a template");
      if (needsApp) return Promise.reject(needsApp);
    }
    return this.rest.passthrough(body, timeoutMs);
  }

  /** Plain text to any WhatsApp user from an App's number: POST /v1/messages/app/send (App keys only). */
  appSend(body: AppSendRequest, timeoutMs?: number): Promise<SendMessageResponse> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    const refusal = this.appKeyRefusal("writing first to a number") ?? this.scopeRefusal("");
    if (refusal) return Promise.reject(refusal);
    return this.rest.appSend(body, timeoutMs);
  }

  /**
   * The templates of an App's number, read from Pipes at most once per `maxAgeMs` (default a
   * minute: a definition changes only by Meta's review). A failed read is not remembered.
   */
  templates(poolNumberId: string, options: { maxAgeMs?: number; timeoutMs?: number } = {}): Promise<TemplateDefinition[]> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    const refusal = this.appKeyRefusal("templates");
    if (refusal) return Promise.reject(refusal);
    const cached = this.templateCache.get(poolNumberId);
    if (cached && Date.now() - cached.at < (options.maxAgeMs ?? 60_000)) return cached.list;
    const list = this.rest.listTemplates(poolNumberId, options.timeoutMs);
    if (this.templateCache.size >= 100) this.templateCache.clear();
    this.templateCache.set(poolNumberId, { at: Date.now(), list });
    list.catch(() => {
      if (this.templateCache.get(poolNumberId)?.list === list) this.templateCache.delete(poolNumberId);
    });
    return list;
  }

  /** Why a pool key cannot do `what` (templates and writing first need an App key), or undefined. */
  appKeyRefusal(what: string): PipesError | undefined {
    if (this.keyKind !== "pool") return undefined;
    return new PipesError(
      ERROR_CODES.APP_KEY_REQUIRED,
      `${what} needs an App key (ak_…, the business's own number): this connection has a pool key (pk_…), which can only reply in conversations users started`,
    );
  }

  /** POST /v1/messages/send (REST ignores socket scoping, docs/protocol.md#scopes). */
  send(body: SendBody, data?: Buffer, timeoutMs?: number): Promise<SendMessageResponse> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    // The server would accept it (REST ignores socket scoping), but a connection configured for one
    // conversation is the user's statement of where this flow may write.
    const refusal = this.scopeRefusal(body.conversationId);
    if (refusal) return Promise.reject(refusal);
    return this.rest.send(body, data, timeoutMs);
  }

  /**
   * Downloads inbound media, waiting for a turn (see DownloadGate): `expectedBytes` (the size the
   * message declares, when it does) is what the download reserves of the connection's budget.
   */
  download(downloadUrl: string, maxBytes: number, timeoutMs?: number, expectedBytes?: number): Promise<DownloadedMedia> {
    if (this.stopped) return Promise.reject(new PipesError(ERROR_CODES.STOPPED, "the connection is closed"));
    const reserve =
      typeof expectedBytes === "number" && Number.isFinite(expectedBytes) && expectedBytes > 0
        ? Math.min(expectedBytes, maxBytes)
        : maxBytes;
    return this.downloads.run(reserve, () => this.rest.download(downloadUrl, maxBytes, timeoutMs));
  }

  /** Downloads running and waiting (for tests and status). */
  get downloadLoad(): { active: number; queued: number } {
    return { active: this.downloads.active, queued: this.downloads.queued };
  }

  /** A conversation-scoped connection may only reply into its own conversation (docs/decisions/0016-conversation-scope-checked-client-side.md). */
  scopeRefusal(conversationId: string): PipesError | undefined {
    if (this.scope === "conversation" && this.conversationId && conversationId !== this.conversationId) {
      return new PipesError(
        ERROR_CODES.OUT_OF_SCOPE,
        `this connection is scoped to conversation ${this.conversationId} and cannot reply to ${conversationId}`,
      );
    }
    return undefined;
  }

  /**
   * Everything stops: socket, timers, outbox (waiting replies fail), REST requests. Messages that
   * arrive on the closing socket are still read; whatever is held then goes to the next client of
   * this account (a full deploy), or is reported as lost if none starts.
   */
  async stop(timeoutMs = 1500): Promise<void> {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.backlogFlush) clearImmediate(this.backlogFlush);
    this.backlogFlush = undefined;
    this.socketUsers.clear();
    this.receivers.clear();
    this.outbox.stop();
    for (const timer of this.rechecks) clearTimeout(timer);
    this.rechecks.clear();
    await Promise.all([this.connection.stop(timeoutMs), this.rest.close(), this.coordinator?.stop()]);
    this.releaseHandovers();
    this.handOver();
  }

  private handOver(): void {
    const messages = this.held;
    this.held = [];
    this.heldBytes = 0;
    const ttlMs = this.options.handoverTtlMs ?? 30_000;
    if (messages.length) {
      // Normal during a full deploy under traffic; only a message nobody takes over is an error.
      this.options.logger?.info(
        `${messages.length} WhatsApp message(s) arrived while this connection was stopping (${describeIds(messages)}); they go to the next pipes-config with the same key and scope, or are logged as lost if none starts within ${Math.round(ttlMs / 1000)} s`,
      );
    }
    depositHandover(this.account, { messages, replayFilter: this.replayFilter }, ttlMs, (lost) => {
      for (const held of lost)
        this.options.logger?.error?.(
          `lost inbound message ${describeId(held.message)}: no pipes-config with the same key started to receive it after a stop`,
        );
    });
  }

  /** Takes over what a stopped client of this account left: its held messages first, then ours. */
  private adopt(handover: Handover): void {
    this.replayFilter.adopt(handover.replayFilter);
    if (!handover.messages.length) return;
    this.held = [...handover.messages, ...this.held];
    this.heldBytes += handover.messages.reduce((sum, held) => sum + held.bytes, 0);
    this.options.logger?.info(`took over ${handover.messages.length} WhatsApp message(s) from the connection this one replaces`);
    this.trimHeld();
    this.flushHeldSoon();
  }

  private async closeSocket(): Promise<void> {
    await this.connection.stop();
    this.outbox.connectionLost();
    // Nobody receives any more (user scope): replies still queued for the socket would wait for a
    // connection that no node will open again.
    if (!this.needsSocket())
      this.outbox.failQueued(
        new PipesError(
          ERROR_CODES.NOT_CONNECTED,
          "the socket was closed: no pipes-in uses this connection any more; the reply was not sent",
        ),
      );
  }

  private terminalState(): PipesError | undefined {
    const state = this.connection.state;
    if (state === "auth_failed") return new PipesError(ERROR_CODES.NOT_CONNECTED, "not connected: the API key was refused (HTTP 401)");
    if (state === "forbidden")
      return new PipesError(ERROR_CODES.NOT_CONNECTED, "not connected: Pipes.bot refused the connection (HTTP 403)");
    return undefined;
  }

  private dispatch(message: InboundMessage, bytes: number, checkReplay = true): void {
    if (checkReplay && this.replayFilter.isReplay(message.messageId)) {
      this.options.logger?.debug?.(`dropped a replayed message ${describeId(message)}`);
      return;
    }
    if (this.receivers.size === 0) {
      this.hold({ message, bytes });
      return;
    }
    for (const receiver of this.receivers) receiver(message);
  }

  /** Messages held while nobody listened go out one tick later, to every receiver registered by then. */
  private flushHeldSoon(): void {
    if (!this.held.length || this.backlogFlush || this.receivers.size === 0) return;
    this.backlogFlush = setImmediate(() => {
      this.backlogFlush = undefined;
      if (this.receivers.size === 0) return; // they left again: keep holding
      const held = this.held;
      this.held = [];
      this.heldBytes = 0;
      for (const { message, bytes } of held) this.dispatch(message, bytes, false);
    });
  }

  private hold(held: HeldMessage): void {
    this.held.push(held);
    this.heldBytes += held.bytes;
    this.trimHeld();
    if (!this.warnedHolding && !this.stopped) {
      this.warnedHolding = true;
      this.options.logger?.warn("a WhatsApp message arrived but no pipes-in node uses this connection; holding it until one starts");
    }
  }

  /** Keeps the hold buffer within its count and byte limits, oldest out first, and says which were dropped. */
  private trimHeld(): void {
    const limit = this.options.holdLimit ?? 1000;
    const maxBytes = this.options.holdBytes ?? DEFAULT_HOLD_BYTES;
    while (this.held.length > limit || (this.heldBytes > maxBytes && this.held.length > 0)) {
      const dropped = this.held.shift()!;
      this.heldBytes -= dropped.bytes;
      if (this.droppedHeld.length === 0) setImmediate(() => this.reportDropped(limit, maxBytes));
      this.droppedHeld.push(dropped);
    }
  }

  /** One log line per burst of drops (a flood must not flood the log too), naming the messages. */
  private reportDropped(limit: number, maxBytes: number): void {
    const dropped = this.droppedHeld;
    this.droppedHeld = [];
    this.options.logger?.error?.(
      `no pipes-in node is receiving: dropped ${dropped.length} held message(s), oldest first, to stay within ${limit} messages and ${formatBytes(maxBytes)} (${describeIds(dropped)})`,
    );
  }

  /** A bad frame is logged once per kind as a warning (a misbehaving server must not flood the log). */
  private frameError(fullReason: string): void {
    const reason = fullReason.length > 300 ? `${fullReason.slice(0, 300)}…` : fullReason;
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
    this.options.logger?.warn(
      `received a reply_status for conversation ${shortText(status.conversationId)} that no reply was waiting for (logged once)`,
    );
  }
}

/** The account a client serves: handovers only ever go between clients of the same key, URL and scope. */
function accountKey(options: ClientOptions): string {
  const key = createHash("sha256").update(options.apiKey).digest("hex");
  return [
    options.baseUrl,
    key,
    options.scope,
    options.scope === "conversation" ? (options.conversationId ?? "") : "",
    options.poolNumberId ?? "",
  ].join("\n");
}

/** A message id for a log line: a hostile 1 MB id is cut to something readable. */
function describeId(message: InboundMessage): string {
  return shortText(message.messageId);
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

function describeIds(held: HeldMessage[]): string {
  const shown = held.slice(0, 20).map((h) => describeId(h.message));
  return `${held.length > 20 ? "first ids" : "ids"}: ${shown.join(", ")}${held.length > 20 ? ", …" : ""}`;
}
