/**
 * The emulator's half of "every WhatsApp message kind": POST /v1/messages/passthrough checked as Meta would (each kind at
 * its limits, one over each limit, soft limits both ways, window and ownership, reactions), the first-party client's
 * whatsapp_reaction and whatsapp_media_reply frames (accepted and refused), an empty whatsapp_reply, the frame size limit,
 * answers to buttons and lists in both shapes, and the refusal of an empty inbound message. The emulator alone, over real
 * HTTP and a real socket on 127.0.0.1.
 */
import * as assert from "node:assert/strict";
import { ERROR_CODES, LIMITS, MESSAGE_LIMITS } from "../../src/lib/protocol";
import { DEMO_API_KEY, EmulatorInputError, type EmulatorOptions } from "../../src/emulator";
import { TestSocket, type Frame } from "../support/emulator-client";
import { useEmulator } from "../support/emulator-fixture";
import { waitFor } from "../support/wait";

const KEY_B = "pk_rich_tenant_b_000000000000000000000";
const ANA = "+15550001111";
const ANA_DIGITS = "15550001111";
const DAY_MS = 24 * 60 * 60 * 1000;
const MiB = 1024 * 1024;
/** The option defaults, applied before each test so a test's configure() does not leak into the next. */
const DEFAULTS: Partial<EmulatorOptions> = {
  softLimits: "enforce",
  reactionFrame: "accept",
  mediaReplyFrame: "accept",
  maxFrameBytes: 64 * MiB,
  answerShape: "meta",
  requireReplyRouting: true,
  foreignConversationReply: "silent",
  maxMediaBytes: 64 * MiB,
};

type Json = Record<string, any>;
interface Answer {
  status: number;
  body: any;
}

/**
 * `n` characters counted as a person sees them (code points), starting with `tag` (to make ids unique); every other filler
 * is an emoji (two UTF-16 units), so a check that counts `.length` refuses what WhatsApp takes.
 */
const chars = (n: number, tag = ""): string => tag + Array.from({ length: n - [...tag].length }, (_, i) => (i % 2 ? "😀" : "a")).join("");

