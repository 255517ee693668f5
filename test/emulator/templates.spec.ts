/**
 * Templates of an App's number (docs/decisions/0050-emulator-templates.md, 0051-emulator-template-sends.md): the list and
 * its paging, creation and review on the emulator clock, template sends through the passthrough with an App key (in and
 * out of the 24-hour window, to someone who never wrote, each slot mismatch with its Meta code, pool keys refused), and a
 * quick-reply tap coming back on the App's socket. The emulator alone, over real HTTP and a real socket.
 */
import * as assert from "node:assert/strict";
import { ERROR_CODES } from "../../src/lib/protocol";
import { DEFAULT_APP_NUMBER, DEMO_API_KEY, DEMO_APP_KEY } from "../../src/emulator";
import { TestSocket } from "../support/emulator-client";
import { useEmulator } from "../support/emulator-fixture";

const APP_NUMBER = DEFAULT_APP_NUMBER.id;
const ANA = "+15550001111";
const ANA_DIGITS = "15550001111";
const DAY_MS = 24 * 60 * 60 * 1000;
const REVIEW_MS = 60_000;

type Json = Record<string, any>;

const reminder = (values: unknown[] = ["Ana", "Friday 10:00"], extra: Json[] = []): Json => ({
  name: "appointment_reminder",
  language: { code: "en_US" },
  components: [{ type: "body", parameters: values.map((text) => ({ type: "text", text })) }, ...extra],
});

