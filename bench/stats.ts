/** Small helpers for the figures: percentiles and number formatting. */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  // Nearest-rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(samples: number[]): { count: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / (sorted.length || 1);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean,
  };
}

export const MB = 1024 * 1024;

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function fmt(value: number | undefined, digits = 2): string {
  if (value === undefined || Number.isNaN(value)) return "n/a";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(digits);
}

export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return a / b;
}

/** A plain-text table with right-aligned numbers. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** A figure over repeated runs: the median and the range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
  /** Every value, in run order (for the chart and results.json). */
  values: number[];
}

export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spread(values: number[]): Spread {
  const finite = values.filter(Number.isFinite);
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : NaN,
    max: finite.length ? Math.max(...finite) : NaN,
    n: finite.length,
    values,
  };
}

/**
 * Ratios of paired runs (run i of `a` with run i of `b`, made next to each other so drift hits both):
 * a/b when higher is better, b/a when lower is better, so > 1 always means "a is better".
 */
export function pairedRatios(a: (number | undefined)[], b: (number | undefined)[], better: "higher" | "lower"): Spread {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const r = better === "higher" ? ratio(a[i], b[i]) : ratio(b[i], a[i]);
    if (r !== undefined) ratios.push(r);
  }
  return spread(ratios);
}

/**
 * How sure the range of n paired ratios is to hold their true median: distribution-free (sign
 * test), the chance that n runs all fall on one side of the median is 2 x 0.5^n, so [min, max] is a
 * 1 - 2^(1-n) interval: 75% for 3 runs, 94% for 5, 98% for 7.
 */
export function rangeConfidence(n: number): number {
  return n < 2 ? 0 : 1 - 2 ** (1 - n);
}

/** Whether `value` lies inside the range of a spread: a difference from it is within the noise. */
export function inside(s: Spread, value: number): boolean {
  return s.n > 0 && s.min <= value && value <= s.max;
}

/** "30,535 (28,100–31,900)": the median and, over several runs, the range. */
export function fmtSpread(s: Spread | undefined, digits = 2): string {
  if (!s || s.n === 0) return "n/a";
  if (s.n === 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}
