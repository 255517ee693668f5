import { createHash, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import { createClient } from "redis";
import { redact } from "./redact";

/**
 * Several Node-RED instances running one bot, coordinated through Redis (docs/high-availability.md,
 * docs/decisions/0056-redis-coordination.md):
 *
 * - **One socket per account.** Only the holder of a lease (`SET <prefix><account>:leader <token> NX
 *   PX <leaseMs>`, renewed every third of the lease by a script that checks the token) opens the
 *   Pipes socket; the others are standby. The token carries a fencing number (`INCR ...:fence`), so
 *   an ex-leader that was paused cannot renew or release a lease someone else holds now.
 * - **Each inbound message handled once.** Before a message goes into a flow its id is claimed
 *   (`SET ...:claim:<id> <instance> NX PX <claimMs>`). A claim held elsewhere means another instance
 *   has it; a claim left by a dead instance expires, and the next delivery is handled.
 * - **Redis trouble is visible and safe.** Unreachable Redis: the leader keeps its socket (serving on
 *   is better than nobody serving), standbys stay standby, and claims fall back to this instance's
 *   own replay filter. When Redis returns, the leader re-takes or gives up its lease.
 *
 * Keys never hold the API key: the account part is a hash of key, scope and conversation.
 */

export type CoordinatorRole = "connecting" | "leader" | "standby";

export interface CoordinatorState {
  role: CoordinatorRole;
  /** Redis answers (false: unreachable; the role is the last one known). */
  redisUp: boolean;
  /** The instance holding the lease, when known. */
  leader?: string;
}

export interface CoordinationOptions {
  /** redis:// or rediss:// (TLS). */
  url: string;
  password?: string;
  /** Prepended to every key, so several bots share one Redis. */
  prefix: string;
  /** This instance's name, shown by the others ("standby (leader: <instance>)"). */
  instance?: string;
  /** Lease length: how long a dead leader blocks a standby. */
  leaseMs: number;
  /** How long a handled message's id stays claimed, so a late delivery of it is dropped (default 10 minutes). */
  claimMs?: number;
  logger?: { warn(message: string): void };
}

/** Compare-and-renew and compare-and-delete: only the token's holder may renew or release its lease. */
const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const MARK_DONE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else return 0 end";
/** A claim's value once its message was handled: "done:<instance>". */
const DONE = "done:";

/** Whose an inbound message is: this instance's to handle, another's (still working on it), or handled already. */
export type ClaimResult = "mine" | "elsewhere" | "handled";

/** A stable, secret-free name for an account (API key + scope + conversation). */
export function accountHash(apiKey: string, scope: string, conversationId = ""): string {
  return createHash("sha256").update(`${apiKey}\n${scope}\n${conversationId}`).digest("hex").slice(0, 16);
}

export class RedisCoordinator extends EventEmitter<{ state: [CoordinatorState] }> {
  readonly instance: string;
  private readonly redis;
  private readonly keys: { leader: string; fence: string; claim: (id: string) => string };
  private token: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private current: CoordinatorState = { role: "connecting", redisUp: false };
  private readonly claimMs: number;
  /** Longest any Redis command may take: a Redis that stops answering must not hang a message. */
  private readonly commandMs: number;
  /** The tick running now: ticks never overlap (a reconnect may ask for one while a scheduled one runs). */
  private ticking: Promise<void> | undefined;
  /**
   * A standby that just saw Redis come back lets one tick pass before taking a free lease: the
   * leader, which kept the socket meanwhile, re-takes it first (no socket moved for nothing).
   */
  private yieldOnce = false;

  constructor(
    private readonly options: CoordinationOptions,
    account: string,
  ) {
    super();
    this.instance = options.instance || `${hostname()}:${process.pid}:${randomUUID().slice(0, 4)}`;
    this.claimMs = options.claimMs ?? 600_000;
    this.commandMs = Math.max(200, Math.floor(options.leaseMs / 3));
    const base = `${options.prefix}${account}:`;
    this.keys = { leader: `${base}leader`, fence: `${base}fence`, claim: (id) => `${base}claim:${hashId(id)}` };
    this.redis = createClient({
      url: options.url,
      password: options.password || undefined,
      socket: {
        connectTimeout: Math.min(5000, options.leaseMs),
        // Keep trying, never more than a lease apart: a standby must notice Redis coming back.
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, Math.max(500, options.leaseMs / 2)),
        // A connection that stays silent this long is dropped and reconnected (a paused VM, a partition).
        socketTimeout: Math.max(1000, options.leaseMs),
      },
      // Commands fail at once while disconnected instead of piling up behind the reconnect.
      disableOfflineQueue: true,
    });
    this.redis.on("error", (err: unknown) => this.redisDown(err));
    this.redis.on("ready", () => void this.tick());
  }

  get state(): CoordinatorState {
    return this.current;
  }

  get isLeader(): boolean {
    return this.current.role === "leader";
  }

  start(): void {
    this.redis.connect().catch((err: unknown) => this.redisDown(err));
    this.schedule();
  }

  /**
   * Claims an inbound message for this instance: "mine" when it is ours to handle (also when Redis
   * cannot be asked: the local replay filter is then the only guard), "elsewhere" when another
   * instance is handling it, "handled" when one has. `holdMs` set: held that long while the flow
   * works on it (then `handled()` or `unclaim()`); unset: handled at once (no answer to wait for).
   */
  async claim(messageId: string, holdMs?: number): Promise<ClaimResult> {
    if (!this.usable) return "mine";
    const key = this.keys.claim(messageId);
    try {
      const value = holdMs === undefined ? `${DONE}${this.instance}` : this.instance;
      const px = Math.max(1, Math.round(holdMs ?? this.claimMs));
      if ((await this.command(this.redis.set(key, value, { NX: true, PX: px }))) === "OK") return "mine";
      const holder = await this.command(this.redis.get(key));
      return holder?.startsWith(DONE) ? "handled" : holder === null ? "mine" : "elsewhere";
    } catch (err) {
      this.redisDown(err);
      return "mine";
    }
  }

  /** The message was handled here: kept as handled for the claim time, so later deliveries are dropped everywhere. */
  async handled(messageId: string): Promise<void> {
    if (!this.usable) return;
    const args = [this.instance, `${DONE}${this.instance}`, String(this.claimMs)];
    await this.command(this.redis.eval(MARK_DONE, { keys: [this.keys.claim(messageId)], arguments: args })).catch(() => undefined);
  }

  /** A message this instance will not handle after all (its delivery answered 503): the next delivery may, anywhere. */
  async unclaim(messageId: string): Promise<void> {
    if (!this.usable) return;
    await this.command(this.redis.eval(RELEASE, { keys: [this.keys.claim(messageId)], arguments: [this.instance] })).catch(() => undefined);
  }

  /** Redis connected and answering (a command that timed out marks it down until the next tick gets an answer). */
  private get usable(): boolean {
    return this.redis.isReady && this.current.redisUp;
  }

  /** A Redis command with a deadline: past it, it rejects (and Redis counts as down). */
  private command<T>(pending: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.commandMs} ms`)), this.commandMs);
    });
    // The command's own late rejection has no listener but this one: never an unhandled rejection.
    pending.catch(() => undefined);
    return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const token = this.token;
    this.token = undefined;
    try {
      // Released at once for a quick failover; bounded, as the lease expires by itself anyway.
      if (token && this.redis.isReady) await this.command(this.redis.eval(RELEASE, { keys: [this.keys.leader], arguments: [token] }));
    } catch {
      // the lease expires by itself
    }
    if (this.redis.isOpen) this.redis.destroy();
    this.update({ role: "standby", leader: undefined });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), Math.max(50, Math.floor(this.options.leaseMs / 3)));
  }

  /** Renews our lease, or tries to take a free one; reads who leads otherwise. One at a time. */
  private tick(): Promise<void> {
    this.ticking ??= this.leaseStep().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async leaseStep(): Promise<void> {
    if (this.stopped || !this.redis.isReady) return;
    try {
      if (this.token) {
        const args = [this.token, String(this.options.leaseMs)];
        const renewed = await this.command(this.redis.eval(RENEW, { keys: [this.keys.leader], arguments: args }));
        if (renewed === 1) return this.update({ role: "leader", leader: this.instance, redisUp: true });
        // Lost while Redis was away (it expired, maybe someone took it): take it back if free, else step down.
        this.token = undefined;
      }
      if (this.yieldOnce) {
        this.yieldOnce = false;
        const holder = await this.command(this.redis.get(this.keys.leader));
        return this.update({ role: "standby", leader: holder ? holder.replace(/#\d+$/, "") : this.current.leader, redisUp: true });
      }
      const fence = await this.command(this.redis.incr(this.keys.fence));
      const token = `${this.instance}#${fence}`;
      const taken = await this.command(this.redis.set(this.keys.leader, token, { NX: true, PX: this.options.leaseMs }));
      if (taken === "OK") {
        this.token = token;
        return this.update({ role: "leader", leader: this.instance, redisUp: true });
      }
      const holder = await this.command(this.redis.get(this.keys.leader));
      this.update({ role: "standby", leader: holder ? holder.replace(/#\d+$/, "") : undefined, redisUp: true });
    } catch (err) {
      this.redisDown(err);
    }
  }

  private redisDown(err: unknown): void {
    if (this.stopped) return;
    if (this.current.redisUp || this.current.role === "connecting") {
      const message = err instanceof Error ? err.message : String(err);
      this.options.logger?.warn(
        `Redis unreachable (${redact(message, [this.options.password ?? ""]).slice(0, 200)}): ${
          this.current.role === "leader" ? "this instance keeps the socket" : "this instance stays standby"
        }; inbound messages are deduplicated locally until it is back`,
      );
    }
    if (this.current.role !== "leader") this.yieldOnce = true;
    // The role stays what it was: a leader serves on, a standby waits (a connecting one is standby).
    this.update({ redisUp: false, role: this.current.role === "connecting" ? "standby" : this.current.role });
  }

  private update(change: Partial<CoordinatorState>): void {
    const next = { ...this.current, ...change };
    if (next.role === this.current.role && next.redisUp === this.current.redisUp && next.leader === this.current.leader) return;
    this.current = next;
    this.emit("state", next);
  }
}

/** Message ids are short, but a hostile one must not make a huge key. */
function hashId(id: string): string {
  return id.length <= 128 ? id : `sha256:${createHash("sha256").update(id).digest("base64")}`;
}
