/**
 * `npm run bench`: the echo bot three ways against one loopback server, in one run.
 *
 *   limit  a plain `ws` client that answers each whatsapp_message with a whatsapp_reply
 *   ours   pipes-in -> function "You said" -> pipes-reply, in a real Node-RED runtime
 *   core   websocket-in -> function (parse) -> function (build the reply JSON) -> websocket-out
 *   floor  diagnostic: the "ours" flow with do-nothing socket nodes, i.e. Node-RED's own cost
 *
 * The server and this driver share this process; each client runs in its own (bench/child.ts), so
 * the client under test has a core to itself on a 2-core machine. The echo comparison runs on
 * LeanServer (bench/servers.ts), because the emulator's own per-message bookkeeping caps it below
 * what our nodes do (measured in the same run: "emulator capacity"). Drain and media use the emulator.
 *
 * Per client: throughput at saturation, latency at 500/s and at 5,000/s, memory around 100k
 * messages. Then: draining 10,000 messages queued while offline, one 16 MiB media send. Prints a
 * table; writes bench/results.json (not committed). About three minutes on 2 cores.
 *
 * Knobs: BENCH_MESSAGES, BENCH_WARMUP, BENCH_WINDOW, BENCH_SENDERS, BENCH_RATE,
 * BENCH_LATENCY_MESSAGES, BENCH_COST_RATE, BENCH_COST_MESSAGES, BENCH_DRAIN, BENCH_MEDIA_MB;
 * BENCH_SERVER=emulator runs the echo comparison on the emulator; BENCH_ONLY=echo:ours,drain,...
 * runs some parts (results.json untouched); BENCH_SRC=<checkout> loads our nodes from another
 * checkout (before/after figures); BENCH_PROFILE=ours,core CPU-profiles the saturation run and
 * BENCH_DUMP=1 writes the latency series, both into .run/bench/.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { wallNow, type ChildReport, type Counter, type MemorySample, type ParentCommand } from "./ipc";
import { BENCH_KEY, EmulatorServer, LeanServer, type BenchServer } from "./servers";
import { fmt, MB, ratio, round, summarize, table } from "./stats";

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const CONFIG = {
  /** Messages of the memory run (also the throughput figure). */
  messages: env("BENCH_MESSAGES", 100_000),
  warmup: env("BENCH_WARMUP", 5_000),
  /** Messages in flight at saturation, spread over `senders` conversations. */
  window: env("BENCH_WINDOW", 500),
  senders: env("BENCH_SENDERS", 1000),
  latencyRate: env("BENCH_RATE", 500),
  latencyMessages: env("BENCH_LATENCY_MESSAGES", 5_000),
  costRate: env("BENCH_COST_RATE", 5_000),
  costMessages: env("BENCH_COST_MESSAGES", 20_000),
  /** Not counted at the start of each fixed-rate run. */
  pacedWarmupMs: env("BENCH_PACED_WARMUP_MS", 1000),
  capacityMessages: env("BENCH_CAPACITY_MESSAGES", 20_000),
  drain: env("BENCH_DRAIN", 10_000),
  /** Senders of the drained messages: 100 x 100 fills the documented per-sender queue cap exactly. */
  drainSenders: env("BENCH_DRAIN_SENDERS", 100),
  mediaBytes: Math.round(env("BENCH_MEDIA_MB", 16) * MB),
  server: process.env.BENCH_SERVER === "emulator" ? "emulator" : "lean",
  /** For a quick look at some parts: e.g. BENCH_ONLY=echo:limit,echo:ours,drain,media */
  only: (process.env.BENCH_ONLY ?? "").split(",").filter(Boolean),
};
const wanted = (part: string) => CONFIG.only.length === 0 || CONFIG.only.some((p) => part.startsWith(p));
const STALL_MS = 15_000;
/** CPU profiles (BENCH_PROFILE) and latency series (BENCH_DUMP) go here (.run/ is not committed). */
const SCRATCH = join(__dirname, "..", ".run", "bench");

type ClientKind = "limit" | "ours" | "core" | "floor";
const LABEL: Record<ClientKind, string> = { limit: "limit (raw ws)", ours: "ours (pipes nodes)", core: "core ws nodes", floor: "Node-RED floor" };

