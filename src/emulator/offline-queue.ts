/**
 * Offline queues (docs/protocol.md#offline-queue): one per (tenant, sender), capped with drop-oldest, with a TTL on the
 * emulator clock. Expired entries are pruned whenever a queue is read, so sizes are what a drain
 * would deliver.
 */
import type { InboundMessage } from "../lib/protocol";

export interface QueuedMessage {
  message: InboundMessage;
  userId: string;
  fromNumber: string;
  poolNumberId: string;
  /** Emulator clock at enqueue; the TTL counts from here. */
  enqueuedAt: number;
  /** Arrival order, the tie-breaker for equal timestamps. */
  seq: number;
  /** Drain order key: the message timestamp, or the enqueue time when it does not parse. */
  sortKey: number;
}

export interface QueueLimits {
  queuePerSender: number;
  queueTtlMs: number;
}

export class OfflineQueues {
  /** userId -> fromNumber -> entries in arrival order. */
  private readonly queues = new Map<string, Map<string, QueuedMessage[]>>();
  private seq = 0;

  constructor(private readonly limits: () => QueueLimits) {}

  /** Queues a message; returns the entries dropped to make room (oldest first). */
  enqueue(userId: string, message: InboundMessage, now: number): QueuedMessage[] {
    const parsed = Date.parse(message.timestamp);
    const entry: QueuedMessage = {
      message,
      userId,
      fromNumber: message.fromNumber,
      poolNumberId: message.poolNumberId,
      enqueuedAt: now,
      seq: this.seq++,
      sortKey: Number.isFinite(parsed) ? parsed : now,
    };
    return this.insert([entry], now);
  }

  /** Puts drained-but-undelivered entries back, keeping their original enqueue time (and TTL). */
  putBack(entries: QueuedMessage[], now: number): QueuedMessage[] {
    return this.insert(entries, now);
  }

  size(userId: string, now: number): number {
    let total = 0;
    for (const queue of this.senderQueues(userId, now).values()) total += queue.length;
    return total;
  }

  /** Sizes of every tenant that has anything queued. */
  sizes(now: number): Record<string, number> {
    const result: Record<string, number> = {};
    for (const userId of this.queues.keys()) {
      const size = this.size(userId, now);
      if (size > 0) result[userId] = size;
    }
    return result;
  }

  /**
   * Removes and returns the tenant's queued messages for a drain: every sender merged, filtered by
   * pool number when given, sorted by timestamp oldest first (docs/protocol.md#offline-queue). Drained messages are consumed.
   */
  takeForDrain(userId: string, poolNumberId: string | undefined, now: number): QueuedMessage[] {
    const taken: QueuedMessage[] = [];
    const senders = this.senderQueues(userId, now);
    for (const [fromNumber, queue] of senders) {
      const keep: QueuedMessage[] = [];
      for (const entry of queue) (poolNumberId === undefined || entry.poolNumberId === poolNumberId ? taken : keep).push(entry);
      if (keep.length) senders.set(fromNumber, keep);
      else senders.delete(fromNumber);
    }
    return taken.sort((a, b) => a.sortKey - b.sortKey || a.seq - b.seq);
  }

  isExpired(entry: QueuedMessage, now: number): boolean {
    return now - entry.enqueuedAt > this.limits().queueTtlMs;
  }

  clear(): void {
    this.queues.clear();
  }

  private insert(entries: QueuedMessage[], now: number): QueuedMessage[] {
    const dropped: QueuedMessage[] = [];
    const touched = new Set<QueuedMessage[]>();
    for (const entry of entries) {
      const senders = this.senderQueues(entry.userId, now);
      let queue = senders.get(entry.fromNumber);
      if (!queue) senders.set(entry.fromNumber, (queue = []));
      queue.push(entry);
      touched.add(queue);
    }
    const cap = this.limits().queuePerSender;
    for (const queue of touched) {
      queue.sort((a, b) => a.seq - b.seq);
      // Drop-oldest (docs/protocol.md#offline-queue): the earliest arrivals make room for the newest.
      if (queue.length > cap) dropped.push(...queue.splice(0, queue.length - cap));
    }
    return dropped;
  }

  /** The tenant's sender map, with expired entries pruned (and empty queues removed). */
  private senderQueues(userId: string, now: number): Map<string, QueuedMessage[]> {
    let senders = this.queues.get(userId);
    if (!senders) this.queues.set(userId, (senders = new Map<string, QueuedMessage[]>()));
    for (const [fromNumber, queue] of senders) {
      const live = queue.filter((entry) => !this.isExpired(entry, now));
      if (live.length) senders.set(fromNumber, live);
      else senders.delete(fromNumber);
    }
    return senders;
  }
}
