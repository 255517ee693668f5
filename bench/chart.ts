/**
 * The bench as a picture: throughput and latency per contender with their spread over the rounds,
 * an SVG built as a string (no browser, no dependency). run.ts calls renderChart; to redraw from
 * the last results without running the bench again:
 *
 *   [UPDATE_SCREENSHOTS=1] npx tsx bench/chart.ts [bench/results.json] [bench/results.svg]
 *
 * docs/bench.svg (the README's picture) is written only with UPDATE_SCREENSHOTS=1.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Report } from "./report";
import { SPECS, type Contender, type Row } from "./results";
import { fmt, type Spread } from "./stats";

const W = 1000;
const LABEL_W = 250;
const ROW_H = 30;
const PANEL_GAP = 50;
const PANEL_W = (W - LABEL_W - 30 - PANEL_GAP) / 2;
const X1 = LABEL_W + 10;
const X2 = X1 + PANEL_W + PANEL_GAP;

const COLOURS: Record<Contender, string> = {
  limit: "#a3a3a3",
  ours: "#2563eb",
  core: "#d97706",
  floor: "#525252",
  "ours-buttons": "#2563eb",
  "ours-rest": "#60a5fa",
  "floor-post": "#525252",
  "core-http": "#d97706",
  "ours-webhook": "#2563eb",
  "floor-webhook": "#525252",
  "core-webhook": "#d97706",
  "ours-webhook-reply": "#2563eb",
  "floor-webhook-reply": "#525252",
  "core-webhook-reply": "#d97706",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(1)) : 0);

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${num(x)}" y="${num(y)}" ${attrs}>${esc(s)}</text>`;
}

/** A round axis end and its ticks: 1, 2 or 5 times a power of ten, about four of them. */
function niceScale(max: number): { end: number; step: number } {
  if (!(max > 0)) return { end: 1, step: 0.25 };
  const raw = max / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  return { end: Math.ceil(max / step) * step, step };
}

function short(v: number, unit: string): string {
  if (unit === "msg/s") return v >= 1000 ? `${fmt(v / 1000, v >= 10_000 ? 1 : 2)}k` : fmt(v, 0);
  return fmt(v, v >= 10 ? 1 : 2);
}

/** An axis tick: no more digits than the step needs. */
function tick(v: number, step: number, unit: string): string {
  const digits = (x: number) => Math.max(0, -Math.floor(Math.log10(x) + 1e-9));
  if (unit === "msg/s" && step >= 1000) return v === 0 ? "0" : `${(v / 1000).toFixed(digits(step / 1000))}k`;
  return v.toFixed(Math.min(3, digits(step) + (step / 10 ** Math.floor(Math.log10(step)) === 2.5 ? 1 : 0)));
}

/** A dashed line across a panel: a target (0.95x the floor, ...). */
interface Mark {
  value: number;
  label: string;
}

interface Bar {
  kind: Contender;
  main?: Spread;
  /** A second, smaller figure drawn as a tick on the bar (p50 on the p99 bar). */
  inner?: Spread;
}

