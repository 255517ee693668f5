/**
 * `npm run bench`: our nodes against Node-RED's own per-message cost, run several times, interleaved.
 *
 * Contenders (bench/results.ts), each a client in its own process (bench/child.ts):
 *
 *   socket echo  limit (a raw `ws` client), ours (pipes-in -> function -> pipes-reply), core
 *                (Node-RED's websocket nodes by hand), floor (do-nothing socket nodes: Node-RED's own cost)
 *   REST reply   ours-buttons (pipes-send, a buttons message via POST /v1/messages/passthrough),
 *                ours-rest (pipes-reply, text via POST /v1/messages/send), floor-post (do-nothing
 *                nodes, one bare undici POST of the same buttons body), core-http (http request node)
 *   webhook in   ours-webhook (pipes-webhook-in), floor-webhook (a bare route), core-webhook (http in
 *                -> http response): a signed POST per message, answered 200, no reply
 *   webhook in, REST reply   ours-webhook-reply (pipes-webhook-in -> pipes-reply REST),
 *                floor-webhook-reply (the bare route -> the bare POST), core-webhook-reply (http in
 *                -> http request -> http response): the text reply POSTed to the lean server
 *
 * A round runs every contender once, each in a fresh process, interleaved (A B C D, then D C B A,
 * ...), so drift on a shared machine hits all of them alike; a row shows the median and the range
 * over the rounds, and a ratio is the median of the per-round ratios of two contenders of the same
 * round (paired runs, next to each other in the order).
 * Per run: warm-up, latency at 500/s (socket contenders), CPU per message and latency at 5,000/s
 * (REST: 1,000/s), then throughput at saturation (closed loop) with the heap around it; the paced
 * phases first, see runContender.
 *
 * Then: the burst drain (10,000 messages queued while a running client is kept out, at default
 * settings; heap before and after), the idle state (100,000 conversations that each send one
 * message, heap after GC), the emulator's own capacity, one 16 MiB media send.
 *
 * The server and this driver share this process; the echo comparison runs on LeanServer
 * (bench/servers.ts), the drain and media on the emulator. A full run prints a table and writes
 * bench/results.json, bench/results.md (the README's table) and bench/results.svg (the chart; also
 * docs/bench.svg when UPDATE_SCREENSHOTS=1). About 20 minutes on 2 cores.
 *
 * Quick mode for the edit loop (`npm run bench:quick`, BENCH_QUICK=1): 2 rounds of shorter runs,
 * about 4 minutes; it writes into .run/bench/ and leaves bench/ and docs/ alone.
 *
 * Knobs: BENCH_ROUNDS, BENCH_MESSAGES, BENCH_WARMUP, BENCH_WINDOW, BENCH_SENDERS, BENCH_RATE,
 * BENCH_LATENCY_MESSAGES, BENCH_COST_RATE, BENCH_COST_MESSAGES, BENCH_REST_MESSAGES,
 * BENCH_REST_WINDOW, BENCH_REST_RATE, BENCH_REST_RATE_MESSAGES, BENCH_DRAIN, BENCH_DRAIN_ROUNDS,
 * BENCH_IDLE, BENCH_MEDIA_MB; BENCH_SERVER=emulator runs the echo comparison on the emulator;
 * BENCH_ONLY=echo:ours,echo:floor,rest,webhook,webhook-reply,drain:ours,idle,capacity,media runs some parts (written into
 * .run/bench/); BENCH_SRC=<checkout> loads our nodes from another checkout (before/after figures);
 * BENCH_PROFILE=ours,floor adds one run per named contender, not counted, that CPU-profiles its
 * saturation and 5,000/s phases into .run/bench/ and prints where the time went
 * (bench/profile-summary.ts); BENCH_HEAP=1 adds a run with allocation profiles; BENCH_ROUNDS=0 with
 * BENCH_PROFILE and BENCH_ONLY runs the profile runs alone; BENCH_DUMP=1 writes the
 * latency series.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { renderChart } from "./chart";
import { Client, SCRATCH, settle, STALL_MS, waitFor } from "./clients";
import { wallNow, type ChildReport, type GcTally } from "./ipc";
import {
  printComparison,
  printHeapSummary,
  printProfileSummary,
  summarizeHeapProfile,
  summarizeProfile,
  type HeapSummary,
  type ProfileSummary,
} from "./profile-summary";
import { buildReport, markdown, printReport, type Config } from "./report";
import {
  CONTENDERS,
  SPECS,
  WEBHOOK_PATHS,
  WEBHOOK_SECRET,
  type Capacity,
  type GcPer1000,
  type Contender,
  type ContenderSpec,
  type DrainResult,
  type IdleResult,
  type Latency,
  type MediaResult,
  type RunResult,
  type Saturation,
} from "./results";
import { BENCH_KEY, EmulatorServer, LeanServer, TcpGate, WebhookSender, type BenchServer } from "./servers";
import { fmt, MB, round, summarize } from "./stats";

const QUICK = process.env.BENCH_QUICK === "1" || process.argv.includes("--quick");
const env = (name: string, full: number, quick = full) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : QUICK ? quick : full;
};
const CONFIG: Config = {
  quick: QUICK,
  /** Runs of every contender, interleaved. */
  rounds: process.env.BENCH_ROUNDS === "0" ? 0 : env("BENCH_ROUNDS", 5, 2),
  /** Messages of the saturation run (also the memory run) of a socket contender. */
  messages: env("BENCH_MESSAGES", 100_000, 20_000),
  warmup: env("BENCH_WARMUP", 5_000, 3_000),
  /** Messages in flight at saturation, spread over `senders` conversations. */
  window: env("BENCH_WINDOW", 500),
  senders: env("BENCH_SENDERS", 1000),
  latencyRate: env("BENCH_RATE", 500),
  latencyMessages: env("BENCH_LATENCY_MESSAGES", 2_500, 1_000),
  costRate: env("BENCH_COST_RATE", 5_000),
  costMessages: env("BENCH_COST_MESSAGES", 20_000, 5_000),
  /** REST contenders: saturation run, requests in flight, and the steady rate. */
  restMessages: env("BENCH_REST_MESSAGES", 20_000, 5_000),
  restWindow: env("BENCH_REST_WINDOW", 100),
  restRate: env("BENCH_REST_RATE", 1_000),
  restRateMessages: env("BENCH_REST_RATE_MESSAGES", 5_000, 2_000),
  /** Not counted at the start of each fixed-rate run. */
  pacedWarmupMs: env("BENCH_PACED_WARMUP_MS", 1000, 500),
  capacityMessages: env("BENCH_CAPACITY_MESSAGES", 20_000, 5_000),
  drain: env("BENCH_DRAIN", 10_000),
  /** Senders of the drained messages: 100 x 100 fills the documented per-sender queue cap exactly. */
  drainSenders: env("BENCH_DRAIN_SENDERS", 100),
  drainRounds: env("BENCH_DRAIN_ROUNDS", 3, 1),
  /** Distinct conversations of the idle-state run, one message each. */
  idle: env("BENCH_IDLE", 100_000, 20_000),
  mediaBytes: Math.round(env("BENCH_MEDIA_MB", 16) * MB),
  server: process.env.BENCH_SERVER === "emulator" ? "emulator" : "lean",
  /** For a quick look at some parts: e.g. BENCH_ONLY=echo:ours,echo:floor,drain:ours */
  only: (process.env.BENCH_ONLY ?? "").split(",").filter(Boolean),
  profile: (process.env.BENCH_PROFILE ?? "").split(",").filter((k): k is Contender => (CONTENDERS as readonly string[]).includes(k)),
};
/** "echo" selects every echo:*, "echo:ours" that one only. */
const wanted = (part: string) => CONFIG.only.length === 0 || CONFIG.only.some((p) => part === p || part.startsWith(`${p}:`));
const partOf = (kind: Contender) => `${SPECS[kind].transport === "socket" ? "echo" : SPECS[kind].transport}:${kind}`;