// ---------------------------------------------------------------------------------------------
// Client processes
// ---------------------------------------------------------------------------------------------

class Client {
  private readonly waiters: { match: (r: ChildReport) => boolean; resolve: (r: ChildReport) => void }[] = [];
  private exited = false;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (report: ChildReport) => {
      if (report.type === "error") console.error(`[${label}] ${report.message}`);
      const i = this.waiters.findIndex((w) => w.match(report));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(report);
    });
    child.on("exit", () => {
      this.exited = true;
    });
  }

  static async start(label: string, args: string[]): Promise<Client> {
    // BENCH_NODE_FLAGS: extra node flags for the clients (e.g. --trace-gc), for diagnosis.
    const extra = process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
    const child = fork(join(__dirname, "child.ts"), args, { execArgv: ["--expose-gc", "--import", "tsx", ...extra], stdio: "inherit" });
    const client = new Client(label, child);
    const exit = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`${label} exited early (code ${code})`))));
    exit.catch(() => undefined);
    await Promise.race([client.next((r) => r.type === "ready" || r.type === "error", 30_000), exit]).then((r) => {
      if (r.type === "error") throw new Error(`${label}: ${r.message}`);
    });
    return client;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(command: ParentCommand): void {
    this.child.send(command);
  }

  next<T extends ChildReport>(match: (r: ChildReport) => boolean, timeoutMs = STALL_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref(); // a wait abandoned after a failure must not keep the bench alive
      const waiter = {
        match,
        resolve: (r: ChildReport) => {
          clearTimeout(timer);
          resolve(r as T);
        },
      };
      this.waiters.push(waiter);
    });
  }

  async memory(gc: boolean): Promise<MemorySample> {
    const answer = this.next<Extract<ChildReport, { type: "mem" }>>((r) => r.type === "mem");
    this.send({ cmd: "mem", gc });
    return (await answer).mem;
  }

  async cpuMs(): Promise<number> {
    const answer = this.next<Extract<ChildReport, { type: "cpu" }>>((r) => r.type === "cpu");
    this.send({ cmd: "cpu" });
    const r = await answer;
    return r.userMs + r.systemMs;
  }

  async profile(on: boolean, name?: string): Promise<string | undefined> {
    const file = name ? join(SCRATCH, `${name}-${Date.now()}.cpuprofile`) : undefined;
    if (file) mkdirSync(dirname(file), { recursive: true });
    const answer = this.next((r) => r.type === "profiled", 60_000);
    this.send({ cmd: "profile", on, file });
    await answer;
    return file;
  }

  /** Resolves (with the child's wall-clock time and counters) when the counter reaches n. */
  reached(counter: Counter, n: number, timeoutMs: number): Promise<Extract<ChildReport, { type: "reached" }>> {
    const answer = this.next<Extract<ChildReport, { type: "reached" }>>((r) => r.type === "reached" && r.counter === counter, timeoutMs);
    this.send({ cmd: "notify", counter, n });
    return answer;
  }

  /** Asks the child to exit; kills it (by its own PID) if it has not within 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.send({ cmd: "exit" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

function clientArgs(kind: ClientKind, server: BenchServer): string[] {
  if (kind === "limit") return ["raw", server.wsUrl];
  return ["nodered", kind, server.baseUrl, server.wsUrl, BENCH_KEY];
}

/** Starts a client and waits until the server sees its socket. */
async function startClient(kind: ClientKind, server: BenchServer, expectedSockets = 1): Promise<Client> {
  const connected = waitFor(() => server.connections() >= expectedSockets, 30_000, `${LABEL[kind]} to connect`);
  const client = await Client.start(LABEL[kind], clientArgs(kind, server));
  await connected;
  return client;
}

/** Polls every 5 ms (bounded): used only for start-up conditions, never inside a measurement. */
async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------

let textSeq = 0;
const REPLY_PREFIX = "You said: ";

interface Saturation {
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
  countedAt: "client reply_status" | "server replies";
}

/**
 * Closed loop: `window` messages in flight over `senders` conversations; a new one goes out for each
 * reply the server receives. Done when the client has received `total` reply_status (limit, ours)
 * or the server `total` replies (core, which ignores reply_status).
 */
