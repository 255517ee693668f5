/**
 * Full redeploys under inbound traffic (issue 10, hole 5): a real Node-RED runtime, the emulator
 * behind a TCP proxy on 127.0.0.1 that delays every byte by 25 ms each way (closer to a real link
 * than bare loopback) or not at all, a flow pipes-config + pipes-in -> a recorder node. About 50
 * messages a second come in from several senders for the whole run while the flow is fully
 * redeployed 20 times (every node stopped, the config node too, and new ones started with the same
 * ids, as the editor's Deploy > Full does). Each deploy waits for the new socket at the emulator and
 * for a few more messages to arrive, not for a fixed time; every other one then starts the moment
 * the emulator has written a message (so that one is in transit while the flows stop), the others
 * the moment a message has arrived.
 *
 * At the end the emulator has nothing left to deliver; every injected message must have reached the
 * recorder exactly once. The figures (injected, received, lost and duplicated ids, whether each loss
 * was logged, where the emulator delivered each lost message) are printed and written to
 * test-results/deploy-traffic.json.
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ConnectionInfo } from "../../src/emulator/types";
import { useEmulator } from "../support/emulator-fixture";
import { configNode, FAST_TUNING, helper, PIPES_NODES } from "../support/nodered";
import { reportFigures } from "../support/figures";
import { TcpProxy } from "../support/tcp-proxy";
import { waitFor, waitUntil } from "../support/wait";

const KEY = "pk_deploy_traffic_key_000000000000";
const DEPLOYS = 20;
const RATE_PER_SECOND = 50;
const SENDERS = 8;
/** Messages that must arrive through the new pipes-in after each deploy before the next one. */
const AFTER_EACH_DEPLOY = 10;
/** A bound on the injection, whatever happens to the deploys (40 s at 50/s). */
const MAX_INJECTED = 2000;
const TUNING = { ...FAST_TUNING, handshakeTimeoutMs: 3000 };

type Figures = Record<string, number | string>;
const figures: Record<string, Figures> = {};

/** What the recorder saw, kept by the test across deploys (every deploy makes a new recorder node). */
const recorded = { ids: [] as string[], events: new EventEmitter(), emittedByPipesIn: [] as string[] };

/**
 * The recorder node type: records msg.pipes.messageId of every msg it receives. Node-RED removes a
 * node's input listeners as soon as its close finishes, and a msg already sent to it (delivered one
 * event-loop turn later) would then be dropped by Node-RED itself, whatever pipes-in did; this
 * recorder finishes its close one turn later so those msgs still count. The test also hooks
 * `onSend`, which sees every msg pipes-in sends at the moment it sends it, so a msg lost inside
 * Node-RED's routing is told apart from one pipes-in never sent.
 */
function recorderModule(RED: any): void {
  function Recorder(this: any, def: Record<string, unknown>): void {
    RED.nodes.createNode(this, def);
    this.on("input", (msg: any, _send: unknown, done: () => void) => {
      recorded.ids.push(String(msg.pipes?.messageId));
      recorded.events.emit("received");
      done();
    });
    this.on("close", (done: () => void) => setImmediate(done));
  }
  RED.nodes.registerType("deploy-recorder", Recorder);
}

/** The runtime's hooks (Node-RED 2+; not in the API the helper gives node modules). */
const hooks = () => (helper as any)._RED.hooks as { add(name: string, fn: (events: any[]) => void): void; remove(name: string): void };

/** A Node-RED log record, as a log handler receives it. */
interface LogRecord {
  level: number;
  type?: string;
  id?: string;
  msg?: unknown;
}

