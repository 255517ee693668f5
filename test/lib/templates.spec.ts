import * as assert from "node:assert/strict";
import { PipesError } from "../../src/lib/errors";
import type { TemplateDefinition } from "../../src/lib/protocol";
import { findTemplate, prepareTemplate, templateSlots } from "../../src/lib/templates";

const REMINDER: TemplateDefinition = {
  name: "appointment_reminder",
  language: "en_US",
  status: "APPROVED",
  components: [
    { type: "BODY", text: "Hi {{1}}, your appointment is on {{2}}." },
    { type: "FOOTER", text: "Tap a button" },
    {
      type: "BUTTONS",
      buttons: [
        { type: "QUICK_REPLY", text: "Confirm" },
        { type: "QUICK_REPLY", text: "Reschedule" },
      ],
    },
  ],
};
const ORDER: TemplateDefinition = {
  name: "order_update",
  language: "en_US",
  status: "APPROVED",
  components: [
    { type: "HEADER", format: "IMAGE" },
    { type: "BODY", text: "Order {{1}} shipped: {{2}}" },
    { type: "BUTTONS", buttons: [{ type: "URL", text: "Track order", url: "https://example.com/track/{{1}}" }] },
  ],
};
const DELIVERY: TemplateDefinition = {
  name: "delivery_window",
  language: "en_US",
  status: "APPROVED",
  components: [
    { type: "HEADER", format: "TEXT", text: "Delivery {{1}}" },
    { type: "BODY", text: "Between {{1}} and {{2}}." },
  ],
};

