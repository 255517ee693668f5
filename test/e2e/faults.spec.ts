/**
 * The fault suite: the nodes in a real Node-RED runtime, the emulator behind a TCP proxy on
 * 127.0.0.1 that cuts, stops, black-holes and freezes the network. Each scenario records figures
 * (messages lost and duplicated, reconnect and close times, sockets left open), printed as a table
 * at the end and written to test-results/faults.json.
 */
import * as assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { EventEmitter } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { useEmulator } from "../support/emulator-fixture";
import { configNode, coreNodes, helper, loadFlow, nextInput, waitForStatus, PIPES_NODES } from "../support/nodered";
import { reportFigures, type Figures } from "../support/figures";
import { TcpProxy } from "../support/tcp-proxy";
import { collect, waitUntil } from "../support/wait";

const KEY = "pk_fault_suite_key_0000000000000000";
const FUNCTION_NODE = coreNodes("function/10-function.js");
/** Fast timings so faults are detected in milliseconds; the defaults are 10 s / 25 s / 50 s / 1 s / 60 s. */
const TUNING = {
  handshakeTimeoutMs: 500,
  pingIntervalMs: 100,
  pongTimeoutMs: 400,
  backoffBaseMs: 20,
  stableAfterMs: 200,
  idleCloseMs: 100,
};

const figures: Figures = {};

