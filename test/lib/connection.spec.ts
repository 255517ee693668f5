/**
 * The connection against a raw `ws` server on 127.0.0.1 that the test scripts frame by frame:
 * malformed frames, reconnects, handshake time-outs, 401/403, half-open sockets and bounded close.
 */
import * as assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { PipesConnection, type ConnectionOptions, type StateChange } from "../../src/lib/connection";
import type { InboundMessage } from "../../src/lib/protocol";
import { collect, waitUntil } from "../support/wait";

const KEY = "pk_raw_server_test_key_00000000000";
const CONNECTED = JSON.stringify({ type: "connected", userId: "u", connectionId: "c1", scope: "user" });
const message = (id: string) =>
  JSON.stringify({
    type: "whatsapp_message",
    data: { messageId: id, conversationId: "conv", poolNumberId: "pn", fromNumber: "+1", timestamp: "t", type: "text", text: id },
  });

/** A scriptable server: decides per upgrade whether to refuse, stay silent, or accept. */
class RawServer {
  readonly http: Server;
  readonly wss = new WebSocketServer({ noServer: true });
  readonly sockets = new Set<WebSocket>();
  readonly raw = new Set<Socket>();
  onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  onSocket: (ws: WebSocket) => void = (ws) => ws.send(CONNECTED);
  upgrades = 0;

