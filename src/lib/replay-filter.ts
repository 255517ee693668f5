import { createHash } from "node:crypto";

/** Ids longer than this are remembered by their hash: a hostile server's 1 MB ids must not pile up. */
const MAX_KEPT_ID_LENGTH = 128;

/**
 * Remembers the last `window` message ids to drop exact replays, in bounded memory: by count (a
 * ring) and by size (a long id is kept as its SHA-256, 51 characters). The Set answers "seen?"; the
 * ring keeps the ids oldest first, so evicting the oldest is O(1). (Taking the oldest from the Set
 * itself, `values().next()`, walks over every slot deleted since the table was last rehashed:
 * several microseconds per message once the window is full.)
 */
export class ReplayFilter {
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  private head = 0;
  readonly window: number;

  constructor(window: number) {
    this.window = Number.isFinite(window) ? Math.max(0, Math.floor(window)) : 10_000;
  }

  /** True when `id` was seen within the window; otherwise remembers it and returns false. */
  isReplay(id: string): boolean {
    const key = keyOf(id);
    if (this.seen.has(key)) return true;
    this.remember(key);
    return false;
  }

  /**
   * Forgets `id`, so it is new again. Its slot in the ring stays until it is evicted; if the id
   * comes back before then, that eviction forgets it early (it then passes once more as new: the
   * safe side for a message whose first delivery was refused).
   */
  forget(id: string): void {
    this.seen.delete(keyOf(id));
  }

  /** Takes over another filter's ids (oldest first), e.g. the one of the connection this one replaces. */
  adopt(other: ReplayFilter): void {
    if (other === this) return;
    for (const key of other.keysOldestFirst()) if (!this.seen.has(key)) this.remember(key);
  }

  get size(): number {
    return this.seen.size;
  }

  private remember(key: string): void {
    if (this.window === 0) return;
    this.seen.add(key);
    if (this.order.length < this.window) {
      this.order.push(key);
    } else {
      this.seen.delete(this.order[this.head]);
      this.order[this.head] = key;
      this.head = (this.head + 1) % this.window;
    }
  }

  /** Ids still remembered, oldest first (a forgotten id's slot in the ring is skipped). */
  private keysOldestFirst(): string[] {
    const ring = this.order.length < this.window ? this.order : [...this.order.slice(this.head), ...this.order.slice(0, this.head)];
    return ring.filter((key) => this.seen.has(key));
  }
}

function keyOf(id: string): string {
  return id.length <= MAX_KEPT_ID_LENGTH ? id : `sha256:${createHash("sha256").update(id).digest("base64")}`;
}
