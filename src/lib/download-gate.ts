import { PipesError } from "./errors";
import { ERROR_CODES } from "./protocol";

export interface DownloadGateOptions {
  /** Downloads running at once. */
  concurrency: number;
  /** Bytes of media being downloaded at once (each download reserves its expected size). */
  maxBytes: number;
  /** Downloads waiting for a turn; past this a download is refused at once (QUEUE_FULL). */
  maxWaiting: number;
}

interface Waiter {
  bytes: number;
  start: () => void;
}

/**
 * Bounds the media downloads of one connection: at most `concurrency` at once and at most
 * `maxBytes` reserved at once; the rest wait their turn in arrival order (first come, first served:
 * a small file never overtakes a large one, so nothing starves). 1,000 inbound videos then cost a
 * few downloads' worth of memory instead of all of them at once.
 *
 * A download reserves the size the message declares (capped by the caller's limit). A download
 * larger than the whole budget still runs, alone.
 */
export class DownloadGate {
  private running = 0;
  private reserved = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly options: DownloadGateOptions) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `task` when its turn comes; rejects with QUEUE_FULL when too many are waiting already. */
  async run<T>(bytes: number, task: () => Promise<T>): Promise<T> {
    const reservation = Math.max(0, Math.min(bytes, this.options.maxBytes));
    if (!this.fits(reservation) || this.waiting.length > 0) {
      if (this.waiting.length >= this.options.maxWaiting) {
        throw new PipesError(
          ERROR_CODES.QUEUE_FULL,
          `${this.waiting.length} media downloads are already waiting (limit ${this.options.maxWaiting}); this one was not started`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push({ bytes: reservation, start: resolve }));
    } else {
      this.take(reservation);
    }
    try {
      return await task();
    } finally {
      this.running--;
      this.reserved -= reservation;
      this.next();
    }
  }

  private fits(bytes: number): boolean {
    if (this.running >= this.options.concurrency) return false;
    return this.running === 0 || this.reserved + bytes <= this.options.maxBytes;
  }

  private take(bytes: number): void {
    this.running++;
    this.reserved += bytes;
  }

  private next(): void {
    while (this.waiting.length && this.fits(this.waiting[0].bytes)) {
      const waiter = this.waiting.shift()!;
      this.take(waiter.bytes);
      waiter.start();
    }
  }
}
