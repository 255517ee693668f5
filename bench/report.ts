/** From the runs to the figures: rows of medians and ranges, paired ratios, targets; printed and as markdown. */
import { cpus } from "node:os";
import type { HeapSummary, ProfileSummary } from "./profile-summary";
import {
  CONTENDERS,
  SPECS,
  type Capacity,
  type Contender,
  type DrainResult,
  type IdleResult,
  type MediaResult,
  type Row,
  type RunResult,
  type Target,
} from "./results";
import { fmt, fmtSpread, inside, MB, pairedRatios, rangeConfidence, round, spread, table, type Spread } from "./stats";

export interface Config {
  quick: boolean;
  rounds: number;
  messages: number;
  warmup: number;
  window: number;
  senders: number;
  latencyRate: number;
  latencyMessages: number;
  costRate: number;
  costMessages: number;
  restMessages: number;
  restWindow: number;
  restRate: number;
  restRateMessages: number;
  pacedWarmupMs: number;
  capacityMessages: number;
  drain: number;
  drainSenders: number;
  drainRounds: number;
  idle: number;
  mediaBytes: number;
  server: "lean" | "emulator";
  only: string[];
  profile: Contender[];
}

export interface ReportInput {
  config: Config;
  runs: RunResult[];
  drains: DrainResult[];
  idle: IdleResult[];
  medias: MediaResult[];
  capacity?: Capacity;
  profiles: ProfileSummary[];
  /** Runs that failed (stalled, a client that did not start): left out of the figures. */
  failedRuns: { kind: Contender; round: number; error: string }[];
  /** BENCH_HEAP=1: allocation profiles of the same phases. */
  allocations: HeapSummary[];
  /** The checkout our nodes were loaded from: its commit and uncommitted src/ files (others may be editing). */
  source: { dir: string; commit?: string; uncommitted?: string[] };
  serverName: string;
  seconds: number;
  load: { before: number[]; after: number[] };
  /** Busy CPU of the whole machine over the whole bench, in % of one core (all processes, ours included). */
  machineBusyPct?: number;
}

const SOCKET: Contender[] = ["limit", "ours", "core", "floor"];
const REST: Contender[] = ["ours-buttons", "ours-rest", "floor-post", "core-http"];
const WEBHOOK: Contender[] = ["ours-webhook", "floor-webhook", "core-webhook"];
const SOCKET_PAIRS: [Contender, Contender][] = [
  ["ours", "floor"],
  ["ours", "core"],
  ["ours", "limit"],
];
const REST_PAIRS: [Contender, Contender][] = [
  ["ours-buttons", "floor-post"],
  ["ours-rest", "floor-post"],
  ["ours-buttons", "core-http"],
  ["ours-buttons", "ours-rest"],
];
const WEBHOOK_PAIRS: [Contender, Contender][] = [
  ["ours-webhook", "floor-webhook"],
  ["ours-webhook", "core-webhook"],
];
const WEBHOOK_REPLY: Contender[] = ["ours-webhook-reply", "floor-webhook-reply", "core-webhook-reply"];
const WEBHOOK_REPLY_PAIRS: [Contender, Contender][] = [
  ["ours-webhook-reply", "floor-webhook-reply"],
  ["ours-webhook-reply", "core-webhook-reply"],
];
const SHORT: Record<Contender, string> = {
  limit: "limit",
  ours: "ours",
  core: "core",
  floor: "floor",
  "ours-buttons": "buttons",
  "ours-rest": "text REST",
  "floor-post": "floor POST",
  "core-http": "core http",
  "ours-webhook": "webhook in",
  "floor-webhook": "floor route",
  "core-webhook": "core http in",
  "ours-webhook-reply": "webhook → reply",
  "floor-webhook-reply": "floor route → POST",
  "core-webhook-reply": "core http in → request",
};

/** Per contender, a metric by round (undefined where that round has no run). */
function byRound(runs: RunResult[], kind: Contender, rounds: number, pick: (r: RunResult) => number | undefined): (number | undefined)[] {
  const out: (number | undefined)[] = Array.from({ length: rounds }, () => undefined);
  for (const run of runs) if (run.kind === kind && run.round < rounds) out[run.round] = pick(run);
  return out;
}

