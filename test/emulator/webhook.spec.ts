/**
 * The emulator's webhook delivery (docs/protocol.md#webhooks, decisions 0041-0048): a pool number in webhook mode gets each
 * inbound message as one signed JSON POST in Meta's shape instead of the socket; 500s, time-outs and refused connections
 * are retried on the (scaled) documented schedule; after the last failure the delivery is listed as failed and the
 * message takes the socket path (live socket or offline queue); the control API switches modes and sends a test call.
 * A real HTTP receiver on 127.0.0.1, the emulator, and a real socket; every wait is on an event.
 */
import * as assert from "node:assert/strict";
import {
  DEMO_API_KEY,
  EmulatorNotFoundError,
  type EmulatorOptions,
  type FeedEvent,
  type TenantSpec,
  type WebhookDeliveryRecord,
} from "../../src/emulator";
import { SseClient } from "../support/sse";
import { collect, waitFor } from "../support/wait";
import { webhookBody } from "../support/webhook";
import { messageOf, Receiver, SECRET, signature, useWebhookSuite, type Json } from "./webhook-receiver";

const ANA = "+15550001111";
const ANA_DIGITS = "15550001111";
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const TENANTS: TenantSpec[] = [
  {
    userId: "user_demo",
    apiKey: DEMO_API_KEY,
    poolNumbers: [
      { id: "pn_9", phoneNumber: "+15550009999", label: "home" },
      { id: "pn_2", phoneNumber: "+15550008888" },
    ],
  },
];
/** Applied before each test (after the reset), so no test's configure() leaks into the next. */
const DEFAULTS: Partial<EmulatorOptions> = {
  tenants: TENANTS,
  webhookTimeScale: 1,
  webhookOrder: "conversation",
  webhookUnsignedHeader: "omit",
  answerShape: "meta",
};
const WAIT_MS = 5000;

