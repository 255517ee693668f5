/**
 * One client under test, in its own process (forked by bench/run.ts with --expose-gc and tsx), so
 * that its CPU and memory are its own and the server keeps the other core:
 *
 *   raw <wsUrl>                         a plain `ws` client answering each whatsapp_message
 *   nodered <flow kind> <baseUrl> <wsUrl> <apiKey> [pipes-config overrides as JSON]
 *                                       flow kinds: bench/flows.ts (ours, core, floor, ours-buttons,
 *                                       ours-rest, floor-post, core-http, the webhook ones, media)
 *                                       a real Node-RED runtime (RED.init/RED.start, flows and
 *                                       credentials from a temporary user dir, editor off) with our
 *                                       nodes loaded from src/ through tsx
 *   naive-media <baseUrl> <apiKey>      reference for the media send: fetch with a JSON.stringify'd
 *                                       base64 body, as a function node would do it
 *
 * It answers the driver's commands (ipc.ts) and reports counters when they reach a threshold.
 */
import { randomFillSync } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Session } from "node:inspector";
import { findSourceMap } from "node:module";
import { constants as perfConstants, PerformanceObserver } from "node:perf_hooks";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import WebSocket from "ws";
import { COUNTED, flowFor, type FlowKind } from "./flows";
import { WEBHOOK_PATHS, WEBHOOK_SECRET } from "./results";
import { wallNow, type ChildReport, type Counter, type GcTally, type MemorySample, type ParentCommand } from "./ipc";

// A profiling client (BENCH_CHILD_PROFILE, set by the driver for its profile runs only) maps the
// positions in its profiles (and its stack traces) back to the TypeScript lines: the bench's own
// files through tsx's source maps, our compiled nodes through tsc's (toSourceLine).
if (process.env.BENCH_CHILD_PROFILE === "1") process.setSourceMapsEnabled(true);

const ROOT = resolve(__dirname, "..");
/**
 * Where our nodes are loaded from: compiled by the driver (bench/run.ts, compileNodes) from this
 * checkout or BENCH_SRC (another checkout, for before/after figures).
 */
const NODES_JS = resolve(process.env.BENCH_NODES_JS ?? join(ROOT, ".run", "bench", "nodes-js"));
const [mode, ...args] = process.argv.slice(2);

const counters: Record<Counter, number> = { received: 0, replied: 0, failed: 0, outcomes: 0 };
const waiting: { counter: Counter; n: number }[] = [];
/** Failed replies by error code. */
const failures: Record<string, number> = {};
let mediaHandler: ((bytes: number, conversationId: string) => Promise<void>) | undefined;
let cleanup: () => Promise<void> = () => Promise.resolve();

/** Every GC pause of this process, tallied (one callback per collection: a few per second). */
const gcTally: GcTally = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
      gcTally.minor++;
      gcTally.minorMs += entry.duration;
    } else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
      gcTally.major++;
      gcTally.majorMs += entry.duration;
    }
  }
}).observe({ entryTypes: ["gc"] });

function report(message: ChildReport): void {
  process.send?.(message);
}

function bump(counter: Counter): void {
  counters[counter]++;
  if (counter === "replied" || counter === "failed") counters.outcomes++;
  for (let i = 0; i < waiting.length; i++) {
    const w = waiting[i];
    if (counters[w.counter] >= w.n) {
      waiting.splice(i--, 1);
      report({
        type: "reached",
        counter: w.counter,
        n: counters[w.counter],
        at: wallNow(),
        counters: { ...counters },
        failures: { ...failures },
      });
    }
  }
}