  constructor() {
    this.http = createServer();
    this.onUpgrade = (req, socket, head) => this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    this.http.on("connection", (socket) => {
      this.raw.add(socket);
      socket.on("close", () => this.raw.delete(socket));
    });
    this.http.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.upgrades++;
      this.http.emit("counted-upgrade");
      this.onUpgrade(req, socket, head);
    });
  }

  accept(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on("close", () => {
      this.sockets.delete(ws);
      this.http.emit("socket-closed");
    });
    this.http.emit("socket-open", ws);
    this.onSocket(ws);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    for (const socket of this.raw) socket.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

describe("connection against a raw socket server", function () {
  let server: RawServer;
  let baseUrl: string;
  let connection: PipesConnection | undefined;
  const logs: string[] = [];

  beforeEach(async function () {
    server = new RawServer();
    baseUrl = await server.listen();
    logs.length = 0;
  });
  afterEach(async function () {
    await connection?.stop(500);
    connection = undefined;
    await server.close();
  });

  function connect(extra: Partial<ConnectionOptions> = {}): PipesConnection {
    connection = new PipesConnection({
      baseUrl,
      apiKey: KEY,
      scope: "user",
      backoffBaseMs: 10,
      backoffMaxMs: 50,
      handshakeTimeoutMs: 500,
      logger: { info: (t) => logs.push(`info ${t}`), warn: (t) => logs.push(`warn ${t}`), debug: (t) => logs.push(`debug ${t}`) },
      ...extra,
    });
    connection.start();
    return connection;
  }
  const state = (c: PipesConnection, wanted: StateChange["state"]) => waitUntil(`state ${wanted}`, () => c.state === wanted, c, ["state"]);

  it("ignores malformed and unknown frames and keeps delivering the good ones", async function () {
    server.onSocket = (ws) => {
      ws.send(CONNECTED);
      for (const bad of [
        "not json",
        "[1,2]",
        '{"no":"type"}',
        '{"type":"mystery_event","data":{}}',
        '{"type":"whatsapp_message","data":{"messageId":"x"}}',
        '{"type":"reply_status","data":{"success":"yes"}}',
      ])
        ws.send(bad);
      ws.send(Buffer.from([1, 2, 3]), { binary: true });
      ws.send(message("good"));
    };
    const c = connect();
    const errors: string[] = [];
    c.on("frame_error", (reason) => errors.push(reason));
    const [received] = await collect<InboundMessage>(c, "message", 1);
    assert.equal(received.messageId, "good");
    assert.equal(errors.length, 7);
    assert.equal(c.state, "open");
  });

  it("reconnects after the server drops the socket, logging one line per outage", async function () {
    const c = connect();
    await state(c, "open");
    for (let i = 0; i < 3; i++) {
      const [ws] = [...server.sockets];
      ws.terminate();
      await state(c, "reconnecting");
      await state(c, "open");
    }
    assert.equal(logs.filter((l) => l.startsWith("warn")).length, 3);
    assert.equal(logs.filter((l) => l.includes("reconnected after")).length, 3);
  });

  it("stops retrying on 401 and 403 at the upgrade", async function () {
    for (const status of [401, 403] as const) {
      server.onUpgrade = (_req, socket) => socket.end(`HTTP/1.1 ${status} No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      const before = server.upgrades;
      const c = connect();
      await state(c, status === 401 ? "auth_failed" : "forbidden");
      assert.equal(c.status.httpStatus, status);
      assert.equal(server.upgrades - before, 1, "exactly one attempt");
      await c.stop();
    }
  });

  it("retries other upgrade failures with backoff until the server accepts", async function () {
    let refusals = 3;
    server.onUpgrade = (req, socket, head) => {
      if (refusals-- > 0) socket.end("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      else server.wss.handleUpgrade(req, socket, head, (ws) => server.accept(ws));
    };
    const c = connect();
    await state(c, "open");
    assert.equal(server.upgrades, 4);
    assert.equal(logs.filter((l) => l.startsWith("warn")).length, 1, logs.join("\n"));
  });

  it("gives up on a server that accepts the upgrade but never says 'connected'", async function () {
    server.onSocket = () => undefined; // black hole after the upgrade
    const c = connect({ handshakeTimeoutMs: 100 });
    const states: string[] = [];
    c.on("state", (change) => states.push(change.state));
    await waitUntil("two attempts", () => server.upgrades >= 2, server.http, ["counted-upgrade"]);
    assert.ok(!states.includes("open"), states.join());
    assert.ok(states.includes("reconnecting"), states.join());
    assert.ok(
      logs.some((l) => l.includes("no 'connected' frame")),
      logs.join("\n"),
    );
  });

  it("replaces a half-open socket when pongs stop", async function () {
    let first = true;
    server.onSocket = (ws) => {
      ws.send(CONNECTED);
      if (first) {
        first = false;
        // Silence the first socket's automatic pongs: it looks alive to TCP but answers nothing.
        (ws as unknown as { pong: () => void }).pong = () => undefined;
        const receiver = (ws as unknown as { _receiver: { removeAllListeners(e: string): void } })._receiver;
        receiver.removeAllListeners("ping");
      }
    };
    const c = connect({ pingIntervalMs: 30, pongTimeoutMs: 120 });
    await state(c, "open");
    await waitUntil("a second socket", () => server.upgrades >= 2, server.http, ["counted-upgrade"], 3000);
    await state(c, "open");
    assert.ok(
      logs.some((l) => l.includes("no pong")),
      logs.join("\n"),
    );
  });

  it("ignores a socket that finishes its handshake after stop() was called", async function () {
    let welcome: (() => void) | undefined;
    server.onSocket = (ws) => {
      welcome = () => {
        ws.send(CONNECTED);
        ws.send(message("too late"));
      };
      server.http.emit("upgraded");
    };
    const c = connect();
    await waitUntil("the upgrade", () => welcome, server.http, ["upgraded"]);
    const states: string[] = [];
    const messages: InboundMessage[] = [];
    c.on("state", (change) => states.push(change.state));
    c.on("message", (m) => messages.push(m));
    const stopped = c.stop(300);
    welcome!();
    await stopped;
    assert.deepEqual(states, ["closing", "closed"]);
    assert.equal(messages.length, 0);
  });

  it("closes within its limit even when the server never answers the close", async function () {
    server.onSocket = (ws) => {
      ws.send(CONNECTED);
      // Stop reading: the close frame is never answered.
      (ws as unknown as { _socket: Socket })._socket.pause();
    };
    const c = connect();
    await state(c, "open");
    const started = Date.now();
    await c.stop(300);
    const took = Date.now() - started;
    assert.ok(took < 1000, `close took ${took} ms`);
    assert.equal(c.state, "closed");
  });

  it("never prints the API key in its log lines or states", async function () {
    server.onUpgrade = (_req, socket) => socket.destroy();
    const c = connect();
    const changes = await collect<StateChange>(c, "state", 5);
    assert.ok(
      logs.some((l) => l.startsWith("debug")),
      "the per-attempt debug lines were captured too",
    );
    await c.stop();
    const text = JSON.stringify({ logs, changes, url: c.displayUrl });
    assert.ok(!text.includes(KEY), text);
    assert.ok(c.displayUrl.includes("apiKey=***"));
  });
});
