import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { performance } from "node:perf_hooks";
import { ERROR_CODES, LIMITS, MEDIA_ID_PATTERN } from "../../src/lib/protocol";
import { parseCliArgs } from "../../src/emulator/cli-args";
import { startFromCli } from "../../src/emulator/cli";
import { DEMO_API_KEY, PipesEmulator, type EmulatorOptions, type SentRecord } from "../../src/emulator";
import { collectEvents, TestSocket, textsOf, upgradeStatus, wsUrl, type Frame } from "../support/emulator-client";
import { waitFor } from "../support/wait";

const KEY_A = "pk_tenant_a_0000000000000000000000000";
const KEY_B = "pk_tenant_b_0000000000000000000000000";
const TWO_TENANTS: EmulatorOptions["tenants"] = [
  {
    userId: "user_a",
    apiKey: KEY_A,
    poolNumbers: [
      { id: "pn_a1", phoneNumber: "+15550000001", label: "home" },
      { id: "pn_a2", phoneNumber: "+15550000002" },
    ],
  },
  { userId: "user_b", apiKey: KEY_B },
];
const ANA = "+15550001111";
const BEN = "+15550002222";
const DAY_MS = 24 * 60 * 60 * 1000;
/** The time limit of the waits here (it only guards against a hang). */
const WAIT_MS = 3000;

interface HttpAnswer {
  status: number;
  headers: Headers;
  body: any;
}