function memory(gc: boolean): MemorySample {
  if (gc) {
    const collect = (globalThis as { gc?: () => void }).gc;
    if (!collect) throw new Error("run with --expose-gc");
    // Twice: the first pass can leave work (finalizers, weak callbacks) that the second collects.
    collect();
    collect();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

process.on("message", (raw: ParentCommand) => {
  void (async () => {
    try {
      switch (raw.cmd) {
        case "mem":
          report({ type: "mem", mem: memory(raw.gc) });
          break;
        case "reset":
          counters.received = counters.replied = counters.failed = counters.outcomes = 0;
          for (const code of Object.keys(failures)) delete failures[code];
          waiting.length = 0;
          break;
        case "notify":
          if (counters[raw.counter] >= raw.n)
            report({
              type: "reached",
              counter: raw.counter,
              n: counters[raw.counter],
              at: wallNow(),
              counters: { ...counters },
              failures: { ...failures },
            });
          else waiting.push({ counter: raw.counter, n: raw.n });
          break;
        case "cpu": {
          const usage = process.cpuUsage();
          report({ type: "cpu", userMs: usage.user / 1000, systemMs: usage.system / 1000, at: wallNow(), gc: { ...gcTally } });
          break;
        }
        case "profile":
          await profile(raw.on, raw.file, raw.what);
          report({ type: "profiled", file: raw.file });
          break;
        case "send-media":
          if (!mediaHandler) throw new Error(`mode ${mode} cannot send media`);
          await mediaHandler(raw.bytes, raw.conversationId);
          break;
        case "exit":
          await cleanup();
          process.exit(0);
      }
    } catch (err) {
      report({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  })();
});
process.on("disconnect", () => process.exit(0));

let session: Session | undefined;
let profiling: "cpu" | "heap" = "cpu";
/**
 * A profile of one phase only (start-up and the other phases left out): a CPU profile, or an
 * allocation-sampling heap profile (never both at once: the heap sampler's stack walks would show
 * up in the CPU profile). Written to `file` (.cpuprofile or .heapprofile) on stop.
 */
async function profile(on: boolean, file?: string, what: "cpu" | "heap" = "cpu"): Promise<void> {
  const post = (method: string, params?: object) =>
    new Promise<any>((resolveCall, reject) => session!.post(method, params, (err, result) => (err ? reject(err) : resolveCall(result))));
  if (on) {
    session = new Session();
    session.connect();
    profiling = what;
    if (what === "cpu") {
      await post("Profiler.enable");
      await post("Profiler.setSamplingInterval", { interval: 100 });
      await post("Profiler.start");
    } else {
      // Objects the GC has collected since are kept in the profile: it shows allocation volume.
      // BENCH_HEAP_LIVE=1 leaves them out (what the phase allocated and still holds at its end);
      // BENCH_HEAP_LIVE=old leaves out only what young GCs collected (what outlived the young
      // generation: the survivors that make young GCs slow).
      const live = process.env.BENCH_HEAP_LIVE;
      await post("HeapProfiler.startSampling", {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: live !== "1",
        includeObjectsCollectedByMinorGC: live !== "1" && live !== "old",
      });
    }
    return;
  }
  if (!session) return;
  const result = profiling === "cpu" ? ((await post("Profiler.stop")) as { profile: Profile }).profile : undefined;
  const allocations = profiling === "heap" ? ((await post("HeapProfiler.stopSampling")) as { profile: HeapProfile }).profile : undefined;
  session.disconnect();
  session = undefined;
  if (file && result) writeFileSync(file, JSON.stringify(toSourceLines(result)));
  if (file && allocations) writeFileSync(file, JSON.stringify(heapToSourceLines(allocations)));
}

interface Profile {
  nodes: { callFrame: { url: string; lineNumber: number; columnNumber: number } }[];
}

type CallFrame = Profile["nodes"][number]["callFrame"];

interface HeapProfile {
  head: HeapNode;
}
interface HeapNode {
  callFrame: CallFrame;
  children?: HeapNode[];
}

/**
 * A position in code with a source map becomes its source position: a TypeScript file of the bench
 * (compiled by tsx to one long line), or one of our compiled nodes (.run/bench/nodes-js/, whose map
 * names the src/ file).
 */
function toSourceLine(callFrame: CallFrame): void {
  if (callFrame.lineNumber < 0 || !/\.(ts|js)$/.test(callFrame.url)) return;
  const map = findSourceMap(callFrame.url.replace(/^file:\/\//, "")) ?? findSourceMap(callFrame.url);
  const entry = map?.findEntry(callFrame.lineNumber, callFrame.columnNumber);
  if (entry && "originalLine" in entry) {
    if (entry.originalSource) callFrame.url = entry.originalSource;
    callFrame.lineNumber = entry.originalLine;
    callFrame.columnNumber = entry.originalColumn;
  }
}

function toSourceLines(profile: Profile): Profile {
  for (const node of profile.nodes) toSourceLine(node.callFrame);
  return profile;
}

function heapToSourceLines(profile: HeapProfile): HeapProfile {
  const walk = (node: HeapNode) => {
    toSourceLine(node.callFrame);
    for (const child of node.children ?? []) walk(child);
  };
  walk(profile.head);
  return profile;
}

// ---------------------------------------------------------------------------------------------
// 1. The limit: a plain ws client.
// ---------------------------------------------------------------------------------------------

function startRaw(wsUrl: string): void {
  let ws: WebSocket;
  let ready = false;
  let stopping = false;
  // Reconnects 50 ms after a drop (the drain keeps a running client out for a while).
  const connect = () => {
    ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { type: string; data: Record<string, any> };
      if (frame.type === "whatsapp_message") {
        const m = frame.data;
        if (m.type !== "text") return;
        bump("received");
        ws.send(
          JSON.stringify({
            type: "whatsapp_reply",
            data: { conversationId: m.conversationId, poolNumberId: m.poolNumberId, toNumber: m.fromNumber, text: `You said: ${m.text}` },
          }),
        );
      } else if (frame.type === "reply_status") {
        if (!frame.data.success) failures[String(frame.data.code)] = (failures[String(frame.data.code)] ?? 0) + 1;
        bump(frame.data.success ? "replied" : "failed");
      } else if (frame.type === "connected" && !ready) {
        ready = true;
        report({ type: "ready", pid: process.pid });
      }
    });
    ws.on("error", (err) => {
      if (!ready) report({ type: "error", message: `raw client: ${err.message}` });
    });
    ws.on("close", () => {
      if (!stopping) setTimeout(connect, 50);
    });
  };
  connect();
  cleanup = () => {
    stopping = true;
    ws.terminate();
    return Promise.resolve();
  };
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. A real Node-RED runtime.
// ---------------------------------------------------------------------------------------------

const NODE_TYPES = ["pipes-config", "pipes-in", "pipes-reply", "pipes-send-media", "pipes-send", "pipes-webhook-in"];

async function startNodeRed(
  kind: FlowKind,
  baseUrl: string,
  wsUrl: string,
  apiKey: string,
  configOverrides: Record<string, unknown>,
): Promise<void> {
  const userDir = mkdtempSync(join(tmpdir(), "pipes-bench-"));
  // Our compiled nodes: a .js shim per node and a stub .html, which the registry needs to see a
  // node file; the editor is off, so its content does not matter.
  const nodesDir = join(userDir, "pipes-nodes");
  mkdirSync(nodesDir);
  for (const type of NODE_TYPES) {
    const source = join(NODES_JS, "nodes", `${type}.js`);
    if (!existsSync(source)) continue; // an older checkout (BENCH_SRC) without this node
    writeFileSync(join(nodesDir, `${type}.js`), `module.exports = require(${JSON.stringify(source)});\n`);
    writeFileSync(join(nodesDir, `${type}.html`), "<!-- bench: editor disabled -->\n");
  }
  const flow = flowFor(kind, baseUrl, wsUrl, apiKey, configOverrides);
  /** Whether the flow has a node of this type (or type prefix). */
  const uses = (type: string) => flow.some((node) => typeof node.type === "string" && node.type.startsWith(type));
  if (uses("bench-floor-")) {
    writeFileSync(join(nodesDir, "bench-floor.js"), `module.exports = require(${JSON.stringify(join(__dirname, "floor-nodes.ts"))});\n`);
    writeFileSync(join(nodesDir, "bench-floor.html"), "<!-- bench: editor disabled -->\n");
    (globalThis as { benchFloorReplied?: () => void }).benchFloorReplied = () => bump("replied");
  }
  writeFileSync(join(userDir, "flows.json"), JSON.stringify(flow));
  // Our config node's key, and pipes-webhook-in's secret (the other flows carry the key in the flow, or need none).
  const credentials = {
    ...(uses("pipes-config") ? { cfg: { apiKey } } : {}),
    ...(uses("pipes-webhook-in") ? { hook: { secret: WEBHOOK_SECRET } } : {}),
  };
  writeFileSync(join(userDir, "flows_cred.json"), JSON.stringify(credentials));

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED: any = require(require.resolve("node-red", { paths: [ROOT] }));
  // Flows that receive webhooks (a path in WEBHOOK_PATHS): an express app on 127.0.0.1 with
  // Node-RED's node routes at "/", as Node-RED's own server would mount them
  // (node-red-node-test-helper does the same); no editor.
  let http: { server: Server; port: number } | undefined;
  if (kind in WEBHOOK_PATHS) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const express = require(require.resolve("express", { paths: [dirname(require.resolve("node-red/package.json", { paths: [ROOT] }))] }));
    const app = express();
    const server = createHttpServer(app);
    RED.init(server, settingsFor(userDir, nodesDir, "/"));
    app.use("/", RED.httpNode);
    await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
    http = { server, port: (server.address() as AddressInfo).port };
  } else RED.init(settingsFor(userDir, nodesDir, false));

  const counted = COUNTED[kind];
  let mediaDone: ((error: unknown) => void) | undefined;
  RED.hooks.add("onComplete.bench", (event: { error?: { code?: string }; msg?: { error?: { code?: string } }; node: { id: string } }) => {
    const id = event.node.id;
    if (id === counted.received) bump("received");
    else if (id === counted.replied) {
      // A failure: done(err) when output 2 is not wired, else msg.error and output 2.
      const error = event.error ?? event.msg?.error;
      if (error) {
        const code = error.code ?? "unknown";
        failures[code] = (failures[code] ?? 0) + 1;
      }
      bump(error ? "failed" : "replied");
    } else if (id === "media") mediaDone?.(event.error);
  });

  if (kind === "media") {
    mediaHandler = async (bytes, conversationId) => {
      const node = RED.nodes.getNode("media");
      if (!node) throw new Error("media node did not start");
      await measureMedia(bytes, (data) => {
        const done = new Promise<void>((resolveDone, reject) => {
          mediaDone = (error) => {
            mediaDone = undefined;
            if (error) reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
            else resolveDone();
          };
        });
        node.receive({ payload: data, mimetype: "image/png", filename: "bench.png", pipes: { conversationId } });
        return done;
      });
    };
  }

  // Ready once the flows run (RED.start() can resolve before an http in has its route): the first
  // webhook POST would otherwise meet a 404.
  const flowsStarted = new Promise<void>((resolveStarted) => {
    RED.events.once("flows:started", () => resolveStarted());
    setTimeout(resolveStarted, 10_000).unref();
  });
  await RED.start();
  await flowsStarted;
  cleanup = async () => {
    await RED.stop();
    if (http) await new Promise<void>((resolveClose) => http.server.close(() => resolveClose()));
    rmSync(userDir, { recursive: true, force: true });
  };
  report({ type: "ready", pid: process.pid, port: http?.port });
}

/** Node-RED's settings for a bench client: the editor and admin API off, node routes at `httpNodeRoot` (or none). */
function settingsFor(userDir: string, nodesDir: string, httpNodeRoot: string | false): Record<string, unknown> {
  return {
    userDir,
    flowFile: "flows.json",
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot,
    nodesDir: [nodesDir],
    logging: { console: { level: "warn", metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
  };
}

// ---------------------------------------------------------------------------------------------
// Media: time and peak RSS of one send.
// ---------------------------------------------------------------------------------------------

const PNG_HEAD = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");

/** RSS is sampled every 5 ms and the kernel's high-water mark (maxRSS) read before and after. */
async function measureMedia(bytes: number, send: (data: Buffer) => Promise<void>): Promise<void> {
  memory(true);
  const rssBefore = process.memoryUsage.rss();
  const maxRssBefore = process.resourceUsage().maxRSS * 1024;
  // The file: real bytes (resident pages), a PNG signature so the MIME type is sniffed.
  const data = Buffer.allocUnsafe(bytes);
  randomFillSync(data);
  PNG_HEAD.copy(data);
  let peak = process.memoryUsage.rss();
  let samples = 1;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    samples++;
  }, 5);
  const started = performance.now();
  let error: string | undefined;
  try {
    await send(data);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const ms = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  const maxRssAfter = process.resourceUsage().maxRSS * 1024;
  report({ type: "media", ok: !error, error, ms, bytes, rssBefore, peakRssSampled: peak, maxRssBefore, maxRssAfter, samples });
}

function startNaiveMedia(baseUrl: string, apiKey: string): void {
  mediaHandler = (bytes, conversationId) =>
    measureMedia(bytes, async (data) => {
      const body = JSON.stringify({ conversationId, media: data.toString("base64"), mimeType: "image/png", fileName: "bench.png" });
      const response = await fetch(new URL("/v1/messages/send", baseUrl), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
        body,
      });
      const answer = (await response.json()) as { success?: boolean };
      if (!answer.success) throw new Error(`send answered HTTP ${response.status}`);
    });
  report({ type: "ready", pid: process.pid });
}

try {
  if (mode === "raw") startRaw(args[0]);
  else if (mode === "nodered")
    void startNodeRed(args[0] as FlowKind, args[1], args[2], args[3], JSON.parse(args[4] ?? "{}") as Record<string, unknown>).catch(
      (err: unknown) => report({ type: "error", message: String(err) }),
    );
  else if (mode === "naive-media") startNaiveMedia(args[0], args[1]);
  else throw new Error(`unknown mode ${mode}`);
} catch (err) {
  report({ type: "error", message: String(err) });
  process.exit(1);
}