describe("emulator: every WhatsApp message kind", function () {
  const opened: TestSocket[] = [];
  const { emu } = useEmulator({
    nodeRed: false,
    tenants: [
      { userId: "user_demo", apiKey: DEMO_API_KEY },
      { userId: "user_b", apiKey: KEY_B },
    ],
    settings: DEFAULTS,
    cleanup: () => {
      for (const socket of opened.splice(0)) socket.ws.terminate();
    },
  });

  async function http(method: string, path: string, body?: unknown, key: string | undefined = DEMO_API_KEY): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(`${emu.url}${path}`, { method, headers, body: typeof body === "string" ? body : JSON.stringify(body) });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: text };
    }
  }

  const passthrough = (body: unknown, key?: string): Promise<Answer> => http("POST", "/v1/messages/passthrough", body, key);

  async function connect(query: Record<string, string> = {}): Promise<TestSocket> {
    const { socket } = await TestSocket.open(emu.url, { apiKey: DEMO_API_KEY, ...query });
    opened.push(socket);
    return socket;
  }

  /** A new conversation with ANA (or `from`), its id. */
  const conversation = (from = ANA): string => emu.inject({ fromNumber: from, text: "hi" }).conversationId;

  // ----- Meta bodies at their limits ---------------------------------------------------------------------------------------

  const buttonsAtLimits = (): Json => ({
    type: "button",
    header: { type: "text", text: chars(MESSAGE_LIMITS.headerText) },
    body: { text: chars(MESSAGE_LIMITS.bodyText) },
    footer: { text: chars(MESSAGE_LIMITS.footerText) },
    action: {
      buttons: Array.from({ length: MESSAGE_LIMITS.buttonsMax }, (_, i) => ({
        type: "reply",
        reply: { id: chars(MESSAGE_LIMITS.buttonId, String(i)), title: chars(MESSAGE_LIMITS.buttonTitle, String(i)) },
      })),
    },
  });

  /** `sections` sections sharing `MESSAGE_LIMITS.rowsMax` rows, every field at its limit. */
  const listAtLimits = (sections = 2): Json => ({
    type: "list",
    header: { type: "text", text: chars(MESSAGE_LIMITS.headerText) },
    body: { text: chars(MESSAGE_LIMITS.bodyText) },
    footer: { text: chars(MESSAGE_LIMITS.footerText) },
    action: {
      button: chars(MESSAGE_LIMITS.listButton),
      sections: Array.from({ length: sections }, (_, s) => ({
        title: chars(MESSAGE_LIMITS.sectionTitle, String(s)),
        rows: Array.from({ length: MESSAGE_LIMITS.rowsMax / sections }, (_, r) => ({
          id: chars(MESSAGE_LIMITS.rowId, `${s}-${r}`),
          title: chars(MESSAGE_LIMITS.rowTitle),
          description: chars(MESSAGE_LIMITS.rowDescription),
        })),
      })),
    },
  });

  const ctaAtLimits = (): Json => ({
    type: "cta_url",
    header: { type: "image", image: { link: "https://example.invalid/banner.png" } },
    body: { text: chars(MESSAGE_LIMITS.bodyText) },
    footer: { text: chars(MESSAGE_LIMITS.footerText) },
    action: { name: "cta_url", parameters: { display_text: chars(MESSAGE_LIMITS.ctaText), url: "https://example.invalid/shop?x=1" } },
  });

  const interactive = (conversationId: string, content: Json): Json => ({
    conversationId,
    messaging_product: "whatsapp",
    type: "interactive",
    interactive: content,
  });

  function assertMetaError(answer: Answer, code: number, details: RegExp): void {
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    const { error } = answer.body;
    assert.deepEqual(Object.keys(answer.body), ["error"]);
    assert.equal(error.code, code);
    assert.equal(error.type, "OAuthException");
    assert.equal(
      error.message,
      { 100: "(#100) Invalid parameter", 131009: "(#131009) Parameter value is not valid", 131026: "(#131026) Message Undeliverable" }[
        code
      ],
    );
    assert.equal(error.error_data.messaging_product, "whatsapp");
    assert.match(error.error_data.details, details);
  }

  describe("POST /v1/messages/passthrough", function () {
    it("sends every kind at its limits (lengths in code points) and answers as Meta does", async function () {
      const conversationId = conversation();
      const first = await passthrough(interactive(conversationId, buttonsAtLimits()));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(Object.keys(first.body).sort(), ["contacts", "messages", "messaging_product"]);
      assert.equal(first.body.messaging_product, "whatsapp");
      assert.deepEqual(first.body.contacts, [{ input: ANA_DIGITS, wa_id: ANA_DIGITS }]);
      assert.match(first.body.messages[0].id, /^wamid\.\w+$/);
      const wamid: string = first.body.messages[0].id;

      const bodies: Json[] = [
        interactive(conversationId, listAtLimits(2)),
        interactive(conversationId, listAtLimits(MESSAGE_LIMITS.sectionsMax)),
        interactive(conversationId, {
          ...listAtLimits(1),
          action: { ...listAtLimits(1).action, sections: [{ rows: listAtLimits(1).action.sections[0].rows }] },
        }),
        interactive(conversationId, ctaAtLimits()),
        { conversationId, type: "location", location: { latitude: 90, longitude: -180, name: "North Pole", address: "Arctic" } },
        { conversationId, type: "location", location: { latitude: -90, longitude: 180 } },
        {
          conversationId,
          type: "contacts",
          contacts: [{ name: { formatted_name: "Ana Lima", first_name: "Ana" }, phones: [{ phone: ANA }] }],
        },
        { conversationId, type: "reaction", reaction: { message_id: wamid, emoji: "👍" } },
        { conversationId, type: "reaction", reaction: { message_id: wamid, emoji: "" } },
        { conversationId, type: "text", text: { body: chars(LIMITS.textMax) } },
        { conversationId, type: "image", image: { link: "https://example.invalid/cat.png", caption: chars(LIMITS.captionMax) } },
        { conversationId, type: "document", document: { id: "1234567890", filename: "menu.pdf" } },
      ];
      for (const body of bodies) {
        const answer = await passthrough(body);
        assert.equal(answer.status, 200, `${JSON.stringify(answer.body)} for ${JSON.stringify(body).slice(0, 120)}`);
      }

      const sent = emu.sent({ conversationId });
      assert.deepEqual(
        sent.map((r) => r.kind),
        [
          "interactive",
          "interactive",
          "interactive",
          "interactive",
          "interactive",
          "location",
          "location",
          "contacts",
          "reaction",
          "reaction",
          "text",
          "image",
          "document",
        ],
      );
      assert.ok(sent.every((r) => r.via === "rest" && r.toNumber === ANA && r.poolNumberId === "pn_demo1"));
      assert.equal(sent[0].messageId, wamid);
      assert.deepEqual(
        sent[0].message,
        { messaging_product: "whatsapp", type: "interactive", interactive: buttonsAtLimits() },
        "the Meta body is kept",
      );
      assert.equal(sent[0].text, chars(MESSAGE_LIMITS.bodyText));
      assert.deepEqual(sent[8].reaction, { messageId: wamid, emoji: "👍" });
      assert.deepEqual(sent[9].reaction, { messageId: wamid, emoji: "" }, "an empty emoji removes the reaction");
      assert.deepEqual(sent[11].media, { mode: "url", url: "https://example.invalid/cat.png" });
      assert.deepEqual(sent[12].media, { mode: "id", mediaId: "1234567890", fileName: "menu.pdf" });
      assert.equal(emu.refused().length, 0);
    });

    it("emits 'sent' for a passthrough send", async function () {
      const conversationId = conversation();
      const sent = waitFor(emu, "sent", { what: "the sent event" });
      const answer = await passthrough({ conversationId, type: "location", location: { latitude: 1.5, longitude: 2.5 } });
      const record = await sent;
      assert.equal(record.messageId, answer.body.messages[0].id);
      assert.equal(record.kind, "location");
    });

    /** One change over a limit (or a shape error) each, and the field error_data.details must name. */
    const OVER: { name: string; body: (conversationId: string) => Json; code: 100 | 131009; details: RegExp }[] = [
      // Reply buttons
      {
        name: "4 buttons",
        body: (c) => interactive(c, withButtons(4)),
        code: 131009,
        details: /interactive\.action\.buttons has 4 items; 1 to 3 allowed/,
      },
      {
        name: "no buttons",
        body: (c) => interactive(c, withButtons(0)),
        code: 131009,
        details: /interactive\.action\.buttons has 0 items/,
      },
      {
        name: "a button title of 21",
        body: (c) => interactive(c, editButton(0, { title: chars(21) })),
        code: 131009,
        details: /buttons\[0\]\.reply\.title is 21 characters; the limit is 20/,
      },
      {
        name: "a button id of 257",
        body: (c) => interactive(c, editButton(1, { id: chars(257) })),
        code: 131009,
        details: /buttons\[1\]\.reply\.id is 257 characters; the limit is 256/,
      },
      {
        name: "two buttons titled alike",
        body: (c) => interactive(c, editButton(2, { title: buttonsAtLimits().action.buttons[0].reply.title })),
        code: 131009,
        details: /buttons\[2\]\.reply\.title .* repeats buttons\[0\]/,
      },
      {
        name: "an empty button title",
        body: (c) => interactive(c, editButton(0, { title: "" })),
        code: 131009,
        details: /buttons\[0\]\.reply\.title is empty/,
      },
      {
        name: "a button without id",
        body: (c) => interactive(c, editButton(0, { id: undefined })),
        code: 100,
        details: /buttons\[0\]\.reply\.id is required/,
      },
      {
        name: "a button of type url",
        body: (c) => interactive(c, { ...buttonsAtLimits(), action: { buttons: [{ type: "url", reply: { id: "a", title: "b" } }] } }),
        code: 100,
        details: /buttons\[0\]\.type must be 'reply'/,
      },
      {
        name: "a body of 1025",
        body: (c) => interactive(c, { ...buttonsAtLimits(), body: { text: chars(1025) } }),
        code: 131009,
        details: /interactive\.body\.text is 1025 characters; the limit is 1024/,
      },
      {
        name: "no body",
        body: (c) => interactive(c, { ...buttonsAtLimits(), body: undefined }),
        code: 100,
        details: /interactive\.body is required/,
      },
      {
        name: "a header of 61",
        body: (c) => interactive(c, { ...buttonsAtLimits(), header: { type: "text", text: chars(61) } }),
        code: 131009,
        details: /interactive\.header\.text is 61 characters; the limit is 60/,
      },
      {
        name: "a footer of 61",
        body: (c) => interactive(c, { ...buttonsAtLimits(), footer: { text: chars(61) } }),
        code: 131009,
        details: /interactive\.footer\.text is 61 characters; the limit is 60/,
      },
      {
        name: "an unknown interactive type",
        body: (c) => interactive(c, { ...buttonsAtLimits(), type: "carousel" }),
        code: 100,
        details: /interactive\.type must be one of button, list, cta_url/,
      },
      // Lists
      {
        name: "11 sections",
        body: (c) => interactive(c, withSections(11, 1)),
        code: 131009,
        details: /interactive\.action\.sections has 11 items; 1 to 10 allowed/,
      },
      {
        name: "11 rows in all",
        body: (c) => interactive(c, withSections(2, [6, 5])),
        code: 131009,
        details: /interactive\.action\.sections has 11 rows in all; 1 to 10 allowed/,
      },
      { name: "no rows", body: (c) => interactive(c, withSections(1, 0)), code: 131009, details: /has 0 rows in all/ },
      {
        name: "an untitled section among two",
        body: (c) => interactive(c, editSection(1, { title: undefined })),
        code: 100,
        details: /interactive\.action\.sections\[1\]\.title is required/,
      },
      {
        name: "a row id of 201",
        body: (c) => interactive(c, editRow(0, 1, { id: chars(201) })),
        code: 131009,
        details: /sections\[0\]\.rows\[1\]\.id is 201 characters; the limit is 200/,
      },
      {
        name: "two rows with one id",
        body: (c) => interactive(c, editRow(1, 0, { id: listAtLimits().action.sections[0].rows[0].id })),
        code: 131009,
        details: /sections\[1\]\.rows\[0\]\.id .* repeats interactive\.action\.sections\[0\]\.rows\[0\]\.id/,
      },
      {
        name: "a row title of 25",
        body: (c) => interactive(c, editRow(1, 4, { title: chars(25) })),
        code: 131009,
        details: /sections\[1\]\.rows\[4\]\.title is 25 characters; the limit is 24/,
      },
      {
        name: "a row description of 73",
        body: (c) => interactive(c, editRow(0, 0, { description: chars(73) })),
        code: 131009,
        details: /sections\[0\]\.rows\[0\]\.description is 73 characters; the limit is 72/,
      },
      {
        name: "a list without its button label",
        body: (c) => interactive(c, { ...listAtLimits(), action: { ...listAtLimits().action, button: undefined } }),
        code: 100,
        details: /interactive\.action\.button is required/,
      },
      {
        name: "a list with an image header",
        body: (c) => interactive(c, { ...listAtLimits(), header: { type: "image", image: { link: "https://example.invalid/a.png" } } }),
        code: 100,
        details: /interactive\.header\.type must be text on a list message/,
      },
      {
        name: "a list body of 1025",
        body: (c) => interactive(c, { ...listAtLimits(), body: { text: chars(1025) } }),
        code: 131009,
        details: /interactive\.body\.text is 1025 characters/,
      },
      // Link buttons
      {
        name: "a cta_url action not named cta_url",
        body: (c) => interactive(c, { ...ctaAtLimits(), action: { ...ctaAtLimits().action, name: "url" } }),
        code: 100,
        details: /interactive\.action\.name must be 'cta_url'/,
      },
      {
        name: "a cta_url to ftp://",
        body: (c) => interactive(c, editCta({ url: "ftp://example.invalid/x" })),
        code: 131009,
        details: /interactive\.action\.parameters\.url must be an http:\/\/ or https:\/\/ URL/,
      },
      {
        name: "a cta_url without display_text",
        body: (c) => interactive(c, editCta({ display_text: undefined })),
        code: 100,
        details: /interactive\.action\.parameters\.display_text is required/,
      },
      {
        name: "a cta_url body of 1025",
        body: (c) => interactive(c, { ...ctaAtLimits(), body: { text: chars(1025) } }),
        code: 131009,
        details: /interactive\.body\.text is 1025 characters/,
      },
      // Location, contacts, reaction, others
      {
        name: "latitude 90.5",
        body: (c) => ({ conversationId: c, type: "location", location: { latitude: 90.5, longitude: 0 } }),
        code: 131009,
        details: /location\.latitude is 90\.5; -90 to 90 allowed/,
      },
      {
        name: "longitude -180.1",
        body: (c) => ({ conversationId: c, type: "location", location: { latitude: 0, longitude: -180.1 } }),
        code: 131009,
        details: /location\.longitude is -180\.1; -180 to 180 allowed/,
      },
      {
        name: "a latitude as text",
        body: (c) => ({ conversationId: c, type: "location", location: { latitude: "12", longitude: 0 } }),
        code: 100,
        details: /location\.latitude must be a number/,
      },
      {
        name: "no contacts",
        body: (c) => ({ conversationId: c, type: "contacts", contacts: [] }),
        code: 131009,
        details: /contacts has 0 items; at least 1 required/,
      },
      {
        name: "a contact without formatted_name",
        body: (c) => ({ conversationId: c, type: "contacts", contacts: [{ name: { first_name: "Ana" } }] }),
        code: 100,
        details: /contacts\[0\]\.name\.formatted_name is required/,
      },
      {
        name: "contacts as an object",
        body: (c) => ({ conversationId: c, type: "contacts", contacts: { name: { formatted_name: "Ana" } } }),
        code: 100,
        details: /contacts must be an array/,
      },
      {
        name: "a reaction without emoji",
        body: (c) => ({ conversationId: c, type: "reaction", reaction: { message_id: "wamid.x" } }),
        code: 100,
        details: /reaction\.emoji is required/,
      },
      {
        name: "a text of 4097",
        body: (c) => ({ conversationId: c, type: "text", text: { body: chars(4097) } }),
        code: 131009,
        details: /text\.body is 4097 characters; the limit is 4096/,
      },
      {
        name: "an image with id and link",
        body: (c) => ({ conversationId: c, type: "image", image: { id: "1", link: "https://example.invalid/a.png" } }),
        code: 100,
        details: /image needs exactly one of id and link/,
      },
      {
        name: "a caption of 1025",
        body: (c) => ({ conversationId: c, type: "video", video: { id: "1", caption: chars(1025) } }),
        code: 131009,
        details: /video\.caption is 1025 characters; the limit is 1024/,
      },
      {
        name: "an unknown type",
        body: (c) => ({ conversationId: c, type: "poll", poll: {} }),
        code: 100,
        details: /type must be one of interactive, location, contacts, reaction/,
      },
      { name: "no type object", body: (c) => ({ conversationId: c, type: "interactive" }), code: 100, details: /^interactive is required/ },
      {
        name: "another messaging_product",
        body: (c) => ({ ...interactive(c, buttonsAtLimits()), messaging_product: "sms" }),
        code: 100,
        details: /messaging_product must be 'whatsapp'/,
      },
    ];

    it(`refuses one over each limit with Meta's error, naming the field (${OVER.length} cases)`, async function () {
      const conversationId = conversation();
      for (const { name, body, code, details } of OVER) {
        const answer = await passthrough(body(conversationId));
        try {
          assertMetaError(answer, code, details);
        } catch (error) {
          (error as Error).message = `${name}: ${(error as Error).message}`;
          throw error;
        }
      }
      assert.equal(emu.sent().length, 0, "nothing refused was sent");
      const refused = emu.refused();
      assert.equal(refused.length, OVER.length, "every refusal is in the refused log");
      assert.ok(
        refused.every(
          (r) => r.via === "rest" && r.httpStatus === 400 && /^WHATSAPP_(100|131009)$/.test(r.code) && r.conversationId === conversationId,
        ),
      );
      assert.equal(refused[0].kind, "interactive");
      assert.match(refused[0].message, /\(#131009\) Parameter value is not valid: interactive\.action\.buttons has 4 items/);
    });

    it("enforces the soft limits by default and lets them through with softLimits 'ignore'", async function () {
      const conversationId = conversation();
      const soft: [string, Json, RegExp][] = [
        [
          "list button label",
          { ...listAtLimits(), action: { ...listAtLimits().action, button: chars(MESSAGE_LIMITS.listButton + 1) } },
          /interactive\.action\.button is 21 characters; the limit is 20/,
        ],
        [
          "section title",
          editSection(0, { title: chars(MESSAGE_LIMITS.sectionTitle + 1) }),
          /interactive\.action\.sections\[0\]\.title is 25 characters; the limit is 24/,
        ],
        [
          "link text",
          editCta({ display_text: chars(MESSAGE_LIMITS.ctaText + 1) }),
          /interactive\.action\.parameters\.display_text is 21 characters; the limit is 20/,
        ],
      ];
      for (const [name, content, details] of soft) {
        const answer = await passthrough(interactive(conversationId, content));
        assert.equal(answer.status, 400, name);
        assertMetaError(answer, 131009, details);
      }
      emu.configure({ softLimits: "ignore" });
      for (const [name, content] of soft) assert.equal((await passthrough(interactive(conversationId, content))).status, 200, name);
      // Hard limits stay, and a soft field is still required.
      assertMetaError(
        await passthrough(interactive(conversationId, editRow(0, 0, { title: chars(25) }))),
        131009,
        /rows\[0\]\.title is 25 characters/,
      );
      assertMetaError(
        await passthrough(interactive(conversationId, editCta({ display_text: undefined }))),
        100,
        /display_text is required/,
      );
      assert.equal(emu.sent().length, soft.length);
    });

    it("keeps the send rules: 401 without a key, 404 for another's conversation, 403 out of the window", async function () {
      const conversationId = conversation();
      const body = { conversationId, type: "location", location: { latitude: 0, longitude: 0 } };
      const pipesError = (answer: Answer, status: number, code: string): void => {
        assert.equal(answer.status, status, JSON.stringify(answer.body));
        assert.equal(answer.body.success, false);
        assert.equal(answer.body.error.code, code);
        assert.equal(typeof answer.body.error.message, "string");
      };
      pipesError(await passthrough(body, ""), 401, ERROR_CODES.UNAUTHORIZED);
      pipesError(await passthrough(body, "pk_not_a_tenant_0000000000000000000"), 401, ERROR_CODES.UNAUTHORIZED);
      pipesError(await passthrough(body, KEY_B), 404, ERROR_CODES.CONVERSATION_NOT_FOUND);
      pipesError(await passthrough({ ...body, conversationId: "conv_nope" }), 404, ERROR_CODES.CONVERSATION_NOT_FOUND);
      pipesError(await passthrough({ type: "location", location: { latitude: 0, longitude: 0 } }), 400, ERROR_CODES.INVALID_REQUEST);
      pipesError(await passthrough("{not json"), 400, ERROR_CODES.INVALID_REQUEST);
      // Pipes' checks come before Meta's: an invalid body for an unknown conversation is a 404.
      pipesError(await passthrough({ conversationId: "conv_nope", type: "poll" }), 404, ERROR_CODES.CONVERSATION_NOT_FOUND);

      emu.advanceClock(DAY_MS + 1);
      pipesError(await passthrough(body), 403, ERROR_CODES.SERVICE_WINDOW_EXPIRED);
      emu.inject({ fromNumber: ANA, text: "back" });
      assert.equal((await passthrough(body)).status, 200, "a new inbound message reopens the window");

      const refused = emu.refused();
      assert.deepEqual(
        refused.map((r) => [r.httpStatus, r.code]),
        [
          [404, ERROR_CODES.CONVERSATION_NOT_FOUND],
          [404, ERROR_CODES.CONVERSATION_NOT_FOUND],
          [400, ERROR_CODES.INVALID_REQUEST],
          [400, ERROR_CODES.INVALID_REQUEST],
          [404, ERROR_CODES.CONVERSATION_NOT_FOUND],
          [403, ERROR_CODES.SERVICE_WINDOW_EXPIRED],
        ],
        "401s are not a tenant's refusals; the rest are logged",
      );
      assert.equal(refused.at(-1)?.kind, "location");
    });

    it("takes a reaction only to a wamid it issued in that conversation (131026 otherwise)", async function () {
      const mine = conversation();
      const other = conversation("+15550002222");
      const sentHere = (await http("POST", "/v1/messages/send", { conversationId: mine, text: "menu?" })).body.messageId as string;
      const sentThere = (await passthrough({ conversationId: other, type: "text", text: { body: "hello" } })).body.messages[0].id as string;
      const inboundId = emu.inject({ fromNumber: ANA, text: "again" }).messageId;
      const react = (messageId: string, emoji = "❤️") =>
        passthrough({ conversationId: mine, type: "reaction", reaction: { message_id: messageId, emoji } });

      assertMetaError(
        await react("wamid.never_issued"),
        131026,
        /reaction\.message_id 'wamid\.never_issued' is not a message sent in this conversation/,
      );
      assertMetaError(await react(sentThere), 131026, /reaction\.message_id/);
      assertMetaError(await react(inboundId), 131026, /reaction\.message_id/);
      assert.equal((await react(sentHere)).status, 200);
      assert.deepEqual(emu.sent({ conversationId: mine }).at(-1)?.reaction, { messageId: sentHere, emoji: "❤️" });
      assert.equal(emu.refused().filter((r) => r.code === "WHATSAPP_131026").length, 3);
    });
  });

  // ----- Socket frames -------------------------------------------------------------------------------------------------

  describe("socket frames", function () {
    const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(32, 7)]);
    const routing = { poolNumberId: "pn_demo1", toNumber: ANA };
    const reaction = (conversationId: string, messageId: string, emoji = "👍"): Json => ({
      type: "whatsapp_reaction",
      data: { conversationId, ...routing, messageId, emoji },
    });
    const mediaReply = (conversationId: string, bytes: Buffer = PNG, caption?: string): Json => ({
      type: "whatsapp_media_reply",
      data: {
        conversationId,
        ...routing,
        media: { data: bytes.toString("base64"), mimeType: "image/png", fileName: "p.png" },
        ...(caption ? { caption } : {}),
      },
    });

    it("accepts whatsapp_reaction (to an inbound msg_ id or a sent wamid) and whatsapp_media_reply, like whatsapp_reply", async function () {
      const socket = await connect();
      const inbound = emu.inject({ fromNumber: ANA, text: "hi" });
      const { conversationId } = inbound;

      const reactionEvent = waitFor(emu, "reaction", { what: "the reaction event" });
      socket.send(reaction(conversationId, inbound.messageId));
      const toInbound = await socket.next("reply_status");
      assert.deepEqual(Object.keys(toInbound.data).sort(), ["conversationId", "messageId", "success"]);
      assert.equal(toInbound.data.success, true);
      assert.equal(toInbound.data.conversationId, conversationId);
      assert.match(toInbound.data.messageId, /^wamid\./);
      assert.equal((await reactionEvent).status.messageId, toInbound.data.messageId);

      socket.send({ type: "whatsapp_reply", data: { conversationId, ...routing, text: "menu?" } });
      const replied = await socket.next("reply_status");
      socket.send(reaction(conversationId, replied.data.messageId as string, ""));
      assert.equal((await socket.next("reply_status")).data.success, true, "a reaction to a sent wamid; an empty emoji removes");

      socket.send(reaction(conversationId, "msg_not_here"));
      const unknown = await socket.next("reply_status");
      assert.equal(unknown.data.success, false);
      assert.equal(unknown.data.code, ERROR_CODES.INVALID_REQUEST);

      const mediaEvent = waitFor(emu, "media-reply", { what: "the media-reply event" });
      socket.send(mediaReply(conversationId, PNG, "a picture"));
      const media = await socket.next("reply_status");
      assert.equal(media.data.success, true);
      assert.equal((await mediaEvent).status.success, true);

      const sent = emu.sent({ conversationId });
      assert.deepEqual(
        sent.map((r) => [r.via, r.kind]),
        [
          ["ws", "reaction"],
          ["ws", "text"],
          ["ws", "reaction"],
          ["ws", "image"],
        ],
      );
      assert.deepEqual(sent[0].reaction, { messageId: inbound.messageId, emoji: "👍" });
      assert.deepEqual(sent[2].reaction, { messageId: replied.data.messageId, emoji: "" });
      assert.equal(sent[3].messageId, media.data.messageId);
      assert.equal(sent[3].caption, "a picture");
      assert.equal(sent[3].media?.mode, "base64");
      assert.equal(sent[3].media?.byteSize, PNG.length);
      assert.equal(sent[3].media?.fileName, "p.png");
      // The media is stored like an upload: downloadable by id.
      const download = await fetch(`${emu.url}/v1/media/download/${sent[3].media?.mediaId}`, {
        headers: { Authorization: `Bearer ${DEMO_API_KEY}` },
        redirect: "manual",
      });
      await download.arrayBuffer();
      assert.equal(download.status, 302);
      assert.deepEqual(
        emu.refused().map((r) => [r.kind, r.code]),
        [["reaction", ERROR_CODES.INVALID_REQUEST]],
      );
    });

    it("applies routing, ownership and the window to the new frames", async function () {
      const socket = await connect();
      const { conversationId, messageId } = emu.inject({ fromNumber: ANA, text: "hi" });
      socket.send({ type: "whatsapp_reaction", data: { conversationId, messageId, emoji: "👍" } });
      assert.equal((await socket.next("reply_status")).data.code, ERROR_CODES.INVALID_REQUEST, "routing required");
      emu.configure({ foreignConversationReply: "error" });
      const theirs = emu.inject({ apiKey: KEY_B, fromNumber: ANA, text: "hi" });
      socket.send(mediaReply(theirs.conversationId));
      assert.equal((await socket.next("reply_status")).data.code, ERROR_CODES.CONVERSATION_NOT_FOUND);
      emu.configure({ maxMediaBytes: 16 });
      socket.send(mediaReply(conversationId));
      assert.equal((await socket.next("reply_status")).data.code, ERROR_CODES.MEDIA_TOO_LARGE);
      emu.configure({ maxMediaBytes: 64 * MiB });
      socket.send(mediaReply(conversationId, PNG, chars(LIMITS.captionMax + 1)));
      assert.equal((await socket.next("reply_status")).data.code, ERROR_CODES.CAPTION_TOO_LONG);
      emu.advanceClock(DAY_MS + 1);
      socket.send(reaction(conversationId, messageId));
      socket.send(mediaReply(conversationId));
      const [late1, late2] = await socket.take("reply_status", 2);
      assert.deepEqual([late1.data.code, late2.data.code], [ERROR_CODES.SERVICE_WINDOW_EXPIRED, ERROR_CODES.SERVICE_WINDOW_EXPIRED]);
      assert.equal(emu.sent().length, 0);
      assert.equal(emu.refused().length, 6);
    });

    it("refuses both frames with UNSUPPORTED_FRAME when configured to", async function () {
      emu.configure({ reactionFrame: "refuse", mediaReplyFrame: "refuse" });
      const socket = await connect();
      const { conversationId, messageId } = emu.inject({ fromNumber: ANA, text: "hi" });
      socket.send(reaction(conversationId, messageId));
      socket.send(mediaReply(conversationId, PNG, "pic"));
      const statuses = await socket.take("reply_status", 2);
      for (const status of statuses) {
        assert.equal(status.data.success, false);
        assert.equal(status.data.code, "UNSUPPORTED_FRAME");
        assert.equal(status.data.conversationId, conversationId);
        assert.match(status.data.error, /not supported/);
      }
      assert.equal(emu.sent().length, 0);
      assert.deepEqual(
        emu.refused().map((r) => [r.via, r.kind, r.code, r.text]),
        [
          ["ws", "reaction", "UNSUPPORTED_FRAME", "👍"],
          ["ws", "image", "UNSUPPORTED_FRAME", "pic"],
        ],
      );

      emu.configure({ reactionFrame: "accept" });
      socket.send(reaction(conversationId, messageId));
      assert.equal((await socket.next("reply_status")).data.success, true, "each frame has its own option");
    });

    it("answers an empty whatsapp_reply INVALID_REQUEST and logs it", async function () {
      const socket = await connect();
      const { conversationId } = emu.inject({ fromNumber: ANA, text: "hi" });
      socket.send({ type: "whatsapp_reply", data: { conversationId, ...routing, text: "" } });
      const status = await socket.next("reply_status");
      assert.equal(status.data.success, false);
      assert.equal(status.data.code, ERROR_CODES.INVALID_REQUEST);
      const [refused] = emu.refused();
      assert.deepEqual(
        [refused.via, refused.kind, refused.code, refused.conversationId],
        ["ws", "text", ERROR_CODES.INVALID_REQUEST, conversationId],
      );
      assert.equal(emu.sent().length, 0);
    });

    it("takes frames up to maxFrameBytes (64 MiB by default) and closes the socket (1009) over it", async function () {
      const socket = await connect();
      const { conversationId } = emu.inject({ fromNumber: ANA, text: "hi" });
      const big = Buffer.alloc(5 * MiB, 1); // over the old 4 MiB limit
      socket.send(mediaReply(conversationId, big));
      const status = await socket.next("reply_status", 10_000);
      assert.equal(status.data.success, true);
      assert.equal(emu.sent()[0].media?.byteSize, big.length);

      emu.configure({ maxFrameBytes: 64 * 1024 });
      const small = await connect();
      const under = mediaReply(conversationId, Buffer.alloc(40 * 1024, 2));
      assert.ok(JSON.stringify(under).length < 64 * 1024);
      small.send(under);
      assert.equal((await small.next("reply_status")).data.success, true);
      const over = mediaReply(conversationId, Buffer.alloc(50 * 1024, 3));
      assert.ok(JSON.stringify(over).length > 64 * 1024);
      small.send(over);
      assert.equal(await small.closed, 1009);
      socket.send(over);
      assert.equal((await socket.next("reply_status")).data.success, true, "a socket opened before the change keeps its limit");
    });
  });

  // ----- Inbound ---------------------------------------------------------------------------------------------------------

  describe("inbound messages", function () {
    it("delivers answers in Meta's shape by default, with text and body the title", async function () {
      const socket = await connect();
      const button = emu.inject({
        fromNumber: ANA,
        answer: { kind: "button", id: "yes", title: "Yes please", toMessageId: "wamid.menu1" },
      });
      const list = emu.inject({
        fromNumber: ANA,
        answer: { kind: "list", id: "r2", title: "Large", description: "500 ml", toMessageId: "wamid.menu2" },
      });
      const viaControl = await http(
        "POST",
        "/_emulator/inbound",
        { fromNumber: ANA, answer: { kind: "template_button", id: "STOP_PROMOS", title: "Stop" } },
        "",
      );
      assert.equal(viaControl.status, 200, JSON.stringify(viaControl.body));
      const [b, l, t] = (await socket.take("whatsapp_message", 3)).map((f: Frame) => f.data);

      assert.equal(b.messageId, button.messageId);
      assert.equal(b.type, "interactive");
      assert.deepEqual(b.interactive, { type: "button_reply", button_reply: { id: "yes", title: "Yes please" } });
      assert.deepEqual(b.context, { id: "wamid.menu1" });
      assert.deepEqual([b.text, b.body], ["Yes please", "Yes please"]);

      assert.equal(l.messageId, list.messageId);
      assert.equal(l.type, "interactive");
      assert.deepEqual(l.interactive, { type: "list_reply", list_reply: { id: "r2", title: "Large", description: "500 ml" } });
      assert.deepEqual(l.context, { id: "wamid.menu2" });
      assert.deepEqual([l.text, l.body], ["Large", "Large"]);

      assert.equal(t.type, "button");
      assert.deepEqual(t.button, { text: "Stop", payload: "STOP_PROMOS" });
      assert.equal(t.context, undefined, "no context without toMessageId");
      assert.deepEqual([t.text, t.body], ["Stop", "Stop"]);
      assert.equal(t.answer, undefined, "no flat fields");
    });

    it("delivers answers flat with answerShape 'flat'", async function () {
      emu.configure({ answerShape: "flat" });
      const socket = await connect();
      emu.inject({ fromNumber: ANA, answer: { kind: "button", id: "yes", title: "Yes", toMessageId: "wamid.menu1" } });
      emu.inject({ fromNumber: ANA, answer: { kind: "list", id: "r2", title: "Large", description: "500 ml" } });
      emu.inject({ fromNumber: ANA, answer: { kind: "template_button", id: "STOP", title: "Stop", toMessageId: "wamid.tpl" } });
      const [b, l, t] = (await socket.take("whatsapp_message", 3)).map((f: Frame) => f.data);
      assert.deepEqual(
        [b.type, b.answer, b.replyTo, b.text, b.body],
        ["button_reply", { id: "yes", title: "Yes" }, "wamid.menu1", "Yes", "Yes"],
      );
      assert.deepEqual(
        [l.type, l.answer, l.replyTo, l.text],
        ["list_reply", { id: "r2", title: "Large", description: "500 ml" }, undefined, "Large"],
      );
      assert.deepEqual([t.type, t.answer, t.replyTo, t.text], ["template_button", { id: "STOP", title: "Stop" }, "wamid.tpl", "Stop"]);
      assert.ok([b, l, t].every((m) => m.interactive === undefined && m.context === undefined && m.button === undefined));
    });

    it("reopens the 24-hour window with an answer", async function () {
      const conversationId = conversation();
      emu.advanceClock(DAY_MS + 1);
      const body = { conversationId, type: "text", text: { body: "still there?" } };
      assert.equal((await passthrough(body)).status, 403);
      emu.inject({ fromNumber: ANA, answer: { kind: "button", id: "yes", title: "Yes" } });
      assert.equal((await passthrough(body)).status, 200);
    });

    it("gives media and location messages text and body, empty without a caption", async function () {
      const socket = await connect();
      emu.inject({ fromNumber: ANA, media: { data: Buffer.from("png"), mimeType: "image/png" } });
      emu.inject({ fromNumber: ANA, media: { data: Buffer.from("png"), mimeType: "image/png" }, text: "look" });
      emu.inject({ fromNumber: ANA, media: { unavailable: true, mimeType: "audio/ogg" } });
      emu.inject({ fromNumber: ANA, location: { latitude: 1, longitude: 2 } });
      const frames = (await socket.take("whatsapp_message", 4)).map((f: Frame) => f.data);
      assert.deepEqual(
        frames.map((m) => [m.type, m.text, m.body]),
        [
          ["image", "", ""],
          ["image", "look", "look"],
          ["audio", "", ""],
          ["location", "", ""],
        ],
      );
    });

    it("refuses an inbound message with nothing in it (control API 400, inject throws), and a bad answer", async function () {
      for (const body of [
        { fromNumber: ANA },
        { fromNumber: ANA, text: "" },
        { fromNumber: ANA, type: "poll" },
        { fromNumber: ANA, answer: { kind: "nope", id: "a", title: "b" } },
        { fromNumber: ANA, answer: { kind: "button", id: "a" } },
      ]) {
        const answer = await http("POST", "/_emulator/inbound", body, "");
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.equal(answer.body.error.code, ERROR_CODES.INVALID_REQUEST);
      }
      assert.throws(
        () => emu.inject({ fromNumber: ANA }),
        (error: unknown) => error instanceof EmulatorInputError && /needs text, media/.test(error.message),
      );
      assert.equal(emu.state().conversations.length, 0, "a refused message opens no conversation");
      // A hand-made message of a type of its own still goes: its content is extra[type].
      assert.equal(
        (await http("POST", "/_emulator/inbound", { fromNumber: ANA, type: "poll", extra: { poll: { q: "tea?" } } }, "")).status,
        200,
      );
    });
  });

  // ----- Body builders ---------------------------------------------------------------------------------------------------

  function withButtons(n: number): Json {
    const base = buttonsAtLimits();
    const buttons = Array.from({ length: n }, (_, i) => ({ type: "reply", reply: { id: `b${i}`, title: `Button ${i}` } }));
    return { ...base, action: { buttons } };
  }

  function editButton(index: number, reply: Json): Json {
    const content = buttonsAtLimits();
    const target = content.action.buttons[index].reply;
    for (const [key, value] of Object.entries(reply)) {
      if (value === undefined) delete target[key];
      else target[key] = value;
    }
    return content;
  }

  /** `sections` sections of `rows` rows each (or rows[i] for section i). */
  function withSections(sections: number, rows: number | number[]): Json {
    const content = listAtLimits();
    content.action.sections = Array.from({ length: sections }, (_, s) => ({
      title: `Section ${s}`,
      rows: Array.from({ length: Array.isArray(rows) ? rows[s] : rows }, (_, r) => ({ id: `s${s}r${r}`, title: `Row ${r}` })),
    }));
    return content;
  }

  function editSection(index: number, section: Json): Json {
    const content = listAtLimits();
    const target = content.action.sections[index];
    for (const [key, value] of Object.entries(section)) {
      if (value === undefined) delete target[key];
      else target[key] = value;
    }
    return content;
  }

  function editRow(section: number, row: number, fields: Json): Json {
    const content = listAtLimits();
    Object.assign(content.action.sections[section].rows[row], fields);
    return content;
  }

  function editCta(parameters: Json): Json {
    const content = ctaAtLimits();
    const target = content.action.parameters;
    for (const [key, value] of Object.entries(parameters)) {
      if (value === undefined) delete target[key];
      else target[key] = value;
    }
    return content;
  }
});