export function buildReport(input: ReportInput) {
  const { config, runs } = input;
  const rounds = config.rounds;
  const row = (
    name: string,
    unit: string,
    kinds: Contender[],
    pairs: [Contender, Contender][],
    pick: (r: RunResult) => number | undefined,
    better?: "higher" | "lower",
  ): Row => {
    const values: Row["values"] = {};
    for (const kind of kinds) {
      const series = byRound(runs, kind, rounds, pick).filter((v): v is number => v !== undefined);
      if (series.length) values[kind] = spread(series);
    }
    const ratios = better
      ? pairs
          .filter(([a, b]) => values[a] && values[b])
          .map(([a, b]) => ({ a, b, spread: pairedRatios(byRound(runs, a, rounds, pick), byRound(runs, b, rounds, pick), better) }))
      : [];
    return { name, unit, better, values, ratios };
  };
  const rate = config.latencyRate;
  const socketRows: Row[] = [
    row("throughput at saturation", "msg/s", SOCKET, SOCKET_PAIRS, (r) => r.throughput.perSecond, "higher"),
    row("client CPU per message, saturation", "µs", SOCKET, SOCKET_PAIRS, (r) => r.throughput.clientCpuUsPerMessage, "lower"),
    row(`client CPU per message at ${config.costRate}/s`, "µs", SOCKET, SOCKET_PAIRS, (r) => r.cost.clientCpuUsPerMessage, "lower"),
    row(`latency p50 at ${config.costRate}/s`, "ms", SOCKET, SOCKET_PAIRS, (r) => r.cost.p50, "lower"),
    row(`latency p99 at ${config.costRate}/s`, "ms", SOCKET, SOCKET_PAIRS, (r) => r.cost.p99, "lower"),
    row(`latency p50 at ${rate}/s`, "ms", SOCKET, SOCKET_PAIRS, (r) => r.latency?.p50, "lower"),
    row(`latency p99 at ${rate}/s`, "ms", SOCKET, SOCKET_PAIRS, (r) => r.latency?.p99, "lower"),
    row(`GC pause per 1,000 msgs at ${config.costRate}/s`, "ms", SOCKET, SOCKET_PAIRS, (r) => r.cost.gc?.pauseMsPer1000, "lower"),
    row(`  scavenges per 1,000 msgs at ${config.costRate}/s`, "count", SOCKET, [], (r) => r.cost.gc?.minorPer1000),
    row(`  mean scavenge pause at ${config.costRate}/s`, "ms", SOCKET, [], (r) => r.cost.gc?.minorMeanMs),
    row(`heap after ${config.messages / 1000}k msgs and GC vs before`, "%", SOCKET, [], (r) => r.memory.heapGrowthPct),
    row("client CPU, saturation", "% core", SOCKET, [], (r) => r.throughput.clientCpuPct),
    row("server CPU, saturation", "% core", SOCKET, [], (r) => r.throughput.serverCpuPct),
    row("other processes' CPU, saturation", "% core", SOCKET, [], (r) => r.throughput.otherCpuPct),
  ];
  /** REST replies and webhooks share their rows; a webhook's sender is the server, so it also gets the server's CPU. */
  const requestRows = (kinds: Contender[], pairs: [Contender, Contender][], serverCpu?: string): Row[] => [
    row("throughput at saturation", "msg/s", kinds, pairs, (r) => r.throughput.perSecond, "higher"),
    row("client CPU per message, saturation", "µs", kinds, pairs, (r) => r.throughput.clientCpuUsPerMessage, "lower"),
    row(`client CPU per message at ${config.restRate}/s`, "µs", kinds, pairs, (r) => r.cost.clientCpuUsPerMessage, "lower"),
    row(`latency p50 at ${config.restRate}/s`, "ms", kinds, pairs, (r) => r.cost.p50, "lower"),
    row(`latency p99 at ${config.restRate}/s`, "ms", kinds, pairs, (r) => r.cost.p99, "lower"),
    row(`GC pause per 1,000 msgs at ${config.restRate}/s`, "ms", kinds, pairs, (r) => r.cost.gc?.pauseMsPer1000, "lower"),
    row(`heap after ${config.restMessages / 1000}k msgs and GC vs before`, "%", kinds, [], (r) => r.memory.heapGrowthPct),
    row("client CPU, saturation", "% core", kinds, [], (r) => r.throughput.clientCpuPct),
    ...(serverCpu ? [row(serverCpu, "% core", kinds, [], (r) => r.throughput.serverCpuPct)] : []),
    row("other processes' CPU, saturation", "% core", kinds, [], (r) => r.throughput.otherCpuPct),
  ];
  const restRows = requestRows(REST, REST_PAIRS);
  const webhookRows = requestRows(WEBHOOK, WEBHOOK_PAIRS, "sender (server) CPU, saturation");
  const webhookReplyRows = requestRows(WEBHOOK_REPLY, WEBHOOK_REPLY_PAIRS, "sender and Pipes server CPU, saturation");

  // Drain and idle, per contender.
  const drainKinds = [...new Set(input.drains.map((d) => d.kind))];
  const drainSummary = drainKinds.map((kind) => {
    const ds = input.drains.filter((d) => d.kind === kind);
    return {
      kind,
      label: SPECS[kind].label,
      runs: ds.length,
      outcomesSeconds: spread(ds.map((d) => d.outcomesSeconds)),
      receivedPerSecond: spread(ds.map((d) => d.receivedPerSecond)),
      heapGrowthPct: spread(ds.map((d) => d.heapGrowthPct)),
      heapStartMB: spread(ds.map((d) => d.heapStart / MB)),
      repliesOk: ds.reduce((n, d) => n + d.repliesOk, 0),
      failed: ds.reduce((n, d) => n + d.repliesFailed, 0),
      queueFull: ds.reduce((n, d) => n + (d.failures.QUEUE_FULL ?? 0), 0),
      failures: ds.map((d) => d.failures),
    };
  });

  // Targets: medians of the paired runs.
  const ratioOf = (rows: Row[], name: string, a: Contender, b: Contender) =>
    rows.find((r) => r.name === name)?.ratios.find((x) => x.a === a && x.b === b)?.spread;
  const targets: Target[] = [];
  const add = (name: string, s: Spread | undefined, threshold: number, cmp: ">=" | "<=", unit = "x") =>
    targets.push(judge(name, s, threshold, cmp, unit));
  /** A contender against its floor: throughput and CPU per message, each at least 0.9 of the floor's. */
  const addPaired = (label: string, rows: Row[], ours: Contender, floor: Contender, floorName: string) => {
    add(`${label}: throughput / ${floorName} (paired)`, ratioOf(rows, "throughput at saturation", ours, floor), 0.9, ">=");
    add(
      `${label}: CPU per message, ${floorName} / ours (paired)`,
      ratioOf(rows, "client CPU per message, saturation", ours, floor),
      0.9,
      ">=",
    );
  };
  add("throughput, ours / floor (paired)", ratioOf(socketRows, "throughput at saturation", "ours", "floor"), 0.95, ">=");
  add(
    "client CPU per message at saturation, floor / ours (paired)",
    ratioOf(socketRows, "client CPU per message, saturation", "ours", "floor"),
    0.95,
    ">=",
  );
  add(
    `client CPU per message at ${config.costRate}/s, floor / ours (paired)`,
    ratioOf(socketRows, `client CPU per message at ${config.costRate}/s`, "ours", "floor"),
    0.95,
    ">=",
  );
  const p99 = pairedRatios(
    byRound(runs, "ours", rounds, (r) => r.cost.p99),
    byRound(runs, "floor", rounds, (r) => r.cost.p99),
    "higher",
  );
  add(`p99 latency at ${config.costRate}/s, ours / floor (paired)`, p99.n ? p99 : undefined, 1.3, "<=");
  const oursDrain = drainSummary.find((d) => d.kind === "ours");
  targets.push(
    oursDrain
      ? {
          name: `burst drain (${config.drain} queued, default settings): QUEUE_FULL replies`,
          value: oursDrain.queueFull,
          threshold: "= 0",
          met: oursDrain.queueFull === 0,
          verdict: oursDrain.queueFull === 0 ? `met (${oursDrain.runs} drains)` : "missed",
        }
      : notMeasured("burst drain: QUEUE_FULL replies"),
  );
  add("burst drain: heap after GC vs its start", oursDrain?.heapGrowthPct, 10, "<=", "%");
  const idleOurs = input.idle.find((i) => i.kind === "ours");
  add(
    `idle state: ${config.idle / 1000}k quiet conversations, heap after GC vs start`,
    idleOurs ? spread([idleOurs.heapGrowthPct]) : undefined,
    10,
    "<=",
    "%",
  );
  addPaired("pipes-send buttons", restRows, "ours-buttons", "floor-post", "floor POST");
  addPaired("pipes-reply text over REST", restRows, "ours-rest", "floor-post", "floor POST");
  addPaired("pipes-webhook-in", webhookRows, "ours-webhook", "floor-webhook", "floor route");
  addPaired("pipes-webhook-in → pipes-reply REST", webhookReplyRows, "ours-webhook-reply", "floor-webhook-reply", "floor route → POST");
  const oursMedia = input.medias.find((m) => m.mode === "ours");
  add("media send: peak RSS over the file size", oursMedia?.ok ? spread([oursMedia.peakOverFile]) : undefined, 3, "<=");

  const others = runs.map((r) => r.throughput.otherCpuPct).filter((v): v is number => v !== undefined);
  return {
    date: new Date().toISOString(),
    seconds: round(input.seconds, 1),
    environment: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model?.trim(),
      platform: process.platform,
      server: input.serverName,
      source: input.source,
      loadAverageBefore: input.load.before.map((v) => round(v, 2)),
      loadAverageAfter: input.load.after.map((v) => round(v, 2)),
      /** Whole machine over the whole bench (bench processes included), % of one core. */
      machineBusyPct: input.machineBusyPct === undefined ? undefined : round(input.machineBusyPct, 0),
      /** Other processes during the saturation runs, % of one core: how shared the machine was. */
      otherCpuPct: spread(others),
    },
    config,
    method: {
      rounds: `${config.rounds} rounds; each round runs every contender once, in a fresh process, in the order ${CONTENDERS.join(", ")} (odd rounds backwards): drift on a shared machine hits all of them alike, and each of ours runs next to its floor`,
      figures: "a cell is the median over the rounds and, in brackets, the range (min–max)",
      ratios: `paired: in each round, one contender's figure over another's from the same round; the cell is the median of those ratios and their range. Over n rounds the range holds the true median ratio with ${fmt(rangeConfidence(config.rounds) * 100, 0)}% confidence (sign test, distribution-free); a range that includes 1.00 means the difference is inside the noise (marked ≈)`,
      processes:
        "the server and this driver in one process; each client in its own process (limit: node + ws; the others: a real Node-RED runtime, RED.init + RED.start with the editor off, flows and credentials from a temporary user dir)",
      server: `echo and REST comparison: ${input.serverName} (bench/servers.ts); webhooks: a signing sender in the driver (bench/servers.ts WebhookSender) POSTing to the client's Node-RED, whose REST replies (webhook-reply rows) go to the ${input.serverName}; drain and media: the emulator (src/emulator)`,
      throughput: `closed loop: socket contenders ${config.window} messages in flight over ${config.senders} conversations, ${config.messages} messages; REST and webhook contenders ${config.restWindow} in flight, ${config.restMessages} messages; after a ${config.warmup}-message warm-up. Counted at the client (reply_status, or the sending node's completion), except core (the server counts its replies: it ignores reply_status) and webhooks without a reply (the sender counts the POSTs answered 200)`,
      latency: `open loop at ${config.latencyRate}/s (${config.latencyMessages} messages) and at ${config.costRate}/s (${config.costMessages}); REST and webhook contenders at ${config.restRate}/s (${config.restRateMessages}); after ${config.pacedWarmupMs} ms not counted; from the server handing the whatsapp_message to its socket to the server receiving the reply (webhooks: from the POST leaving to its 200; webhooks with a REST reply: from the POST leaving to the server receiving the reply)`,
      memory:
        "process.memoryUsage() of the client: after the warm-up and two forced GCs, right after the saturation run, and after two forced GCs",
      floor:
        "Node-RED with do-nothing nodes (bench/floor-nodes.ts), Node-RED's own per-message cost: floor = its socket in/out around the same function node; floor POST = its socket in, a function writing Meta's buttons body, one bare undici POST (keep-alive, the client our nodes use), no ordering, deadline, retries or checks; floor route = a bare POST route on Node-RED's node app that parses the body, sends the msg and answers 200 (no signature, checks or deduplication), then the same function; floor route → POST = that route, a function writing the text body, the floor POST's bare undici POST to /v1/messages/send. Ours answers the webhook at once (the node's default), as the floor route does; the core flow answers it after its http request",
      drain: `${config.drain} messages from ${config.drainSenders} senders queued in the emulator while a running, connected client is kept out (bench/servers.ts TcpGate), drained with pacing 0 at default settings when it reconnects; times from the socket opening; heap after GC before and after; ${config.drainRounds} drain(s) per contender`,
      idle: `after the usual warm-up (heap after GC), ${config.idle} distinct conversations send one message each (${config.window} in flight) and go quiet; 1 s later, heap after GC`,
      media:
        "one Buffer per dedicated process: RSS sampled every 5 ms plus the kernel's maxRSS; peak over file = (peak RSS - RSS before the Buffer existed) / file size",
    },
    socketRows,
    restRows,
    webhookRows,
    webhookReplyRows,
    drain: { runs: input.drains, summary: drainSummary },
    idle: input.idle,
    emulatorCapacity: input.capacity,
    media: input.medias,
    targets,
    profiles: input.profiles,
    allocations: input.allocations,
    failedRuns: input.failedRuns,
    runs,
  };
}

