/**
 * Sends payloads after a delay while keeping their order, even when the delay changes between two
 * payloads (configure() can flip replyStatusDelayMs mid-test): a payload is never due before the one
 * queued ahead of it. Uses the monotonic clock because delays are real time, not emulator time.
 */
import { performance } from "node:perf_hooks";

export class OrderedDelayedSender {
  private readonly queue: { due: number; payload: string }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly send: (payload: string) => void) {}

  push(payload: string, delayMs: number): void {
    if (delayMs <= 0 && this.queue.length === 0) {
      this.send(payload);
      return;
    }
    const now = performance.now();
    const due = Math.max(now + delayMs, this.queue.at(-1)?.due ?? 0);
    this.queue.push({ due, payload });
    this.schedule();
  }

  /** Drops whatever is still waiting (socket closed, emulator stopping). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    const wait = Math.max(0, Math.ceil(this.queue[0].due - performance.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushDue();
    }, wait);
  }

  private flushDue(): void {
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].due <= now) this.send(this.queue.shift()!.payload);
    this.schedule();
  }
}