describe("full redeploys under inbound traffic", function () {
  this.timeout(60_000);
  let proxy: TcpProxy | undefined;
  let logHandler: EventEmitter | undefined;
  const logs: LogRecord[] = [];
  const fixture = useEmulator({
    tenants: [{ userId: "user_deploys", apiKey: KEY }],
    // After the flows are unloaded, before the runtime stops.
    cleanup: () => {
      hooks().remove("onSend.deployTraffic");
      if (logHandler) (helper as any)._log.removeHandler(logHandler);
      logHandler = undefined;
    },
  });
  const { emu } = fixture;

  after(function () {
    printFigures();
  });
  beforeEach(function () {
    recorded.ids.length = 0;
    recorded.emittedByPipesIn.length = 0;
    logs.length = 0;
    // Added after startServer (which resets the handlers): sees every record, close-time ones too.
    const handler = new EventEmitter();
    handler.on("log", (record: LogRecord) => logs.push(record));
    (helper as any)._log.addHandler(handler);
    logHandler = handler;
    hooks().add("onSend.deployTraffic", (sendEvents) => {
      for (const event of sendEvents) {
        if (event.source?.node?.type === "pipes-in") recorded.emittedByPipesIn.push(String(event.msg?.pipes?.messageId));
      }
    });
  });
  afterEach(async function () {
    const p = proxy;
    proxy = undefined;
    if (p) {
      await waitUntil("proxy connections closed", () => p.openConnections === 0, p, ["closed"]);
      await p.stop();
    }
  });

  it("loses and duplicates no inbound message over 20 full deploys at 50 msg/s, 25 ms each way", async function () {
    await scenario(25);
  });

  it("loses and duplicates no inbound message over 20 full deploys at 50 msg/s, bare loopback", async function () {
    await scenario(0);
  });

  async function scenario(delayMs: number): Promise<void> {
    const name = `20 full deploys, 50 msg/s, ${delayMs} ms each way`;
    proxy = new TcpProxy(Number(new URL(emu.url).port), { delayMs });
    await proxy.start();
    const flow = [
      { id: "tab", type: "tab", label: "deploy traffic" },
      configNode(`http://127.0.0.1:${proxy.port}`, { tuning: TUNING }),
      // The recorder comes first, so it exists before pipes-in can send anything to it.
      { id: "rec", type: "deploy-recorder", z: "tab" },
      { id: "in", type: "pipes-in", z: "tab", connection: "cfg", wires: [["rec"]] },
    ];
    const credentials = { cfg: { apiKey: KEY } };
    await helper.load([...PIPES_NODES, recorderModule] as never, flow as never, credentials);

    // What the emulator did: every delivery (socket, order and time) and every socket's open and
    // close. `seq` orders deliveries and deploy starts exactly (times alone tie within a millisecond).
    let seq = 0;
    const deliveries = new Map<string, { connectionId: string; seq: number; at: number }[]>();
    const onDelivered = ({ connectionId, message }: { connectionId: string; message: { messageId: string } }) => {
      const list = deliveries.get(message.messageId) ?? [];
      list.push({ connectionId, seq: ++seq, at: performance.now() });
      deliveries.set(message.messageId, list);
    };
    const sockets = new Map<string, { openedAt: number; closedAt?: number }>();
    const onConnection = (info: ConnectionInfo) => sockets.set(info.connectionId, { openedAt: performance.now() });
    const onDisconnect = (info: ConnectionInfo) => {
      const socket = sockets.get(info.connectionId);
      if (socket) socket.closedAt = performance.now();
    };
    emu.on("delivered", onDelivered);
    emu.on("connection", onConnection);
    emu.on("disconnect", onDisconnect);

    const injected: string[] = [];
    const deployStarts: { seq: number; at: number }[] = [];
    const started = Date.now();
    function measure(sentinel: string, injectSeconds: number, slowestDeployMs: number) {
      const ids = recorded.ids.filter((id) => id !== sentinel);
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      const injectedSet = new Set(injected);
      const lost = injected.filter((id) => !counts.has(id));
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      const emitted = new Set(recorded.emittedByPipesIn);
      // Lines a person would see (warn and error) from the runtime while the deploys ran.
      const visible = logs.filter((r) => r.level <= 30 && r.level > 10);
      const visibleText = visible.map((r) => `${r.type ?? "runtime"}: ${String(r.msg)}`);
      const loggedById = lost.filter((id) => visibleText.some((line) => line.includes(id)));
      const pipesLines = new Map<string, number>();
      for (const r of visible) {
        if (!String(r.type ?? "").startsWith("pipes-")) continue;
        // Alike lines counted together: message ids and numbers masked.
        const text = String(r.msg)
          .replace(/msg_[A-Za-z0-9_-]+(, msg_[A-Za-z0-9_-]+)*/g, "<ids>")
          .replace(/[0-9]+(\.[0-9]+)?/g, "N");
        const line = `${r.level === 20 ? "error" : "warn"} ${r.type}: ${text}`;
        pipesLines.set(line, (pipesLines.get(line) ?? 0) + 1);
      }
      const where = attribute(lost);
      return {
        lost,
        duplicated,
        figures: {
          "delay each way (ms)": delayMs,
          "full deploys": DEPLOYS,
          injected: injected.length,
          "injection rate (msg/s)": (injected.length / injectSeconds).toFixed(1),
          senders: SENDERS,
          "received (unique)": counts.size,
          "received (msgs)": ids.length,
          lost: lost.length,
          "lost ids": lost.join(" ") || "-",
          duplicated: duplicated.length,
          "duplicated ids": duplicated.join(" ") || "-",
          "unexpected ids received": [...counts.keys()].filter((id) => !injectedSet.has(id)).length,
          "lost: sent by pipes-in but dropped inside Node-RED": lost.filter((id) => emitted.has(id)).length,
          "lost: never sent by pipes-in": lost.filter((id) => !emitted.has(id)).length,
          ...where,
          "lost and logged (a warn/error line names the id)": `${loggedById.length} of ${lost.length}`,
          "warn/error lines from pipes nodes": [...pipesLines].map(([line, n]) => `${n} x ${line}`).join(" | ") || "none",
          "messages the emulator delivered more than once": [...deliveries.values()].filter((d) => d.length > 1).length,
          "sockets opened": sockets.size,
          "slowest deploy to new socket (ms)": slowestDeployMs,
          seconds: ((Date.now() - started) / 1000).toFixed(1),
        },
      };
    }

    let injector: NodeJS.Timeout | undefined;
    try {
      await fixture.sockets(1, 10_000);
      for (const c of emu.connections()) sockets.set(c.connectionId, { openedAt: performance.now() });

      // The load: RATE_PER_SECOND from SENDERS numbers, paced by a timer (catching up if a turn was
      // late), bounded by MAX_INJECTED.
      const injectStarted = Date.now();
      injector = setInterval(() => {
        const due = Math.min(MAX_INJECTED, Math.floor(((Date.now() - injectStarted) * RATE_PER_SECOND) / 1000));
        while (injected.length < due) {
          const i = injected.length;
          injected.push(emu.inject({ fromNumber: `+1555010${String(i % SENDERS).padStart(4, "0")}`, text: `m${i}` }).messageId);
        }
      }, 1000 / RATE_PER_SECOND);

      const arrived = (count: number, what: string) =>
        waitUntil(what, () => recorded.ids.length >= count, recorded.events, ["received"], 10_000);
      await arrived(AFTER_EACH_DEPLOY, "the first messages");
      let slowestDeployMs = 0;
      for (let i = 0; i < DEPLOYS; i++) {
        // Every other deploy starts the moment the emulator has written a message to the socket, so
        // that message is on its way while the flows stop; the others start the moment one arrived.
        if (i % 2 === 0) await waitFor(emu, "delivered", { what: `a delivery before deploy ${i + 1}`, timeoutMs: 10_000 });
        const known = new Set(sockets.keys());
        const deployAt = Date.now();
        deployStarts.push({ seq, at: performance.now() });
        await fullDeploy(flow, credentials);
        // The new config node's socket is open at the emulator, then K more messages come through it.
        await waitUntil(
          `the new socket after deploy ${i + 1}`,
          () => emu.connections().some((c) => !known.has(c.connectionId)),
          emu,
          ["connection"],
          10_000,
        );
        slowestDeployMs = Math.max(slowestDeployMs, Date.now() - deployAt);
        await arrived(recorded.ids.length + AFTER_EACH_DEPLOY, `${AFTER_EACH_DEPLOY} messages after deploy ${i + 1}`);
      }
      clearInterval(injector);
      injector = undefined;
      const injectSeconds = (Date.now() - injectStarted) / 1000;

      // Settle: nothing queued at the emulator and every injected message handed to a socket; then a
      // sentinel on the one socket left: frames on a socket arrive in order, so once the sentinel is
      // in, everything the emulator wrote to that socket before it is in too.
      await waitUntil(
        "the emulator has delivered everything",
        () => emu.queueSize(KEY) === 0 && emu.connections().length === 1 && injected.every((id) => deliveries.has(id)),
        emu,
        ["delivered", "queued", "connection", "disconnect"],
        10_000,
      );
      const sentinel = emu.inject({ fromNumber: "+15550199999", text: "sentinel" }).messageId;
      await waitUntil("the sentinel", () => recorded.ids.includes(sentinel), recorded.events, ["received"], 10_000);

      const result = measure(sentinel, injectSeconds, slowestDeployMs);
      figures[name] = result.figures;
      const some = (ids: string[]) => ids.slice(0, 5).join(", ") + (ids.length > 5 ? ", …" : "");
      assert.equal(
        result.lost.length,
        0,
        `${result.lost.length} of ${injected.length} inbound messages lost (${some(result.lost)}; see the figures)`,
      );
      assert.equal(result.duplicated.length, 0, `${result.duplicated.length} inbound messages received twice (${some(result.duplicated)})`);
      assert.equal(emu.connections().length, 1, "one socket at the end");
    } finally {
      if (injector) clearInterval(injector);
      emu.off("delivered", onDelivered);
      emu.off("connection", onConnection);
      emu.off("disconnect", onDisconnect);
    }

    /**
     * Where the emulator put each lost message (its last delivery): on a socket a deploy then closed,
     * written after that deploy began (the client was stopping or about to) or before it (still on
     * its way, or read by a client that then dropped it); on the socket still open at the end; or
     * never delivered.
     */
    function attribute(lost: string[]): Figures {
      const out = { afterDeployBegan: 0, beforeDeployBegan: 0, onSurvivingSocket: 0, neverDelivered: 0 };
      const msBeforeDeploy: number[] = [];
      const perDeploy = deployStarts.map(() => 0);
      for (const id of lost) {
        const last = deliveries.get(id)?.at(-1);
        if (!last) {
          out.neverDelivered++;
          continue;
        }
        const closedAt = sockets.get(last.connectionId)?.closedAt;
        if (closedAt === undefined) {
          out.onSurvivingSocket++;
          continue;
        }
        // The deploy that closed this socket: the last one begun before the emulator saw it close.
        const deploy = deployStarts.filter((d) => d.at <= closedAt).at(-1);
        if (deploy) perDeploy[deployStarts.indexOf(deploy)]++;
        if (!deploy || last.seq > deploy.seq) out.afterDeployBegan++;
        else {
          out.beforeDeployBegan++;
          msBeforeDeploy.push(deploy.at - last.at);
        }
      }
      return {
        "lost: written to an old socket after its deploy began": out.afterDeployBegan,
        "lost: written to an old socket before its deploy began": `${out.beforeDeployBegan}${msBeforeDeploy.length ? ` (${Math.min(...msBeforeDeploy).toFixed(1)} to ${Math.max(...msBeforeDeploy).toFixed(1)} ms before)` : ""}`,
        "lost: written to the socket open at the end": out.onSurvivingSocket,
        "lost: never written to a socket": out.neverDelivered,
        "lost per deploy, in order": perDeploy.join(" "),
      };
    }
  }
});

/**
 * A full deploy through the runtime API the editor's Deploy button uses (the same on Node-RED 4 and
 * 5): every node stops, the config node included, and new ones start with the same ids. Resolves
 * once the new flows have started.
 */
async function fullDeploy(flow: unknown[], credentials: Record<string, unknown>): Promise<void> {
  const RED = (helper as any)._RED;
  let startedFlows = false;
  const onStarted = () => {
    startedFlows = true;
  };
  RED.events.on("flows:started", onStarted);
  try {
    await RED.runtime.flows.setFlows({ flows: { flows: flow, credentials }, deploymentType: "full" });
    await waitUntil("the redeployed flows to start", () => startedFlows, RED.events, ["flows:started"], 5000);
  } finally {
    RED.events.off("flows:started", onStarted);
  }
}

function printFigures(): void {
  reportFigures("deploy traffic figures", "deploy-traffic.json", figures);
}