/** Senders of the idle-state run start here (the others use 0..senders-1). */
const IDLE_SENDER_BASE = 100_000;

// ---------------------------------------------------------------------------------------------
// Client processes
// ---------------------------------------------------------------------------------------------

function clientArgs(kind: Contender | "media", endpoint: { baseUrl: string; wsUrl: string }): string[] {
  if (kind === "limit") return ["raw", endpoint.wsUrl];
  return ["nodered", kind, endpoint.baseUrl, endpoint.wsUrl, BENCH_KEY];
}

/** Starts a client and waits until the server sees its socket. */
async function startClient(kind: Contender, server: BenchServer, profiling = false): Promise<Client> {
  if (server instanceof WebhookSender) {
    // A webhook client opens no socket: it listens; the sender POSTs to it. Its pipes-config points
    // at the lean server, where its REST replies go (a webhook-reply contender's).
    const client = await Client.start(SPECS[kind].label, clientArgs(kind, servers.lean), profiling);
    server.target(`http://127.0.0.1:${client.port}${WEBHOOK_PATHS[kind]}`);
    return client;
  }
  const connected = waitFor(() => server.connections() >= 1, 30_000, `${SPECS[kind].label} to connect`);
  const client = await Client.start(SPECS[kind].label, clientArgs(kind, server), profiling);
  try {
    await connected;
  } catch (err) {
    // A client that never connects (a node that failed to start) must not outlive the run: its
    // IPC channel would keep this driver, and it, alive after the error.
    await client.stop();
    throw err;
  }
  return client;
}

