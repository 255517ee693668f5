import { partFailure, PipesError } from "./errors";
import { buildReplyFrame, ERROR_CODES, type ReplyStatus, type WhatsAppReply } from "./protocol";

/**
 * Outbound replies over the socket: a FIFO per conversation, stop-and-wait within a conversation,
 * parallel across conversations.
 *
 * Why stop-and-wait: `reply_status` carries no request id, only the conversationId (docs/protocol.md#reply-status,
 * docs/decisions/0001-reply-status-matching.md). With at most one unanswered reply per conversation, the next status for that conversation
 * can only belong to it. After a time-out the conversation pauses for a grace period waiting for the
 * late status; after that it sends again, but the first status to arrive within the late window
 * (statuses come in order) is still taken as the late one and discarded. So a late answer is never
 * credited to the wrong message: at worst a reply whose predecessor was silently dropped times out
 * too, which reports "unknown" rather than a false success.
 *
 * While the socket is down, replies wait (bounded in count and time) and go out on reconnect.
 * A reply that was written but not answered when the socket dropped has an unknown outcome: it is
 * reported as OUTCOME_UNKNOWN and never resent, since resending could deliver it twice.
 */

export interface OutboxTransport {
  readonly isOpen: boolean;
  /** Writes a frame; false when it could not be written (the entry then stays queued). */
  send(frame: string): boolean;
}

export interface OutboxOptions {
  /**
   * Most replies waiting for the connection while it is down, across conversations (written ones
   * awaiting their status do not count). While it is open, replies wait only for their turn in
   * their conversation, and CONNECTED_LIMIT_FACTOR times as many may wait (a burst into many
   * conversations is answered, a runaway loop still meets a bound).
   */
  limit: number;
  /** Longest a reply may wait to be sent. */
  maxWaitMs: number;
  /** After a time-out, how long the conversation pauses for the late status before sending again. */
  lateStatusGraceMs?: number;
  /** After a time-out, how long a late status is still expected (and discarded when it comes). */
  lateStatusWindowMs?: number;
  /** Told once per burst about statuses nobody waited for. */
  onUnmatchedStatus?: (status: ReplyStatus) => void;
}

export interface EnqueueOptions {
  /** How long to wait for `reply_status` once the reply is written. */
  timeoutMs: number;
  /** Whoever asked (a node); cancel(owner) fails its waiting replies when that node stops. */
  owner?: object;
  /** The parts of one message share a group: cancel(group) fails the parts not yet written. */
  group?: object;
}

interface Entry {
  conversationId: string;
  frame: string;
  options: EnqueueOptions;
  enqueuedAt: number;
  resolve: (status: ReplyStatus) => void;
  reject: (error: PipesError) => void;
  /** Once written: when its status is overdue (performance.now() time). */
  deadline?: number;
  /** A status arrived while this reply was in flight and was taken as an earlier reply's late one. */
  sawLateStatus?: boolean;
}

interface Conversation {
  queue: Entry[];
  inFlight?: Entry;
  /** Statuses still owed for replies that timed out, expected until `lateUntil`. */
  lateExpected: number;
  lateUntil: number;
  /** While set, the conversation sends nothing (the grace period after a time-out). */
  graceTimer?: NodeJS.Timeout;
  /** Queued into since the sweeper last looked: an idle conversation is forgotten by the sweep after. */
  used: boolean;
}

/**
 * While connected, replies wait only for their turn in their conversation (stop-and-wait): a burst
 * of 10,000 messages from 100 conversations queues ~9,900 replies that will all go out. They are
 * allowed up to this many times the limit (20,000 by default): memory stays bounded (a few MB of
 * short replies) against a flow that replies in a loop.
 */
export const CONNECTED_LIMIT_FACTOR = 20;

