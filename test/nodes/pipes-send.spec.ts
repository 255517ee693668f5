/**
 * pipes-send in a real Node-RED runtime against the emulator: every message kind end to end (from
 * the node's form and from msg.payload), limits at their edge, soft limits, the 24-hour window,
 * reactions by socket and by REST, WhatsApp's own refusals, and answers to buttons and lists coming
 * back through pipes-in in both shapes the socket may use.
 */
import * as assert from "node:assert/strict";
import type { InboundMessage } from "../../src/lib/protocol";
import { useEmulator } from "../support/emulator-fixture";
import { configNode, helper, loadFlow, nextInput, waitForStatus } from "../support/nodered";
import { collect } from "../support/wait";

const KEY = "pk_test_pipes_send_000000000000000";
const DAY = 24 * 60 * 60 * 1000;

describe("pipes-send: every WhatsApp message kind", function () {
  this.timeout(20_000);
  const { emu } = useEmulator({
    tenants: [{ userId: "user_s", apiKey: KEY, poolNumbers: [{ id: "pn_s1", phoneNumber: "+15550000077" }] }],
    settings: { replyStatusDelayMs: 0, softLimits: "enforce", answerShape: "meta" },
  });
  let requests = 0;
  before(function () {
    emu.on("client-frame", () => requests++);
  });

  /** pipes-in -> (inbox) and a pipes-send with `send` settings, outputs to "ok" and "failed". */
  function flow(send: Record<string, unknown>, inTypes: string[] = []) {
    return [
      configNode(emu.url),
      { id: "in", type: "pipes-in", connection: "cfg", types: inTypes, wires: [["inbox"]] },
      { id: "inbox", type: "helper" },
      { id: "send", type: "pipes-send", connection: "cfg", timeout: 5, ...send, wires: [["ok"], ["failed"]] },
      { id: "ok", type: "helper" },
      { id: "failed", type: "helper" },
    ];
  }

  /** Loads the flow, waits for the socket, and has a user write first (opening the 24-hour window). */
  async function start(send: Record<string, unknown>, inTypes: string[] = []): Promise<InboundMessage> {
    await loadFlow(flow(send, inTypes), KEY);
    await waitForStatus("send", "connected (user)");
    const delivered = collect(emu, "delivered", 1);
    const inbound = emu.inject({ fromNumber: "+15551230000", text: "hi" });
    await delivered;
    return inbound;
  }

  function outcome(msg: Record<string, unknown>): Promise<{ output: 1 | 2; msg: any }> {
    const result = Promise.race([
      nextInput("ok").then((m) => ({ output: 1 as const, msg: m })),
      nextInput("failed").then((m) => ({ output: 2 as const, msg: m })),
    ]);
    helper.getNode("send").receive(msg);
    return result;
  }

  const lastSent = () => emu.sent().at(-1)!;

  it("sends reply buttons from the node's form, and WhatsApp's body reaches the server", async function () {
    const inbound = await start({
      kind: "buttons",
      body: "Did it arrive?",
      bodyType: "str",
      footer: "Tap one",
      footerType: "str",
      buttons: [
        { id: "yes", title: "Yes" },
        { id: "no", title: "Not yet" },
      ],
    });
    const { output, msg } = await outcome({ pipes: inbound });
    assert.equal(output, 1, JSON.stringify(msg.error));
    assert.match(msg.sent.messageId, /^wamid\./);
    assert.deepEqual(
      { kind: msg.sent.kind, transport: msg.sent.transport, conversationId: msg.sent.conversationId },
      { kind: "buttons", transport: "rest", conversationId: inbound.conversationId },
    );
    const sent = lastSent();
    assert.equal(sent.kind, "interactive");
    assert.equal(sent.messageId, msg.sent.messageId);
    assert.deepEqual(
      (sent.message as any).interactive.action.buttons.map((b: any) => b.reply.id),
      ["yes", "no"],
    );
    assert.equal((sent.message as any).interactive.footer.text, "Tap one");
  });

  it("sends every kind given in msg.payload: list, link button, location, contacts and a raw body", async function () {
    const inbound = await start({ kind: "msg" });
    const messages = [
      {
        type: "list",
        body: "Menu",
        button: "Choose",
        sections: [
          { title: "Drinks", rows: [{ id: "tea", title: "Tea", description: "Hot" }] },
          { title: "Food", rows: [{ id: "cake", title: "Cake" }] },
        ],
      },
      { type: "cta_url", body: "Track your order", text: "Open", url: "https://example.com/t/1" },
      { type: "location", latitude: -23.56, longitude: -46.65, name: "Office", address: "Av. Paulista 1000" },
      { type: "contacts", contacts: [{ name: "Ana Silva", phones: ["+5511999990000"] }] },
      {
        type: "raw",
        message: {
          type: "interactive",
          interactive: {
            type: "button",
            body: { text: "raw" },
            action: { buttons: [{ type: "reply", reply: { id: "r", title: "Raw" } }] },
          },
        },
      },
    ];
    const kinds: string[] = [];
    for (const payload of messages) {
      const { output, msg } = await outcome({ payload, pipes: inbound });
      assert.equal(output, 1, `${payload.type}: ${JSON.stringify(msg.error)}`);
      kinds.push(lastSent().kind);
    }
    assert.deepEqual(kinds, ["interactive", "interactive", "location", "contacts", "interactive"]);
    assert.equal((emu.sent()[0].message as any).interactive.action.sections.length, 2);
    assert.deepEqual((emu.sent()[3].message as any).contacts[0].phones[0], {
      phone: "+5511999990000",
      type: "CELL",
      wa_id: "5511999990000",
    });
  });

  it("checks each limit before sending: 20 characters pass, 21 fail on output 2 naming the field, and nothing is sent", async function () {
    const inbound = await start({ kind: "msg" });
    const before = { sent: emu.sent().length, requests };
    const ok = await outcome({ payload: { type: "buttons", body: "b", buttons: [{ id: "a", title: "x".repeat(20) }] }, pipes: inbound });
    assert.equal(ok.output, 1, JSON.stringify(ok.msg.error));
    const tooLong = await outcome({
      payload: { type: "buttons", body: "b", buttons: [{ id: "a", title: "x".repeat(21) }] },
      pipes: inbound,
    });
    assert.equal(tooLong.output, 2);
    assert.deepEqual({ code: tooLong.msg.error.code, source: tooLong.msg.error.source }, { code: "INVALID_MESSAGE", source: "client" });
    assert.equal(tooLong.msg.error.message, "buttons[0].title is 21 characters; WhatsApp allows 20");
    const location = await outcome({ payload: { type: "location", latitude: 91, longitude: 0 }, pipes: inbound });
    assert.match(location.msg.error.message, /latitude is 91; it must be from -90 to 90/);
    assert.equal(emu.sent().length, before.sent + 1, "only the valid message was sent");
  });

  it("soft limits are an option: off, a 21-character list button goes out (and the emulator, told to, accepts it)", async function () {
    const inbound = await start({ kind: "msg", softLimits: false });
    emu.configure({ softLimits: "ignore" });
    const payload = { type: "list", body: "b", button: "x".repeat(21), sections: [{ rows: [{ id: "r", title: "t" }] }] };
    const { output, msg } = await outcome({ payload, pipes: inbound });
    assert.equal(output, 1, JSON.stringify(msg.error));
    // A hard limit still holds with soft limits off.
    const hard = await outcome({
      payload: { type: "buttons", body: "b", buttons: Array.from({ length: 4 }, (_, i) => ({ id: `${i}`, title: `${i}` })) },
      pipes: inbound,
    });
    assert.equal(hard.msg.error.code, "INVALID_MESSAGE");
  });

  it("WhatsApp's own refusal comes back as WHATSAPP_<code> from the server, with its details", async function () {
    const inbound = await start({ kind: "msg" });
    // A raw body is checked for its shape only; the emulator refuses four buttons as Meta would.
    const buttons = Array.from({ length: 4 }, (_, i) => ({ type: "reply", reply: { id: `${i}`, title: `${i}` } }));
    const { output, msg } = await outcome({
      payload: { type: "raw", message: { type: "interactive", interactive: { type: "button", body: { text: "b" }, action: { buttons } } } },
      pipes: inbound,
    });
    assert.equal(output, 2);
    assert.equal(msg.error.code, "WHATSAPP_131009");
    assert.equal(msg.error.source, "server");
    assert.equal(msg.error.status, 400);
    assert.match(msg.error.message, /buttons/);
  });

  it("refuses outside the 24-hour window with SERVICE_WINDOW_EXPIRED", async function () {
    const inbound = await start({ kind: "location", latitude: "1", latitudeType: "num", longitude: "2", longitudeType: "num" });
    emu.advanceClock(DAY + 60_000);
    const { output, msg } = await outcome({ pipes: inbound });
    assert.equal(output, 2);
    assert.equal(msg.error.code, "SERVICE_WINDOW_EXPIRED");
  });

  it("reacts to a received message over the socket (its Pipes id), and to a sent one by REST (its wamid)", async function () {
    const inbound = await start({ kind: "reaction", emoji: "👍", emojiType: "str" });
    const bySocket = await outcome({ pipes: inbound });
    assert.equal(bySocket.output, 1, JSON.stringify(bySocket.msg.error));
    assert.equal(bySocket.msg.sent.transport, "ws");
    assert.deepEqual(lastSent().reaction, { messageId: inbound.messageId, emoji: "👍" });
    // React to the reaction's own wamid: REST passthrough.
    const byRest = await outcome({ pipes: { ...inbound, messageId: bySocket.msg.sent.messageId } });
    assert.equal(byRest.output, 1, JSON.stringify(byRest.msg.error));
    assert.equal(byRest.msg.sent.transport, "rest");
    // Removing it: an empty emoji from the msg.
    const removed = await outcome({ payload: { type: "reaction", messageId: inbound.messageId, emoji: "" }, pipes: inbound });
    assert.equal(removed.output, 1, JSON.stringify(removed.msg.error));
  });

  it("a Pipes id cannot be reacted to by REST: the node says why before sending", async function () {
    const inbound = await start({ kind: "reaction", emoji: "👍", emojiType: "str", reactVia: "passthrough" });
    const { output, msg } = await outcome({ pipes: inbound });
    assert.equal(output, 2);
    assert.equal(msg.error.code, "BAD_INPUT");
    assert.match(msg.error.message, /needs WhatsApp's message id/);
  });

  for (const shape of ["meta", "flat"] as const) {
    it(`answers to buttons and list rows reach pipes-in as {id, title} with msg.pipes.answer (${shape} shape)`, async function () {
      emu.configure({ answerShape: shape });
      const inbound = await start({ kind: "buttons", body: "Pick", bodyType: "str", buttons: [{ id: "yes", title: "Yes" }] }, [
        "button_reply",
        "list_reply",
      ]);
      const sent = await outcome({ pipes: inbound });
      const answers = collect<any>(helper.getNode("inbox"), "input", 2);
      emu.inject({
        fromNumber: inbound.fromNumber,
        answer: { kind: "button", id: "yes", title: "Yes", toMessageId: sent.msg.sent.messageId },
      });
      emu.inject({ fromNumber: inbound.fromNumber, text: "a text the filter drops" });
      emu.inject({ fromNumber: inbound.fromNumber, answer: { kind: "list", id: "tea", title: "Tea", description: "Hot" } });
      const [button, row] = await answers;
      assert.deepEqual(button.payload, { id: "yes", title: "Yes" });
      assert.deepEqual(
        { kind: button.pipes.answer.kind, toMessageId: button.pipes.answer.toMessageId },
        { kind: "button", toMessageId: sent.msg.sent.messageId },
      );
      assert.deepEqual(row.payload, { id: "tea", title: "Tea", description: "Hot" });
      assert.equal(row.pipes.answer.kind, "list");
    });
  }
});