/**
 * The lean (or emulator) server for socket and REST contenders, the webhook sender for webhook ones,
 * and for webhook-reply ones a webhook sender whose replies arrive at the lean server (main sets it
 * up; not with BENCH_SERVER=emulator).
 */
const servers: { lean: BenchServer; webhook: WebhookSender; webhookReply?: WebhookSender } = {
  lean: undefined as unknown as BenchServer,
  webhook: new WebhookSender(WEBHOOK_SECRET),
};
const SOURCES: Record<ContenderSpec["transport"], () => BenchServer | undefined> = {
  socket: () => servers.lean,
  rest: () => servers.lean,
  webhook: () => servers.webhook,
  "webhook-reply": () => servers.webhookReply,
};
function sourceOf(kind: Contender): BenchServer {
  const source = SOURCES[SPECS[kind].transport]();
  if (!source) throw new Error(`${SPECS[kind].label} needs the lean server (not BENCH_SERVER=emulator)`);
  return source;
}

/** `promise`, or a rejection after `ms` (the timer cleared either way). */
async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

// ---------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------

let textSeq = 0;
const REPLY_PREFIX = "You said: ";

/** Busy CPU time of the whole machine so far (all cores), from /proc/stat; undefined off Linux. */
function machineBusyMs(): number | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    const hz = 100; // USER_HZ: 100 on every mainstream Linux
    return ((user + nice + system + irq + softirq + (steal || 0)) / hz) * 1000;
  } catch {
    return undefined;
  }
}

/** GC between two tallies, per 1,000 messages. */
function gcPer(a: GcTally, b: GcTally, messages: number): GcPer1000 {
  const per = 1000 / Math.max(1, messages);
  const minor = b.minor - a.minor;
  return {
    minorPer1000: minor * per,
    minorMeanMs: minor ? (b.minorMs - a.minorMs) / minor : 0,
    majorPer1000: (b.major - a.major) * per,
    pauseMsPer1000: (b.minorMs - a.minorMs + b.majorMs - a.majorMs) * per,
  };
}

/** CPU of every process but the driver and the client, in % of one core, between two readings. */
function otherCpuPct(
  machine0: number | undefined,
  machine1: number | undefined,
  serverCpuMs: number,
  clientCpuMs: number,
  seconds: number,
): number | undefined {
  if (machine0 === undefined || machine1 === undefined || seconds <= 0) return undefined;
  return (Math.max(0, machine1 - machine0 - serverCpuMs - clientCpuMs) / (seconds * 1000)) * 100;
}

interface SaturateOptions {
  window: number;
  /** The conversation of message i. */
  sender: (i: number) => number;
}

/**
 * Closed loop: `window` messages in flight; a new one goes out for each reply the server receives.
 * Done when the client counted `total` replies (reply_status, or the sending node's completion), or
 * for server-counted contenders (core, which ignores reply_status) when the server received them.
 */
async function saturate(
  server: BenchServer,
  client: Client,
  kind: Contender,
  total: number,
  options: SaturateOptions,
): Promise<Saturation & { failed: number }> {
  client.send({ cmd: "reset" });
  let injected = 0;
  let answered = 0;
  let scheduled = false;
  let lastProgress = Date.now();
  const pump = () => {
    scheduled = false;
    while (injected < total && injected - answered < options.window) {
      server.send(options.sender(injected), `m${textSeq++}`);
      injected++;
    }
  };
  let serverDone: (() => void) | undefined;
  const serverFinished = new Promise<void>((resolve) => (serverDone = resolve));
  server.hooks = {
    reply: () => {
      answered++;
      lastProgress = Date.now();
      if (answered >= total) serverDone?.();
      if (!scheduled) {
        scheduled = true;
        setImmediate(pump);
      }
    },
  };
  const countedAt = SPECS[kind].countedAt;
  const usage0 = await client.usage();
  const clientCpu0 = usage0.cpuMs;
  const serverCpu0 = process.cpuUsage();
  const machine0 = machineBusyMs();
  // The stall check below bounds the run; this time-out only backs it up.
  const reached = countedAt === "client" ? client.reached("outcomes", total, 10 * 60_000) : undefined;
  const done = reached ? reached.then((r) => r.at) : serverFinished.then(() => wallNow());
  const started = wallNow();
  pump();
  let stall: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    stall = setInterval(() => {
      if (Date.now() - lastProgress > STALL_MS) {
        const refused =
          server instanceof WebhookSender && server.refused.size
            ? `; POSTs refused ${JSON.stringify([...server.refused])} ${server.lastError ?? ""}`
            : "";
        reject(new Error(`${SPECS[kind].label}: no reply for ${STALL_MS / 1000} s (${answered} of ${total})${refused}`));
      }
    }, 1000);
  });
  let finished: number;
  try {
    finished = await Promise.race([done, stalled]);
  } finally {
    clearInterval(stall);
  }
  const seconds = (finished - started) / 1000;
  const serverCpu = process.cpuUsage(serverCpu0);
  const machine1 = machineBusyMs();
  const usage1 = await client.usage();
  const clientCpu = usage1.cpuMs - clientCpu0;
  const serverCpuMs = (serverCpu.user + serverCpu.system) / 1000;
  const failed = reached ? ((await reached).counters.failed ?? 0) : 0;
  // The server has seen every reply by now (it answers before the client can count it), unless some failed.
  if (failed === 0) await within(serverFinished, STALL_MS, () => `${SPECS[kind].label}: the server saw ${answered} of ${total} replies`);
  server.hooks = {};
  if (failed) console.error(`[${kind}] ${failed} of ${total} replies failed: ${JSON.stringify((await reached!).failures)}`);
  return {
    messages: total,
    seconds,
    perSecond: total / seconds,
    serverCpuPct: (serverCpuMs / (seconds * 1000)) * 100,
    clientCpuPct: (clientCpu / (seconds * 1000)) * 100,
    clientCpuUsPerMessage: (clientCpu * 1000) / total,
    otherCpuPct: otherCpuPct(machine0, machine1, serverCpuMs, clientCpu, seconds),
    countedAt,
    gc: gcPer(usage0.gc, usage1.gc, total),
    failed,
  };
}