export type Report = ReturnType<typeof buildReport>;

function notMeasured(name: string): Target {
  return { name, value: NaN, threshold: "", met: undefined, verdict: "not measured in this run" };
}

/** A target on the median of paired runs; says when the range straddles the threshold (the verdict is then inside the noise). */
function judge(name: string, s: Spread | undefined, threshold: number, cmp: ">=" | "<=", unit: string): Target {
  const thresholdText = `${cmp === ">=" ? "≥" : "≤"} ${threshold}${unit === "%" ? "%" : "×"}`;
  if (!s || s.n === 0) return { ...notMeasured(name), threshold: thresholdText };
  const ok = (v: number) => (cmp === ">=" ? v >= threshold : v <= threshold);
  const met = ok(s.median);
  const noisy = s.n > 1 && ok(s.min) !== ok(s.max);
  const verdict = `${met ? "met" : "MISSED"}${noisy ? " (the range straddles it: inside the noise)" : ""}`;
  return { name, value: round(s.median, 3), spread: s, threshold: thresholdText, met, verdict };
}

/** A ratio cell: the median and range of the paired ratios, ≈ when the range includes 1. */
function ratioCell(s: Spread): string {
  return `${inside(s, 1) && s.n > 1 ? "≈ " : ""}${fmtSpread(s, 2)}`;
}