/**
 * Replies awaiting their status are timed out by one clock per outbox, not a timer each: a timer
 * set and cleared per reply cost 0.4 µs of the ~1.2 µs the outbox spends on a reply (measured with
 * 200,000 replies), and one more object per reply for the GC. The clock ticks while anything is
 * written and unanswered, every tenth of the shortest time-out written since it started (at most
 * 100 ms, at least 5 ms), so a time-out is noticed at most that much late: 30 s become at most
 * 30.1 s. Deadlines are on the monotonic clock (performance.now()): a wall-clock step must not
 * time out every reply at once.
 */
const STATUS_CLOCK_MAX_MS = 100;
const STATUS_CLOCK_MIN_MS = 5;
/** The sweeper's longest period: an idle conversation is forgotten within two. */
const SWEEP_MAX_MS = 400;

export class Outbox {
  private readonly conversations = new Map<string, Conversation>();
  private count = 0;
  /** Of those, written and awaiting their status (at most one per conversation). */
  private written = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private statusClock: NodeJS.Timeout | undefined;
  private statusClockMs = 0;

  constructor(
    private readonly transport: OutboxTransport,
    private readonly options: OutboxOptions,
  ) {}

  /** Replies held: queued plus awaiting their status. */
  get size(): number {
    return this.count;
  }

  /** Conversations the outbox holds state for: busy ones, and idle ones until the sweeper forgets them. */
  get conversationsKnown(): number {
    return this.conversations.size;
  }

  /**
   * Replies not written yet: what the limit bounds. A written reply awaiting its status is bounded
   * already (one per conversation, each with its time-out), so a burst into many conversations
   * while connected is not refused; replies piling up while disconnected are.
   */
  get waiting(): number {
    return this.count - this.written;
  }

  /** How many replies may wait now: `limit` while the connection is down, far more while it is open. */
  private get currentLimit(): number {
    return this.transport.isOpen ? this.options.limit * CONNECTED_LIMIT_FACTOR : this.options.limit;
  }

  private queueFull(adding: number): PipesError | undefined {
    const limit = this.currentLimit;
    if (this.waiting + adding <= limit) return undefined;
    const why = this.transport.isOpen
      ? `waiting for their turn (limit ${limit} while connected)`
      : `waiting for the connection (limit ${limit})`;
    return new PipesError(
      ERROR_CODES.QUEUE_FULL,
      `${this.waiting} replies are already ${why}; ${adding > 1 ? `this message (${adding} parts)` : "this one"} was not sent`,
    );
  }

  /** Resolves with the success status; rejects with a PipesError (the server's code, or ours). */
  enqueue(reply: WhatsAppReply, options: EnqueueOptions): Promise<ReplyStatus> {
    return this.enqueueFrame(reply.conversationId, buildReplyFrame(reply), options);
  }

  /**
   * Any frame that Pipes.bot answers with a `reply_status` for its conversation (a reply, a
   * reaction): it waits its turn in that conversation like a reply.
   */
  enqueueFrame(conversationId: string, frame: string, options: EnqueueOptions): Promise<ReplyStatus> {
    const full = this.queueFull(1);
    if (full) return Promise.reject(full);
    return new Promise<ReplyStatus>((resolve, reject) => this.push(conversationId, frame, options, resolve, reject));
  }

  /** Queues one frame whose outcome goes to `resolve` / `reject` (the caller checked the limit). */
  private push(
    conversationId: string,
    frame: string,
    options: EnqueueOptions,
    resolve: (status: ReplyStatus) => void,
    reject: (error: PipesError) => void,
  ): void {
    const conversation = this.conversation(conversationId);
    conversation.queue.push({ conversationId, frame, options, enqueuedAt: Date.now(), resolve, reject });
    conversation.used = true;
    this.count++;
    this.pump(conversationId, conversation);
    this.ensureSweeper();
  }

