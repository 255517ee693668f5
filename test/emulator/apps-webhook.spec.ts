/**
 * A BYON App's webhook in the emulator (docs/decisions/0055-emulator-app-webhooks.md): each message to an App number reaches
 * the App's `ak_` sockets AND, in parallel, its webhook as a signed POST (the pool numbers' payload, signature and records);
 * the App's own schedule (0, +10 s, +60 s, +5 min, scaled); a failed App delivery is recorded and never handed to the socket
 * a second time; pool numbers keep their webhook-instead-of-socket rule; the control API and the feed never show a secret.
 * A real HTTP receiver on 127.0.0.1, the emulator, and real sockets; every wait is on an event.
 */
import * as assert from "node:assert/strict";
import {
  APP_WEBHOOK_RETRY_DELAYS_MS,
  DEFAULT_APP,
  DEMO_API_KEY,
  DEMO_APP_KEY,
  EmulatorNotFoundError,
  type EmulatorOptions,
  type FeedEvent,
  type WebhookDeliveryRecord,
} from "../../src/emulator";
import { SseClient } from "../support/sse";
import { collect, waitFor } from "../support/wait";
import { messageOf, SECRET, signature, useWebhookSuite, type Json } from "./webhook-receiver";

const ANA = "+15550001111";
const APP_NUMBER = DEFAULT_APP.numbers[0].id;
const POOL_NUMBER = "pn_demo1";
/** Applied before each test (after the reset), so no test's configure() leaks into the next. */
const DEFAULTS: Partial<EmulatorOptions> = { webhookTimeScale: 1, webhookOrder: "conversation", webhookUnsignedHeader: "omit" };
const WAIT_MS = 10_000;