describe("fault suite", function () {
  this.timeout(60_000);
  const fixture = useEmulator({ tenants: [{ userId: "user_f", apiKey: KEY }], settings: { replyStatusDelayMs: 0 } });
  const { emu } = fixture;
  let proxy: TcpProxy;

  before(async function () {
    proxy = new TcpProxy(Number(new URL(emu.url).port));
    await proxy.start();
  });
  after(async function () {
    await proxy.stop();
    printFigures();
  });
  beforeEach(function () {
    proxy.setBlackHole(false);
  });
  afterEach(async function () {
    if (!proxy.port || proxy.openConnections === 0) return;
    await waitUntil("proxy connections closed", () => proxy.openConnections === 0, proxy, ["closed"]);
  });

  const viaProxy = () => `http://127.0.0.1:${proxy.port}`;
  const sockets = (n: number, timeoutMs = 10_000) => fixture.sockets(n, timeoutMs);

  /** pipes-in -> "You said" function -> pipes-reply, with counters on every output. */
  function echoFlow(config: Record<string, unknown> = {}, reply: Record<string, unknown> = {}) {
    return [
      configNode(viaProxy(), { tuning: TUNING, backoffMaxSeconds: 0.3, ...config }),
      { id: "in", type: "pipes-in", connection: "cfg", wires: [["echo", "rx"]] },
      { id: "rx", type: "helper" },
      { id: "echo", type: "function", func: 'msg.payload = "You said: " + msg.payload; return msg;', wires: [["reply"]] },
      { id: "reply", type: "pipes-reply", connection: "cfg", timeout: 2, ...reply, wires: [["ok"], ["failed"]] },
      { id: "ok", type: "helper" },
      { id: "failed", type: "helper" },
    ];
  }

  async function loadEcho(config: Record<string, unknown> = {}, reply: Record<string, unknown> = {}, key = KEY) {
    await helper.load([...PIPES_NODES, ...FUNCTION_NODE] as never, echoFlow(config, reply) as never, { cfg: { apiKey: key } });
  }

  /** Counts what reaches each helper node. */
  function tally() {
    const received: string[] = [];
    const ok: any[] = [];
    const failed: any[] = [];
    helper.getNode("rx").on("input", (msg: any) => received.push(msg.pipes.messageId));
    helper.getNode("ok").on("input", (msg: any) => ok.push(msg));
    helper.getNode("failed").on("input", (msg: any) => failed.push(msg));
    return { received, ok, failed };
  }

  it("kills the socket 20 times while 1,000 messages flow both ways: nothing lost silently, nothing duplicated", async function () {
    await loadEcho();
    await sockets(1);
    const counts = tally();
    const progress = new EventEmitter();
    for (const id of ["rx", "ok", "failed"]) helper.getNode(id).on("input", () => setImmediate(() => progress.emit("progress")));
    // Which socket the emulator wrote each message to, and which sockets we cut.
    const deliveredOn = new Map<string, string>();
    emu.on("delivered", ({ connectionId, message }) => deliveredOn.set(message.messageId, connectionId));
    const cutSockets = new Set<string>();
    const total = 1000;
    const started = Date.now();
    for (let i = 0; i < total; i++) {
      emu.inject({ fromNumber: `+1555000${String(i % 20).padStart(4, "0")}`, text: `m${i}` });
      if (i % 50 === 49) {
        for (const c of emu.connections()) cutSockets.add(c.connectionId);
        proxy.killAll();
      }
      // Let the event loop carry traffic between injections (bounded: one turn each).
      await new Promise(setImmediate);
    }
    // Settle: the offline backlog drained to one healthy socket, then a sentinel through that socket:
    // frames on one socket arrive in order, so once the sentinel is in, nothing else is on its way.
    await waitUntil(
      "the backlog drained",
      () => emu.queueSize(KEY) === 0 && emu.connections().length === 1,
      emu,
      ["delivered", "connection", "disconnect"],
      15_000,
    );
    const sentinel = emu.inject({ fromNumber: "+15559999999", text: "sentinel" });
    await waitUntil("the sentinel", () => counts.received.includes(sentinel.messageId), progress, ["progress"], 15_000);
    await waitUntil(
      "an outcome for every reply",
      () => counts.ok.length + counts.failed.length === counts.received.length,
      progress,
      ["progress"],
      15_000,
    );

    const receivedIds = new Set(counts.received);
    const lost = [...deliveredOn.keys()].filter((id) => id !== sentinel.messageId && !receivedIds.has(id));
    const lostOnHealthySocket = lost.filter((id) => !cutSockets.has(deliveredOn.get(id)!));
    const neverDelivered = total - (deliveredOn.size - 1);
    const sentTexts = emu.sent().map((s) => s.text);
    const failedByCode: Record<string, number> = {};
    for (const msg of counts.failed) failedByCode[msg.error.code] = (failedByCode[msg.error.code] ?? 0) + 1;
    figures["kill socket x20, 1000 msgs"] = {
      "inbound lost in transit on a cut socket (no inbound acks in the protocol)": lost.length,
      "inbound lost otherwise": lostOnHealthySocket.length + neverDelivered,
      "inbound duplicated": counts.received.length - receivedIds.size,
      "replies sent (output 1)": counts.ok.length,
      "replies failed (output 2)": `${counts.failed.length} ${JSON.stringify(failedByCode)}`,
      "replies without outcome": counts.received.length - counts.ok.length - counts.failed.length,
      "duplicate sends at server": sentTexts.length - new Set(sentTexts).size,
      seconds: ((Date.now() - started) / 1000).toFixed(1),
    };
    assert.equal(neverDelivered, 0, "every injected message was delivered or queued and drained");
    assert.deepEqual(lostOnHealthySocket, [], "nothing lost on a socket that stayed up");
    assert.ok(lost.length <= 20 * 5, `${lost.length} lost in transit`);
    assert.equal(counts.received.length, receivedIds.size, "no inbound duplicates");
    assert.equal(counts.ok.length + counts.failed.length, counts.received.length, "every reply has an outcome");
    assert.equal(sentTexts.length, new Set(sentTexts).size, "no reply was sent twice");
    for (const code of Object.keys(failedByCode)) assert.ok(["OUTCOME_UNKNOWN"].includes(code), `unexpected failure code ${code}`);
  });

  it("survives the server being down for 10 s: replies wait and go out on reconnect, one log line", async function () {
    await loadEcho({ backoffMaxSeconds: 1 });
    await sockets(1);
    const inbound = emu.inject({ fromNumber: "+15550001000", text: "before" });
    await nextInput("ok");
    const warnings = () =>
      helper.log().args.filter((a: any[]) => a[0]?.level === 30 && /connection lost|cannot connect/.test(String(a[0]?.msg))).length;
    const warningsBefore = warnings();

    await proxy.stop();
    await sockets(0);
    await waitForStatus("in", /^reconnecting/);
    // A reply made during the outage waits in the outbox instead of failing.
    const ok = nextInput("ok", 30_000);
    helper.getNode("reply").receive({ payload: "during the outage", pipes: inbound });
    // The outage itself lasts 10 s: this wait is the fault being simulated, not a wait for a result.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const restarted = Date.now();
    await proxy.start();
    await sockets(1, 5000);
    const reconnectMs = Date.now() - restarted;
    await waitForStatus("in", "connected (user)");
    const result = await ok;
    figures["server down 10 s"] = {
      "reconnect after server returns (ms)": reconnectMs,
      "backoff cap (s)": 1,
      "log lines for the outage": warnings() - warningsBefore,
      "reply queued during outage": result.sent ? "sent after reconnect" : "lost",
    };
    assert.ok(reconnectMs < 2000, `reconnected ${reconnectMs} ms after the server returned`);
    assert.equal(warnings() - warningsBefore, 1, "one log line per outage");
    assert.equal(
      emu
        .sent({ conversationId: inbound.conversationId })
        .map((s) => s.text)
        .at(-1),
      "during the outage",
    );
  });

  it("black hole: a server that accepts TCP and never answers is given up on and retried", async function () {
    await loadEcho();
    await sockets(1);
    proxy.setBlackHole(true);
    const acceptedBefore = proxy.accepted;
    const cut = Date.now();
    proxy.killAll();
    await waitUntil("three black-holed attempts", () => proxy.accepted - acceptedBefore >= 3, proxy, ["accepted"], 10_000);
    const attemptsMs = Date.now() - cut;
    proxy.setBlackHole(false);
    const restored = Date.now();
    await sockets(1);
    figures["black hole (accept, never answer)"] = {
      "attempts given up in": `${attemptsMs} ms for 3 (handshake time-out 500 ms)`,
      "reconnect after restore (ms)": Date.now() - restored,
    };
    await waitForStatus("in", "connected (user)");
  });

  it("half-open: a frozen connection is detected by the heartbeat and replaced", async function () {
    await loadEcho();
    await sockets(1);
    const acceptedBefore = proxy.accepted;
    const frozeAt = Date.now();
    proxy.freezeOpenConnections();
    await waitUntil("a new connection", () => proxy.accepted > acceptedBefore, proxy, ["accepted"], 5000);
    const detectedMs = Date.now() - frozeAt;
    await waitUntil(
      "connected again",
      () => emu.connections().some((c) => Date.parse(String(c.openedAt)) >= frozeAt || Number(c.openedAt) >= frozeAt),
      emu,
      ["connection"],
    );
    figures["half-open (frozen) socket"] = { "detected and replaced after (ms)": detectedMs, "pong time-out (ms)": TUNING.pongTimeoutMs };
    assert.ok(detectedMs < TUNING.pongTimeoutMs + 1000, `took ${detectedMs} ms`);
    // The replacement works end to end.
    const ok = nextInput("ok");
    emu.inject({ fromNumber: "+15550002000", text: "after" });
    assert.equal((await ok).payload, "You said: after");
  });

  it("401, then the key is fixed and redeployed: no retry storm, then connected", async function () {
    await loadEcho({}, {}, "pk_wrong_wrong_wrong_wrong_wrong_00");
    await waitForStatus("in", "invalid API key (401)");
    const acceptedAt401 = proxy.accepted;
    // Make the runtime do real network work for a while: a REST send through the same proxy.
    const inbound = emu.inject({ fromNumber: "+15550003000", text: "hello" });
    const failed = nextInput("failed");
    helper.getNode("reply").receive({ payload: "x", pipes: inbound });
    assert.equal((await failed).error.code, "NOT_CONNECTED");
    const retriesWhileRefused = proxy.accepted - acceptedAt401;
    await helper.unload();
    const fixed = Date.now();
    await loadEcho();
    await waitForStatus("in", "connected (user)");
    figures["401 then key fixed"] = {
      "upgrade attempts while the key was wrong": 1 + retriesWhileRefused,
      "connected after redeploy (ms)": Date.now() - fixed,
    };
    assert.equal(retriesWhileRefused, 0);
  });

  it("reply_status later than the time-out: TIMEOUT, and the late status is not credited to the next reply", async function () {
    await loadEcho({}, { timeout: 0.15 });
    await sockets(1);
    emu.configure({ replyStatusDelayMs: 400 });
    const failed = nextInput("failed");
    const inbound = emu.inject({ fromNumber: "+15550004000", text: "slow" });
    assert.equal((await failed).error.code, "TIMEOUT");
    emu.configure({ replyStatusDelayMs: 0 });
    const ok = nextInput("ok");
    const started = Date.now();
    helper.getNode("reply").receive({ payload: "second", pipes: inbound });
    const second = await ok;
    const records = emu.sent({ conversationId: inbound.conversationId });
    const secondRecord = records.find((r) => r.text === "second");
    figures["reply_status after the time-out"] = {
      "next reply waited for the late status (ms)": Date.now() - started,
      "credited correctly": String(second.sent.messageId === secondRecord?.messageId),
    };
    assert.equal(second.sent.messageId, secondRecord?.messageId);
  });

  it("50 full redeploys leave exactly one socket, each close well under 2 s", async function () {
    const flow = echoFlow();
    await loadEcho();
    await sockets(1);
    let slowest = 0;
    for (let i = 0; i < 50; i++) {
      const started = Date.now();
      await helper.setFlows(flow as never, "full", { cfg: { apiKey: KEY } });
      slowest = Math.max(slowest, Date.now() - started);
    }
    await sockets(1);
    const afterSettle = emu.connections().length;
    figures["50 full redeploys"] = { "sockets open at the server": afterSettle, "slowest redeploy (stop + start, ms)": slowest };
    assert.equal(afterSettle, 1);
    assert.ok(slowest < 2000, `a redeploy took ${slowest} ms`);
    // The last deploy's nodes still work.
    const ok = nextInput("ok");
    emu.inject({ fromNumber: "+15550005000", text: "still here" });
    assert.equal((await ok).payload, "You said: still here");
  });

  it("leaves no timer or socket of ours behind after a stop", async function () {
    // Every timer created from our runtime code (src/lib, src/nodes) while the flow runs must be
    // cleared or fired by the time the flow has stopped.
    const ours = new Map<number, string>();
    const hook = createHook({
      init(id, type) {
        if (type !== "Timeout") return;
        const stack = new Error().stack ?? "";
        if (/[\\/]src[\\/](lib|nodes)[\\/]/.test(stack))
          ours.set(
            id,
            stack
              .split("\n")
              .find((l) => /src[\\/](lib|nodes)/.test(l))
              ?.trim() ?? "?",
          );
      },
      destroy(id) {
        ours.delete(id);
      },
    });
    const socketsNow = () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    const socketsBefore = socketsNow();
    hook.enable();
    try {
      await loadEcho();
      await sockets(1);
      const ok = nextInput("ok");
      emu.inject({ fromNumber: "+15550007000", text: "hello" });
      await ok;
      const timersRunning = ours.size;
      const socketsRunning = socketsNow();
      await helper.unload();
      await sockets(0);
      await waitUntil("proxy connections closed", () => proxy.openConnections === 0, proxy, ["closed"]);
      await new Promise(setImmediate); // closed handles are released on the next turn
      figures["resources after stop"] = {
        "our timers running / after stop": `${timersRunning} / ${ours.size}`,
        "sockets before / running / after": `${socketsBefore} / ${socketsRunning} / ${socketsNow()}`,
      };
      assert.ok(timersRunning > 0, "the hook sees our timers");
      assert.deepEqual([...ours.values()], [], "timers of ours still pending");
      assert.ok(socketsRunning > socketsBefore, "the measurement sees our sockets");
      assert.equal(socketsNow(), socketsBefore, "sockets left open");
    } finally {
      hook.disable();
    }
  });

  it("a partial redeploy of pipes-in keeps the socket; closing against a silent server takes under 2 s", async function () {
    const flow = echoFlow();
    await loadEcho();
    await sockets(1);
    const [before] = emu.connections();
    const changed = flow.map((n) => (n.id === "in" ? { ...n, name: "renamed" } : n));
    await helper.setFlows(changed as never, "nodes", { cfg: { apiKey: KEY } });
    const ok = nextInput("ok");
    emu.inject({ fromNumber: "+15550006000", text: "partial" });
    await ok;
    assert.equal(emu.connections().length, 1);
    assert.equal(emu.connections()[0].connectionId, before.connectionId, "same socket after a partial deploy");
    proxy.freezeOpenConnections();
    const started = Date.now();
    await helper.unload();
    const closeMs = Date.now() - started;
    figures["close with a silent server"] = { "stop time (ms)": closeMs };
    assert.ok(closeMs < 2000, `close took ${closeMs} ms`);
  });

  it("warns when two config nodes share one key with user scope", async function () {
    await helper.load(
      PIPES_NODES,
      [
        configNode(viaProxy(), { tuning: TUNING }),
        { ...configNode(viaProxy(), { tuning: TUNING }), id: "cfg2" },
        { id: "in", type: "pipes-in", connection: "cfg", wires: [] },
      ] as never,
      { cfg: { apiKey: KEY }, cfg2: { apiKey: KEY } },
    );
    const warned = helper.log().args.some((a: any[]) => /same API key/.test(String(a[0]?.msg)));
    assert.ok(warned, "a warning about the shared key");
  });

  it("malformed, unknown and oversized frames never crash the runtime; each kind is logged once", async function () {
    const server: Server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    let connections = 0;
    server.on("upgrade", (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(JSON.stringify({ type: "connected", userId: "u", connectionId: "c", scope: "user" }));
        if (++connections === 1) {
          // Over the 4 MiB frame limit: the client closes the socket (1009) and reconnects.
          ws.send(JSON.stringify({ type: "whatsapp_message", data: { text: "x".repeat(5 * 1024 * 1024) } }));
          return;
        }
        for (let i = 0; i < 3; i++) {
          ws.send("not json");
          ws.send('{"type":"typing_indicator","data":{}}');
          ws.send('{"type":"whatsapp_message","data":{"messageId":"x"}}');
          ws.send('{"type":"reply_status","data":{"conversationId":"nobody","success":true}}');
        }
        ws.send(
          JSON.stringify({
            type: "whatsapp_message",
            data: {
              messageId: "good",
              conversationId: "c1",
              poolNumberId: "p",
              fromNumber: "+1",
              timestamp: "t",
              type: "text",
              text: "good",
            },
          }),
        );
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await loadFlow(
        [
          configNode(url, { tuning: TUNING }),
          { id: "in", type: "pipes-in", connection: "cfg", wires: [["rx"]] },
          { id: "rx", type: "helper" },
        ],
        KEY,
      );
      const [msg] = await collect<any>(helper.getNode("rx"), "input", 1);
      assert.equal(msg.payload, "good");
      const warnings = helper
        .log()
        .args.filter((a: any[]) => a[0]?.level === 30 && /ignored a frame|no reply was waiting/.test(String(a[0]?.msg)));
      const oversized = helper.log().args.filter((a: any[]) => a[0]?.level === 30 && /Max payload size exceeded/.test(String(a[0]?.msg)));
      figures["malformed frames (3 of each of 4 kinds, one 5 MiB frame)"] = {
        "warnings logged": warnings.length + oversized.length,
        "good message delivered": "yes",
        connections: connections,
      };
      assert.equal(warnings.length, 4, warnings.map((w: any[]) => String(w[0]?.msg)).join("\n"));
      assert.equal(
        oversized.length,
        1,
        `the oversized frame is reported once, as a lost connection:\n${helper
          .log()
          .args.map((a: any[]) => `${a[0]?.level} ${String(a[0]?.msg)}`)
          .join("\n")}`,
      );
      assert.equal(connections, 2);
    } finally {
      await helper.unload();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

function printFigures(): void {
  reportFigures("fault suite figures", "faults.json", figures);
}