  /** Routes a `reply_status` to the reply waiting in its conversation. */
  handleStatus(status: ReplyStatus): void {
    const conversation = this.conversations.get(status.conversationId);
    if (conversation && this.owesLateStatus(conversation)) {
      this.lateStatusArrived(status.conversationId, conversation);
      return;
    }
    const entry = conversation?.inFlight;
    if (!conversation || !entry) {
      this.options.onUnmatchedStatus?.(status);
      return;
    }
    conversation.inFlight = undefined;
    this.written--;
    this.count--;
    if (status.success) resolveEntry(entry, status);
    else this.fail(entry, statusError(status));
    this.pump(status.conversationId, conversation);
  }

  /**
   * Queues the parts of one long message together: all of them fit or none is queued, and a part
   * that fails cancels the parts after it (they are not sent). Resolves with every part's status;
   * rejects with the first failure, saying how many parts went out before it.
   */
  enqueueAll(replies: WhatsAppReply[], options: EnqueueOptions): Promise<ReplyStatus[]> {
    const full = this.queueFull(replies.length);
    if (full) return Promise.reject(full);
    // One part (nearly every reply): no group to cancel and no part count to add to an error, so
    // skip the bookkeeping below; the reply is queued exactly as it would be there, and one promise
    // (not two) per reply settles with its status as a list.
    if (replies.length === 1) {
      const reply = replies[0];
      return new Promise<ReplyStatus[]>((resolve, reject) =>
        this.push(reply.conversationId, buildReplyFrame(reply), options, (status) => resolve([status]), reject),
      );
    }
    return this.enqueueParts(replies, options);
  }

  private async enqueueParts(replies: WhatsAppReply[], options: EnqueueOptions): Promise<ReplyStatus[]> {
    const group = {};
    const pending = replies.map((reply) => this.enqueue(reply, { ...options, group }));
    for (const promise of pending) promise.catch(() => undefined); // awaited below, in order
    const statuses: ReplyStatus[] = [];
    for (const promise of pending) {
      try {
        statuses.push(await promise);
      } catch (err) {
        this.cancel(group);
        throw partFailure(err, statuses.length, replies.length);
      }
    }
    return statuses;
  }

  /** The socket is open (again): send the head of every conversation. */
  flush(): void {
    for (const [id, conversation] of this.conversations) this.pump(id, conversation);
  }

  /** The socket dropped: replies awaiting a status have an unknown outcome; queued ones keep waiting. */
  connectionLost(): void {
    for (const [id, conversation] of this.conversations) {
      clearTimeout(conversation.graceTimer);
      conversation.graceTimer = undefined;
      conversation.lateExpected = 0; // statuses belong to the socket that is gone
      const entry = conversation.inFlight;
      if (entry) {
        conversation.inFlight = undefined;
        this.written--;
        this.count--;
        this.fail(
          entry,
          new PipesError(
            ERROR_CODES.OUTCOME_UNKNOWN,
            "the reply was sent, but the connection dropped before Pipes.bot confirmed it; it was not resent, to avoid a duplicate",
          ),
        );
      }
      this.forgetIfIdle(id, conversation);
    }
  }

  /** Fails every reply that has not been written yet with `error` (the connection will not come back). */
  failQueued(error: PipesError): void {
    for (const [id, conversation] of this.conversations) {
      for (const entry of conversation.queue.splice(0)) {
        this.count--;
        rejectEntry(entry, error);
      }
      this.forgetIfIdle(id, conversation);
    }
  }

  /** Fails every reply of `owner` (a node, or a group of parts) that has not been written yet. */
  cancel(owner: object): void {
    for (const [id, conversation] of this.conversations) {
      const keep: Entry[] = [];
      for (const entry of conversation.queue) {
        if (entry.options.owner === owner || entry.options.group === owner) {
          this.count--;
          rejectEntry(entry, new PipesError(ERROR_CODES.STOPPED, "the node was stopped before this reply could be sent"));
        } else keep.push(entry);
      }
      conversation.queue = keep;
      this.forgetIfIdle(id, conversation);
    }
  }