async function saturate(server: BenchServer, client: Client, kind: ClientKind, total: number): Promise<Saturation> {
  client.send({ cmd: "reset" });
  let injected = 0;
  let answered = 0;
  let scheduled = false;
  let lastProgress = Date.now();
  const pump = () => {
    scheduled = false;
    while (injected < total && injected - answered < CONFIG.window) {
      server.send(injected % CONFIG.senders, `m${textSeq++}`);
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
  const clientCpu0 = await client.cpuMs();
  const serverCpu0 = process.cpuUsage();
  const machine0 = machineBusyMs();
  // The stall check below bounds the run; this time-out only backs it up.
  const done = kind === "core" ? serverFinished.then(() => wallNow()) : client.reached("replied", total, 10 * 60_000).then((r) => r.at);
  const started = wallNow();
  pump();
  // Bounded: a run that stops making progress fails instead of hanging.
  let stall: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    stall = setInterval(() => {
      if (Date.now() - lastProgress > STALL_MS) reject(new Error(`${LABEL[kind]}: no reply for ${STALL_MS / 1000} s (${answered} of ${total})`));
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
  const clientCpu = (await client.cpuMs()) - clientCpu0;
  const serverCpuMs = (serverCpu.user + serverCpu.system) / 1000;
  await serverFinished;
  server.hooks = {};
  return {
    messages: total,
    seconds,
    perSecond: total / seconds,
    serverCpuPct: (serverCpuMs / (seconds * 1000)) * 100,
    clientCpuPct: (clientCpu / (seconds * 1000)) * 100,
    clientCpuUsPerMessage: (clientCpu * 1000) / total,
    otherCpuPct: machine0 !== undefined && machine1 !== undefined ? (Math.max(0, machine1 - machine0 - serverCpuMs - clientCpu) / (seconds * 1000)) * 100 : undefined,
    countedAt: kind === "core" ? "server replies" : "client reply_status",
  };
}

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

interface Latency {
  rate: number;
  /** Client CPU time per message at this rate (user + system, all threads). */
  clientCpuUsPerMessage: number;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Open loop at a fixed rate: server send -> server receives the reply, per message. */
/**
 * Open loop at a fixed rate: from the server handing a message to its socket to the server receiving
 * its reply. The first second at the rate is a warm-up and not counted (the client has just come out
 * of the saturation run: its GC is still shrinking the heap).
 */
async function paced(server: BenchServer, client: Client, kind: ClientKind, rate: number, count: number): Promise<Latency> {
  const warmup = Math.round(rate * (CONFIG.pacedWarmupMs / 1000));
  const total = warmup + count;
  const sentAt = new Map<string, { at: number; counted: boolean }>();
  const samples: number[] = [];
  const order: [number, number][] = [];
  let finish: (() => void) | undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let cpu0 = 0;
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
  let measuring = false;
  const ticker = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    if (!measuring && due > warmup) {
      // CPU is counted from the first measured message on.
      measuring = true;
      void client.cpuMs().then((ms) => (cpu0 = ms));
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
  if (samples.length < count) console.error(`[${kind}] latency: only ${samples.length} of ${count} replies`);
  if (process.env.BENCH_DUMP) {
    mkdirSync(SCRATCH, { recursive: true });
    writeFileSync(join(SCRATCH, `latency-${kind}-${rate}.json`), JSON.stringify(order));
  }
  const cpuMs = (await client.cpuMs()) - cpu0;
  return { rate, clientCpuUsPerMessage: (cpuMs * 1000) / samples.length, ...summarize(samples) };
}

interface EchoResult {
  kind: ClientKind;
  pid?: number;
  throughput: Saturation;
  latency: Latency;
  /** A steady moderate rate: CPU per message there does not depend on how the client batches at saturation. */
  cost: Latency;
  memory: { before: MemorySample; after: MemorySample; afterGc: MemorySample; heapGrowthPct: number; rssGrowthPct: number };
}

async function echoBot(server: BenchServer, kind: ClientKind): Promise<EchoResult> {
  const client = await startClient(kind, server);
  try {
    log(`${LABEL[kind]}: warm-up ${CONFIG.warmup} messages`);
    await saturate(server, client, kind, CONFIG.warmup);
    await settle();
    const before = await client.memory(true);
    log(`${LABEL[kind]}: ${CONFIG.messages} messages at saturation (window ${CONFIG.window}, ${CONFIG.senders} conversations)`);
    // BENCH_PROFILE=ours (or limit, core, floor): a CPU profile of this run in .run/bench/.
    const profiling = process.env.BENCH_PROFILE?.split(",").includes(kind);
    if (profiling) await client.profile(true);
    const throughput = await saturate(server, client, kind, CONFIG.messages);
    if (profiling) log(`profile: ${await client.profile(false, kind)}`);
    await settle();
    const after = await client.memory(false);
    const afterGc = await client.memory(true);
    log(`${LABEL[kind]}: ${fmt(throughput.perSecond, 0)} msg/s; latency at ${CONFIG.latencyRate}/s, ${CONFIG.latencyMessages} messages`);
    const latency = await paced(server, client, kind, CONFIG.latencyRate, CONFIG.latencyMessages);
    log(`${LABEL[kind]}: CPU per message at ${CONFIG.costRate}/s, ${CONFIG.costMessages} messages`);
    const cost = await paced(server, client, kind, CONFIG.costRate, CONFIG.costMessages);
    return {
      kind,
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
    };
  } finally {
    await client.stop();
    await waitFor(() => server.connections() === 0, 10_000, "the socket to close");
  }
}

function settle(ms = 300): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface DrainResult {
  label: string;
  kind: ClientKind;
  /** pipes-config settings changed from their defaults for this run. */
  config?: Record<string, unknown>;
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
}

/** `drain` messages queued while no socket is open, drained (pacing 0) when the client connects. */
async function drain(emu: EmulatorServer, kind: ClientKind, config?: Record<string, unknown>): Promise<DrainResult> {
  const total = CONFIG.drain;
  const label = `${LABEL[kind]}${config ? ` ${JSON.stringify(config)}` : ""}`;
  emu.emulator.reset();
  // 100 senders x 100 by default: the documented per-sender queue cap, so nothing is dropped.
  const senders = Math.min(CONFIG.drainSenders, total);
  emu.emulator.configure({ drainPacingMs: 0, queuePerSender: Math.max(100, Math.ceil(total / senders)) });
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
  const args = [...clientArgs(kind, emu), ...(config ? [JSON.stringify(config)] : [])];
  const client = await Client.start(label, args);
  try {
    const limitMs = 60_000;
    const received = await client.reached("received", total, limitMs);
    // ours and limit see every outcome (reply_status or a failure); core ignores reply_status, so its
    // outcomes are the replies the server got.
    const outcomes = kind === "core" ? { at: await allAtServer, failures: {}, counters: undefined } : await client.reached("outcomes", total, limitMs);
    await settle(100);
    const failed = outcomes.counters?.failed ?? 0;
    return {
      label,
      kind,
      config,
      messages: total,
      queueSeconds,
      receivedSeconds: (received.at - openedAt) / 1000,
      receivedPerSecond: total / ((received.at - openedAt) / 1000),
      outcomesSeconds: (outcomes.at - openedAt) / 1000,
      repliesOk: replies,
      repliesFailed: failed,
      failures: outcomes.failures,
    };
  } finally {
    emu.hooks = {};
    await client.stop();
    await waitFor(() => emu.connections() === 0, 10_000, "the socket to close");
  }
}

interface MediaResult {
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

async function media(emu: EmulatorServer, mode: "ours" | "naive"): Promise<MediaResult> {
  const label = mode === "ours" ? "ours (pipes-send-media)" : "reference (fetch + JSON.stringify)";
  // A conversation to send into (the message itself waits in the offline queue: nobody listens).
  const conversationId = emu.emulator.inject({ fromNumber: "+15550007777", text: "send me a file" }).conversationId;
  const args = mode === "ours" ? ["nodered", "media", emu.baseUrl, emu.wsUrl, BENCH_KEY] : ["naive-media", emu.baseUrl, BENCH_KEY];
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

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

interface Capacity {
  messages: number;
  perSecond: number;
  serverCpuPct: number;
  clientCpuPct: number;
}

/** How many echoes per second the emulator itself can serve (raw client, saturation): why the echo comparison uses LeanServer. */
async function emulatorCapacity(emu: EmulatorServer): Promise<Capacity> {
  emu.emulator.reset();
  const client = await startClient("limit", emu);
  try {
    await saturate(emu, client, "limit", Math.min(CONFIG.warmup, 5000));
    const run = await saturate(emu, client, "limit", CONFIG.capacityMessages);
    return { messages: run.messages, perSecond: run.perSecond, serverCpuPct: run.serverCpuPct, clientCpuPct: run.clientCpuPct };
  } finally {
    await client.stop();
    await waitFor(() => emu.connections() === 0, 10_000, "the socket to close");
    emu.emulator.reset();
  }
}

type Row = { name: string; unit: string; limit?: number; ours?: number; core?: number; floor?: number; oursOverLimit?: number; oursOverCore?: number; oursOverFloor?: number; note?: string };

function buildReport(echo: Partial<Record<ClientKind, EchoResult>>, drains: DrainResult[], medias: MediaResult[], capacity: Capacity | undefined, serverName: string, seconds: number, load: { before: number[]; after: number[] }) {
  /** higherIsBetter false: the ratio is inverted (limit/ours), so > 1 always means "ours is better". */
  const row = (name: string, unit: string, pick: (r: EchoResult) => number, digits = 2, ratios: "higher" | "lower" | "none" = "none"): Row => {
    const get = (k: ClientKind) => (echo[k] ? round(pick(echo[k]), digits) : undefined);
    const [l, o, c, f] = [get("limit"), get("ours"), get("core"), get("floor")];
    const r = (a?: number, b?: number) => round((ratios === "higher" ? ratio(a, b) : ratio(b, a)) ?? NaN, 3);
    return { name, unit, limit: l, ours: o, core: c, floor: f, ...(ratios === "none" ? {} : { oursOverLimit: r(o, l), oursOverCore: r(o, c), oursOverFloor: r(o, f) }) };
  };
  const rate = CONFIG.latencyRate;
  const rows: Row[] = [
    row("throughput at saturation", "msg/s", (r) => r.throughput.perSecond, 0, "higher"),
    row("  client CPU per message", "µs", (r) => r.throughput.clientCpuUsPerMessage, 1, "lower"),
    row("  client CPU", "% core", (r) => r.throughput.clientCpuPct, 0),
    row("  server CPU", "% core", (r) => r.throughput.serverCpuPct, 0),
    row("  other processes' CPU", "% core", (r) => r.throughput.otherCpuPct ?? NaN, 0),
    row(`latency p50 at ${rate}/s`, "ms", (r) => r.latency.p50, 3, "lower"),
    row(`latency p99 at ${rate}/s`, "ms", (r) => r.latency.p99, 3, "lower"),
    row(`latency max at ${rate}/s`, "ms", (r) => r.latency.max, 3),
    row(`client CPU per message at ${CONFIG.costRate}/s`, "µs", (r) => r.cost.clientCpuUsPerMessage, 1, "lower"),
    row(`latency p50 at ${CONFIG.costRate}/s`, "ms", (r) => r.cost.p50, 3, "lower"),
    row(`latency p99 at ${CONFIG.costRate}/s`, "ms", (r) => r.cost.p99, 3, "lower"),
    row("heap used before", "MB", (r) => r.memory.before.heapUsed / MB),
    row(`heap used after ${CONFIG.messages / 1000}k msgs`, "MB", (r) => r.memory.after.heapUsed / MB),
    row("heap used after GC", "MB", (r) => r.memory.afterGc.heapUsed / MB),
    row("  after GC vs before", "%", (r) => r.memory.heapGrowthPct, 1),
    row("RSS before", "MB", (r) => r.memory.before.rss / MB, 1),
    row(`RSS after ${CONFIG.messages / 1000}k msgs`, "MB", (r) => r.memory.after.rss / MB, 1),
    row("RSS after GC", "MB", (r) => r.memory.afterGc.rss / MB, 1),
  ];
  const ours = echo.ours;
  const limit = echo.limit;
  const core = echo.core;
  const addedP50 = ours && limit ? ours.latency.p50 - limit.latency.p50 : NaN;
  const addedP99 = ours && limit ? ours.latency.p99 - limit.latency.p99 : NaN;
  const oursMedia = medias.find((m) => m.mode === "ours");
  const met = (value: number, ok: boolean) => ({ value: round(value, 3), met: Number.isFinite(value) && ok });
  const throughputVsLimit = ratio(ours?.throughput.perSecond, limit?.throughput.perSecond) ?? NaN;
  const throughputVsCore = ratio(ours?.throughput.perSecond, core?.throughput.perSecond) ?? NaN;
  const targets = {
    "throughput >= 0.8x the raw client": met(throughputVsLimit, throughputVsLimit >= 0.8),
    "throughput above the core-nodes flow": met(throughputVsCore, throughputVsCore > 1),
    [`p99 added latency < 2 ms at ${rate}/s (ms)`]: met(addedP99, addedP99 < 2),
    "heap after GC within 10% of its start (%)": met(ours?.memory.heapGrowthPct ?? NaN, Math.abs(ours?.memory.heapGrowthPct ?? NaN) <= 10),
    "media peak RSS < 3x the file size (x)": met(oursMedia?.peakOverFile ?? NaN, oursMedia !== undefined && oursMedia.ok && oursMedia.peakOverFile < 3),
  };
  return {
    date: new Date().toISOString(),
    seconds: round(seconds, 1),
    environment: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, platform: process.platform, server: serverName, loadAverageBefore: load.before.map((v) => round(v, 2)), loadAverageAfter: load.after.map((v) => round(v, 2)) },
    config: CONFIG,
    method: {
      processes: "the server and this driver in one process; each client in its own process (limit: node + ws; ours, core and floor: a real Node-RED runtime, RED.init + RED.start with the editor off, flows and credentials from a temporary user dir)",
      server: `echo comparison: ${serverName} (bench/servers.ts); drain and media: the emulator (src/emulator)`,
      throughput: `closed loop: ${CONFIG.window} messages in flight over ${CONFIG.senders} conversations, ${CONFIG.messages} messages after a ${CONFIG.warmup}-message warm-up; limit and ours count reply_status received by the client, core counts replies received by the server`,
      latency: `open loop at ${rate}/s (${CONFIG.latencyMessages} messages) and at ${CONFIG.costRate}/s (${CONFIG.costMessages}): from the server handing the whatsapp_message to its socket to the server receiving the whatsapp_reply`,
      memory: `process.memoryUsage() of the client: after the warm-up and two forced GCs, right after the ${CONFIG.messages} messages, and after two forced GCs`,
      floor: "diagnostic, not a target: the same echo flow with do-nothing socket nodes (bench/floor-nodes.ts) in place of ours, i.e. Node-RED's own cost",
      drain: `${CONFIG.drain} messages queued in the emulator with no socket open, drained with drainPacingMs 0; times from the socket opening`,
      media: "one Buffer per dedicated process: RSS sampled every 5 ms plus the kernel's maxRSS; peak over file = (peak RSS - RSS before the Buffer existed) / file size",
    },
    rows,
    latencyAdded: { p50: round(addedP50, 3), p99: round(addedP99, 3) },
    emulatorCapacity: capacity,
    drain: drains,
    media: medias,
    targets,
    echo,
  };
}

type Report = ReturnType<typeof buildReport>;

function printReport(report: Report, written: boolean): void {
  const env = report.environment;
  console.log(`\nEcho bot on the ${env.server}; Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}); load average before ${env.loadAverageBefore.join(" ")}\n`);
  const header = ["", "unit", "limit", "ours", "core", "floor*", "ours/limit", "ours/core", "ours/floor"];
  const cells = report.rows.map((r) => [r.name, r.unit, fmt(r.limit), fmt(r.ours), fmt(r.core), fmt(r.floor), r.oursOverLimit === undefined ? "" : fmt(r.oursOverLimit, 2), r.oursOverCore === undefined ? "" : fmt(r.oursOverCore, 2), r.oursOverFloor === undefined ? "" : fmt(r.oursOverFloor, 2)]);
  console.log(table(header, cells));
  console.log("ratios > 1: ours better (time and CPU ratios are inverted). *floor: Node-RED with do-nothing socket nodes, a diagnostic.");
  console.log(`added latency at ${CONFIG.latencyRate}/s (ours - limit): p50 ${fmt(report.latencyAdded.p50, 3)} ms, p99 ${fmt(report.latencyAdded.p99, 3)} ms`);
  const cap = report.emulatorCapacity;
  if (cap) console.log(`the emulator itself serves ${fmt(cap.perSecond, 0)} echoes/s to the raw client (emulator CPU ${fmt(cap.serverCpuPct, 0)}%, client ${fmt(cap.clientCpuPct, 0)}%): it would be the bottleneck, hence the lean server`);
  console.log("");
  console.log(
    table(
      [`drain ${CONFIG.drain} queued (pacing 0)`, "received s", "msg/s", "all outcomes s", "replies ok", "failed"],
      report.drain.map((d) => [d.label, fmt(d.receivedSeconds, 3), fmt(d.receivedPerSecond, 0), fmt(d.outcomesSeconds, 3), String(d.repliesOk), d.repliesFailed ? `${d.repliesFailed} ${JSON.stringify(d.failures)}` : "0"]),
    ),
  );
  console.log("");
  console.log(
    table(
      ["media send", "MB", "time ms", "RSS before MB", "peak RSS MB", "peak over file", "peak from"],
      report.media.map((m) => [m.ok ? m.label : `${m.label} FAILED: ${m.error}`, fmt(m.bytes / MB, 1), fmt(m.ms, 0), fmt(m.rssBefore / MB, 1), fmt(m.peakRss / MB, 1), `${fmt(m.peakOverFile, 2)}x`, m.peakFrom]),
    ),
  );
  console.log("\ntargets:");
  for (const [name, t] of Object.entries(report.targets)) console.log(`  ${t.met ? "met   " : "MISSED"}  ${name}: ${fmt(t.value, 3)}`);
  console.log(`\n${report.seconds} s${written ? "; written to bench/results.json" : " (a partial run: bench/results.json left as it was)"}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const load = { before: loadavg(), after: [] as number[] };
  log(`config ${JSON.stringify(CONFIG)}`);
  const server: BenchServer = CONFIG.server === "emulator" ? new EmulatorServer() : new LeanServer();
  const emu = server instanceof EmulatorServer ? server : new EmulatorServer();
  await server.start();
  if (emu !== server) await emu.start();
  try {
    const echo: Partial<Record<ClientKind, EchoResult>> = {};
    for (const kind of ["limit", "ours", "core", "floor"] as const) {
      if (!wanted(`echo:${kind}`)) continue;
      if (server === emu) emu.emulator.reset(); // the emulator's sent log would otherwise hold every reply
      echo[kind] = await echoBot(server, kind);
    }
    let capacity: Capacity | undefined;
    if (emu !== server && wanted("capacity")) {
      log(`emulator capacity: raw client, ${CONFIG.capacityMessages} messages`);
      capacity = await emulatorCapacity(emu);
    }
    const drains: DrainResult[] = [];
    const drainRuns: [ClientKind, Record<string, unknown> | undefined][] = [
      ["limit", undefined],
      ["ours", undefined],
      // The default outbox (1000 replies) overflows when 10,000 arrive at once: the same run with room for all.
      ["ours", { outboxLimit: CONFIG.drain }],
      ["core", undefined],
    ];
    for (const [kind, config] of drainRuns) {
      if (!wanted(`drain:${kind}`)) continue;
      log(`drain: ${CONFIG.drain} queued messages -> ${LABEL[kind]}${config ? ` ${JSON.stringify(config)}` : ""}`);
      drains.push(await drain(emu, kind, config));
    }
    emu.emulator.reset();
    const medias: MediaResult[] = [];
    for (const mode of ["ours", "naive"] as const) {
      if (!wanted(`media:${mode}`)) continue;
      log(`media: ${CONFIG.mediaBytes / MB} MB -> ${mode}`);
      medias.push(await media(emu, mode));
    }
    load.after = loadavg();
    const report = buildReport(echo, drains, medias, capacity, server.name, (performance.now() - started) / 1000, load);
    if (CONFIG.only.length) {
      // A partial run: print what there is, keep bench/results.json from the last full run.
      console.log(JSON.stringify({ echo, drains, medias, capacity }, null, 2));
      printReport(report, false);
      return;
    }
    writeFileSync(join(__dirname, "results.json"), `${JSON.stringify(report, null, 2)}\n`);
    printReport(report, true);
  } finally {
    await server.stop();
    if (emu !== server) await emu.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