/** One panel: a horizontal bar (median) with a min–max whisker and a dot per run, for each contender. */
function panel(
  x: number,
  y: number,
  title: string,
  unit: string,
  bars: Bar[],
  label: (b: Bar) => string,
  marks: Mark[] = [],
  log = false,
): string[] {
  const out: string[] = [];
  const values = [
    ...bars.flatMap((b) => [b.main?.max ?? 0, b.inner?.max ?? 0, b.main?.min ?? 0, b.inner?.min ?? 0]),
    ...marks.map((m) => m.value),
  ];
  const width = PANEL_W - 70;
  let sx: (v: number) => number;
  const ticks: number[] = [];
  let step = 0;
  if (log) {
    // Latencies span two orders of magnitude (p50 0.1 ms, p99 of the core flow 10 ms): 1-2-5 ticks.
    const positive = values.filter((v) => v > 0);
    const min = Math.min(...positive);
    const max = Math.max(...positive) * 1.02;
    const steps: number[] = [];
    for (let e = Math.floor(Math.log10(min)) - 1; e <= Math.ceil(Math.log10(max)); e++)
      for (const m of [1, 2, 5]) steps.push(Number((m * 10 ** e).toPrecision(3)));
    const lo = Math.log10(steps.filter((t) => t <= min).pop() ?? min);
    const hi = Math.log10(steps.find((t) => t >= max) ?? max);
    sx = (v: number) => x + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / Math.max(1e-9, hi - lo)) * width;
    ticks.push(...steps.filter((t) => Math.log10(t) >= lo - 1e-9 && Math.log10(t) <= hi + 1e-9));
  } else {
    const scale = niceScale(Math.max(...values) * 1.02);
    step = scale.step;
    sx = (v: number) => x + (Math.max(0, v) / scale.end) * width;
    for (let t = 0; t <= scale.end + step / 1e6; t += step) ticks.push(t);
  }
  const height = bars.length * ROW_H;
  out.push(text(x, y - 12, title, 'class="panel"'));
  for (const t of ticks) {
    const gx = sx(t);
    out.push(`<line x1="${num(gx)}" y1="${y}" x2="${num(gx)}" y2="${y + height}" class="grid"/>`);
    out.push(text(gx, y + height + 14, log ? String(t) : tick(t, step, unit), 'class="tick" text-anchor="middle"'));
  }
  for (const m of marks) {
    if (!Number.isFinite(m.value) || m.value <= 0) continue;
    const mx = sx(m.value);
    out.push(`<line x1="${num(mx)}" y1="${y - 4}" x2="${num(mx)}" y2="${y + height + 2}" class="mark"/>`);
    out.push(text(mx, y + height + 28, m.label, 'class="markText" text-anchor="middle"'));
  }
  bars.forEach((b, i) => {
    const cy = y + i * ROW_H + ROW_H / 2;
    const s = b.main;
    if (!s || s.n === 0) {
      out.push(text(x + 4, cy + 4, "not run", 'class="note"'));
      return;
    }
    const colour = COLOURS[b.kind];
    out.push(
      `<rect x="${x}" y="${num(cy - 8)}" width="${num(sx(s.median) - x)}" height="16" fill="${colour}" fill-opacity="${b.kind.startsWith("floor") || b.kind === "limit" ? 0.55 : 0.8}" rx="2"/>`,
    );
    if (b.inner && b.inner.n) {
      const ix = sx(b.inner.median);
      out.push(`<line x1="${num(ix)}" y1="${num(cy - 11)}" x2="${num(ix)}" y2="${num(cy + 11)}" class="inner"/>`);
    }
    if (s.n > 1) {
      out.push(`<line x1="${num(sx(s.min))}" y1="${num(cy)}" x2="${num(sx(s.max))}" y2="${num(cy)}" class="whisker"/>`);
      for (const v of [s.min, s.max])
        out.push(`<line x1="${num(sx(v))}" y1="${num(cy - 5)}" x2="${num(sx(v))}" y2="${num(cy + 5)}" class="whisker"/>`);
      for (const v of s.values) if (Number.isFinite(v)) out.push(`<circle cx="${num(sx(v))}" cy="${num(cy)}" r="2.2" class="run"/>`);
    }
    out.push(text(Math.max(sx(s.max), sx(s.median)) + 6, cy + 4, label(b), 'class="value"'));
  });
  return out;
}

function rowOf(rows: Row[], prefix: string): Row | undefined {
  return rows.find((r) => r.name.startsWith(prefix));
}

