/**
 * Offline-queue drain (docs/protocol.md#offline-queue): when a user-scoped socket opens, the tenant's queues (filtered by the
 * socket's pool number, if any) are merged, sorted oldest first and sent to THAT socket, one message
 * every drainPacingMs. Drained messages are consumed by it (client:claude README: a second client
 * "steals" the backlog). One drain per tenant at a time.
 */
import type { InboundMessage } from "../lib/protocol";
import { isOpen, type Connection, type ConnectionRegistry } from "./connections";
import type { EmulatorContext } from "./context";
import type { QueuedMessage } from "./offline-queue";

interface ActiveDrain {
  userId: string;
  connectionId: string;
  pending: QueuedMessage[];
  timer?: { cancel(): void };
}

export class DrainManager {
  private readonly active = new Map<string, ActiveDrain>();

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly connections: ConnectionRegistry,
    private readonly deliver: (connection: Connection, message: InboundMessage) => boolean,
  ) {}

  isDraining(userId: string): boolean {
    return this.active.has(userId);
  }

  /** Starts a drain to `connection` if it is user-scoped, nothing is draining and something is queued. */
  start(connection: Connection): void {
    const { userId, scope, connectionId, poolNumberId } = connection.info;
    // Conversation-scoped connections never drain (docs/protocol.md#offline-queue).
    if (scope !== "user" || !isOpen(connection)) return;
    if (this.active.has(userId)) {
      // UNSTATED whether a second socket opened during a drain drains too; we let the first finish
      // (docs/decisions/0026).
      this.ctx.log(`drain: ${userId} already draining, ${connectionId} gets live messages only`);
      return;
    }
    const pending = this.ctx.store.queues.takeForDrain(userId, poolNumberId, this.ctx.clock.now());
    if (pending.length === 0) return;
    const drain: ActiveDrain = { userId, connectionId, pending };
    this.active.set(userId, drain);
    this.ctx.log(`drain: ${pending.length} queued message(s) of ${userId} -> ${connectionId}`);
    // The first message goes out right away (still async, after the connected frame).
    this.schedule(drain, 0);
  }

  /** The draining socket went away: requeue or drop the rest (drainOnDisconnect), then let another socket take over. */
  connectionClosed(connectionId: string): void {
    for (const drain of this.active.values()) {
      if (drain.connectionId !== connectionId) continue;
      this.stop(drain, this.ctx.options().drainOnDisconnect);
      this.handOver(drain.userId);
    }
  }

  /** Ends every drain: "requeue" keeps the messages (stop()), "drop" forgets them (reset()). */
  cancelAll(mode: "requeue" | "drop"): void {
    for (const drain of [...this.active.values()]) this.stop(drain, mode);
  }

  private stop(drain: ActiveDrain, mode: "requeue" | "drop"): void {
    drain.timer?.cancel();
    drain.timer = undefined;
    this.active.delete(drain.userId);
    const rest = drain.pending.splice(0);
    if (rest.length === 0) return;
    if (mode === "requeue") {
      const dropped = this.ctx.store.queues.putBack(rest, this.ctx.clock.now());
      this.ctx.log(`drain: ${drain.connectionId} stopped, ${rest.length - dropped.length} message(s) requeued`);
    } else {
      this.ctx.log(`drain: ${drain.connectionId} stopped, ${rest.length} message(s) dropped`);
    }
  }

  private step(drain: ActiveDrain): void {
    drain.timer = undefined;
    const connection = this.connections.get(drain.connectionId);
    if (!connection || !isOpen(connection)) {
      this.stop(drain, this.ctx.options().drainOnDisconnect);
      this.handOver(drain.userId);
      return;
    }
    const now = this.ctx.clock.now();
    let next = drain.pending.shift();
    // TTL: expired messages are skipped at drain time (they may expire while the drain is paced).
    while (next && this.ctx.store.queues.isExpired(next, now)) {
      this.ctx.log(`drain: skipped expired message ${next.message.messageId}`);
      next = drain.pending.shift();
    }
    if (next && !this.deliver(connection, next.message)) {
      drain.pending.unshift(next);
      this.stop(drain, this.ctx.options().drainOnDisconnect);
      return;
    }
    if (drain.pending.length === 0) {
      this.active.delete(drain.userId);
      this.handOver(drain.userId);
      return;
    }
    this.schedule(drain, this.ctx.options().drainPacingMs);
  }

  /** After a drain ends, another open user-scoped socket may drain what is left (e.g. a requeued rest). */
  private handOver(userId: string): void {
    if (this.active.has(userId) || this.ctx.store.queues.size(userId, this.ctx.clock.now()) === 0) return;
    for (const candidate of this.connections.ofTenant(userId)) {
      this.start(candidate);
      if (this.active.has(userId)) return;
    }
  }

  private schedule(drain: ActiveDrain, delayMs: number): void {
    if (delayMs <= 0) {
      // "As fast as possible but still async": one message per event-loop turn.
      const handle = setImmediate(() => this.step(drain));
      drain.timer = { cancel: () => clearImmediate(handle) };
    } else {
      const handle = setTimeout(() => this.step(drain), delayMs);
      drain.timer = { cancel: () => clearTimeout(handle) };
    }
  }
}
