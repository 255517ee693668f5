/**
 * pipes-webhook-in in a real Node-RED runtime, with real HTTP on 127.0.0.1 to Node-RED's node app:
 * signatures on the exact bytes, every refusal code, deduplication across webhook and socket, the
 * same msg as pipes-in, and routes that survive redeploys without touching a user's http in.
 * (Real Node-RED 4.0-5.0 processes were checked by hand: docs/research/webhook-raw-body.md.)
 */
import * as assert from "node:assert/strict";
import type { EventEmitter } from "node:events";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { NodeAPI } from "node-red";
import { signPayload } from "../../src/lib/webhook";
import { useEmulator } from "../support/emulator-fixture";
import { configNode, coreNodes, helper, nextInput, PIPES_NODES } from "../support/nodered";
import { collect, waitUntil } from "../support/wait";
import { freePort } from "../support/ports";
import { webhookBody } from "../support/webhook";

const KEY = "pk_test_webhook_in_000000000000000";
const SECRET = "whsec_test_0123456789abcdef";

/** A node type whose only job is to hand the test Node-RED's node app (RED.httpNode). */
let nodeApp: RequestListener | undefined;
function captureNodeApp(RED: NodeAPI): void {
  nodeApp = RED.httpNode;
  RED.nodes.registerType("capture-node-app", function (this: unknown, def: object) {
    RED.nodes.createNode(this as never, def as never);
  });
}
const [HTTP_IN, CATCH] = coreNodes("network/21-httpin.js", "common/25-catch.js");