describe("emulator: webhook delivery", function () {
  const { emu, receiver, connect, http } = useWebhookSuite(DEFAULTS);

  /** The record of `messageId` once its delivery ended (delivered or failed). */
  function settled(
    messageId: () => string,
    event: "webhook-delivered" | "webhook-failed" = "webhook-delivered",
  ): Promise<WebhookDeliveryRecord> {
    return waitFor<WebhookDeliveryRecord>(emu, event, {
      what: `${event} of the message`,
      timeoutMs: WAIT_MS,
      until: (record: WebhookDeliveryRecord) => record.messageId === messageId() && record,
    });
  }

  it("delivers a text message as one signed POST in Meta's shape, instead of the socket", async function () {
    const hook = await receiver();
    const socket = await connect();
    const inbound = collectInbound();
    const info = emu.setDelivery("pn_9", { mode: "webhook", url: hook.url, secret: SECRET });
    assert.deepEqual(info, {
      userId: "user_demo",
      poolNumberId: "pn_9",
      phoneNumber: "+15550009999",
      label: "home",
      mode: "webhook",
      url: hook.url,
      secretSet: true,
      privateTarget: true,
    });

    let id = "";
    const delivered = settled(() => id);
    const message = emu.inject({ fromNumber: ANA, fromName: "Ana", poolNumberId: "pn_9", text: "hello" });
    id = message.messageId;
    const record = await delivered;
    assert.equal(inbound.outcomes[0], "webhook");

    const [request] = hook.requests;
    assert.equal(hook.requests.length, 1);
    assert.match(String(request.headers["content-type"]), /^application\/json/);
    const header = String(request.headers["x-pipes-signature"]);
    assert.match(header, /^[0-9a-f]{64}$/, "lowercase hex");
    assert.equal(header, signature(request.raw), "HMAC-SHA256 of the raw body with the secret");
    // The very shape the node tests feed pipes-webhook-in (test/support/webhook.ts), Ana's number and all.
    assert.deepEqual(
      request.json,
      webhookBody(
        { id: message.messageId, timestamp: message.timestamp, type: "text", text: { body: "hello" } },
        { conversationId: message.conversationId },
      ),
    );
    assert.equal(record.state, "delivered");
    assert.equal(record.signed, true);
    assert.deepEqual(
      record.attempts.map((a) => [a.attempt, a.ok, a.status]),
      [[1, true, 200]],
    );

    // The socket did not get it: the next frame it gets is a message of the socket-mode pool number.
    const other = emu.inject({ fromNumber: ANA, poolNumberId: "pn_2", text: "by socket" });
    assert.equal((await socket.next("whatsapp_message")).data.messageId, other.messageId);
    assert.equal(emu.queueSize(), 0);
    inbound.stop();
  });

  it("carries every kind in Meta's type object, with the usable media in pipes.media", async function () {
    const hook = await receiver();
    emu.setDelivery("pn_9", { mode: "webhook", url: hook.url });
    const media = (mimeType: string, fileName?: string) => ({ data: PNG, mimeType, ...(fileName ? { fileName } : {}) });
    const sent = [
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", media: media("image/jpeg"), text: "look" }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", media: media("video/mp4") }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", media: media("application/pdf", "menu.pdf"), text: "the menu" }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", media: media("audio/ogg") }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", media: media("image/webp") }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", media: { unavailable: true, mimeType: "image/png" } }),
      emu.inject({
        fromNumber: ANA,
        poolNumberId: "pn_9",
        location: { latitude: 38.7, longitude: -9.13, name: "Praça", address: "Lisboa" },
      }),
      emu.inject({
        fromNumber: ANA,
        poolNumberId: "pn_9",
        contacts: [{ name: { formatted_name: "Maria Silva" }, phones: [{ phone: "+15550002222", type: "CELL" }] }],
      }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", reaction: { messageId: "msg_earlier", emoji: "👍" } }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", answer: { kind: "button", id: "yes", title: "Yes", toMessageId: "wamid.A" } }),
      emu.inject({
        fromNumber: ANA,
        poolNumberId: "pn_9",
        answer: { kind: "list", id: "row_2", title: "Soup", description: "hot", toMessageId: "wamid.B" },
      }),
      emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", answer: { kind: "template_button", id: "STOP", title: "Stop" } }),
    ];
    await hook.count(sent.length);
    assert.deepEqual(
      hook.ids,
      sent.map((m) => m.messageId),
      "one POST per message, in order",
    );
    const byIndex = hook.requests.map(messageOf);
    const pipesOf = hook.requests.map((r) => r.json.pipes as Json);
    const metaMedia = (type: string, index: number, fields: Json) => {
      const object = byIndex[index][type] as Json;
      assert.match(String(object.id), /^\d+$/, `${type}: Meta's media id`);
      assert.deepEqual({ ...object, id: "x" }, { id: "x", ...fields }, type);
      assert.deepEqual(pipesOf[index].media, sent[index].media, `${type}: pipes.media is the socket's media object`);
    };
    assert.deepEqual(
      byIndex.map((m) => m.type),
      [
        "image",
        "video",
        "document",
        "audio",
        "sticker",
        "image",
        "location",
        "contacts",
        "reaction",
        "interactive",
        "interactive",
        "button",
      ],
    );
    metaMedia("image", 0, { mime_type: "image/jpeg", caption: "look" });
    metaMedia("video", 1, { mime_type: "video/mp4" });
    metaMedia("document", 2, { mime_type: "application/pdf", caption: "the menu", filename: "menu.pdf" });
    metaMedia("audio", 3, { mime_type: "audio/ogg" });
    metaMedia("sticker", 4, { mime_type: "image/webp" });
    metaMedia("image", 5, { mime_type: "image/png" });
    assert.equal(pipesOf[5].media.unavailable, true);
    assert.equal(pipesOf[0].media.downloadUrl, `/v1/media/download/${String(sent[0].media?.mediaId)}`);
    assert.deepEqual(byIndex[6].location, { latitude: 38.7, longitude: -9.13, name: "Praça", address: "Lisboa" });
    assert.deepEqual(byIndex[7].contacts, [{ name: { formatted_name: "Maria Silva" }, phones: [{ phone: "+15550002222", type: "CELL" }] }]);
    assert.deepEqual(byIndex[8].reaction, { message_id: "msg_earlier", emoji: "👍" });
    assert.deepEqual(byIndex[9].interactive, { type: "button_reply", button_reply: { id: "yes", title: "Yes" } });
    assert.deepEqual(byIndex[9].context, { id: "wamid.A" });
    assert.deepEqual(byIndex[10].interactive, { type: "list_reply", list_reply: { id: "row_2", title: "Soup", description: "hot" } });
    assert.deepEqual(byIndex[10].context, { id: "wamid.B" });
    assert.deepEqual(byIndex[11].button, { text: "Stop", payload: "STOP" });
    for (const [index, m] of byIndex.entries()) {
      assert.equal(m.id, sent[index].messageId, "the same Pipes message id the socket would carry");
      assert.equal(m.from, ANA_DIGITS);
      if (index > 5) assert.equal(pipesOf[index].media, undefined, "no media: no pipes.media");
    }
    assert.equal(hook.requests[0].headers["x-pipes-signature"], undefined, "no secret: no signature header");

    // The socket's answer shape does not change the webhook's: it is always Meta's.
    emu.configure({ answerShape: "flat" });
    const flat = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", answer: { kind: "button", id: "no", title: "No" } });
    assert.equal(flat.type, "button_reply");
    const [, , , , , , , , , , , , last] = await hook.count(13);
    assert.deepEqual(messageOf(last).interactive, { type: "button_reply", button_reply: { id: "no", title: "No" } });
    assert.equal(messageOf(last).type, "interactive");
  });

  it("retries a 500 after the scaled pauses, with the same bytes, then delivers", async function () {
    emu.configure({ webhookTimeScale: 0.01 });
    const hook = await receiver((_r, index) => (index < 2 ? 500 : 204));
    emu.setDelivery("pn_9", { mode: "webhook", url: hook.url, secret: SECRET });
    let id = "";
    const attempts = collect<{ attempt: { status?: number } }>(emu, "webhook-attempt", 3, WAIT_MS);
    const delivered = settled(() => id);
    id = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "again" }).messageId;
    const record = await delivered;
    assert.deepEqual(
      (await attempts).map((event) => event.attempt.status),
      [500, 500, 204],
    );
    assert.deepEqual(
      record.attempts.map((a) => [a.attempt, a.ok, a.status]),
      [
        [1, false, 500],
        [2, false, 500],
        [3, true, 204],
      ],
    );
    const [first, second, third] = hook.requests;
    assert.ok(first.raw.equals(second.raw) && second.raw.equals(third.raw), "every attempt sends the same bytes");
    for (const request of hook.requests) assert.equal(request.headers["x-pipes-signature"], signature(request.raw));
    // 2 s and 8 s scaled by 0.01: at least 20 ms and 80 ms, and far below the unscaled pauses.
    const pause1 = second.at - first.at;
    const pause2 = third.at - second.at;
    assert.ok(pause1 >= 19 && pause1 < 2000, `first pause ${pause1} ms`);
    assert.ok(pause2 >= 79 && pause2 < 8000, `second pause ${pause2} ms`);
    assert.deepEqual(emu.webhookFailures(), []);
  });

  it("after three timed-out attempts lists the delivery as failed and queues the message; a socket then receives it", async function () {
    emu.configure({ webhookTimeScale: 0.02 });
    const hook = await receiver(() => "hang");
    emu.setDelivery("pn_9", { mode: "webhook", url: hook.url, secret: SECRET });
    let id = "";
    const failed = settled(() => id, "webhook-failed");
    const message = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "anyone?" });
    id = message.messageId;
    const record = await failed;
    assert.equal(hook.requests.length, 3);
    assert.equal(record.state, "failed");
    assert.equal(record.fallback, "queued");
    assert.deepEqual(
      record.attempts.map((a) => [a.attempt, a.ok, a.status, a.error]),
      [
        [1, false, undefined, "timed out after 200 ms"],
        [2, false, undefined, "timed out after 200 ms"],
        [3, false, undefined, "timed out after 200 ms"],
      ],
    );
    assert.equal(emu.queueSize(), 1);

    const listed = await http("GET", "/_emulator/webhook-failures");
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.map((r: WebhookDeliveryRecord) => [r.messageId, r.state, r.fallback, r.attempts.length]),
      [[message.messageId, "failed", "queued", 3]],
    );
    assert.deepEqual(emu.webhookFailures({ poolNumberId: "pn_2" }), []);
    assert.equal((await http("GET", `/_emulator/webhook-failures?conversationId=${message.conversationId}`)).body.length, 1);

    const socket = await connect();
    const drained = await socket.next("whatsapp_message");
    assert.equal(drained.data.messageId, message.messageId);
    assert.equal(drained.data.text, "anyone?");
    assert.equal(emu.queueSize(), 0);
  });

  it("after three refused connections hands the message to the open socket", async function () {
    emu.configure({ webhookTimeScale: 0.01 });
    // Started on its own (not closed again after the test): its port refuses connections once it is closed.
    const closed = await Receiver.start();
    const url = closed.url;
    await closed.close();
    const socket = await connect();
    emu.setDelivery("pn_9", { mode: "webhook", url });
    let id = "";
    const failed = settled(() => id, "webhook-failed");
    id = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "hi" }).messageId;
    const record = await failed;
    assert.equal(record.fallback, "live");
    assert.equal(record.attempts.length, 3);
    for (const attempt of record.attempts) assert.match(String(attempt.error), /ECONNREFUSED/);
    assert.equal((await socket.next("whatsapp_message")).data.messageId, id);
    assert.equal(emu.webhookFailures().length, 1);
  });

  it("keeps a conversation's deliveries in order, one at a time; webhookOrder parallel does not", async function () {
    // A 200 ms pause after a failure (scale 0.1): long enough that a message not held behind it clearly overtakes it.
    emu.configure({ webhookTimeScale: 0.1 });
    // The first attempt of "one" and of "three" fails; everything else is taken.
    const failOnce = new Set(["one", "three"]);
    const hook = await receiver((received) => (failOnce.delete(String(messageOf(received).text?.body)) ? 500 : 200));
    emu.setDelivery("pn_9", { mode: "webhook", url: hook.url });
    const deliveredIds = (records: WebhookDeliveryRecord[]) => records.map((r) => r.messageId);

    let done = collect<WebhookDeliveryRecord>(emu, "webhook-delivered", 2, WAIT_MS);
    const a = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "one" }).messageId;
    const b = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "two" }).messageId;
    assert.deepEqual(deliveredIds(await done), [a, b]);
    assert.deepEqual(hook.ids, [a, a, b], "two is not sent before one is delivered");

    emu.configure({ webhookOrder: "parallel" });
    done = collect<WebhookDeliveryRecord>(emu, "webhook-delivered", 2, WAIT_MS);
    const c = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "three" }).messageId;
    const d = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "four" }).messageId;
    assert.deepEqual(deliveredIds(await done), [d, c], "four is not held behind three's retry");
  });

  it("switches modes through the control API, keeps or drops the secret, and never shows it", async function () {
    const hook = await receiver();
    const socket = await connect();
    const changed = waitFor(emu, "delivery", { timeoutMs: WAIT_MS });
    const put = await http("PUT", "/_emulator/delivery/pn_9", { mode: "webhook", url: hook.url, secret: SECRET });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, await changed);
    assert.equal(put.body.secretSet, true);
    assert.equal(put.body.mode, "webhook");
    assert.equal(put.body.privateTarget, true);
    for (const path of ["/_emulator/delivery", "/_emulator/delivery/pn_9", "/_emulator/state"]) {
      const answer = await http("GET", path);
      assert.equal(answer.status, 200, path);
      assert.ok(!answer.text.includes(SECRET) && !answer.text.includes('"secret"'), `${path} never shows the secret`);
    }
    const all = await http("GET", "/_emulator/delivery");
    assert.deepEqual(
      all.body.map((d: Json) => [d.poolNumberId, d.mode, d.secretSet]),
      [
        ["pn_9", "webhook", true],
        ["pn_2", "socket", false],
      ],
    );

    // Through POST /_emulator/inbound, as the phone page sends.
    const first = (await http("POST", "/_emulator/inbound", { fromNumber: ANA, poolNumberId: "pn_9", text: "via api" })).body;
    await hook.count(1);
    assert.equal(hook.requests[0].headers["x-pipes-signature"], signature(hook.requests[0].raw));
    assert.equal(messageOf(hook.requests[0]).id, first.messageId);

    // keepSecret keeps it (the page cannot read it back); a PUT without a secret drops it.
    const other = await receiver();
    assert.equal(
      (await http("PUT", "/_emulator/delivery/pn_9", { mode: "webhook", url: other.url, keepSecret: true })).body.secretSet,
      true,
    );
    emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "kept" });
    const [kept] = await other.count(1);
    assert.equal(kept.headers["x-pipes-signature"], signature(kept.raw));
    assert.equal((await http("PUT", "/_emulator/delivery/pn_9", { mode: "webhook", url: other.url })).body.secretSet, false);
    emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "unsigned" });
    const [, unsigned] = await other.count(2);
    assert.equal(unsigned.headers["x-pipes-signature"], undefined);

    // Back to the socket.
    assert.deepEqual((await http("PUT", "/_emulator/delivery/pn_9", { mode: "socket" })).body.mode, "socket");
    const bySocket = (await http("POST", "/_emulator/inbound", { fromNumber: ANA, poolNumberId: "pn_9", text: "socket again" })).body;
    assert.equal((await socket.next("whatsapp_message")).data.messageId, bySocket.messageId);
    assert.equal(other.requests.length, 2);

    // Refusals name the field and never echo the secret.
    const refusals: [unknown, number, RegExp][] = [
      [{ mode: "carrier-pigeon" }, 400, /mode/],
      [{ mode: "webhook" }, 400, /url/],
      [{ mode: "webhook", url: "ftp://127.0.0.1/x" }, 400, /url/],
      [{ mode: "webhook", url: hook.url, secret: "short" }, 400, /16 to 256/],
      [{ mode: "webhook", url: hook.url, secret: "x".repeat(257) }, 400, /16 to 256/],
      [{ mode: "webhook", url: hook.url, keepSecret: true }, 400, /no secret to keep/],
    ];
    for (const [body, status, message] of refusals) {
      const answer = await http("PUT", "/_emulator/delivery/pn_9", body);
      assert.equal(answer.status, status, JSON.stringify(body));
      assert.match(answer.body.error.message, message);
    }
    assert.equal((await http("PUT", "/_emulator/delivery/pn_nope", { mode: "socket" })).status, 404);
    assert.equal((await http("GET", "/_emulator/delivery/pn_9?userId=user_nope")).status, 404);
    assert.throws(() => emu.setDelivery("pn_nope", { mode: "socket" }), EmulatorNotFoundError);
    const wrongMethod = await http("POST", "/_emulator/delivery/pn_9", { mode: "socket" });
    assert.equal(wrongMethod.status, 405);
    assert.equal(emu.deliveryOf("pn_9").mode, "socket");
  });

  it("sends a test call with no message and reports its outcome", async function () {
    let status = 200;
    const hook = await receiver(() => status);
    assert.equal((await http("POST", "/_emulator/delivery/pn_9/test", {})).status, 400, "socket mode and no url: nothing to test");

    emu.setDelivery("pn_9", { mode: "webhook", url: hook.url, secret: SECRET });
    const event = waitFor(emu, "webhook-test", { timeoutMs: WAIT_MS });
    const ok = await http("POST", "/_emulator/delivery/pn_9/test");
    assert.equal(ok.status, 200);
    assert.deepEqual(
      { ...ok.body, durationMs: 0, at: 0 },
      {
        userId: "user_demo",
        poolNumberId: "pn_9",
        url: hook.url,
        signed: true,
        ok: true,
        status: 200,
        durationMs: 0,
        at: 0,
      },
    );
    assert.deepEqual(await event, ok.body);
    const [ping] = hook.requests;
    assert.equal(ping.headers["x-pipes-signature"], signature(ping.raw));
    assert.deepEqual(ping.json, {
      object: "whatsapp_business_account",
      entry: [
        {
          id: "pn_9",
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "+15550009999", phone_number_id: "pn_9" },
                messages: [],
                contacts: [],
              },
            },
          ],
        },
      ],
      pipes: { test: true, poolNumberId: "pn_9", label: "home" },
    });

    status = 500;
    const failed = await http("POST", "/_emulator/delivery/pn_9/test");
    assert.equal(failed.status, 200, "the call worked; the webhook did not");
    assert.equal(failed.body.ok, false);
    assert.equal(failed.body.status, 500);
    assert.equal(hook.requests.length, 2, "a test is never retried");

    // Another URL, unsigned, before saving it.
    const other = await receiver(() => 204);
    const unsaved = await http("POST", "/_emulator/delivery/pn_2/test", { url: other.url });
    assert.deepEqual([unsaved.body.ok, unsaved.body.status, unsaved.body.signed], [true, 204, false]);
    assert.equal(other.requests[0].headers["x-pipes-signature"], undefined);
    assert.equal((await http("POST", "/_emulator/delivery/pn_2/test", { url: "mailto:x@y" })).status, 400);
    assert.deepEqual(emu.webhookDeliveries(), [], "tests are not deliveries");
    assert.deepEqual(emu.webhookFailures(), []);
  });

  it("without a secret sends no signature header, or an empty one with webhookUnsignedHeader empty", async function () {
    const hook = await receiver();
    emu.setDelivery("pn_9", { mode: "webhook", url: hook.url });
    emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "plain" });
    const [plain] = await hook.count(1);
    assert.ok(!("x-pipes-signature" in plain.headers), "omitted");
    emu.configure({ webhookUnsignedHeader: "empty" });
    emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "plain again" });
    const [, empty] = await hook.count(2);
    assert.equal(empty.headers["x-pipes-signature"], "");
  });

  it("takes the delivery from the tenants option; reset() ends deliveries under way and comes back to it", async function () {
    const hook = await receiver(() => "hang");
    const configured: TenantSpec[] = [
      { ...TENANTS[0], poolNumbers: [{ ...TENANTS[0].poolNumbers![0], delivery: { mode: "webhook", url: hook.url, secret: SECRET } }] },
    ];
    assert.throws(
      () =>
        emu.configure({
          tenants: [{ ...configured[0], poolNumbers: [{ id: "pn_9", phoneNumber: "+1", delivery: { mode: "webhook", url: "x" } }] }],
        }),
      /pn_9 delivery.url/,
    );
    emu.configure({ tenants: configured });
    assert.equal(emu.deliveryOf("pn_9").mode, "webhook");
    assert.ok(!JSON.stringify(emu.state()).includes(SECRET), "state() never shows the secret");

    emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "stuck" });
    await hook.count(1);
    assert.equal(emu.webhookDeliveries()[0].state, "pending");
    emu.setDelivery("pn_9", { mode: "socket" });
    const hungUp = waitFor(hook, "hung-up", { what: "the emulator to end the request under way", timeoutMs: WAIT_MS });
    emu.reset();
    await hungUp;
    assert.deepEqual(emu.webhookDeliveries(), []);
    assert.deepEqual(emu.webhookFailures(), [], "ended without a fallback");
    assert.equal(emu.queueSize(), 0);
    assert.equal(emu.deliveryOf("pn_9").mode, "webhook", "back to the tenants option");
  });

  it("tells the phone page's feed: the delivery setting, the recent deliveries, and how each delivery ended", async function () {
    emu.configure({ webhookTimeScale: 0.01 });
    const hook = await receiver((_r, index) => (index < 3 ? 500 : 200));
    emu.setDelivery("pn_9", { mode: "webhook", url: hook.url, secret: SECRET });
    const feed = await SseClient.open(emu.url);
    try {
      const hello = await feed.next("hello", undefined, WAIT_MS);
      assert.deepEqual(
        hello.status.delivery.map((d: Json) => [d.poolNumberId, d.mode, d.url, d.secretSet]),
        [
          ["pn_9", "webhook", hook.url, true],
          ["pn_2", "socket", undefined, false],
        ],
      );
      assert.ok(!feed.text.includes(SECRET));
      const failedId = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "fails" }).messageId;
      const deliveredId = emu.inject({ fromNumber: ANA, poolNumberId: "pn_9", text: "works" }).messageId;
      const inbound = await feed.next("chat", (e: FeedEvent) => e.type === "inbound", WAIT_MS);
      assert.equal(inbound.outcome, "webhook");
      const { seq: _seq, ...failedEvent } = (await feed.next("chat", (e: FeedEvent) => e.type === "webhook", WAIT_MS)) as Json;
      assert.deepEqual(failedEvent, {
        type: "webhook",
        messageId: failedId,
        conversationId: inbound.message.conversationId,
        result: "failed",
        attempts: 3,
        fallback: "queued",
      });
      const ok = await feed.next("chat", (e: FeedEvent) => e.type === "webhook", WAIT_MS);
      assert.deepEqual([ok.messageId, ok.result, ok.attempts, ok.fallback], [deliveredId, "delivered", 1, undefined]);
      const status = await feed.next("status", (s: Json) => s.webhooks.recent.length === 2 && s.webhooks.recent[1].state === "delivered");
      assert.equal(status.webhooks.failures, 1);
      assert.equal(status.queueSize, 1);
      // The failed message drains to a socket: the page is told, as for any queued message.
      await connect();
      assert.equal((await feed.next("chat", (e: FeedEvent) => e.type === "delivered", WAIT_MS)).messageId, failedId);
    } finally {
      feed.close();
    }
  });

  /** The outcome of each inject while it runs. */
  function collectInbound(): { outcomes: string[]; stop: () => void } {
    const outcomes: string[] = [];
    const listener = ({ outcome }: { outcome: string }) => void outcomes.push(outcome);
    emu.on("inbound", listener);
    return { outcomes, stop: () => void emu.off("inbound", listener) };
  }
});