/**
 * Open loop at a fixed rate: from the server handing a message to its socket to the server receiving
 * its reply (a whatsapp_reply, or the REST request). The first part at the rate is a warm-up and not
 * counted (the client has just come out of the saturation run: its GC is still shrinking the heap).
 */
async function paced(server: BenchServer, client: Client, kind: Contender, rate: number, count: number): Promise<Latency> {
  const warmup = Math.round(rate * (CONFIG.pacedWarmupMs / 1000));
  const total = warmup + count;
  const sentAt = new Map<string, { at: number; counted: boolean }>();
  const samples: number[] = [];
  const order: [number, number][] = [];
  let finish: (() => void) | undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let cpu0: Promise<{ cpuMs: number; gc: GcTally }> | undefined;
  let machine0: number | undefined;
  let serverCpu0: NodeJS.CpuUsage | undefined;
  let measuredFrom = 0;
  let answered = 0;
  let sent = 0;
  const started = performance.now();
  server.hooks = {
    // Called from server.send below, before `sent` counts this message: `sent` is its index.
    delivered: (text, at) => sentAt.set(text, { at, counted: sent >= warmup }),
    reply: (text, at) => {
      const key = text.slice(REPLY_PREFIX.length);
      const sentInfo = sentAt.get(key);
      if (sentInfo === undefined) return;
      sentAt.delete(key);
      answered++;
      if (sentInfo.counted) {
        samples.push(at - sentInfo.at);
        order.push([round(sentInfo.at - started, 1), round(at - sentInfo.at, 3)]);
      }
      if (answered >= total) finish?.();
    },
  };
  const ticker = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    if (!cpu0 && due > warmup) {
      // CPU is counted from the first measured message on.
      cpu0 = client.usage();
      machine0 = machineBusyMs();
      serverCpu0 = process.cpuUsage();
      measuredFrom = performance.now();
    }
    while (sent < due) {
      server.send(sent % CONFIG.senders, `m${textSeq++}`);
      sent++;
    }
    if (sent >= total) clearInterval(ticker);
  }, 1);
  const limit = setTimeout(() => finish?.(), (total / rate) * 1000 + STALL_MS);
  await finished;
  clearTimeout(limit);
  clearInterval(ticker);
  server.hooks = {};
  const seconds = (performance.now() - measuredFrom) / 1000;
  const machine1 = machineBusyMs();
  const serverCpu = process.cpuUsage(serverCpu0);
  if (samples.length < count) console.error(`[${kind}] latency: only ${samples.length} of ${count} replies`);
  if (process.env.BENCH_DUMP) {
    mkdirSync(SCRATCH, { recursive: true });
    writeFileSync(join(SCRATCH, `latency-${kind}-${rate}.json`), JSON.stringify(order));
  }
  const usage1 = await client.usage();
  const usage0 = (await cpu0) ?? usage1;
  const cpuMs = usage1.cpuMs - usage0.cpuMs;
  const other = otherCpuPct(machine0, machine1, (serverCpu.user + serverCpu.system) / 1000, cpuMs, seconds);
  return {
    rate,
    clientCpuUsPerMessage: (cpuMs * 1000) / samples.length,
    otherCpuPct: other,
    gc: gcPer(usage0.gc, usage1.gc, samples.length),
    ...summarize(samples),
  };
}

/**
 * One contender, one fresh process: warm-up, saturation (heap before and after), latency at the low
 * rate (socket contenders), CPU and latency at the steady rate. `profile`: CPU-profile (or, "heap",
 * allocation-profile) the saturation and steady-rate phases (a run apart, not counted: a profiler
 * slows the client).
 */
