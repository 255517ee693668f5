/**
 * PipesClient against the emulator on 127.0.0.1: socket sharing across start/stop races, the
 * inbound holding buffer, scope and terminal-state refusals, and where the key may travel.
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { PipesEmulator } from "../src/emulator";
import { PipesClient, type ClientOptions } from "../src/lib/client";
import { PipesError } from "../src/lib/errors";
import type { InboundMessage } from "../src/lib/protocol";
import { waitUntil } from "./support/wait";

const KEY = "pk_client_spec_key_000000000000000";
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(16, 3)]);

async function rejection(promise: Promise<unknown>): Promise<PipesError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PipesError, String(err));
    return err;
  }
  assert.fail("expected a rejection");
}

describe("client", function () {
  let emu: PipesEmulator;
  let client: PipesClient | undefined;

  before(async function () {
    emu = new PipesEmulator({ drainPacingMs: 0, tenants: [{ userId: "u", apiKey: KEY }] });
    await emu.start(0, "127.0.0.1");
  });
  after(async function () {
    await emu.stop();
  });
  beforeEach(function () {
    emu.reset();
  });
  afterEach(async function () {
    await client?.stop();
    client = undefined;
    await waitUntil("sockets closed", () => emu.connections().length === 0, emu, ["disconnect"]);
  });

  function make(extra: Partial<ClientOptions> = {}): PipesClient {
    client = new PipesClient({ baseUrl: emu.url, apiKey: KEY, scope: "user", backoffBaseMs: 10, idleCloseMs: 50, ...extra });
    return client;
  }
  const state = (c: PipesClient, wanted: string) => waitUntil(`state ${wanted}`, () => c.state.state === wanted, c, ["state"]);

  it("a node that starts while the socket is closing still gets a socket", async function () {
    const c = make();
    const [a, b] = [{}, {}];
    c.acquireSocket(a);
    await state(c, "open");
    const released = c.releaseSocket(a, true); // closing now
    assert.equal(c.state.state, "closing");
    c.acquireSocket(b);
    await released;
    await state(c, "open");
    await waitUntil("one socket", () => emu.connections().length === 1, emu, ["connection", "disconnect"]);
  });

  it("holds messages that arrive with no receiver and gives them to every receiver that starts", async function () {
    const events = new EventEmitter();
    const c = make({ logger: { info: () => undefined, warn: (text) => events.emit("warn", text) } });
    c.acquireSocket({});
    await state(c, "open");
    const warned = new Promise((resolve) => events.once("warn", resolve));
    const held = emu.inject({ fromNumber: "+1", text: "while nobody listened" });
    assert.match(String(await warned), /no pipes-in node/);
    const first: InboundMessage[] = [];
    const second: InboundMessage[] = [];
    c.addReceiver((m) => events.emit("got", first.push(m)));
    c.addReceiver((m) => events.emit("got", second.push(m)));
    await waitUntil("both receivers served", () => first.length === 1 && second.length === 1, events, ["got"]);
    assert.deepEqual(first.map((m) => m.messageId), [held.messageId]);
    assert.deepEqual(second.map((m) => m.messageId), [held.messageId]);
  });

  it("refuses replies and REST sends outside a conversation scope before sending", async function () {
    const mine = emu.inject({ fromNumber: "+1", text: "mine" });
    const other = emu.inject({ fromNumber: "+2", text: "other" });
    const c = make({ scope: "conversation", conversationId: mine.conversationId });
    c.acquireSocket({});
    await state(c, "open");
    const reply = { conversationId: other.conversationId, poolNumberId: other.poolNumberId, toNumber: other.fromNumber, text: "x" };
    assert.equal((await rejection(c.reply([reply], { timeoutMs: 1000 }))).code, "OUT_OF_SCOPE");
    assert.equal((await rejection(c.send({ conversationId: other.conversationId, text: "x" }))).code, "OUT_OF_SCOPE");
    assert.equal(emu.sent().length, 0);
  });

  it("fails replies queued before a 401 at once with NOT_CONNECTED, not after the maximum wait", async function () {
    const c = make({ apiKey: "pk_wrong_key_for_client_spec_00000", outboxMaxWaitMs: 60_000 });
    c.acquireSocket({});
    const started = Date.now();
    const pending = c.reply([{ conversationId: "c", poolNumberId: "p", toNumber: "+1", text: "x" }], { timeoutMs: 1000 });
    assert.equal((await rejection(pending)).code, "NOT_CONNECTED");
    assert.ok(Date.now() - started < 5000);
    assert.equal(c.state.state, "auth_failed");
  });

  it("downloads media without sending the key to the storage host, and never sends the key to another host", async function () {
    const c = make();
    const inbound = emu.inject({ fromNumber: "+1", media: { data: PNG, mimeType: "image/png" } });
    const file = await c.download(inbound.media!.downloadUrl!, 1024);
    assert.ok(file.data.equals(PNG));

    const seen: IncomingHttpHeaders[] = [];
    const other = createServer((req, res) => {
      seen.push(req.headers);
      res.end("x");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    try {
      const port = (other.address() as AddressInfo).port;
      for (const url of [`//127.0.0.1:${port}/v1/media/download/x`, `/\\127.0.0.1:${port}/x`, `http://127.0.0.1:${port}/v1/media/download/x`, "v1/media/download/x"]) {
        assert.equal((await rejection(c.download(url, 1024))).code, "DOWNLOAD_FAILED", url);
      }
      assert.equal(seen.length, 0, "the other host received nothing");
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});