function rowCells(r: Row, kinds: Contender[], pairs: [Contender, Contender][]): string[] {
  const digits = r.unit === "msg/s" ? 0 : r.unit === "ms" ? 2 : r.unit === "count" ? 2 : 1;
  return [
    r.name,
    r.unit,
    ...kinds.map((k) => fmtSpread(r.values[k], digits)),
    ...pairs.map(([a, b]) => {
      const x = r.ratios.find((q) => q.a === a && q.b === b);
      return x ? ratioCell(x.spread) : "";
    }),
  ];
}

function machineLine(report: Report): string {
  const env = report.environment;
  const disturbed = env.otherCpuPct.values.filter((v) => v > 25).length;
  const busy = env.otherCpuPct.n
    ? `other processes used ${fmt(env.otherCpuPct.median, 0)}% of a core (median; max ${fmt(env.otherCpuPct.max, 0)}%) during the saturation runs, over 25% in ${disturbed} of ${env.otherCpuPct.n}`
    : "";
  const src = env.source.commit
    ? `; nodes from ${env.source.commit}${env.source.uncommitted?.length ? ` + ${env.source.uncommitted.length} uncommitted src/ files` : ""}`
    : "";
  return `Node ${env.node}, ${env.cpus} cores (${env.cpuModel}); ${report.config.rounds} rounds, interleaved; ${busy}; load average ${env.loadAverageBefore.join(" ")} before, ${env.loadAverageAfter.join(" ")} after${src}`;
}