async function runContender(
  server: BenchServer,
  kind: Contender,
  roundNo: number,
  profile?: "cpu" | "heap",
): Promise<RunResult & { profiles?: string[] }> {
  // REST and webhook contenders: their own run lengths and rate; no low-rate latency run.
  const rest = SPECS[kind].transport !== "socket";
  const client = await startClient(kind, server, profile !== undefined);
  const senders = { window: rest ? CONFIG.restWindow : CONFIG.window, sender: (i: number) => i % CONFIG.senders };
  const profiles: string[] = [];
  try {
    await saturate(server, client, kind, Math.min(CONFIG.warmup, rest ? CONFIG.restMessages : CONFIG.messages), senders);
    await settle();
    // The paced phases (latency, CPU at a steady rate) come before the long saturation run: after
    // 100,000 messages at full speed V8 sometimes decides to allocate Node-RED's and our per-message
    // objects straight in the old generation, and from then on every young GC is ~3x as long, for
    // the floor too (1 run in 3) as for ours (1 in 2): the p99 then measured that coin toss, not
    // the nodes (docs/performance.md).
    const latency = rest ? undefined : await paced(server, client, kind, CONFIG.latencyRate, CONFIG.latencyMessages);
    if (profile) await client.profile(true, undefined, profile);
    const cost = rest
      ? await paced(server, client, kind, CONFIG.restRate, CONFIG.restRateMessages)
      : await paced(server, client, kind, CONFIG.costRate, CONFIG.costMessages);
    const steadyProfile = profile ? await client.profile(false, `${kind}-at-${cost.rate}`, profile) : undefined;
    await settle();
    const before = await client.memory(true);
    const total = rest ? CONFIG.restMessages : CONFIG.messages;
    if (profile) await client.profile(true, undefined, profile);
    const throughput = await saturate(server, client, kind, total, senders);
    if (profile) profiles.push((await client.profile(false, `${kind}-saturation`, profile))!, steadyProfile!);
    await settle();
    const after = await client.memory(false);
    const afterGc = await client.memory(true);
    log(
      `round ${roundNo + 1} ${SPECS[kind].label}: ${fmt(throughput.perSecond, 0)} msg/s, ${fmt(throughput.clientCpuUsPerMessage, 1)} µs/msg; at ${cost.rate}/s p99 ${fmt(cost.p99, 2)} ms, ${fmt(cost.clientCpuUsPerMessage, 1)} µs/msg; others ${fmt(throughput.otherCpuPct, 0)}% core`,
    );
    return {
      kind,
      round: roundNo,
      pid: client.pid,
      throughput,
      latency,
      cost,
      memory: {
        before,
        after,
        afterGc,
        heapGrowthPct: ((afterGc.heapUsed - before.heapUsed) / before.heapUsed) * 100,
        rssGrowthPct: ((afterGc.rss - before.rss) / before.rss) * 100,
      },
      ...(profile ? { profiles } : {}),
    };
  } finally {
    await client.stop();
    if (server instanceof WebhookSender) server.target(undefined);
    await waitFor(() => server.connections() === 0, 10_000, "the socket to close");
  }
}

/**
 * The burst drain at default settings: a client connects (through a TcpGate) and idles; its heap is
 * taken (after GC); the gate shuts it out; `drain` messages queue in the emulator; the gate opens,
 * the client reconnects and the emulator drains them all at once (pacing 0). Times from the socket
 * opening; the heap again after GC.
 */