describe("PipesEmulator", function () {
  let emulator: PipesEmulator;
  let url: string;
  let logLines: string[];
  const opened: TestSocket[] = [];

  async function boot(options: EmulatorOptions = {}): Promise<void> {
    logLines = [];
    emulator = new PipesEmulator({ drainPacingMs: 0, log: (line) => logLines.push(line), ...options });
    url = await emulator.start(0);
  }

  async function connect(query: Record<string, string | undefined> = {}): Promise<{ socket: TestSocket; connected: Frame }> {
    const result = await TestSocket.open(url, { apiKey: DEMO_API_KEY, ...query });
    opened.push(result.socket);
    return result;
  }

  async function request(
    method: string,
    path: string,
    options: { body?: unknown; key?: string; headers?: Record<string, string> } = {},
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers.Authorization = `Bearer ${options.key}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    }
    const res = await fetch(`${url}${path}`, { method, headers, body, redirect: "manual" });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  const send = (body: unknown, key: string = DEMO_API_KEY): Promise<HttpAnswer> => request("POST", "/v1/messages/send", { body, key });

  function reply(
    socket: TestSocket,
    conversationId: string,
    text = "ok",
    routing: Record<string, unknown> = { poolNumberId: "pn_demo1", toNumber: ANA },
  ): void {
    socket.send({ type: "whatsapp_reply", data: { conversationId, text, ...routing } });
  }

  afterEach(async function () {
    for (const socket of opened.splice(0)) socket.ws.terminate();
    await emulator?.stop();
  });

  describe("WebSocket handshake", function () {
    beforeEach(() => boot({ tenants: TWO_TENANTS }));

    it("refuses a missing or unknown key with 401 and another path with 404", async function () {
      assert.equal(await upgradeStatus(wsUrl(url, {})), 401);
      assert.equal(await upgradeStatus(wsUrl(url, { apiKey: "pk_wrong_key_000000000000000000000" })), 401);
      assert.equal(await upgradeStatus(wsUrl(url, { apiKey: KEY_A }, "/socket")), 404);
      assert.ok(!logLines.join("\n").includes("pk_wrong_key_000000000000000000000"), "the bad key is masked in logs");
    });

    it("refuses an unknown or foreign conversation and a foreign pool number with 403", async function () {
      const ofB = emulator.inject({ apiKey: KEY_B, fromNumber: ANA, text: "hi" });
      assert.equal(await upgradeStatus(wsUrl(url, { apiKey: KEY_A, conversationId: "conv_nope" })), 403);
      assert.equal(await upgradeStatus(wsUrl(url, { apiKey: KEY_A, conversationId: ofB.conversationId })), 403);
      assert.equal(await upgradeStatus(wsUrl(url, { apiKey: KEY_A, poolNumberId: "pn_demo1" })), 403);
    });

    it("greets both scopes with a connected frame and reports the connection", async function () {
      const message = emulator.inject({ apiKey: KEY_A, fromNumber: ANA, text: "hi" });
      const connection = waitFor(emulator, "connection", { what: "the connection event", timeoutMs: WAIT_MS });
      const user = await TestSocket.open(url, { apiKey: KEY_A });
      opened.push(user.socket);
      assert.equal((await connection).userId, "user_a");
      assert.deepEqual(Object.keys(user.connected).sort(), ["connectionId", "scope", "type", "userId"]);
      assert.equal(user.connected.scope, "user");
      assert.match(user.connected.connectionId, /^[0-9a-f-]{36}$/);

      const conv = await TestSocket.open(url, { apiKey: KEY_A, conversationId: message.conversationId });
      opened.push(conv.socket);
      assert.equal(conv.connected.scope, "conversation");
      assert.equal(conv.connected.conversationId, message.conversationId);

      const infos = emulator.connections();
      assert.equal(infos.length, 2);
      const convInfo = infos.find((c) => c.scope === "conversation");
      assert.equal(convInfo?.conversationId, message.conversationId);
      assert.ok((convInfo?.remotePort ?? 0) > 0);
    });
  });

  describe("live delivery", function () {
    it("delivers to a user-scoped socket with the documented fields", async function () {
      await boot({ tenants: TWO_TENANTS });
      const { socket } = await connect({ apiKey: KEY_A });
      const sent = emulator.inject({ apiKey: KEY_A, fromNumber: ANA, fromName: "Ana", text: "hello" });
      const frame = await socket.next("whatsapp_message");
      assert.deepEqual(frame.data, sent);
      assert.equal(sent.poolNumberId, "pn_a1");
      assert.equal(sent.poolNumberPhoneNumber, "+15550000001");
      assert.equal(sent.label, "home");
      assert.equal(sent.text, "hello");
      assert.equal(sent.body, "hello");
      assert.match(sent.messageId, /^msg_/);
      assert.match(sent.conversationId, /^conv_/);
      assert.equal(emulator.queueSize(KEY_A), 0);
    });

    it("fans out to every user-scoped socket, or only the oldest with fanOut 'first'", async function () {
      await boot();
      const first = await connect();
      const second = await connect();
      const delivered = collectEvents<{ connectionId: string }>(emulator, "delivered");
      emulator.inject({ fromNumber: ANA, text: "to all" });
      assert.deepEqual(
        delivered.items.map((d) => d.connectionId).sort(),
        [first.connected.connectionId, second.connected.connectionId].sort(),
      );
      await first.socket.next("whatsapp_message");
      await second.socket.next("whatsapp_message");

      emulator.configure({ fanOut: "first" });
      delivered.items.length = 0;
      emulator.inject({ fromNumber: ANA, text: "to one" });
      delivered.stop();
      assert.deepEqual(
        delivered.items.map((d) => d.connectionId),
        [first.connected.connectionId],
      );
      assert.equal((await first.socket.next("whatsapp_message")).data.text, "to one");
    });

    it("gives a conversation-scoped socket only its conversation, and honours a poolNumberId filter", async function () {
      await boot({ tenants: TWO_TENANTS });
      const anas = emulator.inject({ apiKey: KEY_A, fromNumber: ANA, text: "first" });
      assert.equal(emulator.queueSize(KEY_A), 1);
      const conv = await connect({ apiKey: KEY_A, conversationId: anas.conversationId });
      const delivered = collectEvents<{ connectionId: string }>(emulator, "delivered");

      emulator.inject({ apiKey: KEY_A, fromNumber: BEN, text: "not yours" });
      assert.equal(delivered.items.length, 0, "another conversation is not delivered to the scoped socket");
      emulator.inject({ apiKey: KEY_A, fromNumber: ANA, text: "yours" });
      assert.equal((await conv.socket.next("whatsapp_message")).data.text, "yours");

      const pool2 = await connect({ apiKey: KEY_A, poolNumberId: "pn_a2" });
      delivered.items.length = 0;
      emulator.inject({ apiKey: KEY_A, fromNumber: BEN, poolNumberId: "pn_a2", text: "pool 2" });
      assert.deepEqual(
        delivered.items.map((d) => d.connectionId),
        [pool2.connected.connectionId],
      );
      const queuedBefore = emulator.queueSize(KEY_A);
      emulator.inject({ apiKey: KEY_A, fromNumber: BEN, poolNumberId: "pn_a1", text: "pool 1" });
      delivered.stop();
      assert.equal(emulator.queueSize(KEY_A), queuedBefore + 1, "a pool-1 message does not match the pool-2 socket");
    });
  });

  describe("offline queue", function () {
    it("queues while offline and drains every sender merged, oldest first, consuming the queue", async function () {
      await boot();
      const queued = collectEvents(emulator, "queued");
      emulator.inject({ fromNumber: ANA, text: "a2", timestamp: "2030-01-01T00:00:02.000Z" });
      emulator.inject({ fromNumber: BEN, text: "b1", timestamp: "2030-01-01T00:00:01.000Z" });
      emulator.inject({ fromNumber: ANA, text: "a3", timestamp: "2030-01-01T00:00:03.000Z" });
      queued.stop();
      assert.equal(queued.items.length, 3);
      assert.equal(emulator.queueSize(), 3);

      const drainedAll = waitFor(emulator, "delivered", {
        what: "a3 delivered",
        timeoutMs: WAIT_MS,
        until: (d) => (d.message.text === "a3" ? d : undefined),
      });
      const { socket } = await connect();
      const texts = textsOf(await socket.take("whatsapp_message", 3));
      assert.deepEqual(texts, ["b1", "a2", "a3"]);
      await drainedAll;
      assert.equal(emulator.queueSize(), 0, "drained messages are consumed");
    });

    it("drops the oldest message of a sender at queuePerSender", async function () {
      await boot({ queuePerSender: 3 });
      for (let i = 1; i <= 5; i++) emulator.inject({ fromNumber: ANA, text: `m${i}` });
      emulator.inject({ fromNumber: BEN, text: "other sender" });
      assert.equal(emulator.queueSize(), 4);
      const { socket } = await connect();
      const texts = textsOf(await socket.take("whatsapp_message", 4));
      assert.deepEqual(
        texts.filter((t) => t.startsWith("m")),
        ["m3", "m4", "m5"],
      );
    });

    it("expires queued messages after queueTtlMs on the emulator clock", async function () {
      await boot();
      emulator.inject({ fromNumber: ANA, text: "old" });
      emulator.advanceClock(LIMITS.offlineQueueTtlMs + 1);
      emulator.inject({ fromNumber: ANA, text: "fresh" });
      assert.equal(emulator.queueSize(), 1);
      const { socket } = await connect();
      assert.equal((await socket.next("whatsapp_message")).data.text, "fresh");
      assert.equal(emulator.queueSize(), 0);
    });

    it("paces a drain drainPacingMs apart", async function () {
      const pacing = 25;
      await boot({ drainPacingMs: pacing });
      for (let i = 0; i < 3; i++) emulator.inject({ fromNumber: ANA, text: `p${i}` });
      const times: number[] = [];
      const stamp = (): void => void times.push(performance.now());
      emulator.on("delivered", stamp);
      const { socket } = await connect();
      await socket.take("whatsapp_message", 3);
      emulator.off("delivered", stamp);
      assert.ok(times[2] - times[0] >= 2 * pacing - 2, `drain took ${times[2] - times[0]} ms`);
    });

    it("never drains to a conversation-scoped socket", async function () {
      await boot();
      const first = emulator.inject({ fromNumber: ANA, text: "queued" });
      const { socket } = await connect({ conversationId: first.conversationId });
      emulator.inject({ fromNumber: ANA, text: "live" });
      assert.equal((await socket.next("whatsapp_message")).data.text, "live");
      assert.equal(emulator.queueSize(), 1);
      assert.equal(socket.pending("whatsapp_message").length, 0);
    });

    it("requeues the rest when the draining socket closes mid-drain (or drops it when configured)", async function () {
      // A long pacing keeps the drain mid-way; the timer is cancelled on close, so nothing waits for it.
      await boot({ drainPacingMs: 10_000 });
      for (let i = 1; i <= 3; i++) emulator.inject({ fromNumber: ANA, text: `r${i}` });
      const drainer = await connect();
      assert.equal((await drainer.socket.next("whatsapp_message")).data.text, "r1");
      const gone = waitFor(emulator, "disconnect", { what: "the drainer gone", timeoutMs: WAIT_MS });
      await drainer.socket.close();
      await gone;
      assert.equal(emulator.queueSize(), 2);

      emulator.configure({ drainPacingMs: 0 });
      const next = await connect();
      assert.deepEqual(textsOf(await next.socket.take("whatsapp_message", 2)), ["r2", "r3"]);

      emulator.configure({ drainPacingMs: 10_000, drainOnDisconnect: "drop" });
      await next.socket.close();
      for (let i = 1; i <= 3; i++) emulator.inject({ fromNumber: ANA, text: `d${i}` });
      const dropper = await connect();
      await dropper.socket.next("whatsapp_message");
      const goneAgain = waitFor(emulator, "disconnect", { what: "the dropper gone", timeoutMs: WAIT_MS });
      await dropper.socket.close();
      await goneAgain;
      assert.equal(emulator.queueSize(), 0);
    });
  });

  describe("whatsapp_reply", function () {
    it("answers success with a wamid and records what was sent", async function () {
      await boot();
      const { socket, connected } = await connect();
      const inbound = emulator.inject({ fromNumber: ANA, text: "hi" });
      await socket.next("whatsapp_message");
      const sentEvent = waitFor<SentRecord>(emulator, "sent", { what: "the sent event", timeoutMs: WAIT_MS });
      reply(socket, inbound.conversationId, "hello back");
      const status = await socket.next("reply_status");
      assert.equal(status.data.success, true);
      assert.equal(status.data.conversationId, inbound.conversationId);
      assert.match(status.data.messageId, /^wamid\./);
      const record = await sentEvent;
      assert.equal(record.messageId, status.data.messageId);
      assert.deepEqual(emulator.sent({ conversationId: inbound.conversationId }), [
        {
          messageId: status.data.messageId,
          via: "ws",
          userId: "user_demo",
          conversationId: inbound.conversationId,
          poolNumberId: "pn_demo1",
          toNumber: ANA,
          text: "hello back",
          kind: "text",
          at: record.at,
        },
      ]);
      assert.equal(emulator.connections()[0].connectionId, connected.connectionId);
    });

    it("answers SERVICE_WINDOW_EXPIRED after 24 h without inbound, until the user writes again", async function () {
      await boot();
      const { socket } = await connect();
      const inbound = emulator.inject({ fromNumber: ANA, text: "hi" });
      emulator.advanceClock(DAY_MS + 1);
      reply(socket, inbound.conversationId);
      const expired = await socket.next("reply_status");
      assert.deepEqual(expired.data, {
        conversationId: inbound.conversationId,
        success: false,
        error: "service window closed (last inbound > 24h)",
        code: ERROR_CODES.SERVICE_WINDOW_EXPIRED,
      });
      emulator.inject({ fromNumber: ANA, text: "back" });
      reply(socket, inbound.conversationId);
      assert.equal((await socket.next("reply_status")).data.success, true);
      assert.equal(emulator.sent().length, 1);
    });

    it("rejects a conversation-scoped reply to another conversation with OUT_OF_SCOPE", async function () {
      await boot();
      const anas = emulator.inject({ fromNumber: ANA, text: "a" });
      const bens = emulator.inject({ fromNumber: BEN, text: "b" });
      const { socket } = await connect({ conversationId: anas.conversationId });
      reply(socket, bens.conversationId);
      const status = await socket.next("reply_status");
      assert.equal(status.data.code, ERROR_CODES.OUT_OF_SCOPE);
      assert.equal(status.data.conversationId, bens.conversationId);

      emulator.configure({ outOfScopeReply: "silent" });
      reply(socket, bens.conversationId);
      reply(socket, anas.conversationId);
      assert.equal((await socket.next("reply_status")).data.conversationId, anas.conversationId, "the silent reply got no status");
    });

    it("stays silent for another tenant's conversation (or answers CONVERSATION_NOT_FOUND when configured)", async function () {
      await boot({ tenants: TWO_TENANTS });
      const ofA = emulator.inject({ apiKey: KEY_A, fromNumber: ANA, text: "a" });
      const ofB = emulator.inject({ apiKey: KEY_B, fromNumber: BEN, text: "b" });
      const { socket } = await connect({ apiKey: KEY_B });
      await socket.take("whatsapp_message", 1);
      const silent = waitFor(emulator, "reply", {
        what: "the reply to the foreign conversation",
        timeoutMs: WAIT_MS,
        until: (r) => (r.data.conversationId === ofA.conversationId ? r : undefined),
      });
      reply(socket, ofA.conversationId, "intrusion", { poolNumberId: "pn_demo1", toNumber: ANA });
      assert.equal((await silent).status, null);
      reply(socket, ofB.conversationId, "mine", { poolNumberId: "pn_demo1", toNumber: BEN });
      const status = await socket.next("reply_status");
      assert.equal(status.data.conversationId, ofB.conversationId, "no status came for the foreign reply");
      assert.equal(emulator.sent({ conversationId: ofA.conversationId }).length, 0);

      emulator.configure({ foreignConversationReply: "error" });
      reply(socket, ofA.conversationId, "again", { poolNumberId: "pn_demo1", toNumber: ANA });
      const notFound = await socket.next("reply_status");
      assert.equal(notFound.data.code, ERROR_CODES.CONVERSATION_NOT_FOUND);
      assert.equal(notFound.data.success, false);
    });

    it("answers TEXT_TOO_LONG and INVALID_REQUEST (missing routing), in order, with a delay", async function () {
      await boot({ replyStatusDelayMs: 30 });
      const { socket } = await connect();
      const inbound = emulator.inject({ fromNumber: ANA, text: "hi" });
      reply(socket, inbound.conversationId, "x".repeat(LIMITS.textMax + 1));
      emulator.configure({ replyStatusDelayMs: 0 }); // the next status still waits its turn
      reply(socket, inbound.conversationId, "no routing", {});
      reply(socket, inbound.conversationId, "x".repeat(LIMITS.textMax));
      const [tooLong, noRouting, ok] = await socket.take("reply_status", 3);
      assert.equal(tooLong.data.code, ERROR_CODES.TEXT_TOO_LONG);
      assert.equal(noRouting.data.code, ERROR_CODES.INVALID_REQUEST);
      assert.equal(ok.data.success, true);

      emulator.configure({ requireReplyRouting: false });
      reply(socket, inbound.conversationId, "routing optional", {});
      assert.equal((await socket.next("reply_status")).data.success, true);
      assert.deepEqual(
        emulator
          .sent()
          .map((r) => [r.poolNumberId, r.toNumber])
          .at(-1),
        ["pn_demo1", ANA],
        "falls back to the conversation's routing",
      );
    });

    it("ignores malformed and unknown frames without closing the socket; answers incomplete replies and reactions with a failure", async function () {
      await boot();
      const { socket } = await connect();
      const inbound = emulator.inject({ fromNumber: ANA, text: "hi" });
      const frames = collectEvents(emulator, "client-frame");
      socket.send("not json at all");
      socket.send("[1,2]");
      socket.send({ type: "whatsapp_reaction", data: { conversationId: inbound.conversationId, emoji: "👍" } });
      socket.send({ type: "whatsapp_reply" });
      socket.send({ type: "whatsapp_reply", data: { conversationId: inbound.conversationId } });
      socket.send(Buffer.from([0xff, 0x00, 0x7b]));
      reply(socket, inbound.conversationId, "still here");
      // The reaction without a messageId and the reply without text in a known conversation get a
      // failure reply_status (a client waits for one); the frames without a conversation are ignored.
      const statuses = [await socket.next("reply_status"), await socket.next("reply_status"), await socket.next("reply_status")];
      frames.stop();
      assert.deepEqual(
        statuses.map((s) => s.data.code ?? "ok"),
        ["INVALID_REQUEST", "INVALID_REQUEST", "ok"],
      );
      assert.equal(statuses[2].data.success, true);
      assert.equal(frames.items.length, 7);
      assert.equal(frames.items[0].raw, "not json at all");
      assert.ok(socket.isOpen);
      assert.ok(logLines.some((l) => l.includes("ignored frame")));
    });
  });

  describe("REST send", function () {
    let conversationId: string;
    beforeEach(async function () {
      await boot({
        tenants: [
          { userId: "user_demo", apiKey: DEMO_API_KEY },
          { userId: "user_b", apiKey: KEY_B },
        ],
        maxMediaBytes: 1024,
      });
      conversationId = emulator.inject({ fromNumber: ANA, text: "hi" }).conversationId;
    });

    it("sends text and records it", async function () {
      const answer = await send({ conversationId, text: "hello" });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.success, true);
      assert.equal(answer.body.conversationId, conversationId);
      assert.match(answer.body.messageId, /^wamid\./);
      const [record] = emulator.sent();
      assert.equal(record.via, "rest");
      assert.equal(record.kind, "text");
      assert.equal(record.text, "hello");
      assert.equal(record.toNumber, ANA);
    });

    it("records an https URL without fetching it, and refuses http:// and other schemes", async function () {
      const answer = await send({ conversationId, media: "https://example.invalid/pic.png", text: "look" });
      assert.equal(answer.status, 200);
      const [record] = emulator.sent();
      assert.deepEqual(record.media, { mode: "url", url: "https://example.invalid/pic.png", mimeType: "image/png" });
      assert.equal(record.kind, "image");
      assert.equal(record.caption, "look", "text becomes the caption");
      assert.equal((await send({ conversationId, media: "http://example.invalid/pic.png" })).status, 400);
      assert.equal((await send({ conversationId, media: "data:image/png;base64,AAAA" })).status, 400);
    });

    it("stores a base64 upload and sends it again by id, kind from MIME", async function () {
      const bytes = Buffer.from("RIFF....WEBPVP8 fake sticker");
      const upload = await send({
        conversationId,
        media: bytes.toString("base64"),
        mimeType: "image/webp",
        fileName: "s.webp",
        caption: "sticker",
      });
      assert.equal(upload.status, 200);
      const first = emulator.sent()[0];
      assert.equal(first.kind, "sticker");
      assert.equal(first.media?.mode, "base64");
      assert.equal(first.media?.byteSize, bytes.length);
      const mediaId = first.media?.mediaId ?? "";
      assert.match(mediaId, MEDIA_ID_PATTERN);

      const again = await send({ conversationId, media: mediaId });
      assert.equal(again.status, 200);
      assert.deepEqual(emulator.sent()[1].media, {
        mode: "id",
        mediaId,
        mimeType: "image/webp",
        byteSize: bytes.length,
        fileName: "s.webp",
      });

      const pdf = await send({ conversationId, media: Buffer.from("%PDF").toString("base64"), mimeType: "application/pdf" });
      assert.equal(pdf.status, 200);
      assert.equal(emulator.sent()[2].kind, "document");
    });

    it("answers each error with its status and code, never echoing the key", async function () {
      const expectError = async (answer: Promise<HttpAnswer>, status: number, code: string): Promise<HttpAnswer> => {
        const { status: got, body } = await answer;
        assert.equal(got, status, `expected ${status} ${code}, got ${got} ${JSON.stringify(body)}`);
        assert.equal(body.success, false);
        assert.equal(body.error.code, code);
        return answer;
      };
      const bad = await expectError(
        send({ conversationId, text: "x" }, "pk_not_a_real_key_0000000000000000"),
        401,
        ERROR_CODES.UNAUTHORIZED,
      );
      assert.ok(!JSON.stringify(bad.body).includes("pk_not_a_real_key"));
      await expectError(request("POST", "/v1/messages/send", { body: { conversationId, text: "x" } }), 401, ERROR_CODES.UNAUTHORIZED);
      await expectError(send("{not json"), 400, ERROR_CODES.INVALID_REQUEST);
      await expectError(send({ text: "x" }), 400, ERROR_CODES.INVALID_REQUEST);
      await expectError(send({ conversationId }), 400, ERROR_CODES.INVALID_REQUEST);
      await expectError(send({ conversationId: "conv_unknown", text: "x" }), 404, ERROR_CODES.CONVERSATION_NOT_FOUND);
      await expectError(send({ conversationId, text: "x" }, KEY_B), 404, ERROR_CODES.CONVERSATION_NOT_FOUND);
      await expectError(send({ conversationId, text: "x".repeat(LIMITS.textMax + 1) }), 400, ERROR_CODES.TEXT_TOO_LONG);
      await expectError(
        send({ conversationId, media: "https://x.invalid/a.jpg", caption: "c".repeat(LIMITS.captionMax + 1) }),
        400,
        ERROR_CODES.CAPTION_TOO_LONG,
      );
      await expectError(
        send({ conversationId, media: "https://x.invalid/a.jpg", text: "t".repeat(LIMITS.captionMax + 1) }),
        400,
        ERROR_CODES.CAPTION_TOO_LONG,
      );
      await expectError(send({ conversationId, media: "A".repeat(21) }), 404, ERROR_CODES.MEDIA_NOT_FOUND);
      await expectError(send({ conversationId, media: "not*base64!" }), 400, ERROR_CODES.INVALID_REQUEST);
      await expectError(send({ conversationId, media: "AAAA" }), 400, ERROR_CODES.INVALID_REQUEST);
      await expectError(
        send({ conversationId, media: Buffer.alloc(1025).toString("base64"), mimeType: "image/png" }),
        413,
        ERROR_CODES.MEDIA_TOO_LARGE,
      );
      await expectError(send({ conversationId, media: "QUFB".repeat(100_000), mimeType: "image/png" }), 413, ERROR_CODES.MEDIA_TOO_LARGE);
      emulator.advanceClock(DAY_MS + 1);
      await expectError(send({ conversationId, text: "late" }), 403, ERROR_CODES.SERVICE_WINDOW_EXPIRED);
      assert.equal(emulator.sent().length, 0);
      assert.ok(!logLines.join("\n").includes(DEMO_API_KEY) && !logLines.join("\n").includes("pk_not_a_real_key_0"));
    });

    it("expires stored media after mediaTtlMs", async function () {
      const mediaId =
        emulator.inject({ fromNumber: ANA, media: { data: Buffer.from("img"), mimeType: "image/jpeg" } }).media?.mediaId ?? "";
      emulator.advanceClock(LIMITS.mediaTtlMs + 1);
      emulator.inject({ fromNumber: ANA, text: "window open again" });
      const answer = await send({ conversationId, media: mediaId });
      assert.equal(answer.status, 404);
      assert.equal(answer.body.error.code, ERROR_CODES.MEDIA_NOT_FOUND);
    });

    it("answers injected failures with Retry-After, then recovers", async function () {
      emulator.failNextSends(2, { status: 429, retryAfterSeconds: 7 });
      for (let i = 0; i < 2; i++) {
        const answer = await send({ conversationId, text: "x" });
        assert.equal(answer.status, 429);
        assert.equal(answer.headers.get("retry-after"), "7");
        assert.equal(answer.body.error.code, ERROR_CODES.RATE_LIMITED);
      }
      assert.equal((await send({ conversationId, text: "x" })).status, 200);
      emulator.failNextSends(1, { status: 503, code: "UPSTREAM_DOWN" });
      const down = await send({ conversationId, text: "x" });
      assert.equal(down.status, 503);
      assert.equal(down.body.error.code, "UPSTREAM_DOWN");
      assert.equal(down.headers.get("retry-after"), null);
    });
  });

  describe("media download", function () {
    it("redirects to a presigned URL that refuses Authorization and expires", async function () {
      await boot({ tenants: TWO_TENANTS });
      const bytes = Buffer.from("%PDF-1.4 fake");
      const inbound = emulator.inject({
        apiKey: KEY_A,
        fromNumber: ANA,
        media: { data: bytes, mimeType: "application/pdf", fileName: "invoice.pdf" },
        text: "see",
      });
      assert.equal(inbound.type, "document");
      const media = inbound.media!;
      assert.equal(media.byteSize, bytes.length);
      assert.equal(media.downloadUrl, `/v1/media/download/${media.mediaId}`);

      assert.equal((await request("GET", media.downloadUrl)).status, 401);
      assert.equal((await request("GET", media.downloadUrl, { key: KEY_B })).status, 404, "another tenant's media");
      assert.equal((await request("GET", "/v1/media/download/AAAAAAAAAAAAAAAAAAAAA", { key: KEY_A })).status, 404);

      const redirect = await request("GET", media.downloadUrl, { key: KEY_A });
      assert.equal(redirect.status, 302);
      const location = redirect.headers.get("location") ?? "";
      assert.ok(location.startsWith(`${url}/_emulator/storage/`), location);

      const withAuth = await fetch(location, { headers: { Authorization: `Bearer ${KEY_A}` } });
      assert.equal(withAuth.status, 400);
      await withAuth.arrayBuffer();
      const file = await fetch(location);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get("content-type"), "application/pdf");
      assert.equal(file.headers.get("content-length"), String(bytes.length));
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), bytes);

      emulator.advanceClock(LIMITS.presignedUrlTtlMs + 1);
      const expired = await fetch(location);
      assert.equal(expired.status, 403);
      await expired.arrayBuffer();
    });

    it("marks unavailable media without an id", async function () {
      await boot();
      const inbound = emulator.inject({ fromNumber: ANA, media: { unavailable: true, mimeType: "audio/ogg" } });
      assert.equal(inbound.type, "audio");
      assert.deepEqual(inbound.media, { mimeType: "audio/ogg", byteSize: 0, unavailable: true });
    });
  });

  describe("control API", function () {
    beforeEach(() => boot());

    it("injects (with base64 media), lists sent messages, advances the clock, shows state and resets", async function () {
      const { socket } = await connect();
      const injected = await request("POST", "/_emulator/inbound", {
        body: {
          fromNumber: ANA,
          text: "pic",
          media: { data: Buffer.from("png").toString("base64"), mimeType: "image/png" },
          extra: { future: 1 },
        },
      });
      assert.equal(injected.status, 200);
      assert.equal(injected.body.type, "image");
      assert.equal(injected.body.future, 1);
      const frame = await socket.next("whatsapp_message");
      assert.deepEqual(frame.data, injected.body);

      await send({ conversationId: injected.body.conversationId, text: "thanks" });
      const sent = await request("GET", `/_emulator/sent?conversationId=${injected.body.conversationId}`);
      assert.equal(sent.body.length, 1);
      assert.equal((await request("GET", "/_emulator/sent?conversationId=conv_other")).body.length, 0);

      const before = emulator.now();
      const clock = await request("POST", "/_emulator/clock", { body: { advanceMs: 60_000 } });
      assert.ok(clock.body.now >= before + 60_000);

      const state = await request("GET", "/_emulator/state");
      assert.equal(state.body.connections.length, 1);
      assert.deepEqual(state.body.queues, { user_demo: 0 });
      assert.deepEqual(state.body.tenants, [{ userId: "user_demo", poolNumbers: [{ id: "pn_demo1", phoneNumber: "+15550009999" }] }]);
      assert.equal(state.body.conversations.length, 1);
      assert.ok(!JSON.stringify(state.body).includes(DEMO_API_KEY), "state never shows keys");

      assert.equal((await request("POST", "/_emulator/reset")).status, 200);
      assert.equal(emulator.sent().length, 0);
      assert.equal(emulator.state().conversations.length, 0);
      assert.equal((await request("GET", injected.body.media.downloadUrl, { key: DEMO_API_KEY })).status, 404);
    });

    it("injects failures and drops connections on request", async function () {
      const { socket } = await connect();
      assert.equal((await request("POST", "/_emulator/fail-sends", { body: { count: 1, status: 500 } })).status, 200);
      const conversationId = emulator.inject({ fromNumber: ANA, text: "x" }).conversationId;
      assert.equal((await send({ conversationId, text: "y" })).status, 500);
      assert.equal((await request("POST", "/_emulator/drop-connections")).status, 200);
      assert.equal(await socket.closed, 1006);
    });

    it("answers bad input with 400 and unknown routes with 404, as JSON", async function () {
      const badJson = await request("POST", "/_emulator/inbound", { body: "{oops" });
      assert.equal(badJson.status, 400);
      assert.equal(badJson.body.error.code, ERROR_CODES.INVALID_REQUEST);
      assert.equal((await request("POST", "/_emulator/inbound", { body: { text: "no sender" } })).status, 400);
      assert.equal((await request("POST", "/_emulator/inbound", { body: { fromNumber: ANA, poolNumberId: "pn_nope" } })).status, 400);
      assert.equal(
        (await request("POST", "/_emulator/inbound", { body: { fromNumber: ANA, media: { data: "***", mimeType: "image/png" } } })).status,
        400,
      );
      assert.equal((await request("POST", "/_emulator/clock", { body: { advanceMs: -5 } })).status, 400);
      assert.equal((await request("POST", "/_emulator/clock", { body: { advanceMs: "soon" } })).status, 400);
      assert.equal((await request("GET", "/_emulator/inbound")).status, 405);
      const unknown = await request("GET", "/_emulator/nothing");
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.success, false);
      assert.equal((await request("GET", "/elsewhere")).status, 404);
      assert.equal((await request("GET", "/ws")).status, 426);
    });
  });

  describe("lifecycle and options", function () {
    it("stop() terminates open sockets quickly and is safe to call twice", async function () {
      await boot({ drainPacingMs: 10_000, replyStatusDelayMs: 10_000 });
      for (let i = 0; i < 3; i++) emulator.inject({ fromNumber: ANA, text: `q${i}` });
      const drainer = await connect();
      await drainer.socket.next("whatsapp_message");
      reply(drainer.socket, emulator.state().conversations[0].conversationId);
      await waitFor(emulator, "reply", { what: "the reply at the emulator", timeoutMs: WAIT_MS });
      const other = await connect();
      const started = performance.now();
      await emulator.stop();
      await emulator.stop();
      assert.ok(performance.now() - started < 1000, "stop() is quick despite pending timers");
      await Promise.all([drainer.socket.closed, other.socket.closed]);
      assert.equal(emulator.queueSize(), 2, "the unsent rest of the drain is kept");
    });

    it("validates options and refuses a second start", async function () {
      assert.throws(() => new PipesEmulator({ queuePerSender: 0 }), RangeError);
      assert.throws(() => new PipesEmulator({ fanOut: "some" as "all" }), RangeError);
      assert.throws(
        () =>
          new PipesEmulator({
            tenants: [
              { userId: "a", apiKey: "pk_same_key_000" },
              { userId: "b", apiKey: "pk_same_key_000" },
            ],
          }),
        (error: Error) => error instanceof RangeError && !error.message.includes("pk_same_key_000"),
      );
      await boot();
      assert.throws(() => emulator.configure({ drainPacingMs: -1 }), RangeError);
      await assert.rejects(emulator.start(0), /already started/);
      assert.throws(() => emulator.advanceClock(-1), RangeError);
      assert.throws(() => emulator.inject({ fromNumber: ANA, apiKey: "pk_unknown_000000" }), /unknown apiKey/);
      assert.throws(() => new PipesEmulator().url, /not started/);
    });
  });

  describe("CLI", function () {
    it("parses flags, the environment and help", function () {
      assert.deepEqual(parseCliArgs([], {}), { kind: "run", port: 3977, host: "127.0.0.1", pacingMs: 750, apiKey: DEMO_API_KEY });
      assert.deepEqual(
        parseCliArgs(["--port", "4000", "--host=0.0.0.0", "--pacing", "0", "--key", "pk_mine"], { PIPES_EMULATOR_PORT: "5000" }),
        {
          kind: "run",
          port: 4000,
          host: "0.0.0.0",
          pacingMs: 0,
          apiKey: "pk_mine",
        },
      );
      assert.equal((parseCliArgs([], { PIPES_EMULATOR_PORT: "5000" }) as { port: number }).port, 5000);
      assert.deepEqual(parseCliArgs(["--help"]), { kind: "help" });
      assert.equal(parseCliArgs(["--port", "http"]).kind, "error");
      assert.equal(parseCliArgs(["--port"]).kind, "error");
      assert.equal(parseCliArgs(["--verbose"]).kind, "error");
      assert.equal(parseCliArgs([], { PIPES_EMULATOR_PORT: "99999" }).kind, "error");
    });

    it("reports a port in use in one line with exit code 1, and prints the URLs when it starts", async function () {
      const blocker: Server = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
      const port = (blocker.address() as { port: number }).port;
      const errors: string[] = [];
      const out: string[] = [];
      try {
        const result = await startFromCli(
          { kind: "run", port, host: "127.0.0.1", pacingMs: 0, apiKey: DEMO_API_KEY },
          { out: () => undefined, err: (l) => errors.push(l) },
        );
        assert.equal(result, 1);
        assert.deepEqual(errors, [`port ${port} is in use; pass --port`]);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
      const started = await startFromCli(
        { kind: "run", port: 0, host: "127.0.0.1", pacingMs: 0, apiKey: DEMO_API_KEY },
        { out: (l) => out.push(l), err: (l) => errors.push(l) },
      );
      assert.ok(started instanceof PipesEmulator);
      emulator = started;
      const text = out.join("\n");
      assert.ok(
        text.includes(started.url) &&
          text.includes(`${started.url.replace("http", "ws")}/ws?apiKey=`) &&
          text.includes("/_emulator/inbound"),
      );
    });
  });
});