/** The tables of rows, each with its contenders and compared pairs. */
function tables(report: Report): { header: string[]; rows: Row[]; cells: (r: Row) => string[] }[] {
  const groups: [string, Contender[], [Contender, Contender][], Row[]][] = [
    ["socket echo", SOCKET, SOCKET_PAIRS, report.socketRows],
    ["REST reply", REST, REST_PAIRS, report.restRows],
    ["webhook in", WEBHOOK, WEBHOOK_PAIRS, report.webhookRows],
    ["webhook in, REST reply", WEBHOOK_REPLY, WEBHOOK_REPLY_PAIRS, report.webhookReplyRows],
  ];
  return groups.map(([title, kinds, pairs, rows]) => ({
    header: [title, "unit", ...kinds.map((k) => SHORT[k]), ...pairs.map(([a, b]) => `${SHORT[a]}/${SHORT[b]}`)],
    rows,
    cells: (r: Row) => rowCells(r, kinds, pairs),
  }));
}

export function printReport(report: Report): void {
  console.log(`\n${machineLine(report)}\n`);
  for (const t of tables(report)) {
    if (t.rows.some((r) => Object.keys(r.values).length > 0)) console.log(`${table(t.header, t.rows.map(t.cells))}\n`);
  }
  console.log(
    `\ncells: median (min–max) over the rounds. Ratios: paired per round, > 1 means the first is better (time and CPU inverted); the range of ${report.config.rounds} paired ratios holds their true median with ${fmt(rangeConfidence(report.config.rounds) * 100, 0)}% confidence; ≈: it includes 1, the difference is inside the noise.`,
  );
  const cap = report.emulatorCapacity;
  if (cap)
    console.log(
      `the emulator itself serves ${fmt(cap.perSecond, 0)} echoes/s to the raw client (emulator CPU ${fmt(cap.serverCpuPct, 0)}%): it would be the bottleneck, hence the lean server`,
    );
  if (report.drain.summary.length) {
    console.log("");
    console.log(
      table(
        [
          `drain ${report.config.drain} queued (default settings)`,
          "runs",
          "all outcomes s",
          "received msg/s",
          "ok",
          "failed",
          "QUEUE_FULL",
          "heap start MB",
          "heap after GC vs start %",
        ],
        report.drain.summary.map((d) => [
          d.label,
          String(d.runs),
          fmtSpread(d.outcomesSeconds, 2),
          fmtSpread(d.receivedPerSecond, 0),
          String(d.repliesOk),
          String(d.failed),
          String(d.queueFull),
          fmtSpread(d.heapStartMB, 1),
          fmtSpread(d.heapGrowthPct, 1),
        ]),
      ),
    );
  }
  if (report.idle.length) {
    console.log("");
    console.log(
      table(
        ["idle state", "conversations", "s", "failed", "heap start MB", "heap after MB", "after GC MB", "after GC vs start %"],
        report.idle.map((i) => [
          SPECS[i.kind].label,
          String(i.conversations),
          fmt(i.seconds, 1),
          String(i.repliesFailed),
          fmt(i.heapStart / MB, 1),
          fmt(i.heapAfter / MB, 1),
          fmt(i.heapAfterGc / MB, 1),
          fmt(i.heapGrowthPct, 1),
        ]),
      ),
    );
  }
  if (report.media.length) {
    console.log("");
    console.log(
      table(
        ["media send", "MB", "time ms", "RSS before MB", "peak RSS MB", "peak over file", "peak from"],
        report.media.map((m) => [
          m.ok ? m.label : `${m.label} FAILED: ${m.error}`,
          fmt(m.bytes / MB, 1),
          fmt(m.ms, 0),
          fmt(m.rssBefore / MB, 1),
          fmt(m.peakRss / MB, 1),
          `${fmt(m.peakOverFile, 2)}x`,
          m.peakFrom,
        ]),
      ),
    );
  }
  for (const f of report.failedRuns) console.log(`FAILED RUN (left out): round ${f.round + 1} ${SPECS[f.kind].label}: ${f.error}`);
  console.log("\ntargets (medians of paired runs; range in brackets):");
  for (const t of report.targets) {
    const value = Number.isNaN(t.value) ? "" : t.spread && t.spread.n > 1 ? fmtSpread(t.spread, 3) : fmt(t.value, 3);
    console.log(`  ${t.met === undefined ? "-     " : t.met ? "met   " : "MISSED"}  ${t.name} ${t.threshold}: ${value} ${t.verdict}`);
  }
}