function refused(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PipesError);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe("lib/templates", function () {
  it("reads what a template asks each send to fill", function () {
    assert.deepEqual(templateSlots(ORDER), {
      name: "order_update",
      language: "en_US",
      status: "APPROVED",
      header: { kind: "media", format: "image" },
      body: { text: "Order {{1}} shipped: {{2}}", variables: ["1", "2"] },
      buttons: [{ index: 0, type: "url", text: "Track order", needsValue: true }],
    });
    const reminder = templateSlots(REMINDER);
    assert.equal(reminder.footer, "Tap a button");
    assert.deepEqual(
      reminder.buttons.map((b) => [b.type, b.needsValue]),
      [
        ["quick_reply", false],
        ["quick_reply", false],
      ],
    );
    assert.deepEqual(templateSlots(DELIVERY).header, { kind: "text", text: "Delivery {{1}}", variables: ["1"] });
  });

  it("builds Meta's template object, checked against the definition", function () {
    assert.deepEqual(
      prepareTemplate(
        { name: "order_update", language: "en_US", header: "https://shop.example/p.jpg", body: ["A-1042", 3], buttons: ["A-1042"] },
        ORDER,
      ),
      {
        name: "order_update",
        language: { code: "en_US" },
        components: [
          { type: "header", parameters: [{ type: "image", image: { link: "https://shop.example/p.jpg" } }] },
          {
            type: "body",
            parameters: [
              { type: "text", text: "A-1042" },
              { type: "text", text: "3" },
            ],
          },
          { type: "button", sub_type: "url", index: "0", parameters: [{ type: "text", text: "A-1042" }] },
        ],
      },
    );
    const reminder = prepareTemplate(
      { name: "appointment_reminder", language: "en_US", body: ["Ana", "Monday 10:00"], buttons: ["", "MOVE"] },
      REMINDER,
    );
    assert.deepEqual(reminder.components?.at(-1), {
      type: "button",
      sub_type: "quick_reply",
      index: "1",
      parameters: [{ type: "payload", payload: "MOVE" }],
    });
    assert.equal(reminder.components?.length, 2, "an empty button value is skipped (WhatsApp uses the button's text)");
    // A media id instead of a link; a text header variable.
    assert.deepEqual(
      prepareTemplate(
        { name: "order_update", language: "en_US", header: { id: "aBcDeFgHiJkLmNoPqRs1t" }, body: ["1", "2"], buttons: ["x"] },
        ORDER,
      ).components?.[0],
      {
        type: "header",
        parameters: [{ type: "image", image: { id: "aBcDeFgHiJkLmNoPqRs1t" } }],
      },
    );
    assert.deepEqual(
      prepareTemplate({ name: "delivery_window", language: "en_US", header: "today", body: ["9", "11"] }, DELIVERY).components?.[0],
      {
        type: "header",
        parameters: [{ type: "text", text: "today" }],
      },
    );
  });

  it("names the slot of every mismatch", function () {
    const base = { name: "order_update", language: "en_US", header: "https://x.example/a.jpg", buttons: ["A"] };
    refused(
      () => prepareTemplate({ ...base, body: ["A-1"] }, ORDER),
      "INVALID_MESSAGE",
      /body \{\{2\}\} is missing: the template 'order_update' \(en_US\) has 2 variables/,
    );
    refused(
      () => prepareTemplate({ ...base, body: ["a", "b", "c"] }, ORDER),
      "INVALID_MESSAGE",
      /body has 3 values: the template .* has 2 variables/,
    );
    refused(
      () => prepareTemplate({ ...base, header: undefined, body: ["a", "b"] }, ORDER),
      "INVALID_MESSAGE",
      /header is missing: .* needs an image/,
    );
    refused(
      () => prepareTemplate({ ...base, header: "http://x.example/a.jpg", body: ["a", "b"] }, ORDER),
      "INVALID_MESSAGE",
      /must be https/,
    );
    refused(() => prepareTemplate({ ...base, header: Buffer.from("x"), body: ["a", "b"] }, ORDER), "INVALID_MESSAGE", /header is a Buffer/);
    refused(
      () => prepareTemplate({ ...base, buttons: [], body: ["a", "b"] }, ORDER),
      "INVALID_MESSAGE",
      /buttons\[0\] \("Track order"\) is missing/,
    );
    refused(
      () => prepareTemplate({ ...base, buttons: ["a", "b"], body: ["a", "b"] }, ORDER),
      "INVALID_MESSAGE",
      /buttons\[1\]: .* has 1 button/,
    );
    refused(() => prepareTemplate({ ...base, body: ["a", ""] }, ORDER), "INVALID_MESSAGE", /body \{\{2\}\} is empty/);
    refused(() => prepareTemplate({ ...base, body: ["a", "two\nlines"] }, ORDER), "INVALID_MESSAGE", /body \{\{2\}\} has a newline/);
    refused(
      () => prepareTemplate({ name: "appointment_reminder", language: "en_US", header: "x", body: ["a", "b"] }, REMINDER),
      "INVALID_MESSAGE",
      /header: .* has no header to fill/,
    );
    refused(
      () => prepareTemplate({ ...base, body: ["a", "x".repeat(1020)] }, ORDER),
      "INVALID_MESSAGE",
      /body is 10\d\d characters once filled in; WhatsApp allows 1024/,
    );
    refused(
      () => prepareTemplate({ name: "delivery_window", language: "en_US", header: "x".repeat(60), body: ["1", "2"] }, DELIVERY),
      "INVALID_MESSAGE",
      /header is 69 characters once filled in/,
    );
    refused(() => prepareTemplate({ name: "Order Update", language: "en_US" }), "INVALID_MESSAGE", /not a template name/);
    refused(() => prepareTemplate({ name: "x", language: "English" }), "INVALID_MESSAGE", /not a language code/);
    refused(() => prepareTemplate({ language: "en_US" }), "INVALID_MESSAGE", /name is missing/);
    refused(() => prepareTemplate("order_update"), "INVALID_MESSAGE", /must be an object/);
  });

  it("without a definition only shapes are checked, and named variables go by name", function () {
    assert.deepEqual(prepareTemplate({ name: "any_one", language: "pt_BR", body: ["x"], buttons: ["YES", { url: "42" }] }).components, [
      { type: "body", parameters: [{ type: "text", text: "x" }] },
      { type: "button", sub_type: "quick_reply", index: "0", parameters: [{ type: "payload", payload: "YES" }] },
      { type: "button", sub_type: "url", index: "1", parameters: [{ type: "text", text: "42" }] },
    ]);
    const named: TemplateDefinition = {
      name: "named",
      language: "en",
      status: "APPROVED",
      components: [{ type: "BODY", text: "Hi {{customer}}" }],
    };
    assert.deepEqual(prepareTemplate({ name: "named", language: "en", body: { customer: "Ana" } }, named).components, [
      { type: "body", parameters: [{ type: "text", text: "Ana", parameter_name: "customer" }] },
    ]);
    refused(
      () => prepareTemplate({ name: "named", language: "en", body: { client: "Ana" } }, named),
      "INVALID_MESSAGE",
      /body \{\{customer\}\} is missing/,
    );
  });

  it("finds a definition by name and language, and refuses what is not APPROVED", function () {
    const all = [REMINDER, { ...REMINDER, language: "pt_BR", status: "REJECTED" }, ORDER];
    assert.equal(findTemplate(all, "order_update", "en_US"), ORDER);
    refused(
      () => findTemplate(all, "appointment_reminder", "es_ES"),
      "TEMPLATE_NOT_USABLE",
      /has no es_ES version \(it has en_US, pt_BR\)/,
    );
    refused(
      () => findTemplate(all, "appointment_reminder", "pt_BR"),
      "TEMPLATE_NOT_USABLE",
      /is REJECTED: only APPROVED templates can be sent/,
    );
    refused(() => findTemplate(all, "nope", "en_US"), "TEMPLATE_NOT_USABLE", /no template named 'nope'/);
  });

  it("reads a malformed or huge definition from the server without throwing, in bounded time", function () {
    const hostile = {
      name: "odd",
      language: "en",
      status: "APPROVED",
      components: [null, { type: "BODY", text: 42 }, { type: "BUTTONS", buttons: "x" }, { type: "HEADER", format: 7 }],
    } as unknown as TemplateDefinition;
    assert.deepEqual(templateSlots(hostile).body, { text: "", variables: [] });
    assert.deepEqual(templateSlots(hostile).buttons, []);
    const nullButton = {
      ...REMINDER,
      components: [{ type: "BUTTONS", buttons: [null, { type: "QUICK_REPLY", text: "Ok" }] }],
    } as unknown as TemplateDefinition;
    assert.deepEqual(
      templateSlots(nullButton).buttons.map((b) => b.text),
      ["Ok"],
    );
    const huge = { ...REMINDER, components: [{ type: "BODY", text: "{{1}} ".repeat(100_000) }] };
    const started = process.hrtime.bigint();
    assert.deepEqual(templateSlots(huge).body.variables, ["1"]);
    assert.ok(process.hrtime.bigint() - started < 1_000_000_000n, "well under a second");
  });

  it("a '$&' in a value is text when the header is measured", function () {
    // "Delivery {{1}}" with "$&$&$&…": as a replacement pattern it would repeat "{{1}}" and overflow 60.
    assert.ok(prepareTemplate({ name: "delivery_window", language: "en_US", header: "$&".repeat(20), body: ["9", "11"] }, DELIVERY));
  });
});
