/**
 * The API key is a password credential: it must never appear in a log line, a status text, an error
 * on output 2, a done(err) error, or an exported flow; a printed socket URL shows `apiKey=***`.
 * Each scenario captures everything a person could read (Node-RED's log through helper.log() and a
 * log handler that also sees close-time lines, every node status, every msg that leaves a node, every
 * reported error, the emulator's own log) and searches it for the key and for pieces of it.
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { inspect } from "node:util";
import { PipesEmulator } from "../../src/emulator";
import { useEmulator } from "../support/emulator-fixture";
import { FAST_TUNING, firstInput, helper, nextError, nextInput, PIPES_NODES, statuses, waitForStatus } from "../support/nodered";
import { collect, waitUntil } from "../support/wait";

const SECRET = "pk_SECRET_do_not_leak_1234567890ab";
const OTHER_KEY = "pk_other_tenant_key_000000000000000";
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(64, 3)]);
const DAY = 24 * 60 * 60 * 1000;

/** The key, its secret part's every 8-character piece, and its base64 / URL-encoded forms. */
function forbiddenPieces(key: string): string[] {
  const pieces = new Set<string>([key, encodeURIComponent(key), Buffer.from(key).toString("base64").slice(0, 24), key.slice(3, 15)]);
  for (let i = 3; i + 8 <= key.length; i++) pieces.add(key.slice(i, i + 8));
  return [...pieces];
}

/** Everything about a value a person could read: JSON (errors with message, stack, code) and util.inspect. */
function dump(value: unknown): string {
  const seen = new WeakSet<object>();
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Error) return { ...v, name: v.name, message: v.message, stack: v.stack, cause: (v as { cause?: unknown }).cause };
    if (typeof v === "bigint") return String(v);
    if (typeof v === "function") return `[function ${v.name}]`;
    if (typeof v === "object" && v !== null) {
      if (seen.has(v)) return "[circular]";
      seen.add(v);
    }
    return v;
  });
  return `${json}\n${inspect(value, { depth: 10, breakLength: Infinity })}`;
}

function assertNoSecret(what: string, text: string): void {
  for (const piece of forbiddenPieces(SECRET)) {
    const at = text.indexOf(piece);
    assert.equal(at, -1, `${what} contains '${piece}' (from the key): …${text.slice(Math.max(0, at - 80), at + 80)}…`);
  }
}