/** The README's figures: the main rows of both tables, the drain, idle and media lines, the targets. */
export function markdown(report: Report): string {
  const out: string[] = [];
  const md = (header: string[], rows: string[][]) => {
    out.push(
      `| ${header.join(" | ")} |`,
      `|${header.map((_, i) => (i < 2 ? " --- " : " ---: ")).join("|")}|`,
      ...rows.map((r) => `| ${r.join(" | ")} |`),
      "",
    );
  };
  out.push(
    `${machineLine(report)}. Cells: median (min–max) of ${report.config.rounds} runs; ratios: median (min–max) of the paired per-round ratios, > 1 = the first is better (time and CPU inverted); the range is a ${fmt(rangeConfidence(report.config.rounds) * 100, 0)}% interval for the median ratio; ≈ = it includes 1, inside the noise.`,
    "",
  );
  const pick = (rows: Row[], names: string[]) => rows.filter((r) => names.some((n) => r.name.startsWith(n)));
  const socketNames = ["throughput", "client CPU per message", "latency p99", "latency p50", "GC pause", "  scavenges", "heap after"];
  for (const t of tables(report)) md(t.header, pick(t.rows, socketNames).map(t.cells));
  if (report.drain.summary.length) {
    md(
      [
        `drain, ${report.config.drain} queued, default settings`,
        "runs",
        "all outcomes (s)",
        "replies ok",
        "QUEUE_FULL",
        "heap after GC vs start",
      ],
      report.drain.summary.map((d) => [
        d.label,
        String(d.runs),
        fmtSpread(d.outcomesSeconds, 2),
        String(d.repliesOk),
        String(d.queueFull),
        `${fmtSpread(d.heapGrowthPct, 1)}%`,
      ]),
    );
  }
  if (report.idle.length) {
    md(
      ["idle state", "conversations", "heap start (MB)", "heap after GC (MB)", "vs start"],
      report.idle.map((i) => [
        SPECS[i.kind].label,
        i.conversations.toLocaleString("en-US"),
        fmt(i.heapStart / MB, 1),
        fmt(i.heapAfterGc / MB, 1),
        `${fmt(i.heapGrowthPct, 1)}%`,
      ]),
    );
  }
  md(
    ["target", "threshold", "median (range)", "verdict"],
    report.targets.map((t) => [
      t.name,
      t.threshold,
      Number.isNaN(t.value) ? "" : t.spread && t.spread.n > 1 ? fmtSpread(t.spread, 2) : fmt(t.value, 2),
      t.verdict,
    ]),
  );
  return `${out.join("\n")}\n`;
}