async function drain(emu: EmulatorServer, kind: Contender, roundNo: number): Promise<DrainResult> {
  const total = CONFIG.drain;
  const label = SPECS[kind].label;
  emu.emulator.reset();
  // 100 senders x 100 by default: the documented per-sender queue cap, so nothing is dropped.
  const senders = Math.min(CONFIG.drainSenders, total);
  emu.emulator.configure({ drainPacingMs: 0, queuePerSender: Math.max(100, Math.ceil(total / senders)) });
  const url = new URL(emu.baseUrl);
  const gate = new TcpGate({ host: url.hostname, port: Number(url.port) });
  await gate.start();
  const connected = waitFor(() => emu.connections() >= 1, 30_000, `${label} to connect`);
  const client = await Client.start(label, clientArgs(kind, gate));
  try {
    await connected;
    await settle(500);
    const start = await client.memory(true);
    gate.shut();
    await waitFor(() => emu.connections() === 0, 10_000, "the gate to cut the socket");
    const queueStarted = performance.now();
    for (let i = 0; i < total; i++) emu.send(i % senders, `d${i}`);
    const queueSeconds = (performance.now() - queueStarted) / 1000;
    const queued = emu.emulator.queueSize(BENCH_KEY);
    if (queued !== total) throw new Error(`drain: ${queued} of ${total} messages queued`);

    let openedAt = 0;
    let replies = 0;
    let serverDone: ((at: number) => void) | undefined;
    const allAtServer = new Promise<number>((resolve) => (serverDone = resolve));
    emu.hooks = {
      connection: () => {
        openedAt = wallNow();
      },
      reply: () => {
        if (++replies === total) serverDone?.(wallNow());
      },
    };
    client.send({ cmd: "reset" });
    gate.reopen();
    // The client's own backoff decides when it comes back (a few seconds at most); times start then.
    const limitMs = 90_000;
    const received = await client.reached("received", total, limitMs);
    // ours, floor and limit see every outcome (reply_status or a failure); core ignores reply_status,
    // so its outcomes are the replies the server got.
    const outcomes: Pick<Extract<ChildReport, { type: "reached" }>, "at" | "failures"> & { failed: number } =
      SPECS[kind].countedAt === "server"
        ? { at: await allAtServer, failures: {}, failed: 0 }
        : await client.reached("outcomes", total, limitMs).then((r) => ({ ...r, failed: r.counters.failed }));
    await settle(300);
    const afterGc = await client.memory(true);
    const result: DrainResult = {
      label,
      kind,
      round: roundNo,
      messages: total,
      queueSeconds,
      receivedSeconds: (received.at - openedAt) / 1000,
      receivedPerSecond: total / ((received.at - openedAt) / 1000),
      outcomesSeconds: (outcomes.at - openedAt) / 1000,
      repliesOk: replies,
      repliesFailed: outcomes.failed,
      failures: outcomes.failures,
      heapStart: start.heapUsed,
      heapAfterGc: afterGc.heapUsed,
      heapGrowthPct: ((afterGc.heapUsed - start.heapUsed) / start.heapUsed) * 100,
    };
    log(
      `drain ${roundNo + 1} ${label}: ${fmt(result.outcomesSeconds, 2)} s, ${result.repliesOk} ok, ${result.repliesFailed} failed ${result.repliesFailed ? JSON.stringify(result.failures) : ""}; heap ${fmt(result.heapGrowthPct, 1)}%`,
    );
    return result;
  } finally {
    emu.hooks = {};
    await client.stop();
    await gate.stop();
    await waitFor(() => emu.connections() === 0, 10_000, "the socket to close");
  }
}

/**
 * The idle state: after the usual warm-up (heap taken after GC), `idle` distinct conversations send
 * one message each (closed loop, `window` in flight) and go quiet; a second later, the heap after GC.
 * Whatever a node keeps per conversation and does not forget shows here.
 */
async function idleState(server: LeanServer, kind: Contender): Promise<IdleResult> {
  const client = await startClient(kind, server);
  try {
    await saturate(server, client, kind, CONFIG.warmup, { window: CONFIG.window, sender: (i) => i % CONFIG.senders });
    await settle();
    const start = await client.memory(true);
    const run = await saturate(server, client, kind, CONFIG.idle, { window: CONFIG.window, sender: (i) => IDLE_SENDER_BASE + i });
    const after = await client.memory(false);
    await settle(1000);
    const afterGc = await client.memory(true);
    const result: IdleResult = {
      kind,
      conversations: CONFIG.idle,
      seconds: run.seconds,
      repliesFailed: run.failed,
      heapStart: start.heapUsed,
      heapAfter: after.heapUsed,
      heapAfterGc: afterGc.heapUsed,
      heapGrowthPct: ((afterGc.heapUsed - start.heapUsed) / start.heapUsed) * 100,
      rssStart: start.rss,
      rssAfterGc: afterGc.rss,
    };
    log(
      `idle ${SPECS[kind].label}: ${CONFIG.idle} conversations in ${fmt(run.seconds, 1)} s; heap ${fmt(start.heapUsed / MB, 1)} -> ${fmt(afterGc.heapUsed / MB, 1)} MB after GC (${fmt(result.heapGrowthPct, 1)}%)`,
    );
    return result;
  } finally {
    await client.stop();
    await waitFor(() => server.connections() === 0, 10_000, "the socket to close");
    server.forgetConversations();
  }
}

