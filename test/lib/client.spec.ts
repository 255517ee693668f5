/**
 * PipesClient against the emulator on 127.0.0.1: socket sharing across start/stop races, the
 * inbound holding buffer, scope and terminal-state refusals, and where the key may travel.
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { PipesClient, type ClientOptions } from "../../src/lib/client";
import { PipesError } from "../../src/lib/errors";
import type { InboundMessage } from "../../src/lib/protocol";
import { useEmulator } from "../support/emulator-fixture";
import { collect, waitFor, waitUntil } from "../support/wait";

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
  let client: PipesClient | undefined;
  const { emu, sockets } = useEmulator({
    nodeRed: false,
    tenants: [{ userId: "u", apiKey: KEY }],
    cleanup: async () => {
      await client?.stop();
      client = undefined;
    },
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
    await sockets(1);
  });

  it("holds messages that arrive with no receiver and gives them to every receiver that starts", async function () {
    const events = new EventEmitter();
    const c = make({ logger: { info: () => undefined, warn: (text) => events.emit("warn", text) } });
    c.acquireSocket({});
    await state(c, "open");
    const warned = waitFor(events, "warn", { what: "a warning about the held message" });
    const held = emu.inject({ fromNumber: "+1", text: "while nobody listened" });
    assert.match(String(await warned), /no pipes-in node/);
    const first: InboundMessage[] = [];
    const second: InboundMessage[] = [];
    c.addReceiver((m) => events.emit("got", first.push(m)));
    c.addReceiver((m) => events.emit("got", second.push(m)));
    await waitUntil("both receivers served", () => first.length === 1 && second.length === 1, events, ["got"]);
    assert.deepEqual(
      first.map((m) => m.messageId),
      [held.messageId],
    );
    assert.deepEqual(
      second.map((m) => m.messageId),
      [held.messageId],
    );
  });

  it("holds at most holdBytes of messages and says in the log which ones it dropped", async function () {
    const errors: string[] = [];
    const events = new EventEmitter();
    const c = make({
      holdBytes: 3000,
      logger: { info: () => undefined, warn: () => undefined, error: (text) => events.emit("error-line", errors.push(text)) },
    });
    c.acquireSocket({});
    await state(c, "open");
    const sent = Array.from({ length: 10 }, (_, i) => emu.inject({ fromNumber: "+1", text: `${i} ${"x".repeat(1000)}` }));
    await waitUntil("a drop reported", () => errors.length > 0, events, ["error-line"]);
    assert.match(errors[0], /dropped \d+ held message\(s\), oldest first, to stay within 1000 messages and 3 KB/);
    assert.ok(errors[0].includes(sent[0].messageId), "the log names the dropped message");
    const got: InboundMessage[] = [];
    c.addReceiver((m) => events.emit("got", got.push(m)));
    await waitUntil("the held messages delivered", () => got.length > 0, events, ["got"]);
    assert.ok(got.length <= 2, `${got.length} messages of ~1.1 KB were held within 3000 bytes`);
    assert.equal(got.at(-1)!.messageId, sent[9].messageId, "the newest is kept");
  });

  it("hands what it held when it stopped to the next client of the same account, with its replay filter", async function () {
    const lines: string[] = [];
    const first = new PipesClient({
      baseUrl: emu.url,
      apiKey: KEY,
      scope: "user",
      backoffBaseMs: 10,
      logger: { info: (t) => lines.push(t), warn: (t) => lines.push(t) },
    });
    first.acquireSocket({});
    await state(first, "open");
    const delivered = collect(emu, "delivered", 2);
    const held = [emu.inject({ fromNumber: "+1", text: "one" }), emu.inject({ fromNumber: "+2", text: "two" })];
    await delivered;
    await first.stop();
    assert.ok(
      lines.some((w) => w.includes("2 WhatsApp message(s) arrived while this connection was stopping") && w.includes(held[0].messageId)),
      lines.join("\n"),
    );

    const infos: string[] = [];
    const events = new EventEmitter();
    const c = make({ logger: { info: (t) => infos.push(t), warn: () => undefined } });
    const got: InboundMessage[] = [];
    c.addReceiver((m) => events.emit("got", got.push(m)));
    await waitUntil("the handed-over messages", () => got.length === 2, events, ["got"]);
    assert.deepEqual(
      got.map((m) => m.text),
      ["one", "two"],
    );
    assert.ok(infos.some((i) => /took over 2 WhatsApp message/.test(i)));
    // The same message once more (a replay after the deploy) is dropped: the filter came along.
    c.acquireSocket({});
    await state(c, "open");
    emu.inject({ fromNumber: "+1", text: "one", messageId: held[0].messageId });
    const fresh = emu.inject({ fromNumber: "+3", text: "three" });
    await waitUntil("the next message", () => got.length === 3, events, ["got"]);
    assert.equal(got[2].messageId, fresh.messageId, "the replayed message was delivered again");
  });

  it("logs each message as lost, by id, when no client of the account takes them over", async function () {
    const errors: string[] = [];
    const events = new EventEmitter();
    const lonely = new PipesClient({
      baseUrl: emu.url,
      apiKey: KEY,
      scope: "conversation",
      conversationId: "conv_nobody_takes",
      handoverTtlMs: 30,
      backoffBaseMs: 10,
      logger: { info: () => undefined, warn: () => undefined, error: (t) => events.emit("error-line", errors.push(t)) },
    });
    const message = emu.inject({ fromNumber: "+1", text: "starts conv" });
    // Deliver straight into the client as its socket would (the emulator's conversation ids are its own).
    (lonely as unknown as { dispatch(m: InboundMessage, bytes: number): void }).dispatch(
      { ...message, conversationId: "conv_nobody_takes" },
      200,
    );
    await lonely.stop();
    await waitUntil("the loss logged", () => errors.length > 0, events, ["error-line"]);
    assert.match(errors[0], new RegExp(`lost inbound message ${message.messageId}: no pipes-config with the same key started`));
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
      for (const url of [
        `//127.0.0.1:${port}/v1/media/download/x`,
        `/\\127.0.0.1:${port}/x`,
        `http://127.0.0.1:${port}/v1/media/download/x`,
        "v1/media/download/x",
      ]) {
        assert.equal((await rejection(c.download(url, 1024))).code, "DOWNLOAD_FAILED", url);
      }
      assert.equal(seen.length, 0, "the other host received nothing");
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});