describe("pipes-webhook-in: signed webhook deliveries", function () {
  this.timeout(20_000);
  const { emu } = useEmulator({
    tenants: [{ userId: "user_w", apiKey: KEY, poolNumbers: [{ id: "pn_9", phoneNumber: "+15550009999" }] }],
    settings: { replyStatusDelayMs: 0 },
  });
  let server: Server | undefined;
  let base = "";

  afterEach(async function () {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function load(
    webhook: Record<string, unknown> = {},
    extra: Record<string, unknown>[] = [],
    secret: string | null = SECRET,
    baseUrl = emu.url,
  ) {
    const flow = [
      configNode(baseUrl),
      { id: "hook", type: "pipes-webhook-in", connection: "cfg", path: "/pipes/webhook", wires: [["out"]], ...webhook },
      { id: "out", type: "helper" },
      { id: "capture", type: "capture-node-app" },
      ...extra,
    ];
    await helper.load([...PIPES_NODES, captureNodeApp, HTTP_IN, CATCH] as never, flow as never, {
      cfg: { apiKey: KEY },
      hook: secret === null ? {} : { secret },
    });
    server = createServer(nodeApp);
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function post(
    body: string,
    headers: Record<string, string> = {},
    path = "/pipes/webhook",
    method = "POST",
  ): Promise<{ status: number; text: string; type: string | null }> {
    const response = await fetch(base + path, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: method === "GET" ? undefined : body,
    });
    return { status: response.status, text: await response.text(), type: response.headers.get("content-type") };
  }
  const signed = (raw: string) => ({ "x-pipes-signature": signPayload(raw, SECRET) });
  const emitted: unknown[] = [];
  const outputs = () => helper.getNode("out") as unknown as EventEmitter;
  beforeEach(function () {
    emitted.length = 0;
  });

  it("accepts a signed delivery (pretty JSON, non-ASCII: the exact bytes) and sends the msg pipes-in sends", async function () {
    await load();
    const raw = JSON.stringify(webhookBody({ id: "msg_pretty", type: "text", text: { body: "Olá, ação! 日本語 🎉" } }), null, 2).replace(
      /\n/g,
      "\r\n",
    );
    const received = nextInput("out");
    assert.deepEqual(await post(raw, signed(raw)), { status: 200, text: '{"ok":true}', type: "application/json; charset=utf-8" });
    const msg = await received;
    assert.equal(msg.payload, "Olá, ação! 日本語 🎉");
    assert.equal(msg.topic, "conv_a1");
    assert.deepEqual(
      {
        messageId: msg.pipes.messageId,
        fromNumber: msg.pipes.fromNumber,
        fromName: msg.pipes.fromName,
        poolNumberId: msg.pipes.poolNumberId,
        type: msg.pipes.type,
      },
      { messageId: "msg_pretty", fromNumber: "+15550001111", fromName: "Ana", poolNumberId: "pn_9", type: "text" },
    );
  });

  it("refuses a missing, wrong or other secret's signature with 401 and runs nothing", async function () {
    await load();
    outputs().on("input", (m) => emitted.push(m));
    const raw = JSON.stringify(webhookBody({ type: "text", text: { body: "forged" } }));
    assert.equal((await post(raw)).status, 401);
    assert.equal((await post(raw, { "x-pipes-signature": "00".repeat(32) })).status, 401);
    assert.equal((await post(raw, { "x-pipes-signature": signPayload(raw, "another-secret-000000") })).status, 401);
    // Re-serialised JSON (what a parser in front of us would leave) never matches.
    assert.equal((await post(JSON.stringify(JSON.parse(raw), null, 1), signed(raw))).status, 401);
    assert.equal(emitted.length, 0);
    assert.match(String((helper.getNode("hook") as any).status.lastCall.args[0].text), /refused 401/);
  });

  it("answers 400 for a body that is not JSON or not a delivery, 405 for another method, 413 over 1 MB", async function () {
    await load();
    const warnings = collect<{ args: unknown[] }>(helper.getNode("hook"), "call:warn", 1);
    assert.deepEqual(await post("not json", signed("not json")), {
      status: 400,
      text: JSON.stringify({ error: "the body is not JSON" }),
      type: "application/json; charset=utf-8",
    });
    const odd = JSON.stringify({ some: "thing" });
    assert.equal((await post(odd, signed(odd))).status, 400);
    assert.equal((await post(odd, signed(odd))).status, 400, "the same kind again: refused, not logged again");
    assert.match(String((await warnings)[0].args[0]), /refused a webhook delivery \(400\)/);
    assert.equal((await post("", {}, "/pipes/webhook", "GET")).status, 405);
    const huge = "x".repeat(1024 * 1024 + 10);
    const tooBig = await post(huge, signed(huge)).catch((err: Error) => ({ status: 0, text: err.message }));
    assert.ok(tooBig.status === 413 || tooBig.status === 0, `413 (or the connection closed while sending), got ${tooBig.status}`);
  });

  it("a delivery without a message (the dashboard's test call) is answered 200 and emits nothing", async function () {
    await load();
    outputs().on("input", (m) => emitted.push(m));
    const ping = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [{ id: "pn_9", changes: [{ field: "messages", value: { messaging_product: "whatsapp" } }] }],
    });
    assert.equal((await post(ping, signed(ping))).status, 200);
    const text = JSON.stringify(webhookBody({ id: "msg_after_ping", type: "text", text: { body: "after" } }));
    const after = nextInput("out");
    await post(text, signed(text));
    assert.equal((await after).payload, "after");
    assert.equal(emitted.length, 1);
  });

  it("delivers a message once, whether it comes twice by webhook or by socket and webhook", async function () {
    await load({}, [{ id: "in", type: "pipes-in", connection: "cfg", wires: [["out"]] }]);
    outputs().on("input", (m: any) => emitted.push(m.pipes.messageId));
    await waitUntil("the socket", () => emu.connections().length === 1, emu, ["connection"]);
    const raw = JSON.stringify(webhookBody({ id: "msg_twice", type: "text", text: { body: "retry" } }));
    assert.equal((await post(raw, signed(raw))).status, 200);
    assert.equal((await post(raw, signed(raw))).status, 200, "a retry is answered 200, so Pipes stops retrying");
    // The socket's copy of a message delivered by webhook first (Pipes' fallback) is dropped too.
    const bySocket = emu.inject({ fromNumber: "+15550001111", text: "socket first" });
    await waitUntil("the socket's message", () => emitted.includes(bySocket.messageId), outputs(), ["input"]);
    const again = JSON.stringify(
      webhookBody({ id: bySocket.messageId, type: "text", text: { body: "socket first" } }, { conversationId: bySocket.conversationId }),
    );
    assert.equal((await post(again, signed(again))).status, 200);
    const last = JSON.stringify(webhookBody({ id: "msg_last", type: "text", text: { body: "last" } }));
    await post(last, signed(last));
    await waitUntil("the last message", () => emitted.includes("msg_last"), outputs(), ["input"]);
    assert.deepEqual(emitted, ["msg_twice", bySocket.messageId, "msg_last"]);
  });

  it("without a secret it warns at deploy that anyone can post, and accepts unsigned deliveries", async function () {
    await load({}, [], null);
    // The warning is logged while the node starts: Node-RED's log (the helper spies on it) has it once load() returns.
    const warnings = (helper.log() as unknown as { args: { msg?: unknown }[][] }).args.map((a) => String(a[0]?.msg));
    assert.ok(
      warnings.some((w) => /no webhook secret: anyone who knows \/pipes\/webhook can post/.test(w)),
      warnings.join("\n"),
    );
    // A fresh id: the connection remembers the ids earlier tests delivered (its replay filter is handed over).
    const raw = JSON.stringify(webhookBody({ id: "msg_unsigned", type: "text", text: { body: "unsigned" } }));
    const received = nextInput("out");
    assert.equal((await post(raw)).status, 200);
    assert.equal((await received).payload, "unsigned");
  });

  it("the emulator's webhook deliveries of every kind come out exactly as the socket's message would", async function () {
    // Two independent halves meet here: the emulator builds Meta-shaped payloads from its inbound
    // message (src/emulator/webhook-payload.ts), the node converts them back (src/lib/webhook.ts).
    await load({ downloadMedia: false });
    emu.setDelivery("pn_9", { mode: "webhook", url: `${base}/pipes/webhook`, secret: SECRET });
    const from = "+15550003333";
    emu.inject({ fromNumber: from, text: "opens the conversation" });
    const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(32, 1)]);
    const inputs = [
      { fromNumber: from, fromName: "Ana", text: "plain text" },
      { fromNumber: from, media: { data: PNG, mimeType: "image/png", fileName: "dot.png" }, text: "a caption" },
      { fromNumber: from, media: { data: Buffer.from("%PDF-1.4 x"), mimeType: "application/pdf", fileName: "a.pdf" } },
      { fromNumber: from, location: { latitude: -23.5, longitude: -46.6, name: "Office", address: "Av. Paulista" } },
      { fromNumber: from, contacts: [{ name: { formatted_name: "Ana Silva" }, phones: [{ phone: "+5511", type: "CELL" }] }] },
      { fromNumber: from, reaction: { messageId: "msg_x", emoji: "👍" } },
      { fromNumber: from, answer: { kind: "button" as const, id: "yes", title: "Yes", toMessageId: "wamid.Q" } },
      { fromNumber: from, answer: { kind: "list" as const, id: "tea", title: "Tea", description: "Hot" } },
    ];
    const all = collect<any>(helper.getNode("out"), "input", inputs.length + 1, 10_000);
    const sent = inputs.map((input) => emu.inject(input));
    const msgs = (await all).slice(1);
    msgs.forEach((msg, i) => {
      const socket = sent[i];
      const p = msg.pipes;
      const what = `${socket.type}: ${JSON.stringify(p)}`;
      for (const key of [
        "messageId",
        "conversationId",
        "poolNumberId",
        "fromNumber",
        "type",
        "media",
        "location",
        "contacts",
        "reaction",
      ] as const) {
        assert.deepEqual(p[key], socket[key], `${key} of ${what}`);
      }
      assert.equal(p.text ?? "", socket.text ?? "", `text of ${what}`);
      if (socket.fromName) assert.equal(p.fromName, socket.fromName);
    });
    assert.deepEqual(msgs[6].payload, { id: "yes", title: "Yes" });
    assert.deepEqual({ kind: msgs[6].pipes.answer.kind, to: msgs[6].pipes.answer.toMessageId }, { kind: "button", to: "wamid.Q" });
    assert.deepEqual(msgs[7].payload, { id: "tea", title: "Tea", description: "Hot" });
    assert.equal(emu.webhookFailures().length, 0);
  });

  it("50 full redeploys leave one route; a user's http in on the same path (GET) and on another path (POST) keep answering", async function () {
    const userRoute = [
      { id: "userIn", type: "http in", url: "/pipes/webhook", method: "get", wires: [["userOut"]] },
      { id: "userOut", type: "http response", statusCode: "299", wires: [] },
      { id: "userPostIn", type: "http in", url: "/orders", method: "post", wires: [["userPostOut"]] },
      { id: "userPostOut", type: "http response", statusCode: "298", wires: [] },
    ];
    await load({}, userRoute);
    const flow = () => [
      configNode(emu.url),
      { id: "hook", type: "pipes-webhook-in", connection: "cfg", path: "/pipes/webhook", wires: [["out"]] },
      { id: "out", type: "helper" },
      { id: "capture", type: "capture-node-app" },
      ...userRoute,
    ];
    for (let i = 0; i < 50; i++) await helper.setFlows(flow() as never, "full", { cfg: { apiKey: KEY }, hook: { secret: SECRET } });
    const stack = ((nodeApp as any)._router.stack as { route?: { path: unknown; methods: Record<string, boolean> } }[]).filter(
      (l) => l.route && [l.route.path].flat().includes("/pipes/webhook"),
    );
    // Ours: one POST route and one route answering 405 to other methods; the user's GET: once.
    const names = stack.map((l: any) => String(l.route.stack.at(-1).name));
    assert.deepEqual(names.sort(), ["<anonymous>", "handler", "otherMethods"], JSON.stringify(names));
    const raw = JSON.stringify(webhookBody({ id: "msg_after_deploys", type: "text", text: { body: "still here" } }));
    const received = nextInput("out");
    assert.equal((await post(raw, signed(raw))).status, 200);
    assert.equal((await received).payload, "still here");
    assert.equal((await post("", {}, "/pipes/webhook", "GET")).status, 299, "the user's route answers its GETs");
    assert.equal((await post('{"order":1}', {}, "/orders")).status, 298, "the user's POST route on another path is untouched");
  });

  describe('"answer when handled"', function () {
    const HANDLED = { answer: "handled", answerWithin: 8 };
    const replyNodes = (connection = "cfg", timeout = 30) => [
      { id: "reply", type: "pipes-reply", connection, timeout, wires: [["sent"], ["failed"]] },
      { id: "sent", type: "helper" },
      { id: "failed", type: "helper" },
    ];
    /** Posts and keeps the pending answer, with a flag that says whether it came yet. */
    function postPending(raw: string) {
      const pending = { answered: false, response: post(raw, signed(raw)) };
      void pending.response.then(() => (pending.answered = true));
      return pending;
    }
    /** A full HTTP round trip to the same server: an answer written before it has been read by then. */
    const roundTrip = () => post("", {}, "/pipes/webhook", "GET");

    it("answers 200 only once the reply for the msg was sent", async function () {
      await load({ ...HANDLED, wires: [["out"]] }, replyNodes());
      emu.setDelivery("pn_9", { mode: "webhook", url: `${base}/pipes/webhook`, secret: SECRET });
      const received = nextInput("out");
      const inbound = emu.inject({ fromNumber: "+15550004444", text: "book me in" });
      const msg = await received;
      await roundTrip();
      const [delivery] = emu.webhookDeliveries({ conversationId: inbound.conversationId });
      assert.equal(delivery.state, "pending", "no answer while the flow has not replied");
      const sent = nextInput("sent");
      helper.getNode("reply").receive({ ...msg, payload: "booked" });
      await sent;
      const done = await waitUntil(
        "the delivery answered",
        () => emu.webhookDeliveries({ conversationId: inbound.conversationId }).find((d) => d.state !== "pending"),
        emu,
        ["webhook-delivered", "webhook-attempt", "webhook-failed"],
      );
      assert.deepEqual({ state: done.state, attempts: done.attempts.map((a) => a.status) }, { state: "delivered", attempts: [200] });
      assert.deepEqual(
        emu.sent({ conversationId: inbound.conversationId }).map((m) => m.text),
        ["booked"],
      );
    });

    it("without the option the delivery is answered before the msg even reaches the flow", async function () {
      await load({ wires: [["out"]] });
      const raw = JSON.stringify(webhookBody({ id: "msg_accepted_mode", type: "text", text: { body: "x" } }));
      const early = nextInput("out");
      const pending = postPending(raw);
      await early;
      await roundTrip();
      assert.equal(pending.answered, true);
    });

    it("a send failing for a reason that may pass answers 503, and the retry runs the flow again", async function () {
      // A connection whose REST host refuses connections: the reply never reaches a server.
      const closed = `http://127.0.0.1:${await freePort()}`;
      await load({ ...HANDLED, wires: [["reply"]] }, replyNodes("cfg", 0.5), SECRET, closed);
      const raw = JSON.stringify(webhookBody({ id: "msg_may_pass", type: "text", text: { body: "hello" } }));
      const failed = nextInput("failed");
      const first = await post(raw, signed(raw));
      assert.equal(first.status, 503, first.text);
      assert.equal((await failed).error.code, "NETWORK_ERROR");
      const again = nextInput("failed");
      assert.equal((await post(raw, signed(raw))).status, 503, "the retry ran the flow again (it was not dropped as a repeat)");
      await again;
    });

    it("a send refused for good (unknown conversation) is handled: 200, the failure on output 2", async function () {
      await load({ ...HANDLED, wires: [["reply"]] }, replyNodes());
      const raw = JSON.stringify(
        webhookBody({ id: "msg_refused", type: "text", text: { body: "hello" } }, { conversationId: "conv_nobody" }),
      );
      const failed = nextInput("failed");
      assert.equal((await post(raw, signed(raw))).status, 200);
      assert.equal((await failed).error.code, "CONVERSATION_NOT_FOUND");
    });

    it("a msg sent to the node's input marks it handled; one without msg.pipes.messageId goes to Catch", async function () {
      await load({ ...HANDLED, wires: [["out"]] }, [
        { id: "catcher", type: "catch", scope: null, wires: [["caught"]] },
        { id: "caught", type: "helper" },
      ]);
      const raw = JSON.stringify(webhookBody({ id: "msg_marked", type: "text", text: { body: "log me" } }));
      const received = nextInput("out");
      const pending = postPending(raw);
      const msg = await received;
      await roundTrip();
      assert.equal(pending.answered, false);
      helper.getNode("hook").receive(msg);
      assert.equal((await pending.response).status, 200);
      const caught = nextInput("caught");
      helper.getNode("hook").receive({ payload: "no pipes" });
      assert.match((await caught).error.message, /no msg.pipes.messageId/);
    });

    it("nothing handles it in time: 200 anyway and a warning; a second delivery meanwhile gets the same answer", async function () {
      await load({ answer: "handled", answerWithin: 0.3, wires: [["out"]] });
      const warnings = collect<{ args: unknown[] }>(helper.getNode("hook"), "call:warn", 1);
      outputs().on("input", (m: any) => emitted.push(m.pipes.messageId));
      const raw = JSON.stringify(webhookBody({ id: "msg_nobody_marks", type: "text", text: { body: "x" } }));
      const [a, b] = await Promise.all([post(raw, signed(raw)), post(raw, signed(raw))]);
      assert.deepEqual([a.status, b.status], [200, 200]);
      assert.deepEqual(emitted, ["msg_nobody_marks"], "run once");
      assert.match(String((await warnings)[0].args[0]), /1 delivery\(ies\) not marked handled within 0.3 s \(last: msg_nobody_marks\)/);
    });

    it("a deploy of the webhook node alone lets a msg in flight finish: its reply still answers 200", async function () {
      await load({ ...HANDLED, wires: [["out"]] }, replyNodes());
      emu.setDelivery("pn_9", { mode: "webhook", url: `${base}/pipes/webhook`, secret: SECRET });
      const received = nextInput("out");
      const inbound = emu.inject({ fromNumber: "+15550004545", text: "still there?" });
      const msg = await received;
      const flow = [
        configNode(emu.url),
        { id: "hook", type: "pipes-webhook-in", connection: "cfg", path: "/pipes/webhook", name: "changed", ...HANDLED, wires: [["out"]] },
        { id: "out", type: "helper" },
        { id: "capture", type: "capture-node-app" },
        ...replyNodes(),
      ];
      // Only the webhook node changes; the reply node keeps running and answers meanwhile.
      const deployed = helper.setFlows(flow as never, "nodes", { cfg: { apiKey: KEY }, hook: { secret: SECRET } });
      const sent = nextInput("sent");
      helper.getNode("reply").receive({ ...msg, payload: "yes" });
      await sent;
      await deployed;
      const done = await waitUntil(
        "the delivery answered",
        () => emu.webhookDeliveries({ conversationId: inbound.conversationId }).find((d) => d.state !== "pending"),
        emu,
        ["webhook-delivered", "webhook-attempt", "webhook-failed"],
      );
      assert.deepEqual(
        done.attempts.map((a) => a.status),
        [200],
      );
    });

    it("a redeploy while waiting answers 503, and the next delivery runs the new flow", async function () {
      await load({ ...HANDLED, wires: [["out"]] });
      const raw = JSON.stringify(webhookBody({ id: "msg_redeployed", type: "text", text: { body: "x" } }));
      const received = nextInput("out");
      const pending = postPending(raw);
      await received;
      const flow = [
        configNode(emu.url),
        { id: "hook", type: "pipes-webhook-in", connection: "cfg", path: "/pipes/webhook", ...HANDLED, wires: [["out"]] },
        { id: "out", type: "helper" },
        { id: "capture", type: "capture-node-app" },
      ];
      await helper.setFlows(flow as never, "full", { cfg: { apiKey: KEY }, hook: { secret: SECRET } });
      assert.equal((await pending.response).status, 503);
      const again = nextInput("out");
      const retry = postPending(raw);
      assert.equal((await again).pipes.messageId, "msg_redeployed");
      helper.getNode("hook").receive({ pipes: { messageId: "msg_redeployed" } });
      assert.equal((await retry.response).status, 200);
    });
  });
});
