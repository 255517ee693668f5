/**
 * The emulator clock: real time plus an offset that only grows.
 *
 * Following real time keeps timestamps and presigned-URL expiry natural for a person using the CLI;
 * the offset lets tests jump past the 24 h window or a TTL without waiting. It never runs backwards,
 * so an expiry once reached stays reached.
 */
export class EmulatorClock {
  private offsetMs = 0;
  private last = 0;

  constructor(private readonly realNow: () => number = Date.now) {}

  now(): number {
    // Guards against the wall clock stepping back (NTP): the emulator clock is monotonic.
    this.last = Math.max(this.last, this.realNow() + this.offsetMs);
    return this.last;
  }

  /** Moves the clock forward by `ms` (>= 0) and returns the new now. */
  advance(ms: number): number {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
      throw new RangeError("advanceClock needs a finite number of milliseconds >= 0");
    }
    this.offsetMs += ms;
    return this.now();
  }

  isoNow(): string {
    return new Date(this.now()).toISOString();
  }
}