  /** Fails everything still held and stops all timers. */
  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.stopStatusClock();
    for (const conversation of this.conversations.values()) {
      clearTimeout(conversation.graceTimer);
      if (conversation.inFlight)
        rejectEntry(
          conversation.inFlight,
          new PipesError(ERROR_CODES.OUTCOME_UNKNOWN, "the connection closed before Pipes.bot confirmed this reply"),
        );
      for (const entry of conversation.queue)
        rejectEntry(entry, new PipesError(ERROR_CODES.STOPPED, "the connection closed before this reply could be sent"));
    }
    this.conversations.clear();
    this.count = 0;
    this.written = 0;
  }

  /** Rejects a written reply; the later parts of its message (same conversation) are not sent. */
  private fail(entry: Entry, error: PipesError): void {
    rejectEntry(entry, error);
    const group = entry.options.group;
    const conversation = this.conversations.get(entry.conversationId);
    if (!group || !conversation) return;
    conversation.queue = conversation.queue.filter((queued) => {
      if (queued.options.group !== group) return true;
      this.count--;
      rejectEntry(queued, new PipesError(ERROR_CODES.STOPPED, "an earlier part of this message failed; this part was not sent"));
      return false;
    });
  }

  private conversation(id: string): Conversation {
    let conversation = this.conversations.get(id);
    if (!conversation) {
      conversation = { queue: [], lateExpected: 0, lateUntil: 0, used: true };
      this.conversations.set(id, conversation);
    }
    return conversation;
  }

  private pump(id: string, conversation: Conversation): void {
    if (conversation.inFlight || conversation.graceTimer || !this.transport.isOpen) {
      return;
    }
    const entry = conversation.queue[0];
    if (!entry) {
      // Idle: the sweeper forgets it after one quiet sweep period (0.4-0.8 s by default). Not at once: a
      // conversation made and deleted per reply (a Map entry in and out per message) measured
      // ~200 KB promoted per young GC on the echo at 5,000 msg/s, against ~30 KB when conversations
      // linger (and 3 KB for the floor); the young GCs' pauses are the latency tail.
      this.ensureSweeper();
      return;
    }
    if (!this.transport.send(entry.frame)) return;
    conversation.queue.shift();
    conversation.inFlight = entry;
    this.written++;
    entry.deadline = performance.now() + entry.options.timeoutMs;
    this.runStatusClock(entry.options.timeoutMs);
  }

  /** Starts the clock, or makes it tick faster for a shorter time-out; it stops when nothing is in flight. */
  private runStatusClock(timeoutMs: number): void {
    const every = Math.max(STATUS_CLOCK_MIN_MS, Math.min(STATUS_CLOCK_MAX_MS, Math.floor(timeoutMs / 10)));
    if (this.statusClock && this.statusClockMs <= every) return;
    clearInterval(this.statusClock);
    this.statusClockMs = every;
    // unref: a clock alone must not keep a process alive (stop() clears it anyway).
    this.statusClock = setInterval(() => this.checkDeadlines(), every).unref();
  }

  private stopStatusClock(): void {
    clearInterval(this.statusClock);
    this.statusClock = undefined;
    this.statusClockMs = 0;
  }

  /** Times out every written reply whose status is overdue. */
  private checkDeadlines(): void {
    if (this.written === 0) {
      this.stopStatusClock();
      return;
    }
    const now = performance.now();
    for (const [id, conversation] of this.conversations) {
      const entry = conversation.inFlight;
      if (entry && entry.deadline !== undefined && entry.deadline <= now) this.timedOut(id, conversation, entry);
    }
  }

  private timedOut(id: string, conversation: Conversation, entry: Entry): void {
    conversation.inFlight = undefined;
    this.written--;
    this.count--;
    // Mark the conversation as owing a late status before anything else looks at it. Not when this
    // reply's own status may already have been taken as an earlier one's late status: then nothing
    // more is owed, and owing one would swallow the next reply's status too, and so on forever.
    if (!entry.sawLateStatus) {
      conversation.lateExpected++;
      conversation.lateUntil = Date.now() + (this.options.lateStatusWindowMs ?? 60_000);
    }
    const grace = this.options.lateStatusGraceMs ?? Math.min(entry.options.timeoutMs, 10_000);
    clearTimeout(conversation.graceTimer);
    conversation.graceTimer = setTimeout(() => {
      conversation.graceTimer = undefined;
      this.pump(id, conversation);
    }, grace);
    this.fail(
      entry,
      new PipesError(
        ERROR_CODES.TIMEOUT,
        `no reply_status from Pipes.bot within ${formatSeconds(entry.options.timeoutMs)}; the reply may or may not have been delivered`,
      ),
    );
  }

  private owesLateStatus(conversation: Conversation): boolean {
    if (conversation.lateExpected > 0 && Date.now() >= conversation.lateUntil) conversation.lateExpected = 0;
    return conversation.lateExpected > 0;
  }

  private lateStatusArrived(id: string, conversation: Conversation): void {
    conversation.lateExpected--;
    if (conversation.inFlight) conversation.inFlight.sawLateStatus = true;
    if (conversation.lateExpected === 0) {
      clearTimeout(conversation.graceTimer);
      conversation.graceTimer = undefined;
      this.pump(id, conversation);
    }
  }

  private forgetIfIdle(id: string, conversation: Conversation): void {
    if (!conversation.inFlight && conversation.queue.length === 0 && !conversation.graceTimer && !this.owesLateStatus(conversation))
      this.conversations.delete(id);
  }

  /**
   * Expires replies that waited too long to be sent, and forgets idle conversations. Runs only
   * while the outbox knows a conversation.
   */
  private ensureSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(50, Math.min(SWEEP_MAX_MS, this.options.maxWaitMs / 4));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [id, conversation] of this.conversations) {
        while (conversation.queue.length && now - conversation.queue[0].enqueuedAt >= this.options.maxWaitMs) {
          const entry = conversation.queue.shift()!;
          this.count--;
          rejectEntry(
            entry,
            new PipesError(
              ERROR_CODES.QUEUE_EXPIRED,
              `the connection was not available for ${formatSeconds(this.options.maxWaitMs)}; the reply was not sent`,
            ),
          );
        }
        // One quiet sweep period first: a conversation that is busy now and then keeps its entry.
        if (conversation.used) conversation.used = false;
        else this.forgetIfIdle(id, conversation);
      }
      if (this.conversations.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, every).unref();
  }
}

/**
 * A reply is settled once, through these two, and then lets go of its frame and its promise. Why:
 * under load V8 learns that entries outlive young GCs and starts allocating them straight in the
 * old generation. A settled entry there stays until the next full GC, and anything it still pointed
 * to (the promise, and through it the msg and everything the flow built for it) is kept alive by it
 * through every young GC meanwhile: measured on the echo at 5,000 msg/s, ~500 KB promoted per young
 * GC (vs 3 KB for the floor) and pauses 3x as long, the latency tail.
 */
function resolveEntry(entry: Entry, status: ReplyStatus): void {
  const resolve = entry.resolve;
  release(entry);
  resolve(status);
}

function rejectEntry(entry: Entry, error: PipesError): void {
  const reject = entry.reject;
  release(entry);
  reject(error);
}

const SETTLED = (): void => undefined;

function release(entry: Entry): void {
  entry.resolve = SETTLED;
  entry.reject = SETTLED;
  entry.frame = "";
}

function statusError(status: ReplyStatus): PipesError {
  const code = typeof status.code === "string" && status.code ? status.code : "REPLY_FAILED";
  const message = typeof status.error === "string" && status.error ? status.error : `Pipes.bot refused the reply (${code})`;
  return new PipesError(code, message, "server");
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
