/**
 * Exponential backoff with full jitter: a delay drawn uniformly from [0, min(cap, base * 2^attempt)].
 * Full jitter spreads many clients that lost the same server, so they do not come back in lock-step.
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