/** Every ws:// or wss:// URL in a text. */
function socketUrls(text: string): string[] {
  return text.match(/\bwss?:\/\/[^\s"'`]+/g) ?? [];
}

interface Capture {
  /** Node-RED log calls (the helper's spy on RED.log.log), as readable text. */
  spied: string[];
  /** Every log record Node-RED emitted to handlers, also during close. */
  handled: string[];
  statuses: string[];
  msgs: string[];
  errors: string[];
  emulator: string[];
}

const core = (file: string): unknown =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(require.resolve(`@node-red/nodes/core/${file}`, { paths: [process.env.NODE_RED_FROM ?? process.cwd()] }));
const CATCH_NODE = core("common/25-catch.js");

const runtimeModule = (path: string): any =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(require.resolve(path, { paths: [process.env.NODE_RED_FROM ?? process.cwd()] }));

describe("secrets: the API key never leaks", function () {
  const emulatorLog: string[] = [];
  // One Node-RED runtime for the block; each test loads its flow and unloads it (afterEach below).
  const fixture = useEmulator({
    nodeRed: "suite",
    log: (line) => emulatorLog.push(line),
    tenants: [{ userId: "user_secret", apiKey: SECRET }],
  });
  const { emu } = fixture;
  let emuOther: PipesEmulator;
  let resetServer: NetServer;
  let resetPort = 0;
  /** Everything captured by every scenario, checked once more at the end. */
  const everything: Capture[] = [];
  let capture: Capture;
  let logHandler: EventEmitter | undefined;

  before(async function () {
    emuOther = new PipesEmulator({
      drainPacingMs: 0,
      log: (line) => emulatorLog.push(line),
      tenants: [{ userId: "user_other", apiKey: OTHER_KEY }],
    });
    await emuOther.start(0, "127.0.0.1");
    // Accepts TCP and resets it at once: the socket upgrade and every REST call fail with a network error.
    resetServer = createNetServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetServer.listen(0, "127.0.0.1", () => resolve()));
    resetPort = (resetServer.address() as AddressInfo).port;
  });

  after(async function () {
    await new Promise<void>((resolve) => resetServer.close(() => resolve()));
    await emuOther.stop();
  });

  beforeEach(function () {
    emuOther.reset();
    emulatorLog.length = 0;
    capture = { spied: [], handled: [], statuses: [], msgs: [], errors: [], emulator: [] };
    everything.push(capture);
    // A handler on Node-RED's log (added after startServer, which resets the handlers) keeps
    // recording while the flows stop, after the helper has already restored its spy.
    const handler = new EventEmitter();
    handler.on("log", (record: unknown) => capture.handled.push(dump(record)));
    (helper as unknown as { _log: { addHandler(h: EventEmitter): void } })._log.addHandler(handler);
    logHandler = handler;
  });

  afterEach(async function () {
    // Whatever the test did, stop the flows (their close-time log lines are captured too).
    await helper.unload();
    await fixture.sockets(0);
    if (logHandler) (helper as unknown as { _log: { removeHandler(h: EventEmitter): void } })._log.removeHandler(logHandler);
    capture.emulator.push(...emulatorLog);
  });

  /** Loads a flow on one tab; every helper node's msgs are captured. */
  async function load(flow: Record<string, unknown>[], credentials: Record<string, { apiKey: string }>): Promise<void> {
    const nodes = [{ id: "tab", type: "tab", label: "secrets" }, ...flow.map((n) => (n.type === "pipes-config" ? n : { ...n, z: "tab" }))];
    await helper.load([...PIPES_NODES, CATCH_NODE] as never, nodes as never, credentials);
    for (const node of flow) {
      if (node.type === "helper") helper.getNode(node.id as string).on("input", (msg: unknown) => capture.msgs.push(dump(msg)));
    }
  }

  /** Captures what the helper's spies saw so far (they are restored when the flows unload). */
  function captureSpies(nodeIds: string[]): void {
    const spy = helper.log() as unknown as { args: unknown[][] };
    capture.spied.push(...spy.args.map((args) => dump(args)));
    for (const id of nodeIds) capture.statuses.push(...statuses(id).map((s) => dump(s)));
  }

  function config(id: string, baseUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { id, type: "pipes-config", name: "secret test", baseUrl, scope: "user", tuning: FAST_TUNING, ...extra };
  }

  function checkCapture(what: string, c: Capture): void {
    const sections: [string, string[]][] = [
      ["a log line (helper.log spy)", c.spied],
      ["a log line (log handler)", c.handled],
      ["a node status", c.statuses],
      ["a msg leaving a node", c.msgs],
      ["a reported error", c.errors],
      ["the emulator's log", c.emulator],
    ];
    for (const [label, texts] of sections) assertNoSecret(`${what}: ${label}`, texts.join("\n"));
    // Any socket URL a log line prints is masked.
    for (const url of socketUrls([...c.spied, ...c.handled, ...c.emulator].join("\n"))) {
      // "***" and then nothing that could be part of a key (a URL may be followed by ": reason").
      if (/apiKey=/i.test(url)) assert.match(url, /[?&]apiKey=\*\*\*(?![\w%.~-])/, `${what}: an unmasked socket URL was logged: ${url}`);
    }
  }

  it("(a) connect, reconnects, reply and REST failures, media download, a twin config and a dead host: no key in logs, statuses or errors", async function () {
    this.timeout(20_000);
    const ids = ["in", "inSmall", "reply", "replyUnwired", "media", "inDead", "mediaDead"];
    await load(
      [
        config("cfg", emu.url),
        config("cfgTwin", emu.url),
        config("cfgDead", `http://127.0.0.1:${resetPort}`),
        { id: "in", type: "pipes-in", connection: "cfg", downloadMedia: true, maxMediaMB: 1, wires: [["received"]] },
        {
          id: "inSmall",
          type: "pipes-in",
          connection: "cfg",
          downloadMedia: true,
          maxMediaMB: 0.00001,
          types: ["image"],
          wires: [["received"]],
        },
        { id: "reply", type: "pipes-reply", connection: "cfg", timeout: 0.3, wires: [["ok"], ["failed"]] },
        { id: "replyUnwired", type: "pipes-reply", connection: "cfg", timeout: 0.3, wires: [["ok"]] },
        { id: "media", type: "pipes-send-media", connection: "cfg", timeout: 3, wires: [["ok"], ["failed"]] },
        { id: "inDead", type: "pipes-in", connection: "cfgDead", wires: [["received"]] },
        { id: "mediaDead", type: "pipes-send-media", connection: "cfgDead", timeout: 3, wires: [["ok"], ["failed"]] },
        { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["caught"]] },
        { id: "received", type: "helper" },
        { id: "ok", type: "helper" },
        { id: "failed", type: "helper" },
        { id: "caught", type: "helper" },
      ],
      { cfg: { apiKey: SECRET }, cfgTwin: { apiKey: SECRET }, cfgDead: { apiKey: SECRET } },
    );
    // Connect.
    await waitForStatus("reply", "connected (user)");
    // Inbound text and media (downloaded through the 302; the small pipes-in refuses it as too large).
    const received = collect<any>(helper.getNode("received"), "input", 3, 5000);
    const conv = emu.inject({ fromNumber: "+15550300001", text: "hello" });
    emu.inject({ fromNumber: "+15550300001", media: { data: PNG, mimeType: "image/png", fileName: "p.png" } });
    const got = await received;
    assert.ok(
      got.some((m) => Buffer.isBuffer(m.payload) && m.payload.equals(PNG)),
      "the media was downloaded",
    );
    assert.ok(
      got.some((m) => m.mediaError?.code === "MEDIA_TOO_LARGE"),
      "the small pipes-in refused the media",
    );

    // Replies: success, bad input, time-out (unknown conversation), window expired.
    const replyOnce = async (msg: Record<string, unknown>): Promise<any> => {
      const out = firstMsg(["ok", "failed"]);
      helper.getNode("reply").receive(msg);
      const result = await out;
      if (result.error) capture.errors.push(dump(result.error));
      return result;
    };
    assert.ok((await replyOnce({ payload: "fine", pipes: conv })).sent);
    assert.equal((await replyOnce({ payload: { bad: true }, pipes: conv })).error.code, "BAD_INPUT");
    assert.equal((await replyOnce({ payload: "lost", pipes: { ...conv, conversationId: "conv_nowhere" } })).error.code, "TIMEOUT");

    // REST failures and a retried 429 through pipes-send-media.
    const mediaOnce = async (node: string, msg: Record<string, unknown>): Promise<any> => {
      const out = firstMsg(["ok", "failed"], 8000);
      helper.getNode(node).receive(msg);
      const result = await out;
      if (result.error) capture.errors.push(dump(result.error));
      return result;
    };
    emu.failNextSends(1, { status: 500 });
    assert.equal((await mediaOnce("media", { payload: PNG, pipes: conv })).error.status, 500);
    emu.failNextSends(1, { status: 401 });
    assert.equal((await mediaOnce("media", { payload: PNG, pipes: conv })).error.code, "UNAUTHORIZED");
    emu.failNextSends(1, { status: 429, retryAfterSeconds: 0 });
    assert.ok((await mediaOnce("media", { payload: PNG, pipes: conv })).sent);
    assert.equal(
      (await mediaOnce("media", { payload: PNG, pipes: { conversationId: "conv_nowhere" } })).error.code,
      "CONVERSATION_NOT_FOUND",
    );
    assert.equal((await mediaOnce("mediaDead", { payload: PNG, pipes: conv })).error.code, "NETWORK_ERROR");

    // A failure with output 2 unwired: done(err), seen by the Catch node and the log.
    const reported = nextError("replyUnwired");
    const caught = nextInput("caught");
    helper.getNode("replyUnwired").receive({ payload: ["not", "text"], pipes: conv });
    const { err } = await reported;
    capture.errors.push(dump(err));
    assert.equal((await caught).error.code, "BAD_INPUT");

    // Window expired.
    emu.advanceClock(DAY + 60_000);
    assert.equal((await replyOnce({ payload: "too late", pipes: conv })).error.code, "SERVICE_WINDOW_EXPIRED");

    // Two outages: the socket is dropped and comes back each time.
    for (let i = 0; i < 2; i++) {
      const back = waitUntil("the socket back", () => emu.connections().length === 1, emu, ["connection"], 5000);
      emu.dropConnections();
      await waitForStatus("reply", /^reconnecting/);
      await back;
      await waitForStatus("reply", "connected (user)");
    }
    // The dead host has logged its outage (with the socket URL) by the time it shows "reconnecting".
    await waitForStatus("inDead", /^reconnecting/);

    captureSpies(ids);
    const spiedText = capture.spied.join("\n");
    // The capture is not empty: it holds the lines this test is about.
    for (const expected of ["connection lost", "reconnected after", "cannot connect", "apiKey=***", "same API key", "not downloaded"]) {
      assert.ok(spiedText.includes(expected), `no log line mentions '${expected}'; the capture would prove nothing`);
    }
    assert.ok(capture.statuses.join("\n").includes("reconnecting"));
    assert.equal(capture.errors.length, 8, "every failure of the scenario was captured");
    assert.ok(capture.errors.join("\n").includes("reply text must be a string"), "the done(err) error was captured");
    checkCapture("scenario (a)", capture);
  });

  it("(a) the key as the WRONG key: 401 at the upgrade and on REST, no key anywhere", async function () {
    const ids = ["in", "reply", "media"];
    await load(
      [
        config("cfg", emuOther.url),
        { id: "in", type: "pipes-in", connection: "cfg", wires: [["received"]] },
        { id: "reply", type: "pipes-reply", connection: "cfg", timeout: 1, wires: [["ok"], ["failed"]] },
        { id: "media", type: "pipes-send-media", connection: "cfg", timeout: 3, wires: [["ok"], ["failed"]] },
        { id: "received", type: "helper" },
        { id: "ok", type: "helper" },
        { id: "failed", type: "helper" },
      ],
      { cfg: { apiKey: SECRET } },
    );
    const status = await waitForStatus("in", "invalid API key (401)");
    assert.equal(status.fill, "red");
    let failed = nextInput("failed");
    helper.getNode("reply").receive({ payload: "hi", pipes: { conversationId: "conv_x", poolNumberId: "pn_x", fromNumber: "+1555" } });
    let result = await failed;
    capture.errors.push(dump(result.error));
    assert.equal(result.error.code, "NOT_CONNECTED");
    failed = nextInput("failed");
    helper.getNode("media").receive({ payload: PNG, pipes: { conversationId: "conv_x" } });
    result = await failed;
    capture.errors.push(dump(result.error));
    assert.equal(result.error.code, "UNAUTHORIZED");
    assert.equal(result.error.status, 401);

    captureSpies(ids);
    assert.ok(capture.spied.join("\n").includes("invalid API key"), "the 401 was logged");
    assert.ok(
      emulatorLog.some((line) => line.includes("refused 401")),
      "the emulator saw the wrong key",
    );
    checkCapture("scenario (a, wrong key)", capture);
  });

  it("(b) exported flows carry no key: GET /flows, GET /credentials, and after a deploy through POST /flows", async function () {
    const flow = [
      config("cfg", emu.url),
      { id: "in", type: "pipes-in", connection: "cfg", wires: [["received"]] },
      { id: "received", type: "helper" },
    ];
    await load(flow, { cfg: { apiKey: SECRET } });
    await waitForStatus("in", "connected (user)");
    mountAdminApi();

    const exported = await helper.request().get("/flows").expect(200);
    const exportedText = JSON.stringify(exported.body);
    assert.ok(
      Array.isArray(exported.body) && exported.body.some((n: { id: string }) => n.id === "cfg"),
      `GET /flows answered ${exportedText.slice(0, 200)}`,
    );
    assertNoSecret("GET /flows", exportedText);
    assert.ok(
      !exported.body.some((n: { credentials?: unknown }) => n.credentials !== undefined),
      "a node in GET /flows carries credentials",
    );
    const v2 = await helper.request().get("/flows").set("Node-RED-API-Version", "v2").expect(200);
    assertNoSecret("GET /flows (v2)", JSON.stringify(v2.body));

    const creds = await helper.request().get("/credentials/pipes-config/cfg").expect(200);
    // Passwords come back only as has_<name>; the proxy user name is a text credential (shown).
    assert.deepEqual(
      creds.body,
      { has_apiKey: true, proxyUsername: "", has_proxyPassword: false, has_redisPassword: false },
      `GET /credentials answered ${JSON.stringify(creds.body)}`,
    );

    // A deploy that carries the key in `credentials` (as the editor sends it): stored, then never exported.
    const deployed = [
      { id: "tab", type: "tab", label: "secrets" },
      { ...config("cfg", emu.url), credentials: { apiKey: SECRET } },
      { id: "in", type: "pipes-in", z: "tab", connection: "cfg", wires: [["received"]] },
      { id: "received", type: "helper", z: "tab" },
    ];
    await helper.request().post("/flows").set("Node-RED-Deployment-Type", "full").send(deployed).expect(204);
    await fixture.sockets(1, 5000);
    const after = await helper.request().get("/flows").expect(200);
    assertNoSecret("GET /flows after a deploy with credentials", JSON.stringify(after.body));
    assert.ok(
      !after.body.some((n: { credentials?: unknown }) => n.credentials !== undefined),
      "a node in GET /flows carries credentials after a deploy",
    );
    const credsAfter = await helper.request().get("/credentials/pipes-config/cfg").expect(200);
    assert.deepEqual(credsAfter.body, { has_apiKey: true, proxyUsername: "", has_proxyPassword: false, has_redisPassword: false });

    // The editor side declares the key as a password credential, not as a (exported) default.
    const html = readFileSync(join(__dirname, "..", "..", "src", "nodes", "pipes-config.html"), "utf8");
    assert.match(html, /credentials\s*:\s*\{[^}]*apiKey\s*:\s*\{[^}]*type\s*:\s*["']password["']/);
    const defaults = /defaults\s*:\s*\{([\s\S]*?)\n\s*\}\s*,/.exec(html)?.[1] ?? "";
    assert.ok(defaults.length > 0, "found the defaults block of pipes-config.html");
    assert.ok(!/\bapiKey\s*:/.test(defaults), "apiKey is a plain default, so it would be exported");
  });

  it("(c) a printed socket URL masks the key as apiKey=***", async function () {
    await load(
      [
        config("cfgDead", `http://127.0.0.1:${resetPort}`, { scope: "conversation", conversationId: "conv_masked" }),
        { id: "inDead", type: "pipes-in", connection: "cfgDead", wires: [] },
      ],
      { cfgDead: { apiKey: SECRET } },
    );
    await waitForStatus("inDead", /^reconnecting/);
    captureSpies(["inDead"]);
    const urls = socketUrls(capture.spied.join("\n"));
    assert.ok(urls.length > 0, "no socket URL was logged; nothing to check");
    for (const url of urls) {
      assert.match(url, /[?&]apiKey=\*\*\*(?![\w%.~-])/, `unmasked: ${url}`);
      assert.ok(url.includes("conversationId=conv_masked"), `the rest of the URL stays readable: ${url}`);
    }
    checkCapture("scenario (c)", capture);
  });

  it("nothing captured across all scenarios contains the key", function () {
    assert.ok(everything.length >= 4);
    for (const [i, c] of everything.entries()) checkCapture(`scenario ${i + 1}`, c);
  });

  /** The first msg to reach any of the helper nodes `ids`. */
  async function firstMsg(ids: string[], timeoutMs = 5000): Promise<any> {
    return (await firstInput(ids, timeoutMs)).msg;
  }

  /** Node-RED's own admin handlers for /flows and /credentials, on the helper's admin app. */
  function mountAdminApi(): void {
    // load() builds a fresh admin app each time, so these routes go away with the flows.
    const app = (helper as unknown as { _httpAdmin: { get: (...a: unknown[]) => void; post: (...a: unknown[]) => void } })._httpAdmin;
    const runtimeApi = (helper as unknown as { _RED: { runtime: unknown } })._RED.runtime;
    const flows = runtimeModule("@node-red/editor-api/lib/admin/flows");
    const credentials = runtimeModule("@node-red/editor-api/lib/editor/credentials");
    flows.init(runtimeApi);
    credentials.init(runtimeApi);
    app.get("/flows", flows.get);
    app.post("/flows", flows.post);
    app.get("/credentials/:type/:id", credentials.get);
  }
});
