/**
 * BYON Apps in the emulator (docs/decisions/0049-emulator-byon-apps.md): any number writes to an App's number, conversations
 * per (number, user), the App's traffic on its `ak_` sockets only, replies and REST sends with the `ak_` key on its
 * conversations, its offline queue, POST /v1/messages/app/send and its window rule, and state() without keys. The emulator alone, over real HTTP and real sockets.
 */
import * as assert from "node:assert/strict";
import { ERROR_CODES } from "../../src/lib/protocol";
import { DEFAULT_APP_NUMBER, DEMO_API_KEY, DEMO_APP_KEY, PipesEmulator } from "../../src/emulator";
import { TestSocket } from "../support/emulator-client";
import { useEmulator } from "../support/emulator-fixture";

const ANA = "+15550001111";
const BEN = "+15550002222";
const APP_NUMBER = DEFAULT_APP_NUMBER.id;

describe("emulator: BYON Apps", function () {
  const opened: TestSocket[] = [];
  const { emu } = useEmulator({
    nodeRed: false,
    settings: { foreignConversationReply: "error" },
    cleanup: () => {
      for (const socket of opened.splice(0)) socket.ws.terminate();
    },
  });

  async function http(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    const res = await fetch(`${emu.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  async function connect(apiKey: string): Promise<TestSocket> {
    const { socket, connected } = await TestSocket.open(emu.url, { apiKey });
    opened.push(socket);
    assert.equal(connected.scope, "user");
    return socket;
  }

  it("has a demo App in state(), with its number and never its key", async function () {
    const state = (await http("GET", "/_emulator/state")).body;
    assert.deepEqual(state.apps, [
      { appId: "app_demo", slug: "demo", name: "Demo App", numbers: [{ id: APP_NUMBER, phoneNumber: "+15550100200" }], queue: 0 },
    ]);
    assert.deepEqual(state.queues, { user_demo: 0 }, "the tenants' queues stay as they were");
    assert.ok(!JSON.stringify(state).includes(DEMO_APP_KEY), "no App key in state");
  });

  it("delivers a message to the App's number on its ak_ socket only; the pk_ socket sees only pool traffic", async function () {
    const app = await connect(DEMO_APP_KEY);
    const pool = await connect(DEMO_API_KEY);
    const toApp = await http("POST", "/_emulator/inbound", { fromNumber: ANA, poolNumberId: APP_NUMBER, text: "to the app" });
    assert.equal(toApp.status, 200);
    const frame = await app.next("whatsapp_message");
    assert.equal(frame.data.text, "to the app");
    assert.equal(frame.data.poolNumberId, APP_NUMBER);
    assert.equal(frame.data.poolNumberPhoneNumber, "+15550100200");
    assert.equal(frame.data.fromNumber, ANA);

    emu.inject({ fromNumber: ANA, text: "to the pool" });
    assert.equal((await pool.next("whatsapp_message")).data.text, "to the pool", "the pk_ socket's first message is the pool one");
    emu.inject({ fromNumber: BEN, poolNumberId: APP_NUMBER, text: "ben to the app" });
    assert.equal((await app.next("whatsapp_message")).data.text, "ben to the app");
    assert.deepEqual(app.pending("whatsapp_message"), [], "the App socket got no pool message");
    assert.deepEqual(pool.pending("whatsapp_message"), [], "the pool socket got no App message");
  });

  it("says the App's id in the connected frame", async function () {
    const { socket, connected } = await TestSocket.open(emu.url, { apiKey: DEMO_APP_KEY });
    opened.push(socket);
    assert.equal(connected.userId, "app_demo");
  });

  it("keeps one conversation per (bot number, user)", function () {
    const pool = emu.inject({ fromNumber: ANA, text: "pool" }).conversationId;
    const app = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "app" }).conversationId;
    const again = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "app again" }).conversationId;
    const ben = emu.inject({ fromNumber: BEN, poolNumberId: APP_NUMBER, text: "ben" }).conversationId;
    assert.notEqual(pool, app);
    assert.equal(app, again);
    assert.notEqual(app, ben);
    const byId = new Map(emu.state().conversations.map((c) => [c.conversationId, c]));
    assert.equal(byId.get(app)?.userId, "app_demo");
    assert.equal(byId.get(pool)?.userId, "user_demo");
  });

  it("answers the App's socket replies on its conversations, and refuses a pk_ socket's reply to them", async function () {
    const app = await connect(DEMO_APP_KEY);
    const pool = await connect(DEMO_API_KEY);
    const conversationId = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "hi" }).conversationId;
    await app.next("whatsapp_message");
    app.send({ type: "whatsapp_reply", data: { conversationId, text: "hello from the app", poolNumberId: APP_NUMBER, toNumber: ANA } });
    const status = await app.next("reply_status");
    assert.equal(status.data.success, true);
    const [record] = emu.sent({ conversationId });
    assert.equal(record.poolNumberId, APP_NUMBER);
    assert.equal(record.userId, "app_demo");

    pool.send({ type: "whatsapp_reply", data: { conversationId, text: "intruder", poolNumberId: APP_NUMBER, toNumber: ANA } });
    const refused = await pool.next("reply_status");
    assert.equal(refused.data.success, false);
    assert.equal(refused.data.code, ERROR_CODES.CONVERSATION_NOT_FOUND);
  });

  it("takes REST sends with the ak_ key on its conversations; a pk_ key gets 404 there, and the ak_ key on pool ones", async function () {
    const appConversation = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "hi" }).conversationId;
    const poolConversation = emu.inject({ fromNumber: ANA, text: "hi" }).conversationId;
    const ok = await http("POST", "/v1/messages/send", { conversationId: appConversation, text: "by REST" }, DEMO_APP_KEY);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.conversationId, appConversation);
    const pk = await http("POST", "/v1/messages/send", { conversationId: appConversation, text: "no" }, DEMO_API_KEY);
    assert.equal(pk.status, 404);
    const ak = await http("POST", "/v1/messages/send", { conversationId: poolConversation, text: "no" }, DEMO_APP_KEY);
    assert.equal(ak.status, 404);
  });

  it("queues the App's messages while no ak_ socket is open and drains them to the next one", async function () {
    const pool = await connect(DEMO_API_KEY);
    const injected = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "while offline" });
    assert.equal(emu.queueSize(DEMO_APP_KEY), 1);
    assert.equal(emu.state().apps[0].queue, 1);
    const app = await connect(DEMO_APP_KEY);
    assert.equal((await app.next("whatsapp_message")).data.messageId, injected.messageId);
    assert.deepEqual(pool.pending("whatsapp_message"), []);
  });

  it("routes by apiKey too, and refuses a number that is neither the tenant's nor an App's", async function () {
    const app = await connect(DEMO_APP_KEY);
    emu.inject({ apiKey: DEMO_APP_KEY, fromNumber: ANA, text: "by key" });
    assert.equal((await app.next("whatsapp_message")).data.poolNumberId, APP_NUMBER, "an App's first number by default");
    const bad = await http("POST", "/_emulator/inbound", { fromNumber: ANA, poolNumberId: "pn_nobody", text: "x" });
    assert.equal(bad.status, 400);
  });

  describe("POST /v1/messages/app/send", function () {
    const appSend = (body: unknown, key = DEMO_APP_KEY) => http("POST", "/v1/messages/app/send", body, key);

    it("sends text to a user whose window is open, answering Meta's send response", async function () {
      const conversationId = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "hi" }).conversationId;
      const answer = await appSend({ poolNumberId: APP_NUMBER, toNumber: "15550001111", text: "hello first" });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.messaging_product, "whatsapp");
      assert.deepEqual(answer.body.contacts, [{ input: "15550001111", wa_id: "15550001111" }]);
      const [record] = emu.sent();
      assert.equal(answer.body.messages[0].id, record.messageId);
      assert.equal(record.conversationId, conversationId);
      assert.equal(record.text, "hello first");
      assert.equal(record.poolNumberId, APP_NUMBER);
    });

    it("refuses a number that never wrote, or whose window closed, with SERVICE_WINDOW_EXPIRED", async function () {
      const never = await appSend({ poolNumberId: APP_NUMBER, toNumber: "15550002222", text: "cold" });
      assert.equal(never.status, 403);
      assert.equal(never.body.error.code, ERROR_CODES.SERVICE_WINDOW_EXPIRED);
      assert.equal(emu.state().conversations.length, 0, "a refused send starts no conversation");
      assert.equal(emu.refused()[0].toNumber, BEN, "the refused log names the recipient");

      emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "hi" });
      emu.advanceClock(24 * 60 * 60 * 1000 + 1000);
      const late = await appSend({ poolNumberId: APP_NUMBER, toNumber: "+15550001111", text: "late" });
      assert.equal(late.status, 403);
      assert.equal(late.body.error.code, ERROR_CODES.SERVICE_WINDOW_EXPIRED);
    });

    it("refuses pool keys, another number, a bad recipient and a missing or long text", async function () {
      emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "hi" });
      const ok = { poolNumberId: APP_NUMBER, toNumber: "15550001111", text: "x" };
      const cases: [string, unknown, string | undefined, number, string][] = [
        ["a pool key", ok, DEMO_API_KEY, 403, ERROR_CODES.FORBIDDEN],
        ["a pool number", { ...ok, poolNumberId: "pn_demo1" }, undefined, 403, ERROR_CODES.FORBIDDEN],
        ["no poolNumberId", { toNumber: ok.toNumber, text: "x" }, undefined, 400, ERROR_CODES.INVALID_REQUEST],
        ["a recipient that is no number", { ...ok, toNumber: "ana" }, undefined, 400, ERROR_CODES.INVALID_REQUEST],
        ["no text", { ...ok, text: "" }, undefined, 400, ERROR_CODES.INVALID_REQUEST],
        ["a text over 4096", { ...ok, text: "a".repeat(4097) }, undefined, 400, ERROR_CODES.TEXT_TOO_LONG],
      ];
      for (const [what, body, key, status, code] of cases) {
        const answer = await appSend(body, key);
        assert.equal(answer.status, status, what);
        assert.equal(answer.body.error.code, code, what);
      }
      assert.equal((await http("POST", "/v1/messages/app/send", ok, "ak_unknown")).status, 401);
      assert.equal(emu.sent().length, 0);
    });
  });

  it("checks the apps option: ak_ keys, unique slugs, keys and number ids", function () {
    const number = { id: "pn_x", phoneNumber: "+15550100300" };
    assert.throws(() => new PipesEmulator({ apps: [{ slug: "a", apiKey: "pk_not_an_app", numbers: [number] }] }), /starting with ak_/);
    assert.throws(() => new PipesEmulator({ apps: [{ slug: "Bad Slug", apiKey: "ak_1", numbers: [number] }] }), /slug/);
    assert.throws(() => new PipesEmulator({ apps: [{ slug: "a", apiKey: "ak_1", numbers: [] }] }), /at least one number/);
    assert.throws(
      () => new PipesEmulator({ apps: [{ slug: "a", apiKey: "ak_1", numbers: [{ id: "pn_demo1", phoneNumber: "+1555" }] }] }),
      /pn_demo1 is used twice/,
    );
    assert.throws(
      () =>
        new PipesEmulator({
          apps: [
            { slug: "a", apiKey: "ak_1", numbers: [number] },
            { slug: "b", apiKey: "ak_1", numbers: [{ id: "pn_y", phoneNumber: "+1" }] },
          ],
        }),
      (error: Error) => /reuses another app's apiKey/.test(error.message) && !error.message.includes("ak_1"),
    );
    assert.deepEqual(new PipesEmulator({ apps: [] }).state().apps, []);
  });
});
