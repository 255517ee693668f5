/** What one bench run measures, shared by the driver (run.ts), the report (report.ts) and the chart (chart.ts). */
import type { MemorySample } from "./ipc";
import type { Spread } from "./stats";

/**
 * Every client the bench runs, in the order of a round; odd rounds run it backwards (A B C D, D C B
 * A, ...), so no contender always comes first. Each of ours sits next to the floor it is compared with.
 */
export const CONTENDERS = [
  "ours",
  "floor",
  "core",
  "limit",
  "ours-buttons",
  "floor-post",
  "ours-rest",
  "core-http",
  "ours-webhook",
  "floor-webhook",
  "core-webhook",
  "ours-webhook-reply",
  "floor-webhook-reply",
  "core-webhook-reply",
] as const;
export type Contender = (typeof CONTENDERS)[number];

export interface ContenderSpec {
  label: string;
  /**
   * How the message comes and goes: socket in, reply over the socket or by a REST POST; or a signed
   * webhook POST in, with no reply ("webhook") or a reply by a REST POST ("webhook-reply").
   */
  transport: "socket" | "rest" | "webhook" | "webhook-reply";
  /** Who counts the replies at saturation: the client (reply_status, or the sending node's completion) or the server. */
  countedAt: "client" | "server";
  /** What the bench compares it with (paired ratios and targets). */
  floor?: Contender;
}

export const SPECS: Record<Contender, ContenderSpec> = {
  limit: { label: "raw ws client", transport: "socket", countedAt: "client" },
  ours: { label: "ours: pipes-in → pipes-reply", transport: "socket", countedAt: "client", floor: "floor" },
  // The core flow ignores reply_status: the server counts its replies.
  core: { label: "core websocket nodes", transport: "socket", countedAt: "server", floor: "floor" },
  floor: { label: "Node-RED floor (socket)", transport: "socket", countedAt: "client" },
  "ours-buttons": { label: "ours: buttons via pipes-send", transport: "rest", countedAt: "client", floor: "floor-post" },
  "ours-rest": { label: "ours: text via pipes-reply REST", transport: "rest", countedAt: "client", floor: "floor-post" },
  "floor-post": { label: "Node-RED floor (one POST)", transport: "rest", countedAt: "client" },
  "core-http": { label: "core http request node", transport: "rest", countedAt: "client", floor: "floor-post" },
  // Webhooks: the sender counts the 200s it gets back.
  "ours-webhook": { label: "ours: pipes-webhook-in", transport: "webhook", countedAt: "server", floor: "floor-webhook" },
  "floor-webhook": { label: "Node-RED floor (bare route)", transport: "webhook", countedAt: "server" },
  "core-webhook": { label: "core http in → http response", transport: "webhook", countedAt: "server", floor: "floor-webhook" },
  // Webhook in, reply by REST: the sending node's completion counts, as for the REST replies.
  "ours-webhook-reply": {
    label: "ours: webhook-in → pipes-reply REST",
    transport: "webhook-reply",
    countedAt: "client",
    floor: "floor-webhook-reply",
  },
  "floor-webhook-reply": { label: "Node-RED floor (route → POST)", transport: "webhook-reply", countedAt: "client" },
  "core-webhook-reply": {
    label: "core http in → http request",
    transport: "webhook-reply",
    countedAt: "client",
    floor: "floor-webhook-reply",
  },
};

/** Where each webhook contender listens, under Node-RED's httpNodeRoot "/". */
export const WEBHOOK_PATHS: Partial<Record<Contender, string>> = {
  "ours-webhook": "/pipes/webhook",
  "floor-webhook": "/floor/webhook",
  "core-webhook": "/core/webhook",
  "ours-webhook-reply": "/pipes/webhook-reply",
  "floor-webhook-reply": "/floor/webhook-reply",
  "core-webhook-reply": "/core/webhook-reply",
};
export const WEBHOOK_SECRET = "bench-webhook-secret";

/** The client's GC during a phase, per 1,000 messages: scavenges (minor) and their mean pause, mark-compacts, total pause. */
export interface GcPer1000 {
  minorPer1000: number;
  minorMeanMs: number;
  majorPer1000: number;
  pauseMsPer1000: number;
}

export interface Saturation {
  messages: number;
  seconds: number;
  perSecond: number;
  /** CPU used over the run, in % of one core. */
  serverCpuPct: number;
  clientCpuPct: number;
  /** Client CPU time per message (user + system, all threads): steadier than msg/s when the machine is shared. */
  clientCpuUsPerMessage: number;
  /** CPU used by every other process on the machine during the run, in % of one core (Linux /proc/stat). */
  otherCpuPct?: number;
  countedAt: "client" | "server";
  gc?: GcPer1000;
}

export interface Latency {
  rate: number;
  /** Client CPU time per message at this rate (user + system, all threads). */
  clientCpuUsPerMessage: number;
  /** As for Saturation, over the measured part of this run. */
  otherCpuPct?: number;
  gc?: GcPer1000;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** One contender, one round: a fresh process. */
export interface RunResult {
  kind: Contender;
  round: number;
  pid?: number;
  throughput: Saturation;
  /** Socket contenders: latency at a low rate (BENCH_RATE). */
  latency?: Latency;
  /** A steady moderate rate (BENCH_COST_RATE, or BENCH_REST_RATE for REST): CPU per message and latency there. */
  cost: Latency;
  memory: { before: MemorySample; after: MemorySample; afterGc: MemorySample; heapGrowthPct: number; rssGrowthPct: number };
}

export interface DrainResult {
  label: string;
  kind: Contender;
  round: number;
  messages: number;
  /** Time the emulator took to queue them (setup, not measured against anything). */
  queueSeconds: number;
  /** From the socket opening until every message was through the bot's first node (pipes-in for ours). */
  receivedSeconds: number;
  receivedPerSecond: number;
  /** From the socket opening until every message had a reply outcome (a reply at the server, or a failure). */
  outcomesSeconds: number;
  repliesOk: number;
  repliesFailed: number;
  failures: Record<string, number>;
  /** Client heap: connected and idle before the messages were queued (after GC), and after the drain (after GC). */
  heapStart: number;
  heapAfterGc: number;
  heapGrowthPct: number;
}

export interface IdleResult {
  kind: Contender;
  conversations: number;
  seconds: number;
  repliesFailed: number;
  /** Client heap after the warm-up (GC), right after the last reply, and after GC. */
  heapStart: number;
  heapAfter: number;
  heapAfterGc: number;
  heapGrowthPct: number;
  rssStart: number;
  rssAfterGc: number;
}

export interface MediaResult {
  label: string;
  mode: "ours" | "naive";
  ok: boolean;
  error?: string;
  bytes: number;
  ms: number;
  rssBefore: number;
  peakRss: number;
  /** (peak RSS - RSS before the file existed) / file size: 1.0 is the file itself. */
  peakOverFile: number;
  samples: number;
  peakFrom: "sampler" | "maxRSS";
}

export interface Capacity {
  messages: number;
  perSecond: number;
  serverCpuPct: number;
  clientCpuPct: number;
}

/** One table row over the rounds: per contender the spread, per compared pair the paired ratios. */
export interface Row {
  name: string;
  unit: string;
  better?: "higher" | "lower";
  values: Partial<Record<Contender, Spread>>;
  ratios: { a: Contender; b: Contender; spread: Spread }[];
}

export interface Target {
  name: string;
  /** The paired median (or the measured figure) against the threshold. */
  value: number;
  spread?: Spread;
  threshold: string;
  met: boolean | undefined;
  /** "met" / "missed", and whether the range of paired runs straddles the threshold. */
  verdict: string;
}