describe("emulator: BYON App webhooks", function () {
  const suite = useWebhookSuite(DEFAULTS);
  const { emu, receiver, http } = suite;
  /** The App's socket unless told otherwise. */
  const connect = (apiKey = DEMO_APP_KEY) => suite.connect(apiKey);

  /** The record of the message `inject` sends, once its webhook delivery ended with `event`. */
  async function injectAndSettle(
    event: "webhook-delivered" | "webhook-failed",
    text: string,
    poolNumberId = APP_NUMBER,
  ): Promise<{ messageId: string; record: WebhookDeliveryRecord }> {
    let id = "";
    const settled = waitFor<WebhookDeliveryRecord>(emu, event, {
      what: `${event} of "${text}"`,
      timeoutMs: WAIT_MS,
      until: (record: WebhookDeliveryRecord) => record.messageId === id && record,
    });
    id = emu.inject({ fromNumber: ANA, poolNumberId, text }).messageId;
    return { messageId: id, record: await settled };
  }

  it("delivers an App's message to its ak_ socket and, in parallel, as one signed POST", async function () {
    const hook = await receiver();
    const socket = await connect();
    const info = emu.setAppDelivery("demo", { mode: "webhook", url: hook.url, secret: SECRET });
    assert.deepEqual(info, {
      appId: "app_demo",
      slug: "demo",
      name: "Demo App",
      mode: "webhook",
      url: hook.url,
      secretSet: true,
      privateTarget: true,
    });
    const inbound = waitFor<{ outcome: string; dual?: true }>(emu, "inbound", { timeoutMs: WAIT_MS });
    const { messageId, record } = await injectAndSettle("webhook-delivered", "hello app");
    const { outcome, dual } = await inbound;
    assert.deepEqual([outcome, dual], ["live", true], "the socket side went live, and the webhook side started");

    const frame = await socket.next("whatsapp_message");
    assert.equal(frame.data.messageId, messageId);
    const [request] = hook.requests;
    assert.equal(hook.requests.length, 1);
    assert.equal(request.headers["x-pipes-signature"], signature(request.raw), "HMAC-SHA256 of the raw body with the App's secret");
    assert.equal(messageOf(request).id, messageId, "the same message id on both channels");
    assert.deepEqual(request.json.entry[0].changes[0].value.metadata, {
      display_phone_number: "+15550100200",
      phone_number_id: APP_NUMBER,
    });
    assert.deepEqual(request.json.pipes, { conversationId: frame.data.conversationId, poolNumberId: APP_NUMBER });
    assert.deepEqual(
      [record.userId, record.poolNumberId, record.state, record.dual, record.fallback, record.signed],
      ["app_demo", APP_NUMBER, "delivered", true, undefined, true],
    );
    assert.deepEqual(
      (await http("GET", `/_emulator/webhook-deliveries?poolNumberId=${APP_NUMBER}`)).body.map((r: Json) => r.messageId),
      [messageId],
    );
    assert.deepEqual(socket.pending("whatsapp_message"), [], "the socket got it exactly once");
  });

  it("retries on the App's own schedule: 4 attempts, pausing 10 s, 60 s and 5 min (scaled) after each failure", async function () {
    const scale = 0.004;
    emu.configure({ webhookTimeScale: scale });
    const hook = await receiver((_r, index) => (index < 3 ? 500 : 204));
    emu.setAppDelivery("demo", { mode: "webhook", url: hook.url, secret: SECRET });
    const attempts = collect<{ attempt: { status?: number } }>(emu, "webhook-attempt", 4, WAIT_MS);
    const { record } = await injectAndSettle("webhook-delivered", "again");
    assert.deepEqual(
      (await attempts).map((event) => event.attempt.status),
      [500, 500, 500, 204],
    );
    assert.deepEqual(
      record.attempts.map((a) => [a.attempt, a.ok]),
      [
        [1, false],
        [2, false],
        [3, false],
        [4, true],
      ],
    );
    assert.ok(
      hook.requests.every((r) => r.raw.equals(hook.requests[0].raw) && r.headers["x-pipes-signature"] === signature(r.raw)),
      "the same signed bytes",
    );
    // 40 ms, 240 ms and 1.2 s: each pause at least its scaled delay, and each clearly longer than the one before.
    const pauses = hook.requests.slice(1).map((r, index) => r.at - hook.requests[index].at);
    for (const [index, pause] of pauses.entries()) {
      const expected = APP_WEBHOOK_RETRY_DELAYS_MS[index + 1] * scale;
      assert.ok(pause >= expected - 1 && pause < expected + 1000, `pause ${index + 1}: ${pause} ms, expected ${expected}`);
    }
    assert.deepEqual(APP_WEBHOOK_RETRY_DELAYS_MS, [0, 10_000, 60_000, 300_000]);
    assert.deepEqual(emu.webhookFailures(), []);
  });

  it("records a failing App webhook as failed and never hands it over: the queue, then the socket, has it once", async function () {
    emu.configure({ webhookTimeScale: 0.002 });
    const hook = await receiver(() => 500);
    emu.setAppDelivery("demo", { mode: "webhook", url: hook.url });
    const { messageId, record } = await injectAndSettle("webhook-failed", "nobody home");
    assert.equal(hook.requests.length, 4);
    assert.equal(record.state, "failed");
    assert.equal(record.dual, true);
    assert.equal(record.fallback, undefined, "not handed to the socket path: it went there when it arrived");
    assert.equal(emu.queueSize(DEMO_APP_KEY), 1, "queued once, when it arrived");
    const listed = await http("GET", "/_emulator/webhook-failures");
    assert.deepEqual(
      listed.body.map((r: Json) => [r.messageId, r.state, r.dual, r.fallback, r.attempts.length]),
      [[messageId, "failed", true, undefined, 4]],
    );

    const socket = await connect();
    assert.equal((await socket.next("whatsapp_message")).data.messageId, messageId);
    // A later message is the socket's next frame: no second copy of the failed one came between.
    emu.setAppDelivery("demo", { mode: "socket" });
    const later = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "later" });
    assert.equal((await socket.next("whatsapp_message")).data.messageId, later.messageId);
    assert.equal(hook.requests.length, 4, "socket mode: no webhook for the later one");
    assert.equal(emu.queueSize(DEMO_APP_KEY), 0);
  });

  it("leaves pool numbers as they were: webhook instead of the socket, the fallback after a failure, never the App's URL", async function () {
    emu.configure({ webhookTimeScale: 0.01 });
    const appHook = await receiver();
    const poolHook = await receiver(() => 500);
    emu.setAppDelivery("demo", { mode: "webhook", url: appHook.url });
    emu.setDelivery(POOL_NUMBER, { mode: "webhook", url: poolHook.url });
    const pool = await connect(DEMO_API_KEY);
    const outcome = waitFor<{ outcome: string; dual?: true }>(emu, "inbound", { timeoutMs: WAIT_MS });
    const { messageId, record } = await injectAndSettle("webhook-failed", "pool", POOL_NUMBER);
    const { outcome: poolOutcome, dual } = await outcome;
    assert.deepEqual([poolOutcome, dual], ["webhook", undefined]);
    assert.deepEqual([record.attempts.length, record.fallback, record.dual], [3, "live", undefined]);
    assert.equal((await pool.next("whatsapp_message")).data.messageId, messageId, "handed to the socket after the last failure");
    assert.equal(appHook.requests.length, 0, "the App's webhook gets no pool traffic");
    assert.throws(() => emu.setDelivery(APP_NUMBER, { mode: "socket" }), /setAppDelivery/, "an App's number is set through its App");
  });

  it("sets, reads and tests an App's webhook through the control API, and never shows the secret", async function () {
    const hook = await receiver();
    const changed = waitFor(emu, "app-delivery", { timeoutMs: WAIT_MS });
    const put = await http("PUT", "/_emulator/app-delivery/demo", { mode: "webhook", url: hook.url, secret: SECRET });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, await changed);
    assert.deepEqual([put.body.mode, put.body.secretSet, put.body.privateTarget], ["webhook", true, true]);
    for (const path of ["/_emulator/app-delivery", "/_emulator/app-delivery/demo", "/_emulator/state", "/_emulator/delivery"]) {
      const answer = await http("GET", path);
      assert.equal(answer.status, 200, path);
      assert.ok(!answer.text.includes(SECRET) && !answer.text.includes('"secret"'), `${path} never shows the secret`);
    }
    assert.deepEqual((await http("GET", "/_emulator/state")).body.appDelivery, [put.body]);
    assert.deepEqual((await http("GET", "/_emulator/app-delivery")).body, [put.body]);

    const test = await http("POST", "/_emulator/app-delivery/demo/test");
    assert.deepEqual(
      [test.status, test.body.ok, test.body.signed, test.body.userId, test.body.poolNumberId],
      [200, true, true, "app_demo", APP_NUMBER],
    );
    const [ping] = hook.requests;
    assert.equal(ping.headers["x-pipes-signature"], signature(ping.raw));
    assert.deepEqual(ping.json.pipes, { test: true, poolNumberId: APP_NUMBER });

    // keepSecret keeps it; a PUT without one drops it; socket mode ends the webhook.
    assert.equal(
      (await http("PUT", "/_emulator/app-delivery/demo", { mode: "webhook", url: hook.url, keepSecret: true })).body.secretSet,
      true,
    );
    assert.equal((await http("PUT", "/_emulator/app-delivery/demo", { mode: "webhook", url: hook.url })).body.secretSet, false);
    assert.deepEqual((await http("PUT", "/_emulator/app-delivery/demo", { mode: "socket" })).body.mode, "socket");
    assert.equal((await http("POST", "/_emulator/app-delivery/demo/test", {})).status, 400, "socket only and no url: nothing to test");

    const refusals: [string, string, unknown, number, RegExp][] = [
      ["PUT", "/_emulator/app-delivery/demo", { mode: "webhook", url: "ftp://127.0.0.1/x" }, 400, /url/],
      ["PUT", "/_emulator/app-delivery/demo", { mode: "webhook", url: hook.url, secret: "short" }, 400, /16 to 256/],
      ["PUT", "/_emulator/app-delivery/demo", { mode: "webhook", url: hook.url, keepSecret: true }, 400, /no secret to keep/],
      ["PUT", "/_emulator/app-delivery/nope", { mode: "socket" }, 404, /no App nope/],
      ["PUT", `/_emulator/delivery/${APP_NUMBER}`, { mode: "socket" }, 400, /setAppDelivery/],
      ["POST", "/_emulator/app-delivery/demo", { mode: "socket" }, 405, /not allowed/],
    ];
    for (const [method, path, body, status, message] of refusals) {
      const answer = await http(method, path, body);
      assert.equal(answer.status, status, `${method} ${path} ${JSON.stringify(body)}`);
      assert.match(answer.body.error.message, message);
    }
    assert.throws(() => emu.appDeliveryOf("nope"), EmulatorNotFoundError);
  });

  it("takes the webhook from the apps option; reset() ends App deliveries under way and comes back to it", async function () {
    const hook = await receiver(() => "hang");
    assert.throws(() => emu.configure({ apps: [{ ...DEFAULT_APP, delivery: { mode: "webhook", url: "x" } }] }), /app demo delivery.url/);
    emu.configure({ apps: [{ ...DEFAULT_APP, delivery: { mode: "webhook", url: hook.url, secret: SECRET } }] });
    try {
      assert.equal(emu.appDeliveryOf("demo").mode, "webhook");
      assert.ok(!JSON.stringify(emu.state()).includes(SECRET), "state() never shows the secret");
      emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "stuck" });
      await hook.count(1);
      emu.setAppDelivery("demo", { mode: "socket" });
      const hungUp = waitFor(hook, "hung-up", { what: "the emulator to end the request under way", timeoutMs: WAIT_MS });
      emu.reset();
      await hungUp;
      assert.deepEqual(emu.webhookDeliveries(), []);
      assert.deepEqual(emu.webhookFailures(), []);
      assert.equal(emu.appDeliveryOf("demo").mode, "webhook", "back to the apps option");
    } finally {
      emu.configure({ apps: [DEFAULT_APP] });
    }
    assert.equal(emu.appDeliveryOf("demo").mode, "socket");
  });

  it("tells the phone page's feed: the App's setting, and each message both ways", async function () {
    emu.configure({ webhookTimeScale: 0.002 });
    const hook = await receiver(() => 500);
    emu.setAppDelivery("demo", { mode: "webhook", url: hook.url, secret: SECRET });
    const feed = await SseClient.open(emu.url);
    try {
      const hello = await feed.next("hello", undefined, WAIT_MS);
      assert.deepEqual(
        hello.status.appDelivery.map((d: Json) => [d.slug, d.mode, d.url, d.secretSet]),
        [["demo", "webhook", hook.url, true]],
      );
      const id = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "both ways" }).messageId;
      const inbound = await feed.next("chat", (e: FeedEvent) => e.type === "inbound", WAIT_MS);
      assert.deepEqual([inbound.outcome, inbound.dual], ["queued", true]);
      const { seq: _seq, ...ended } = (await feed.next("chat", (e: FeedEvent) => e.type === "webhook", WAIT_MS)) as Json;
      assert.deepEqual(ended, {
        type: "webhook",
        messageId: id,
        conversationId: inbound.message.conversationId,
        result: "failed",
        attempts: 4,
        dual: true,
      });
      assert.ok(!feed.text.includes(SECRET));
    } finally {
      feed.close();
    }
  });
});
