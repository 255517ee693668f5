/**
 * What the emulator adds for the phone page: the page's files (with a strict CSP), the live feed
 * (GET /_emulator/events, Server-Sent Events), stored media by id, the refused-send log, and the
 * control API refusing cross-origin POSTs. The page itself is driven in test/e2e/phone.browser.spec.ts.
 */
import assert from "node:assert/strict";
import { ERROR_CODES } from "../../src/lib/protocol";
import { DEMO_API_KEY, PipesEmulator, type RefusedRecord } from "../../src/emulator";
import { TestSocket } from "../support/emulator-client";
import { SseClient } from "../support/sse";
import { waitUntil } from "../support/wait";

const ANA = "+15550001111";
const DAY_MS = 24 * 60 * 60 * 1000;
const PNG_1X1 = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

describe("emulator: phone page, live feed, media and refused sends", function () {
  let emulator: PipesEmulator;
  let url: string;
  const clients: SseClient[] = [];
  const sockets: TestSocket[] = [];

  beforeEach(async function () {
    emulator = new PipesEmulator({ drainPacingMs: 0 });
    url = await emulator.start(0);
  });

  afterEach(async function () {
    for (const client of clients.splice(0)) client.close();
    for (const socket of sockets.splice(0)) socket.ws.terminate();
    await emulator.stop();
  });

  async function feed(): Promise<SseClient> {
    const client = await SseClient.open(url);
    clients.push(client);
    return client;
  }

  async function bot(): Promise<TestSocket> {
    const { socket } = await TestSocket.open(url, { apiKey: DEMO_API_KEY });
    sockets.push(socket);
    return socket;
  }

  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  it("serves the page and its files with a strict CSP; / leads to it", async function () {
    const root = await fetch(`${url}/`, { redirect: "manual" });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/phone/");
    for (const [path, type] of [
      ["/phone", "text/html"],
      ["/phone/", "text/html"],
      ["/phone/phone.js", "text/javascript"],
      ["/phone/phone.css", "text/css"],
    ]) {
      const answer = await fetch(`${url}${path}`);
      assert.equal(answer.status, 200, path);
      assert.ok(answer.headers.get("content-type")!.startsWith(type), path);
      assert.match(answer.headers.get("content-security-policy")!, /default-src 'none'; script-src 'self'/);
      assert.equal(answer.headers.get("x-content-type-options"), "nosniff");
      assert.ok((await answer.text()).length > 100);
    }
    assert.equal((await fetch(`${url}/phone/../package.json`)).status, 404);
    assert.equal((await fetch(`${url}/phone/other.js`)).status, 404);
  });

  it("the page's files keep to its CSP and set text only as text (no HTML parsing, no inline code or style)", async function () {
    const script = await (await fetch(`${url}/phone/phone.js`)).text();
    for (const sink of [
      /\.innerHTML\b/,
      /\.outerHTML\b/,
      /insertAdjacentHTML/,
      /document\.write/,
      /\beval\(/,
      /new Function\b/,
      /setAttribute\(\s*["'](style|on\w+|href|src)["']/,
    ]) {
      assert.doesNotMatch(script, sink);
    }
    const html = await (await fetch(`${url}/phone/`)).text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, "no inline style or handlers");
  });

  it("feed: hello with history and status, then inbound, sent, refused and status events; reset starts over", async function () {
    const socket = await bot();
    const before = await post("/_emulator/inbound", { fromNumber: ANA, text: "first" });
    const { conversationId } = (await before.json()) as { conversationId: string };
    await socket.next("whatsapp_message");

    const client = await feed();
    assert.match(client.response.headers["content-type"]!, /^text\/event-stream/);
    const hello = await client.next("hello");
    assert.deepEqual(
      hello.events.map((e: any) => [e.type, e.message?.text]),
      [["inbound", "first"]],
    );
    assert.equal(hello.status.connections.length, 1);
    assert.equal(hello.status.queueSize, 0);
    assert.equal(hello.status.serviceWindowMs, DAY_MS);
    assert.deepEqual(hello.status.poolNumbers, [{ id: "pn_demo1", phoneNumber: "+15550009999" }]);
    assert.equal(hello.status.conversations[0].fromNumber, ANA);
    assert.ok(!JSON.stringify(hello).includes(DEMO_API_KEY), "no API key in the feed");

    socket.send({ type: "whatsapp_reply", data: { conversationId, text: "You said: first", poolNumberId: "pn_demo1", toNumber: ANA } });
    const sent = await client.next("chat", (e) => e.type === "sent");
    assert.equal(sent.record.text, "You said: first");
    await client.next("status");

    emulator.advanceClock(DAY_MS + 1000);
    const clockStatus = await client.next("status", (s) => s.now >= hello.status.now + DAY_MS);
    assert.ok(clockStatus.conversations[0].lastInboundAt + DAY_MS < clockStatus.now, "the window reads as closed");
    socket.send({ type: "whatsapp_reply", data: { conversationId, text: "late", poolNumberId: "pn_demo1", toNumber: ANA } });
    const refused = await client.next("chat", (e) => e.type === "refused");
    assert.deepEqual(
      { ...refused.record, at: 0 },
      {
        via: "ws",
        userId: "user_demo",
        conversationId,
        toNumber: ANA,
        text: "late",
        kind: "text",
        code: ERROR_CODES.SERVICE_WINDOW_EXPIRED,
        message: "service window closed (last inbound > 24h)",
        at: 0,
      },
    );
    assert.ok(refused.seq > sent.seq);

    assert.equal((await post("/_emulator/reset", {})).status, 200);
    const again = await client.next("hello");
    assert.deepEqual(again.events, []);
    assert.deepEqual(again.status.conversations, []);
  });

  it("feed: what the page draws rich messages from: the Meta body of a passthrough send, a reaction's target, an answer's message", async function () {
    const socket = await bot();
    const client = await feed();
    await client.next("hello");
    const { conversationId, messageId: greetingIn } = (await (
      await post("/_emulator/inbound", { fromNumber: ANA, text: "menu" })
    ).json()) as { conversationId: string; messageId: string };
    await socket.next("whatsapp_message");

    const buttons = {
      type: "button",
      body: { text: "Pick one" },
      action: { buttons: [{ type: "reply", reply: { id: "a", title: "A" } }] },
    };
    const sent = await fetch(`${url}/v1/messages/passthrough`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEMO_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ conversationId, messaging_product: "whatsapp", type: "interactive", interactive: buttons }),
    });
    assert.equal(sent.status, 200);
    const wamid = ((await sent.json()) as { messages: { id: string }[] }).messages[0].id;
    const interactive = await client.next("chat", (e) => e.type === "sent");
    assert.deepEqual(
      {
        messageId: interactive.record.messageId,
        kind: interactive.record.kind,
        toNumber: interactive.record.toNumber,
        message: interactive.record.message,
      },
      {
        messageId: wamid,
        kind: "interactive",
        toNumber: ANA,
        message: { messaging_product: "whatsapp", type: "interactive", interactive: buttons },
      },
    );

    // The tap, as the page posts it: the inbound event names the bot message it answers.
    const tap = await post("/_emulator/inbound", { fromNumber: ANA, answer: { kind: "button", id: "a", title: "A", toMessageId: wamid } });
    assert.equal(tap.status, 200);
    const answer = await client.next("chat", (e) => e.type === "inbound");
    assert.deepEqual(
      { text: answer.message.text, context: answer.message.context, interactive: answer.message.interactive },
      { text: "A", context: { id: wamid }, interactive: { type: "button_reply", button_reply: { id: "a", title: "A" } } },
    );
    await socket.next("whatsapp_message");

    // Reactions: the bot's (socket frame) to my message, mine to the bot's; each names its target.
    socket.send({
      type: "whatsapp_reaction",
      data: { conversationId, poolNumberId: "pn_demo1", toNumber: ANA, messageId: greetingIn, emoji: "👍" },
    });
    const botReaction = await client.next("chat", (e) => e.type === "sent");
    assert.deepEqual([botReaction.record.kind, botReaction.record.reaction], ["reaction", { messageId: greetingIn, emoji: "👍" }]);
    assert.equal((await post("/_emulator/inbound", { fromNumber: ANA, reaction: { messageId: wamid, emoji: "" } })).status, 200);
    const myReaction = await client.next("chat", (e) => e.type === "inbound");
    assert.deepEqual([myReaction.message.type, myReaction.message.reaction], ["reaction", { messageId: wamid, emoji: "" }]);

    // A media reply over the socket is a stored picture, drawn like a REST send.
    socket.send({
      type: "whatsapp_media_reply",
      data: {
        conversationId,
        poolNumberId: "pn_demo1",
        toNumber: ANA,
        media: { data: PNG_1X1.toString("base64"), mimeType: "image/png" },
        caption: "dot",
      },
    });
    const media = await client.next("chat", (e) => e.type === "sent");
    assert.deepEqual([media.record.kind, media.record.caption, media.record.media.mimeType], ["image", "dot", "image/png"]);
    assert.ok((await fetch(`${url}/_emulator/media/${media.record.media.mediaId}`)).ok);

    // Everything above is in the history a (re)connecting page redraws from.
    const replay = await feed();
    const history = (await replay.next("hello")).events as { type: string; record?: { kind: string } }[];
    assert.deepEqual(
      history.map((e) => e.record?.kind ?? e.type),
      ["inbound", "interactive", "inbound", "reaction", "inbound", "image"],
    );
  });

  it("feed: a message queued while the bot is offline reports queued, then delivered when it is drained", async function () {
    const client = await feed();
    await client.next("hello");
    await post("/_emulator/inbound", { fromNumber: ANA, text: "anyone?" });
    const inbound = await client.next("chat", (e) => e.type === "inbound");
    assert.equal(inbound.outcome, "queued");
    assert.equal((await client.next("status", (s) => s.queueSize === 1)).connections.length, 0);
    const socket = await bot();
    await socket.next("whatsapp_message");
    const delivered = await client.next("chat", (e) => e.type === "delivered");
    assert.equal(delivered.messageId, inbound.message.messageId);
    await client.next("status", (s) => s.queueSize === 0 && s.connections.length === 1);
  });

  it("feed: a reconnecting page gets the history again; stop() ends every stream", async function () {
    await post("/_emulator/inbound", { fromNumber: ANA, text: "kept" });
    const first = await feed();
    assert.equal((await first.next("hello")).events.length, 1);
    first.close();
    const second = await feed();
    assert.equal((await second.next("hello")).events.length, 1);
    await emulator.stop();
    await waitUntil("the stream to end", () => second.ended, second, ["change"], 3000);
  });

  it("media by id: pictures inline, other files as attachments, never runnable as a page", async function () {
    const png = await (
      await post("/_emulator/inbound", {
        fromNumber: ANA,
        media: { data: PNG_1X1.toString("base64"), mimeType: "image/png", fileName: "dot.png" },
      })
    ).json();
    const image = await fetch(`${url}/_emulator/media/${png.media.mediaId}`);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/png");
    assert.equal(image.headers.get("content-disposition"), "inline; filename*=UTF-8''dot.png");
    assert.ok(Buffer.from(await image.arrayBuffer()).equals(PNG_1X1));

    const html = await (
      await post("/_emulator/inbound", {
        fromNumber: ANA,
        media: { data: Buffer.from("<script>alert(1)</script>").toString("base64"), mimeType: "text/html", fileName: "x.html" },
      })
    ).json();
    const page = await fetch(`${url}/_emulator/media/${html.media.mediaId}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-disposition")!, /^attachment;/);
    assert.match(page.headers.get("content-security-policy")!, /^sandbox; default-src 'none'/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");

    assert.equal((await fetch(`${url}/_emulator/media/AAAAAAAAAAAAAAAAAAAAA`)).status, 404);
    assert.equal((await fetch(`${url}/_emulator/media/%E0%A4%A`)).status, 404);
  });

  it("keeps every refused send: socket refusals, silent replies and REST errors, listed by GET /_emulator/refused", async function () {
    const events: RefusedRecord[] = [];
    emulator.on("refused", (record) => events.push(record));
    const socket = await bot();
    const { conversationId } = emulator.inject({ fromNumber: ANA, text: "hi" });
    await socket.next("whatsapp_message");
    emulator.configure({ foreignConversationReply: "silent" });
    socket.send({ type: "whatsapp_reply", data: { conversationId: "conv_nope", text: "lost", poolNumberId: "pn_demo1", toNumber: ANA } });
    await waitUntil("the silent refusal", () => events.length === 1, emulator, ["refused"]);
    assert.equal(events[0].silent, true);
    assert.equal(events[0].code, ERROR_CODES.CONVERSATION_NOT_FOUND);

    const rest = (body: unknown): Promise<Response> =>
      fetch(`${url}/v1/messages/send`, {
        method: "POST",
        headers: { authorization: `Bearer ${DEMO_API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    assert.equal((await rest({ conversationId, text: "x".repeat(5000) })).status, 400);
    emulator.advanceClock(DAY_MS + 1);
    assert.equal((await rest({ conversationId, media: PNG_1X1.toString("base64"), mimeType: "image/png", caption: "pic" })).status, 403);

    const listed = (await (await fetch(`${url}/_emulator/refused`)).json()) as RefusedRecord[];
    assert.deepEqual(
      listed.map((r) => [r.via, r.code, r.kind, r.httpStatus, r.toNumber]),
      [
        ["ws", ERROR_CODES.CONVERSATION_NOT_FOUND, "text", undefined, ANA],
        ["rest", ERROR_CODES.TEXT_TOO_LONG, "text", 400, ANA],
        ["rest", ERROR_CODES.SERVICE_WINDOW_EXPIRED, "image", 403, ANA],
      ],
    );
    assert.equal(listed[1].text!.length, 4101, "an over-long text is kept cut");
    assert.equal(listed[2].text, "pic");
    assert.deepEqual(emulator.refused({ conversationId }).length, 2);
    emulator.reset();
    assert.deepEqual(emulator.refused(), []);
  });

  it("control API: a POST from another web origin is refused; the page's own origin and origin-less tools are not", async function () {
    const host = new URL(url).host;
    const foreign = await post("/_emulator/clock", { advanceMs: 1 }, { origin: "http://evil.example" });
    assert.equal(foreign.status, 403);
    assert.equal((await foreign.json()).error.code, ERROR_CODES.FORBIDDEN);
    assert.equal((await post("/_emulator/clock", { advanceMs: 1 }, { origin: "null" })).status, 403);
    assert.equal((await post("/_emulator/clock", { advanceMs: 1 }, { origin: `http://${host}` })).status, 200);
    assert.equal((await post("/_emulator/clock", { advanceMs: 1 })).status, 200);
  });
});