async function media(emu: EmulatorServer, mode: "ours" | "naive"): Promise<MediaResult> {
  const label = mode === "ours" ? "ours (pipes-send-media)" : "reference (fetch + JSON.stringify)";
  // A conversation to send into (the message itself waits in the offline queue: nobody listens).
  const conversationId = emu.emulator.inject({ fromNumber: "+15550007777", text: "send me a file" }).conversationId;
  const args = mode === "ours" ? clientArgs("media", emu) : ["naive-media", emu.baseUrl, BENCH_KEY];
  const client = await Client.start(label, args);
  try {
    await settle(500);
    const answer = client.next<Extract<ChildReport, { type: "media" }>>((r) => r.type === "media", 120_000);
    client.send({ cmd: "send-media", bytes: CONFIG.mediaBytes, conversationId });
    const r = await answer;
    // maxRSS is the process's high-water mark: it tells us about this send only if it rose during it.
    const fromMax = r.maxRssAfter > r.maxRssBefore ? r.maxRssAfter : 0;
    const peakRss = Math.max(r.peakRssSampled, fromMax);
    return {
      label,
      mode,
      ok: r.ok,
      error: r.error,
      bytes: r.bytes,
      ms: r.ms,
      rssBefore: r.rssBefore,
      peakRss,
      peakOverFile: (peakRss - r.rssBefore) / r.bytes,
      samples: r.samples,
      peakFrom: fromMax > r.peakRssSampled ? "maxRSS" : "sampler",
    };
  } finally {
    await client.stop();
  }
}

/** How many echoes per second the emulator itself can serve (raw client, saturation): why the echo comparison uses LeanServer. */
async function emulatorCapacity(emu: EmulatorServer): Promise<Capacity> {
  emu.emulator.reset();
  const client = await startClient("limit", emu);
  const senders = { window: CONFIG.window, sender: (i: number) => i % CONFIG.senders };
  try {
    await saturate(emu, client, "limit", Math.min(CONFIG.warmup, 5000), senders);
    const run = await saturate(emu, client, "limit", CONFIG.capacityMessages, senders);
    return { messages: run.messages, perSecond: run.perSecond, serverCpuPct: run.serverCpuPct, clientCpuPct: run.clientCpuPct };
  } finally {
    await client.stop();
    await waitFor(() => emu.connections() === 0, 10_000, "the socket to close");
    emu.emulator.reset();
  }
}

/**
 * Our nodes as they ship: compiled by tsc (tsconfig.build.json) like `npm run build`, into
 * .run/bench/nodes-js/, with source maps so that profiles name src/ lines (bench/child.ts,
 * toSourceLine). The clients load that, not src/ through tsx: tsx's transform adds a name-keeping
 * wrapper around every function it creates and a getter behind every import, which cost our hot
 * path about half a microsecond per message that a user of the package never pays. A BENCH_SRC
 * checkout is compiled the same way and resolves its
 * dependencies from here (.run/bench/ is inside this checkout): same ws, undici and Node-RED.
 */
function compileNodes(dir: string): string {
  const root = join(__dirname, "..");
  const out = join(SCRATCH, "nodes-js");
  // Fresh each run: a file left by an earlier checkout must not be loaded as one of this one's.
  rmSync(out, { recursive: true, force: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.build.json"), "--outDir", out, "--declaration", "false", "--sourceMap"], {
    stdio: "inherit",
  });
  // The nodes read their strings from locales/ beside them (tsc copies no .json).
  cpSync(join(dir, "src", "nodes", "locales"), join(out, "nodes", "locales"), { recursive: true });
  return out;
}