describe("emulator: templates of an App's number", function () {
  const opened: TestSocket[] = [];
  const { emu } = useEmulator({
    nodeRed: false,
    settings: { templateReviewMs: REVIEW_MS },
    cleanup: () => {
      for (const socket of opened.splice(0)) socket.ws.terminate();
    },
  });

  async function http(
    method: string,
    path: string,
    body?: unknown,
    key: string | undefined = DEMO_APP_KEY,
  ): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    const res = await fetch(`${emu.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as unknown };
  }
  const templatesPath = (suffix = "") => `/v1/pool-numbers/${APP_NUMBER}/templates${suffix}`;
  /** A template send from the App's number to `to` (Ana by default). */
  const sendTemplate = (template: Json, key?: string, to = ANA_DIGITS) =>
    http(
      "POST",
      "/v1/messages/passthrough",
      { messaging_product: "whatsapp", poolNumberId: APP_NUMBER, to, type: "template", template },
      key,
    );
  const sendText = (text: string, to = ANA_DIGITS) =>
    http("POST", "/v1/messages/passthrough", {
      messaging_product: "whatsapp",
      poolNumberId: APP_NUMBER,
      to,
      type: "text",
      text: { body: text },
    });

  describe("the list and creation", function () {
    it("lists the seeded templates in Meta's shape, with paging", async function () {
      const { status, body } = await http("GET", templatesPath());
      assert.equal(status, 200);
      const byKey = new Map((body.data as Json[]).map((t) => [`${t.name}/${t.language}`, t]));
      assert.equal(byKey.get("appointment_reminder/en_US")?.status, "APPROVED");
      assert.deepEqual(byKey.get("appointment_reminder/en_US")?.components[0], {
        type: "BODY",
        text: "Hi {{1}}, your appointment is on {{2}}.",
      });
      assert.equal(byKey.get("order_update/en_US")?.components[0].format, "IMAGE");
      assert.equal(byKey.get("seasonal_promo/en_US")?.status, "PENDING");
      assert.equal(byKey.get("account_alert/en_US")?.status, "REJECTED");
      assert.equal(byKey.get("account_alert/en_US")?.rejected_reason, "INVALID_FORMAT");
      for (const template of body.data as Json[]) assert.match(template.id, /^\d+$/);
      assert.ok(body.paging?.cursors?.before && body.paging.cursors.after, "paging.cursors");
      assert.equal(body.paging.next, undefined, "one page holds them all");
    });

    it("filters by status and pages with limit and after", async function () {
      const approved = await http("GET", templatesPath("?status=APPROVED"));
      assert.ok((approved.body.data as Json[]).every((t) => t.status === "APPROVED"));
      assert.equal(approved.body.data.length, 5);
      const first = await http("GET", templatesPath("?status=APPROVED&limit=2"));
      assert.equal(first.body.data.length, 2);
      assert.ok(first.body.paging.next, "a next page is announced");
      const second = await http("GET", templatesPath(`?status=APPROVED&limit=2&after=${first.body.paging.cursors.after}`));
      assert.equal(second.body.data.length, 2);
      const names = [...first.body.data, ...second.body.data].map((t: Json) => `${t.name}/${t.language}`);
      assert.equal(new Set(names).size, 4, "the pages do not overlap");
      assert.equal((await http("GET", templatesPath("?limit=0"))).status, 400);
    });

    it("gives one template in all its languages", async function () {
      const { status, body } = await http("GET", templatesPath("/appointment_reminder"));
      assert.equal(status, 200);
      assert.deepEqual((body.data as Json[]).map((t) => t.language).sort(), ["en_US", "pt_BR"]);
    });

    it("refuses pool keys (403), unknown keys (401) and another App's number (403)", async function () {
      assert.equal((await http("GET", templatesPath(), undefined, DEMO_API_KEY)).status, 403);
      assert.equal((await http("GET", templatesPath(), undefined, "ak_unknown")).status, 401);
      assert.equal((await http("GET", "/v1/pool-numbers/pn_demo1/templates")).status, 403);
      assert.equal((await http("POST", templatesPath(), { name: "x" }, DEMO_API_KEY)).status, 403);
    });

    it("creates a template PENDING, refuses to send it, and approves it once the clock passes the review delay", async function () {
      const create = {
        name: "pickup_ready",
        language: "en_US",
        category: "UTILITY",
        components: [
          { type: "BODY", text: "Your order {{1}} is ready for pickup." },
          { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "On my way" }] },
        ],
      };
      const created = await http("POST", templatesPath(), create);
      assert.equal(created.status, 200);
      assert.equal(created.body.status, "PENDING");
      assert.match(created.body.id, /^\d+$/);
      const send = {
        name: "pickup_ready",
        language: { code: "en_US" },
        components: [{ type: "body", parameters: [{ type: "text", text: "A-7" }] }],
      };
      const early = await sendTemplate(send);
      assert.equal(early.status, 400);
      assert.equal(early.body.error.code, 132001);
      assert.match(early.body.error.error_data.details, /PENDING/);

      emu.advanceClock(REVIEW_MS - 5_000);
      assert.equal((await http("GET", templatesPath("/pickup_ready"))).body.data[0].status, "PENDING", "still in review");
      emu.advanceClock(10_000);
      assert.equal((await http("GET", templatesPath("/pickup_ready"))).body.data[0].status, "APPROVED");
      const late = await sendTemplate(send);
      assert.equal(late.status, 200);
      assert.equal(emu.sent().at(-1)?.text, "Your order A-7 is ready for pickup.");

      assert.equal((await http("POST", templatesPath(), create)).status, 400, "the same name and language twice");
      emu.reset();
      assert.equal((await http("GET", templatesPath("/pickup_ready"))).body.data.length, 0, "reset() goes back to the seeds");
    });

    it("refuses a create body Meta would refuse, with code 100", async function () {
      const base = { name: "ok_name", language: "en_US", category: "UTILITY", components: [{ type: "BODY", text: "Hi {{1}}" }] };
      const cases: [string, Json][] = [
        ["an upper-case name", { ...base, name: "Bad Name" }],
        ["no BODY", { ...base, components: [{ type: "FOOTER", text: "f" }] }],
        ["a skipped variable", { ...base, components: [{ type: "BODY", text: "Hi {{2}}" }] }],
        ["an unknown category", { ...base, category: "SPAM" }],
        [
          "three URL buttons",
          {
            ...base,
            components: [
              { type: "BODY", text: "x" },
              { type: "BUTTONS", buttons: [1, 2, 3].map((n) => ({ type: "URL", text: `L${n}`, url: "https://example.com" })) },
            ],
          },
        ],
      ];
      for (const [what, body] of cases) {
        const answer = await http("POST", templatesPath(), body);
        assert.equal(answer.status, 400, what);
        assert.equal(answer.body.error.code, 100, what);
      }
    });
  });

  describe("sending", function () {
    it("sends to someone who never wrote: the conversation starts, its window stays closed until the user answers", async function () {
      const { socket: app } = await TestSocket.open(emu.url, { apiKey: DEMO_APP_KEY });
      opened.push(app);
      const answer = await sendTemplate(
        reminder(
          ["Ana", "Friday 10:00"],
          [{ type: "button", sub_type: "quick_reply", index: "1", parameters: [{ type: "payload", payload: "RESCHEDULE_42" }] }],
        ),
      );
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.contacts, [{ input: ANA_DIGITS, wa_id: ANA_DIGITS }]);
      assert.match(answer.body.messages[0].id, /^wamid\./);

      const sent = (await http("GET", "/_emulator/sent", undefined, undefined)).body as Json[];
      const record = sent.at(-1)!;
      assert.equal(record.kind, "template");
      assert.equal(record.toNumber, ANA);
      assert.equal(record.poolNumberId, APP_NUMBER);
      assert.equal(record.text, "Hi Ana, your appointment is on Friday 10:00.");
      assert.deepEqual(record.template.parameters, {
        body: ["Ana", "Friday 10:00"],
        buttons: [{ index: 1, subType: "quick_reply", value: "RESCHEDULE_42" }],
      });
      assert.equal(record.template.name, "appointment_reminder");
      assert.equal(record.template.language, "en_US");
      assert.equal(record.template.rendered.footer, "Tap a button to answer");
      assert.deepEqual(record.template.rendered.buttons, [
        { type: "QUICK_REPLY", text: "Confirm", payload: "Confirm" },
        { type: "QUICK_REPLY", text: "Reschedule", payload: "RESCHEDULE_42" },
      ]);
      const conversation = emu.state().conversations.find((c) => c.conversationId === record.conversationId);
      assert.equal(conversation?.lastInboundAt, null, "no window: the user has not written");

      const text = await sendText("are you there?");
      assert.equal(text.status, 403);
      assert.equal(text.body.error.code, ERROR_CODES.SERVICE_WINDOW_EXPIRED);

      // The user taps "Reschedule": it arrives on the App's socket in Meta's shape, and opens the window.
      emu.inject({
        fromNumber: ANA,
        poolNumberId: APP_NUMBER,
        answer: { kind: "template_button", id: "RESCHEDULE_42", title: "Reschedule", toMessageId: record.messageId },
      });
      const frame = await app.next("whatsapp_message");
      assert.equal(frame.data.type, "button");
      assert.deepEqual(frame.data.button, { text: "Reschedule", payload: "RESCHEDULE_42" });
      assert.deepEqual(frame.data.context, { id: record.messageId });
      assert.equal(frame.data.conversationId, record.conversationId);
      assert.equal((await sendText("see you then")).status, 200, "the answer opened the window");
    });

    it("sends outside the 24-hour window, where free-form messages are refused", async function () {
      emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "hi" });
      emu.advanceClock(DAY_MS + 1000);
      assert.equal((await sendText("late")).status, 403);
      assert.equal((await sendTemplate(reminder())).status, 200);
      assert.equal(emu.state().conversations.length, 1, "the same conversation");
    });

    it("fills a text header's variable and takes a media header and a URL suffix", async function () {
      const header = await sendTemplate({
        name: "delivery_window",
        language: { code: "en_US" },
        components: [
          { type: "header", parameters: [{ type: "text", text: "today" }] },
          {
            type: "body",
            parameters: [
              { type: "text", text: "2 pm" },
              { type: "text", text: "4 pm" },
            ],
          },
        ],
      });
      assert.equal(header.status, 200);
      assert.deepEqual(emu.sent().at(-1)?.template?.rendered.header, { format: "TEXT", text: "Delivery today" });

      const media = await sendTemplate({
        name: "order_update",
        language: { code: "en_US" },
        components: [
          { type: "header", parameters: [{ type: "image", image: { link: "https://example.com/parcel.jpg" } }] },
          {
            type: "body",
            parameters: [
              { type: "text", text: "A-1042" },
              { type: "currency", currency: { fallback_value: "$12.50", code: "USD", amount_1000: 12500 } },
            ],
          },
          { type: "button", sub_type: "url", index: 0, parameters: [{ type: "text", text: "A-1042" }] },
        ],
      });
      assert.equal(media.status, 200);
      const rendered = emu.sent().at(-1)?.template?.rendered;
      assert.deepEqual(rendered?.header, { format: "IMAGE", media: { mode: "url", url: "https://example.com/parcel.jpg" } });
      assert.equal(rendered?.body, "Order A-1042 shipped: $12.50");
      assert.deepEqual(rendered?.buttons, [{ type: "URL", text: "Track order", url: "https://example.com/track/A-1042" }]);

      const plain = await sendTemplate({ name: "welcome", language: { code: "en_US" } });
      assert.equal(plain.status, 200, "a template without variables needs no components");
    });

    it("refuses each mismatch with Meta's code, and logs it", async function () {
      const image = { type: "header", parameters: [{ type: "image", image: { link: "https://example.com/p.jpg" } }] };
      const orderBody = {
        type: "body",
        parameters: [
          { type: "text", text: "A-1" },
          { type: "text", text: "today" },
        ],
      };
      const suffix = { type: "button", sub_type: "url", index: "0", parameters: [{ type: "text", text: "A-1" }] };
      const order = (components: Json[]) => ({ name: "order_update", language: { code: "en_US" }, components });
      const cases: [string, Json, number][] = [
        ["an unknown name", { ...reminder(), name: "no_such_template" }, 132001],
        ["an unknown language", { ...reminder(), language: { code: "es_ES" } }, 132001],
        [
          "a PENDING template",
          {
            name: "seasonal_promo",
            language: { code: "en_US" },
            components: [{ type: "body", parameters: [{ type: "text", text: "x" }] }],
          },
          132001,
        ],
        [
          "a REJECTED template",
          { name: "account_alert", language: { code: "en_US" }, components: [{ type: "body", parameters: [{ type: "text", text: "x" }] }] },
          132001,
        ],
        ["one body parameter of two", reminder(["Ana"]), 132000],
        ["three body parameters of two", reminder(["Ana", "Fri", "extra"]), 132000],
        [
          "an image as a body parameter",
          {
            ...reminder(),
            components: [
              {
                type: "body",
                parameters: [
                  { type: "image", image: { link: "https://e.com/p.jpg" } },
                  { type: "text", text: "x" },
                ],
              },
            ],
          },
          132012,
        ],
        [
          "a header on a template without one",
          reminder(undefined, [{ type: "header", parameters: [{ type: "text", text: "x" }] }]),
          132000,
        ],
        ["no media header", order([orderBody, suffix]), 132000],
        [
          "a video for an image header",
          order([{ type: "header", parameters: [{ type: "video", video: { link: "https://example.com/v.mp4" } }] }, orderBody, suffix]),
          132012,
        ],
        ["no URL suffix", order([image, orderBody]), 132000],
        [
          "a quick reply named as url",
          reminder(undefined, [{ type: "button", sub_type: "url", index: "0", parameters: [{ type: "text", text: "x" }] }]),
          132012,
        ],
        [
          "a quick reply with text instead of payload",
          reminder(undefined, [{ type: "button", sub_type: "quick_reply", index: "0", parameters: [{ type: "text", text: "x" }] }]),
          132012,
        ],
        [
          "a button index the template lacks",
          reminder(undefined, [{ type: "button", sub_type: "quick_reply", index: "5", parameters: [{ type: "payload", payload: "x" }] }]),
          132000,
        ],
        ["a filled-in body over 1024 characters", reminder(["A".repeat(1000), "Friday"]), 132005],
        ["a template without a language", { name: "welcome" }, 100],
      ];
      for (const [what, template, code] of cases) {
        const answer = await sendTemplate(template);
        assert.equal(answer.status, 400, what);
        assert.equal(answer.body.error.code, code, `${what}: ${JSON.stringify(answer.body)}`);
      }
      const refused = emu.refused();
      assert.equal(refused.length, cases.length);
      assert.equal(refused[0].code, "WHATSAPP_132001");
      assert.equal(refused[0].kind, "template");
      assert.equal(refused[0].toNumber, ANA);
      assert.equal(emu.sent().length, 0);
      assert.equal(emu.state().conversations.length, 0, "a refused template starts no conversation");
    });

    it("refuses templates from a pool key, before anything else", async function () {
      const conversationId = emu.inject({ fromNumber: ANA, text: "hi" }).conversationId;
      const answer = await http(
        "POST",
        "/v1/messages/passthrough",
        { conversationId, type: "template", template: reminder() },
        DEMO_API_KEY,
      );
      assert.equal(answer.status, 403);
      assert.equal(answer.body.error.code, ERROR_CODES.FORBIDDEN);
      assert.match(answer.body.error.message, /App key/);
    });

    it("sends with an App key into a conversation named by its id too", async function () {
      const conversationId = emu.inject({ fromNumber: ANA, poolNumberId: APP_NUMBER, text: "hi" }).conversationId;
      const answer = await http("POST", "/v1/messages/passthrough", {
        conversationId,
        messaging_product: "whatsapp",
        type: "template",
        template: reminder(),
      });
      assert.equal(answer.status, 200);
      assert.equal(emu.sent().at(-1)?.conversationId, conversationId);
      const wrong = await http("POST", "/v1/messages/passthrough", {
        messaging_product: "whatsapp",
        poolNumberId: "pn_demo1",
        to: ANA_DIGITS,
        type: "template",
        template: reminder(),
      });
      assert.equal(wrong.status, 403, "the pool number is not the App's");
    });
  });
});