export function renderChart(report: Report): string {
  const env = report.environment;
  const cfg = report.config;
  interface Group {
    title: string;
    kinds: Contender[];
    rows: Row[];
    rate: number;
    floor: Contender;
    throughputTarget: number;
    p99Target?: number;
  }
  /** A REST or webhook group: its rate and the 0.9x target. Results written before the webhook rows existed have none. */
  const requests = (title: string, kinds: Contender[], rows: Row[] | undefined): Group => ({
    title,
    kinds,
    rows: rows ?? [],
    rate: cfg.restRate,
    floor: SPECS[kinds[0]].floor!,
    throughputTarget: 0.9,
  });
  const groups: Group[] = [
    {
      title: "Socket echo (text reply over the socket)",
      kinds: ["ours", "floor", "core", "limit"],
      rows: report.socketRows,
      rate: cfg.costRate,
      floor: "floor",
      throughputTarget: 0.95,
      p99Target: 1.3,
    },
    requests("REST reply (one POST per message)", ["ours-buttons", "ours-rest", "floor-post", "core-http"], report.restRows),
    requests(
      "Webhook in (one signed POST per message, answered 200; no reply)",
      ["ours-webhook", "floor-webhook", "core-webhook"],
      report.webhookRows,
    ),
    requests(
      "Webhook in, text reply by REST (signed POST in → POST /v1/messages/send out)",
      ["ours-webhook-reply", "floor-webhook-reply", "core-webhook-reply"],
      report.webhookReplyRows,
    ),
  ];
  const out: string[] = [];
  let y = 96;
  for (const g of groups) {
    const throughput = rowOf(g.rows, "throughput");
    const p99 = rowOf(g.rows, `latency p99 at ${g.rate}/s`);
    const p50 = rowOf(g.rows, `latency p50 at ${g.rate}/s`);
    out.push(text(16, y, g.title, 'class="group"'));
    y += 34;
    g.kinds.forEach((kind, i) => {
      const cy = y + i * ROW_H + ROW_H / 2 + 4;
      out.push(text(LABEL_W, cy, SPECS[kind].label, `class="label${kind.startsWith("ours") ? " ours" : ""}" text-anchor="end"`));
    });
    const floorOf = (row: Row | undefined) => row?.values[g.floor]?.median ?? NaN;
    const tBars = g.kinds.map((kind) => ({ kind, main: throughput?.values[kind] }));
    const tMarks = [{ value: g.throughputTarget * floorOf(throughput), label: `target ${g.throughputTarget}× floor` }];
    out.push(...panel(X1, y, "throughput at saturation (msg/s)", "msg/s", tBars, (b) => short(b.main!.median, "msg/s"), tMarks));
    const lBars = g.kinds.map((kind) => ({ kind, main: p99?.values[kind], inner: p50?.values[kind] }));
    const lMarks = g.p99Target ? [{ value: g.p99Target * floorOf(p99), label: `target p99 ${g.p99Target}× floor` }] : [];
    out.push(
      ...panel(
        X2,
        y,
        `latency at ${g.rate.toLocaleString("en-US")}/s (ms, log scale): p99 bar, p50 tick`,
        "ms",
        lBars,
        (b) => `${fmt(b.inner?.median ?? NaN, 2)} / ${fmt(b.main!.median, 2)}`,
        lMarks,
        true,
      ),
    );
    y += g.kinds.length * ROW_H + 62;
  }
  // The headline ratios, paired medians with their range.
  const ratio = (rows: Row[], prefix: string, a: Contender, b: Contender) =>
    rowOf(rows, prefix)?.ratios.find((r) => r.a === a && r.b === b)?.spread;
  const r = (s: Spread | undefined) => (s && s.n ? `${fmt(s.median, 2)} (${fmt(s.min, 2)}–${fmt(s.max, 2)})` : "n/a");
  const p99ratio = report.targets.find((t) => t.name.startsWith("p99 latency"))?.spread;
  /** One pair's throughput and CPU ratios. Results written before the webhook rows existed have none. */
  const pair = (title: string, rows: Row[] | undefined, a: Contender, b: Contender) =>
    `${title}: throughput ${r(ratio(rows ?? [], "throughput", a, b))} · CPU per message ${r(ratio(rows ?? [], "client CPU per message, saturation", a, b))}`;
  const lines = [
    `${pair("ours / floor, paired medians (range)", report.socketRows, "ours", "floor")} (floor/ours) · p99 at ${cfg.costRate}/s ${r(p99ratio)} (ours/floor)`,
    pair("buttons / floor POST", report.restRows, "ours-buttons", "floor-post"),
    pair("webhook in / floor route", report.webhookRows, "ours-webhook", "floor-webhook"),
    pair("webhook → REST reply / floor route → POST", report.webhookReplyRows, "ours-webhook-reply", "floor-webhook-reply"),
    `Bars: median of ${cfg.rounds} runs, each in a fresh process, interleaved; whiskers: min–max; dots: each run. Latency: server sends the message → server receives the reply.`,
  ];
  lines.forEach((line, i) => out.push(text(16, y + i * 18, line, `class="${i < lines.length - 1 ? "foot" : "note"}"`)));
  const height = y + lines.length * 18 + 10;
  const others = env.otherCpuPct.n
    ? `; other processes ${fmt(env.otherCpuPct.median, 0)}% of a core (max ${fmt(env.otherCpuPct.max, 0)}%)`
    : "";
  const stamp = `${env.cpuModel ?? "unknown CPU"} · ${env.cpus} cores · Node ${env.node} · ${report.date.slice(0, 10)}${cfg.quick ? " · QUICK MODE" : ""}${others}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${num(height)}" viewBox="0 0 ${W} ${num(height)}" font-family="Helvetica, Arial, sans-serif">`,
    "<style>",
    "text{fill:#1f2937;font-size:12px} .title{font-size:19px;font-weight:bold} .stamp{font-size:12px;fill:#4b5563}",
    ".group{font-size:15px;font-weight:bold} .panel{font-size:13px;font-weight:bold;fill:#374151} .label{font-size:13px} .ours{font-weight:bold}",
    ".tick{font-size:11px;fill:#6b7280} .value{font-size:11px;fill:#111827;paint-order:stroke;stroke:#ffffff;stroke-width:3px} .note{font-size:11px;fill:#6b7280} .foot{font-size:12px}",
    ".mark{stroke:#dc2626;stroke-width:1.2;stroke-dasharray:4 3} .markText{font-size:10px;fill:#dc2626}",
    ".grid{stroke:#e5e7eb;stroke-width:1} .whisker{stroke:#111827;stroke-width:1.3} .inner{stroke:#111827;stroke-width:2.5} .run{fill:#111827;fill-opacity:0.6}",
    "</style>",
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    text(16, 30, "npm run bench: our nodes against Node-RED's own per-message cost (the floor)", 'class="title"'),
    text(16, 52, stamp, 'class="stamp"'),
    text(
      16,
      70,
      `${cfg.rounds} rounds × ${Object.keys(SPECS).length} contenders; socket runs ${cfg.messages.toLocaleString("en-US")} messages at saturation, REST runs ${cfg.restMessages.toLocaleString("en-US")}`,
      'class="stamp"',
    ),
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

if (require.main === module) {
  const input = process.argv[2] ?? join(__dirname, "results.json");
  const output = process.argv[3] ?? join(__dirname, "results.svg");
  const svg = renderChart(JSON.parse(readFileSync(input, "utf8")) as Report);
  writeFileSync(output, svg);
  // The README's copy, as run.ts does it: only when asked.
  const docs = process.env.UPDATE_SCREENSHOTS ? join(__dirname, "..", "docs", "bench.svg") : undefined;
  if (docs) writeFileSync(docs, svg);
  console.log(`wrote ${output}${docs ? " and docs/bench.svg" : ""}`);
}