/** Which code was measured: the commit of the checkout the nodes load from, and its uncommitted src/ files. */
function sourceState(): { dir: string; commit?: string; uncommitted?: string[] } {
  const dir = resolve(process.env.BENCH_SRC ?? join(__dirname, ".."));
  try {
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const uncommitted = git("status", "--porcelain", "--", "src").split("\n").filter(Boolean);
    return { dir, commit: git("rev-parse", "--short", "HEAD"), uncommitted };
  } catch {
    return { dir };
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const source = sourceState();
  // The clients (forked, same environment) load our compiled nodes from here.
  process.env.BENCH_NODES_JS = compileNodes(source.dir);
  const machine0 = machineBusyMs();
  const load = { before: loadavg(), after: [] as number[] };
  log(`${QUICK ? "quick mode; " : ""}config ${JSON.stringify(CONFIG)}`);
  const server: BenchServer = CONFIG.server === "emulator" ? new EmulatorServer() : new LeanServer();
  const emu = server instanceof EmulatorServer ? server : new EmulatorServer();
  await server.start();
  if (emu !== server) await emu.start();
  servers.lean = server;
  if (server instanceof LeanServer) servers.webhookReply = new WebhookSender(WEBHOOK_SECRET, server);
  try {
    const runs: RunResult[] = [];
    const failedRuns: { kind: Contender; round: number; error: string }[] = [];
    const kinds = CONTENDERS.filter((kind) => wanted(partOf(kind)));
    for (let r = 0; r < CONFIG.rounds; r++) {
      for (const kind of r % 2 ? [...kinds].reverse() : kinds) {
        if (server === emu) emu.emulator.reset(); // the emulator's sent log would otherwise hold every reply
        try {
          runs.push(await runContender(sourceOf(kind), kind, r));
        } catch (err) {
          // One run that stalls or fails is reported; the other runs still count (its pair in this round has no ratio).
          const message = err instanceof Error ? err.message : String(err);
          log(`round ${r + 1} ${SPECS[kind].label} FAILED: ${message}`);
          failedRuns.push({ kind, round: r, error: message });
        }
      }
    }
    const profiles: ProfileSummary[] = [];
    const allocations: HeapSummary[] = [];
    for (const kind of CONFIG.profile) {
      // One run with a CPU profile; with BENCH_HEAP=1 one more with an allocation profile.
      for (const what of process.env.BENCH_HEAP === "1" ? (["cpu", "heap"] as const) : (["cpu"] as const)) {
        log(`${what} profile run (not counted): ${SPECS[kind].label}`);
        const run = await runContender(sourceOf(kind), kind, CONFIG.rounds, what);
        const [saturation, steady] = run.profiles ?? [];
        const phases = [
          { file: saturation, phase: "saturation", messages: run.throughput.messages },
          // The steady-rate profile also holds its warm-up messages.
          {
            file: steady,
            phase: `at ${run.cost.rate}/s`,
            messages: run.cost.count + Math.round(run.cost.rate * (CONFIG.pacedWarmupMs / 1000)),
          },
        ];
        for (const { file, phase, messages } of phases) {
          if (!file) continue;
          if (what === "cpu") {
            const summary = summarizeProfile(file, 15, { kind, phase, messages });
            printProfileSummary(summary);
            profiles.push(summary);
          } else {
            const heap = summarizeHeapProfile(file, 15, { kind, phase, messages });
            printHeapSummary(heap);
            allocations.push(heap);
          }
        }
      }
    }
    for (const [a, b] of [
      ["ours", "floor"],
      ["ours-buttons", "floor-post"],
      ["ours-rest", "floor-post"],
      ["ours-webhook", "floor-webhook"],
      ["ours-webhook-reply", "floor-webhook-reply"],
    ] as const) {
      for (const phase of new Set(profiles.map((p) => p.phase))) {
        const pa = profiles.find((p) => p.kind === a && p.phase === phase);
        const pb = profiles.find((p) => p.kind === b && p.phase === phase);
        if (pa && pb) printComparison(pa, pb);
      }
    }
    const drains: DrainResult[] = [];
    const drainKinds = (["ours", "floor", "core", "limit"] as const).filter((kind) => wanted(`drain:${kind}`));
    for (let r = 0; r < CONFIG.drainRounds; r++) {
      for (const kind of drainKinds) drains.push(await drain(emu, kind, r));
    }
    emu.emulator.reset();
    const idle: IdleResult[] = [];
    if (server instanceof LeanServer) {
      for (const kind of ["ours", "floor"] as const) if (wanted(`idle:${kind}`)) idle.push(await idleState(server, kind));
    }
    let capacity: Capacity | undefined;
    if (emu !== server && wanted("capacity")) {
      log(`emulator capacity: raw client, ${CONFIG.capacityMessages} messages`);
      capacity = await emulatorCapacity(emu);
    }
    const medias: MediaResult[] = [];
    for (const mode of ["ours", "naive"] as const) {
      if (!wanted(`media:${mode}`)) continue;
      log(`media: ${CONFIG.mediaBytes / MB} MB -> ${mode}`);
      medias.push(await media(emu, mode));
    }
    load.after = loadavg();
    const seconds = (performance.now() - started) / 1000;
    const machine1 = machineBusyMs();
    const machineBusyPct = machine0 !== undefined && machine1 !== undefined ? ((machine1 - machine0) / (seconds * 1000)) * 100 : undefined;
    const report = buildReport({
      config: CONFIG,
      runs,
      drains,
      idle,
      medias,
      capacity,
      profiles,
      allocations,
      failedRuns,
      source,
      serverName: server.name,
      seconds,
      load,
      machineBusyPct,
    });
    // A full run writes bench/ (and docs/bench.svg when asked); quick and partial runs only .run/bench/.
    const full = !CONFIG.quick && CONFIG.only.length === 0;
    const dir = full ? __dirname : SCRATCH;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "results.json"), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(dir, "results.md"), markdown(report));
    const svg = renderChart(report);
    writeFileSync(join(dir, "results.svg"), svg);
    const docs = full && process.env.UPDATE_SCREENSHOTS ? join(__dirname, "..", "docs", "bench.svg") : undefined;
    if (docs) writeFileSync(docs, svg);
    printReport(report);
    console.log(
      `\n${fmt(seconds, 0)} s; written to ${dir}/results.{json,md,svg}${docs ? " and docs/bench.svg" : full ? " (docs/bench.svg: UPDATE_SCREENSHOTS=1)" : ""}`,
    );
  } finally {
    await server.stop();
    if (emu !== server) await emu.stop();
    await servers.webhook.stop();
    await servers.webhookReply?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
