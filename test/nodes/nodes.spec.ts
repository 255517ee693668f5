/**
 * The four nodes in a real Node-RED runtime (node-red-node-test-helper) against the emulator on
 * 127.0.0.1: every node, every message type, every failure path of the core contract.
 */
import * as assert from "node:assert/strict";
import type { EventEmitter } from "node:events";
import { useEmulator } from "../support/emulator-fixture";
import { configNode, coreNodes, helper, loadFlow, nextError, nextInput, statuses, waitForStatus } from "../support/nodered";
import { collect } from "../support/wait";

const KEY_A = "pk_test_tenant_a_000000000000000000";
const KEY_B = "pk_test_tenant_b_000000000000000000";
const [COMPLETE_NODE] = coreNodes("common/24-complete.js");
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(64, 1)]);

describe("nodes against the emulator", function () {
  const { emu, sockets } = useEmulator({
    tenants: [
      { userId: "user_a", apiKey: KEY_A, poolNumbers: [{ id: "pn_a1", phoneNumber: "+15550000001" }] },
      { userId: "user_b", apiKey: KEY_B, poolNumbers: [{ id: "pn_b1", phoneNumber: "+15550000002" }] },
    ],
    settings: { replyStatusDelayMs: 0 },
  });

  function echoFlow(extra: Record<string, unknown> = {}, config: Record<string, unknown> = {}) {
    return [
      configNode(emu.url, config),
      { id: "in", type: "pipes-in", connection: "cfg", wires: [["echo", "received"]] },
      { id: "echo", type: "helper", wires: [] },
      { id: "received", type: "helper" },
      { id: "reply", type: "pipes-reply", connection: "cfg", timeout: 2, ...extra, wires: [["ok"], ["failed"]] },
      { id: "ok", type: "helper" },
      { id: "failed", type: "helper" },
    ];
  }

  describe("pipes-config and status", function () {
    it("opens ONE socket shared by every node and shows 'connected (user)' on each", async function () {
      await loadFlow(
        [
          ...echoFlow(),
          { id: "in2", type: "pipes-in", connection: "cfg", wires: [] },
          { id: "reply2", type: "pipes-reply", connection: "cfg", wires: [[], []] },
        ],
        KEY_A,
      );
      await sockets(1);
      for (const id of ["in", "in2", "reply", "reply2"]) {
        const status = await waitForStatus(id, "connected (user)");
        assert.equal(status.fill, "green");
      }
      assert.equal(emu.connections().length, 1);
      assert.equal(emu.connections()[0].scope, "user");
    });

    it("shows 'invalid API key (401)' in red and fails replies with NOT_CONNECTED", async function () {
      await loadFlow(echoFlow(), "pk_wrong_key_000000000000000000000000");
      const status = await waitForStatus("in", "invalid API key (401)");
      assert.equal(status.fill, "red");
      const failed = nextInput("failed");
      helper.getNode("reply").receive({ payload: "hi", pipes: { conversationId: "c", poolNumberId: "p", fromNumber: "+1" } });
      assert.equal((await failed).error.code, "NOT_CONNECTED");
    });

    it("shows 'forbidden (403)' for a conversation scope on another tenant's conversation", async function () {
      const foreign = emu.inject({ apiKey: KEY_B, fromNumber: "+15551110000", text: "hi" });
      await loadFlow(echoFlow({}, { scope: "conversation", conversationId: foreign.conversationId }), KEY_A);
      const status = await waitForStatus("in", "forbidden (403)");
      assert.equal(status.fill, "red");
    });

    it("refuses to start without a key, with a red status instead of a crash", async function () {
      await loadFlow([configNode(emu.url), { id: "in", type: "pipes-in", connection: "cfg", wires: [] }], "");
      assert.deepEqual(statuses("in").at(-1), { fill: "red", shape: "ring", text: "missing API key" });
    });

    it("closes its socket when the flows stop", async function () {
      await loadFlow(echoFlow(), KEY_A);
      await sockets(1);
      await helper.unload();
      await sockets(0);
    });
  });

  describe("pipes-in", function () {
    it("turns a text message into msg.payload, msg.topic and msg.pipes", async function () {
      await loadFlow(echoFlow(), KEY_A);
      await sockets(1);
      const received = nextInput("received");
      const sent = emu.inject({ fromNumber: "+15551234567", fromName: "Ana", text: "hello" });
      const msg = await received;
      assert.equal(msg.payload, "hello");
      assert.equal(msg.topic, sent.conversationId);
      assert.equal(msg.pipes.messageId, sent.messageId);
      assert.equal(msg.pipes.fromNumber, "+15551234567");
      assert.equal(msg.pipes.fromName, "Ana");
      assert.equal(msg.pipes.poolNumberId, "pn_a1");
      assert.equal(msg.pipes.type, "text");
    });

    it("delivers location, contacts, reaction, unsupported and unknown types as their objects", async function () {
      await loadFlow(echoFlow(), KEY_A);
      await sockets(1);
      const received = collect<any>(helper.getNode("received"), "input", 5);
      const location = { latitude: 38.7, longitude: -9.1, name: "Lisbon" };
      const contacts = [{ name: { formatted_name: "Bo" }, phones: [{ phone: "+15550001" }] }];
      emu.inject({ fromNumber: "+1555", location });
      emu.inject({ fromNumber: "+1555", contacts });
      emu.inject({ fromNumber: "+1555", reaction: { messageId: "msg_1", emoji: "👍" } });
      emu.inject({ fromNumber: "+1555", type: "unsupported", text: "?" });
      emu.inject({ fromNumber: "+1555", type: "poll", extra: { poll: { question: "tea?" } } });
      const msgs = await received;
      assert.deepEqual(
        msgs.map((m) => m.pipes.type),
        ["location", "contacts", "reaction", "unsupported", "poll"],
      );
      assert.deepEqual(msgs[0].payload, location);
      assert.deepEqual(msgs[1].payload, contacts);
      assert.deepEqual(msgs[2].payload, { messageId: "msg_1", emoji: "👍" });
      assert.equal(msgs[3].payload, "?");
      assert.deepEqual(msgs[4].payload, { question: "tea?" });
    });

    it("drops an exact replay of a message id", async function () {
      await loadFlow(echoFlow(), KEY_A);
      await sockets(1);
      const received = collect<any>(helper.getNode("received"), "input", 2);
      emu.inject({ fromNumber: "+1555", text: "once", messageId: "msg_replayed" });
      emu.inject({ fromNumber: "+1555", text: "once", messageId: "msg_replayed" });
      emu.inject({ fromNumber: "+1555", text: "next" });
      assert.deepEqual(
        (await received).map((m) => m.payload),
        ["once", "next"],
      );
    });

    it("accepts only the chosen types, in order", async function () {
      await loadFlow(
        [
          configNode(emu.url),
          { id: "in", type: "pipes-in", connection: "cfg", types: ["text"], wires: [["received"]] },
          { id: "received", type: "helper" },
        ],
        KEY_A,
      );
      await sockets(1);
      const received = collect<any>(helper.getNode("received"), "input", 2);
      emu.inject({ fromNumber: "+1555", media: { data: PNG, mimeType: "image/png" } });
      emu.inject({ fromNumber: "+1555", text: "first" });
      emu.inject({ fromNumber: "+1555", location: { latitude: 1, longitude: 2 } });
      emu.inject({ fromNumber: "+1555", text: "second" });
      assert.deepEqual(
        (await received).map((m) => m.payload),
        ["first", "second"],
      );
    });

    it("gives the media object without downloading, and a Buffer when download is on", async function () {
      await loadFlow(
        [
          configNode(emu.url),
          { id: "plain", type: "pipes-in", connection: "cfg", wires: [["a"]] },
          { id: "download", type: "pipes-in", connection: "cfg", downloadMedia: true, maxMediaMB: 1, wires: [["b"]] },
          { id: "a", type: "helper" },
          { id: "b", type: "helper" },
        ],
        KEY_A,
      );
      await sockets(1);
      const [a, b] = [nextInput("a"), nextInput("b")];
      emu.inject({ fromNumber: "+1555", text: "look", media: { data: PNG, mimeType: "image/png", fileName: "dot.png" } });
      const plain = await a;
      assert.equal(plain.pipes.type, "image");
      assert.equal(plain.payload.mimeType, "image/png");
      assert.equal(plain.payload.byteSize, PNG.length);
      assert.match(plain.payload.downloadUrl, /^\/v1\/media\/download\//);
      const downloaded = await b;
      assert.equal(downloaded.mediaError, undefined, JSON.stringify(downloaded.mediaError));
      // The emulator's storage URL refuses an Authorization header: getting the bytes proves the key stayed home.
      assert.ok(Buffer.isBuffer(downloaded.payload));
      assert.ok(downloaded.payload.equals(PNG));
      assert.equal(downloaded.mimetype, "image/png");
      assert.equal(downloaded.filename, "dot.png");
      assert.equal(downloaded.pipes.text, "look");
    });

    it("keeps the media object and explains why when the file is over the size limit or unavailable", async function () {
      await loadFlow(
        [
          configNode(emu.url),
          { id: "in", type: "pipes-in", connection: "cfg", downloadMedia: true, maxMediaMB: 0.00001, wires: [["r"]] },
          { id: "r", type: "helper" },
        ],
        KEY_A,
      );
      await sockets(1);
      const received = collect<any>(helper.getNode("r"), "input", 2);
      emu.inject({ fromNumber: "+1555", media: { data: PNG, mimeType: "image/png" } });
      emu.inject({ fromNumber: "+1555", media: { unavailable: true, mimeType: "video/mp4" } });
      const [tooBig, unavailable] = await received;
      assert.equal(tooBig.mediaError.code, "MEDIA_TOO_LARGE");
      assert.equal(tooBig.payload.byteSize, PNG.length);
      assert.equal(unavailable.payload.unavailable, true);
      assert.equal(unavailable.pipes.type, "video");
    });

    it("receives what was queued while offline, oldest first", async function () {
      for (const text of ["one", "two", "three"]) emu.inject({ fromNumber: "+1555", text });
      assert.equal(emu.queueSize(KEY_A), 3);
      const flow = echoFlow();
      const loaded = loadFlow(flow, KEY_A);
      await loaded;
      const received = await collect<any>(helper.getNode("received"), "input", 3);
      assert.deepEqual(
        received.map((m) => m.payload),
        ["one", "two", "three"],
      );
      assert.equal(emu.queueSize(KEY_A), 0);
    });
  });

  describe("pipes-reply", function () {
    it("echoes end to end: reply_status success gives msg.sent on output 1", async function () {
      await loadFlow(echoFlow(), KEY_A);
      await sockets(1);
      const echoed = nextInput("echo");
      const inbound = emu.inject({ fromNumber: "+15557654321", text: "hello" });
      const msg = await echoed;
      const ok = nextInput("ok");
      msg.payload = `You said: ${msg.payload}`;
      helper.getNode("reply").receive(msg);
      const result = await ok;
      assert.match(result.sent.messageId, /^wamid\./);
      assert.equal(result.sent.conversationId, inbound.conversationId);
      assert.equal(result.sent.transport, "ws");
      const sent = emu.sent({ conversationId: inbound.conversationId });
      assert.equal(sent.length, 1);
      assert.equal(sent[0].text, "You said: hello");
      assert.equal(sent[0].toNumber, "+15557654321");
      assert.equal(sent[0].via, "ws");
    });

    it("with output 1 unwired, ends the msg (a Complete node sees it with msg.sent) without sending it on", async function () {
      const flow = echoFlow();
      const reply = flow.find((node) => node.id === "reply")!;
      reply.wires = [[], ["failed"]];
      flow.push({ id: "completed", type: "complete", scope: ["reply"], wires: [["done"]] }, { id: "done", type: "helper" });
      await loadFlow(flow, KEY_A, [COMPLETE_NODE]);
      await sockets(1);
      const echoed = nextInput("echo");
      const inbound = emu.inject({ fromNumber: "+15557654321", text: "hello" });
      const msg = await echoed;
      const completed = nextInput("done");
      let sentOn = 0;
      (helper.getNode("reply") as unknown as EventEmitter).on("call:send", () => sentOn++);
      msg.payload = `You said: ${msg.payload}`;
      helper.getNode("reply").receive(msg);
      const result = await completed;
      assert.match(result.sent.messageId, /^wamid\./);
      assert.equal(result.sent.conversationId, inbound.conversationId);
      assert.equal(sentOn, 0);
      assert.equal(emu.sent({ conversationId: inbound.conversationId }).length, 1);
    });

    it("wired later by a 'modified nodes' deploy (the node keeps running), sends on output 1 from then on", async function () {
      const flow = echoFlow();
      flow.find((node) => node.id === "reply")!.wires = [[], []];
      await loadFlow(flow, KEY_A);
      await sockets(1);
      // What Node-RED does to a node whose only change is its wiring (Flow.start, diff.rewired).
      (helper.getNode("reply") as unknown as { updateWires(wires: string[][]): void }).updateWires([["ok"], ["failed"]]);
      const echoed = nextInput("echo");
      emu.inject({ fromNumber: "+15557654321", text: "hello" });
      const msg = await echoed;
      const ok = nextInput("ok");
      helper.getNode("reply").receive(msg);
      assert.match((await ok).sent.messageId, /^wamid\./);
    });

    it("routes SERVICE_WINDOW_EXPIRED to output 2 with the server's code", async function () {
      await loadFlow(echoFlow(), KEY_A);
      await sockets(1);
      const echoed = nextInput("echo");
      emu.inject({ fromNumber: "+1555", text: "hello" });
      const msg = await echoed;
      emu.advanceClock(24 * 60 * 60 * 1000 + 1000);
      const failed = nextInput("failed");
      helper.getNode("reply").receive(msg);
      const result = await failed;
      assert.equal(result.error.code, "SERVICE_WINDOW_EXPIRED");
      assert.equal(result.error.source, "server");
      assert.equal(result.sent, undefined);
    });

    it("times out when reply_status never comes, with code TIMEOUT", async function () {
      await loadFlow(echoFlow({ timeout: 0.2 }), KEY_A);
      await sockets(1);
      emu.configure({ replyStatusDelayMs: 3000 });
      const echoed = nextInput("echo");
      emu.inject({ fromNumber: "+1555", text: "hello" });
      const msg = await echoed;
      const failed = nextInput("failed");
      helper.getNode("reply").receive(msg);
      assert.equal((await failed).error.code, "TIMEOUT");
    });

    it("refuses a reply to another conversation on a conversation-scoped connection before sending", async function () {
      const mine = emu.inject({ fromNumber: "+1555", text: "mine" });
      const other = emu.inject({ fromNumber: "+1666", text: "other" });
      await loadFlow(echoFlow({}, { scope: "conversation", conversationId: mine.conversationId }), KEY_A);
      await waitForStatus("reply", `connected (${mine.conversationId})`);
      const frames: unknown[] = [];
      emu.on("client-frame", (f) => frames.push(f));
      const failed = nextInput("failed");
      helper.getNode("reply").receive({ payload: "hi", pipes: other });
      assert.equal((await failed).error.code, "OUT_OF_SCOPE");
      const ok = nextInput("ok");
      helper.getNode("reply").receive({ payload: "hi", pipes: mine });
      await ok;
      assert.equal(frames.length, 1, "only the in-scope reply reached the server");
      assert.equal(emu.sent().length, 1);
    });

    it("refuses an out-of-scope REST reply and media send too", async function () {
      const mine = emu.inject({ fromNumber: "+1555", text: "mine" });
      const other = emu.inject({ fromNumber: "+1666", text: "other" });
      await loadFlow(
        [
          ...echoFlow({ transport: "rest" }, { scope: "conversation", conversationId: mine.conversationId }),
          { id: "media", type: "pipes-send-media", connection: "cfg", wires: [["ok"], ["failed"]] },
        ],
        KEY_A,
      );
      let failed = nextInput("failed");
      helper.getNode("reply").receive({ payload: "hi", pipes: other });
      assert.equal((await failed).error.code, "OUT_OF_SCOPE");
      failed = nextInput("failed");
      helper.getNode("media").receive({ payload: PNG, pipes: other });
      assert.equal((await failed).error.code, "OUT_OF_SCOPE");
      assert.equal(emu.sent().length, 0);
    });

    it("splits text over 4096 characters into ordered parts, or rejects it when told to", async function () {
      await loadFlow(echoFlow(), KEY_A);
      await sockets(1);
      const inbound = emu.inject({ fromNumber: "+1555", text: "hello" });
      const long = "Lorem ipsum dolor sit amet. ".repeat(200).trim(); // 5599 characters
      const ok = nextInput("ok");
      helper.getNode("reply").receive({ payload: long, pipes: inbound });
      const result = await ok;
      assert.equal(result.sent.parts, 2);
      assert.equal(result.sent.messageIds.length, 2);
      const texts = emu.sent({ conversationId: inbound.conversationId }).map((s) => s.text ?? "");
      assert.equal(texts.length, 2);
      assert.ok(texts.every((t) => t.length <= 4096));
      assert.equal(texts.join(" "), long);
    });

    it("rejects long text with TEXT_TOO_LONG when splitting is off", async function () {
      await loadFlow(echoFlow({ longText: "reject" }), KEY_A);
      await sockets(1);
      const inbound = emu.inject({ fromNumber: "+1555", text: "hello" });
      const failed = nextInput("failed");
      helper.getNode("reply").receive({ payload: "x".repeat(4097), pipes: inbound });
      assert.equal((await failed).error.code, "TEXT_TOO_LONG");
      assert.equal(emu.sent().length, 0);
    });

    it("uses the node's own routing fields over msg.pipes (typedInput)", async function () {
      const target = emu.inject({ fromNumber: "+15559990000", text: "hello" });
      await loadFlow(
        echoFlow({
          conversationId: "target",
          conversationIdType: "msg",
          poolNumberId: target.poolNumberId,
          poolNumberIdType: "str",
          toNumber: "number",
          toNumberType: "msg",
        }),
        KEY_A,
      );
      await sockets(1);
      const ok = nextInput("ok");
      helper.getNode("reply").receive({
        payload: "routed",
        target: target.conversationId,
        number: target.fromNumber,
        pipes: { conversationId: "conv_elsewhere" },
      });
      assert.equal((await ok).sent.conversationId, target.conversationId);
      assert.equal(emu.sent({ conversationId: target.conversationId })[0].text, "routed");
    });

    it("sends over REST when the transport says so", async function () {
      await loadFlow(echoFlow({ transport: "rest" }), KEY_A);
      await sockets(1);
      const inbound = emu.inject({ fromNumber: "+1555", text: "hello" });
      const ok = nextInput("ok");
      helper.getNode("reply").receive({ payload: "over rest", pipes: { conversationId: inbound.conversationId } });
      const result = await ok;
      assert.equal(result.sent.transport, "rest");
      assert.match(result.sent.messageId, /^wamid\./);
      assert.equal(emu.sent()[0].via, "rest");
    });

    for (const [label, msg, codeWanted] of [
      ["an object payload", { payload: { a: 1 } }, "BAD_INPUT"],
      ["an undefined payload", {}, "BAD_INPUT"],
      ["an empty payload", { payload: "" }, "BAD_INPUT"],
      ["no routing", { payload: "hi", pipes: undefined }, "MISSING_ROUTING"],
    ] as const) {
      it(`routes ${label} to output 2 with ${codeWanted}`, async function () {
        await loadFlow(echoFlow(), KEY_A);
        await sockets(1);
        const failed = nextInput("failed");
        helper.getNode("reply").receive({ pipes: { conversationId: "c", poolNumberId: "p", fromNumber: "+1" }, ...msg });
        const result = await failed;
        assert.equal(result.error.code, codeWanted);
        assert.equal(result.error.source, "client");
        assert.ok(result.error.message.length > 5);
      });
    }

    it("reports failures with done(err) so a Catch node sees them when output 2 is not wired", async function () {
      await loadFlow(
        [configNode(emu.url), { id: "reply", type: "pipes-reply", connection: "cfg", wires: [["ok"]] }, { id: "ok", type: "helper" }],
        KEY_A,
      );
      await waitForStatus("reply", "replies over REST (no pipes-in)");
      const reported = nextError("reply");
      helper.getNode("reply").receive({ payload: { not: "text" }, pipes: { conversationId: "c", poolNumberId: "p", fromNumber: "+1" } });
      const { err, msg } = await reported;
      assert.match(String((err as Error).message ?? err), /reply text must be a string/);
      assert.equal(msg.error.code, "BAD_INPUT");
    });
  });

  describe("pipes-send-media", function () {
    function mediaFlow(extra: Record<string, unknown> = {}) {
      return [
        configNode(emu.url),
        { id: "media", type: "pipes-send-media", connection: "cfg", timeout: 5, ...extra, wires: [["ok"], ["failed"]] },
        { id: "ok", type: "helper" },
        { id: "failed", type: "helper" },
      ];
    }

    it("sends a Buffer as base64 with its sniffed MIME type and caption, without opening a socket", async function () {
      const inbound = emu.inject({ fromNumber: "+1555", text: "hello" });
      await loadFlow(mediaFlow(), KEY_A);
      const ok = nextInput("ok");
      helper.getNode("media").receive({ payload: PNG, caption: "a dot", filename: "dot.png", pipes: inbound });
      const result = await ok;
      assert.match(result.sent.messageId, /^wamid\./);
      assert.equal(result.sent.kind, "image");
      const [record] = emu.sent();
      assert.equal(record.kind, "image");
      assert.equal(record.caption, "a dot");
      assert.equal(record.media?.mode, "base64");
      assert.equal(record.media?.byteSize, PNG.length);
      assert.equal(record.media?.fileName, "dot.png");
      assert.equal(emu.connections().length, 0, "REST sends need no socket");
    });

    it("sends an https URL and a media id as they are", async function () {
      const inbound = emu.inject({ fromNumber: "+1555", media: { data: PNG, mimeType: "image/png" } });
      await loadFlow(mediaFlow(), KEY_A);
      let ok = nextInput("ok");
      helper.getNode("media").receive({ payload: "https://example.com/cat.jpg", mimetype: "image/jpeg", pipes: inbound });
      await ok;
      ok = nextInput("ok");
      helper.getNode("media").receive({ payload: inbound.media!.mediaId, pipes: inbound });
      await ok;
      const [byUrl, byId] = emu.sent();
      assert.equal(byUrl.media?.mode, "url");
      assert.equal(byUrl.media?.url, "https://example.com/cat.jpg");
      assert.equal(byId.media?.mode, "id");
      assert.equal(byId.media?.mediaId, inbound.media!.mediaId);
    });

    for (const [label, msg, codeWanted] of [
      ["a caption of 1025 characters", { payload: PNG, caption: "x".repeat(1025) }, "CAPTION_TOO_LONG"],
      ["an http: URL", { payload: "http://example.com/a.png" }, "BAD_INPUT"],
      ["an unknown media string", { payload: "just some words" }, "BAD_INPUT"],
      ["bytes of unknown type", { payload: Buffer.from("mystery bytes") }, "UNKNOWN_MIME_TYPE"],
      ["no conversation", { payload: PNG, pipes: null }, "MISSING_ROUTING"],
    ] as const) {
      it(`refuses ${label} with ${codeWanted} before sending`, async function () {
        const inbound = emu.inject({ fromNumber: "+1555", text: "hello" });
        await loadFlow(mediaFlow(), KEY_A);
        const failed = nextInput("failed");
        helper.getNode("media").receive({ pipes: inbound, ...msg });
        assert.equal((await failed).error.code, codeWanted);
        assert.equal(emu.sent().length, 0);
      });
    }

    it("routes HTTP 403 SERVICE_WINDOW_EXPIRED and other HTTP failures to output 2 with codes", async function () {
      const inbound = emu.inject({ fromNumber: "+1555", text: "hello" });
      await loadFlow(mediaFlow(), KEY_A);
      emu.advanceClock(25 * 60 * 60 * 1000);
      let failed = nextInput("failed");
      helper.getNode("media").receive({ payload: PNG, pipes: inbound });
      let result = await failed;
      assert.equal(result.error.code, "SERVICE_WINDOW_EXPIRED");
      assert.equal(result.error.status, 403);
      const fresh = emu.inject({ fromNumber: "+1777", text: "hello" });
      emu.failNextSends(1, { status: 500, code: "INTERNAL" });
      failed = nextInput("failed");
      helper.getNode("media").receive({ payload: PNG, pipes: fresh });
      result = await failed;
      assert.equal(result.error.code, "INTERNAL");
      assert.equal(result.error.status, 500);
    });

    it("retries a 429 after its Retry-After and then succeeds", async function () {
      const inbound = emu.inject({ fromNumber: "+1555", text: "hello" });
      await loadFlow(mediaFlow(), KEY_A);
      emu.failNextSends(1, { status: 429, code: "RATE_LIMITED", retryAfterSeconds: 0 });
      const ok = nextInput("ok");
      helper.getNode("media").receive({ payload: PNG, pipes: inbound });
      await ok;
      assert.equal(emu.sent().length, 1);
    });
  });
});
