/**
 * Templates, writing first and App keys (issue 13) in a real Node-RED runtime against the
 * emulator's demo App (ak_ key, number pn_app_demo1, seeded templates): a template to a number that
 * never wrote, checked slot by slot before sending; from the form and from msg.payload; pool keys
 * refused before anything is sent; app/send and its window; listing templates; and the editor's
 * admin endpoint (the key never in a response).
 */
import * as assert from "node:assert/strict";
import { DEFAULT_APP_NUMBER, DEMO_APP_KEY } from "../../src/emulator";
import type { HandlingWaits } from "../../src/lib/handling";
import { useEmulator } from "../support/emulator-fixture";
import { configNode, firstInput, helper, loadFlow } from "../support/nodered";

const APP_NUMBER = DEFAULT_APP_NUMBER.id;
const POOL_KEY = "pk_test_templates_00000000000000000";
const CUSTOMER = "+15550009876";

describe("pipes-send: templates and writing first (App keys)", function () {
  this.timeout(20_000);
  const { emu } = useEmulator({
    tenants: [{ userId: "user_t", apiKey: POOL_KEY, poolNumbers: [{ id: "pn_t1", phoneNumber: "+15550000088" }] }],
    settings: { replyStatusDelayMs: 0 },
  });

  async function load(send: Record<string, unknown>, key = DEMO_APP_KEY) {
    await loadFlow(
      [
        configNode(emu.url),
        { id: "send", type: "pipes-send", connection: "cfg", timeout: 5, ...send, wires: [["ok"], ["failed"]] },
        { id: "ok", type: "helper" },
        { id: "failed", type: "helper" },
      ],
      key,
    );
  }
  async function outcome(msg: Record<string, unknown>): Promise<{ output: "ok" | "failed"; msg: any }> {
    const result = firstInput(["ok", "failed"]);
    helper.getNode("send").receive(msg);
    const { id, msg: out } = await result;
    return { output: id as "ok" | "failed", msg: out };
  }
  const reminderForm = {
    kind: "template",
    templateName: "appointment_reminder",
    templateLanguage: "en_US",
    templateBody: [
      { value: "name", type: "msg" },
      { value: "when", type: "msg" },
    ],
    templateButtons: [],
    toNumber: "phone",
    toNumberType: "msg",
    poolNumberId: APP_NUMBER,
    poolNumberIdType: "str",
  };

  it("sends a template from the form to a number that never wrote, checked against its definition", async function () {
    await load(reminderForm);
    const { output, msg } = await outcome({ phone: CUSTOMER, name: "Ana", when: "Monday 10:00" });
    assert.equal(output, "ok", JSON.stringify(msg.error));
    assert.deepEqual(
      { kind: msg.sent.kind, template: msg.sent.template, toNumber: msg.sent.toNumber, checked: msg.sent.checked },
      { kind: "template", template: "appointment_reminder", toNumber: CUSTOMER, checked: true },
    );
    const [sent] = emu.sent().filter((s) => s.kind === "template");
    assert.equal(sent.toNumber, CUSTOMER);
    assert.equal(sent.template?.rendered.body, "Hi Ana, your appointment is on Monday 10:00.");
  });

  it("a slot mismatch goes to output 2 naming the slot, and nothing is sent", async function () {
    await load({ ...reminderForm, templateBody: [{ value: "name", type: "msg" }] });
    const { output, msg } = await outcome({ phone: CUSTOMER, name: "Ana" });
    assert.equal(output, "failed");
    assert.equal(msg.error.code, "INVALID_MESSAGE");
    assert.match(msg.error.message, /body \{\{2\}\} is missing: the template 'appointment_reminder' \(en_US\) has 2 variables/);
    assert.deepEqual(emu.sent(), []);
  });

  it("a template from msg.payload, into the conversation of a customer who wrote; a PENDING one is refused", async function () {
    await load({ kind: "msg" });
    const inbound = emu.inject({ fromNumber: CUSTOMER, poolNumberId: APP_NUMBER, text: "where is my order?" });
    const pipes = { conversationId: inbound.conversationId, poolNumberId: APP_NUMBER, fromNumber: CUSTOMER };
    const payload = {
      type: "template",
      name: "order_update",
      language: "en_US",
      header: "https://shop.example/parcel.jpg",
      body: ["A-1042", "today"],
      buttons: ["A-1042"],
    };
    const { output, msg } = await outcome({ pipes, payload });
    assert.equal(output, "ok", JSON.stringify(msg.error));
    assert.equal(msg.sent.conversationId, inbound.conversationId);
    assert.equal(emu.sent({ conversationId: inbound.conversationId })[0].template?.rendered.body, "Order A-1042 shipped: today");

    const pending = await outcome({ pipes, payload: { type: "template", name: "seasonal_promo", language: "en_US", body: ["summer"] } });
    assert.equal(pending.output, "failed");
    assert.equal(pending.msg.error.code, "TEMPLATE_NOT_USABLE");
    assert.match(pending.msg.error.message, /is PENDING: only APPROVED templates can be sent/);
  });

  it("a pool key is refused before sending, with its own code saying why", async function () {
    await load(reminderForm, POOL_KEY);
    const { output, msg } = await outcome({ phone: CUSTOMER, name: "Ana", when: "Monday" });
    assert.equal(output, "failed");
    assert.equal(msg.error.code, "APP_KEY_REQUIRED");
    assert.match(msg.error.message, /needs an App key .* this connection has a pool key/);
    assert.deepEqual(emu.refused(), [], "nothing reached Pipes");
  });

  it("writes first with text only inside the user's window (the emulator's rule), from msg.payload", async function () {
    await load({ kind: "text", toNumber: "phone", toNumberType: "msg", poolNumberId: APP_NUMBER, poolNumberIdType: "str" });
    const closed = await outcome({ phone: CUSTOMER, payload: "Hello from the shop" });
    assert.equal(closed.output, "failed");
    assert.equal(closed.msg.error.code, "SERVICE_WINDOW_EXPIRED");
    emu.inject({ fromNumber: CUSTOMER, poolNumberId: APP_NUMBER, text: "hi" });
    const open = await outcome({ phone: CUSTOMER, payload: "Hello from the shop" });
    assert.equal(open.output, "ok", JSON.stringify(open.msg.error));
    assert.deepEqual({ kind: open.msg.sent.kind, toNumber: open.msg.sent.toNumber }, { kind: "text", toNumber: CUSTOMER });
    assert.ok(emu.sent().some((s) => s.text === "Hello from the shop" && s.toNumber === CUSTOMER));
  });

  it("lists a number's templates with what each send must fill (msg.sent.templates)", async function () {
    await load({ kind: "templates", poolNumberId: APP_NUMBER, poolNumberIdType: "str" });
    const { output, msg } = await outcome({});
    assert.equal(output, "ok", JSON.stringify(msg.error));
    const reminder = msg.sent.templates.find((t: any) => t.name === "appointment_reminder" && t.language === "en_US");
    assert.deepEqual(reminder.slots.body.variables, ["1", "2"]);
    assert.deepEqual(
      reminder.slots.buttons.map((b: any) => b.text),
      ["Confirm", "Reschedule"],
    );
    assert.ok(msg.sent.templates.some((t: any) => t.status === "PENDING"));
  });

  it("the picker's admin endpoint answers the deployed connection's templates, never its key", async function () {
    await load({ kind: "template" });
    const listed = await helper.request().get(`/pipes-bot/templates/cfg?poolNumberId=${APP_NUMBER}`).expect(200);
    const body = JSON.stringify(listed.body);
    assert.ok(!body.includes(DEMO_APP_KEY), "no key in the answer");
    const names = (listed.body as { templates: { name: string; slots: unknown }[] }).templates.map((t) => t.name);
    assert.ok(names.includes("appointment_reminder") && names.includes("order_update"), names.join());
    const missing = await helper.request().get(`/pipes-bot/templates/nope?poolNumberId=${APP_NUMBER}`).expect(404);
    assert.equal(missing.body.error, "not-deployed");
    await helper.request().get("/pipes-bot/templates/cfg").expect(400);
    const foreign = await helper.request().get("/pipes-bot/templates/cfg?poolNumberId=pn_t1").expect(502);
    assert.ok(!JSON.stringify(foreign.body).includes(DEMO_APP_KEY));
  });

  it("the endpoint says so for a pool key", async function () {
    await load({ kind: "template" }, POOL_KEY);
    const refused = await helper.request().get(`/pipes-bot/templates/cfg?poolNumberId=${APP_NUMBER}`).expect(409);
    assert.equal(refused.body.error, "APP_KEY_REQUIRED");
    assert.ok(!JSON.stringify(refused.body).includes(POOL_KEY));
  });

  it("listing templates does not answer a webhook delivery waiting 'until handled'; sending the template does", async function () {
    await load({ kind: "templates", poolNumberId: APP_NUMBER, poolNumberIdType: "str" });
    const handling = (helper.getNode("cfg") as unknown as { client: { handling: HandlingWaits } }).client.handling;
    const wait = handling.begin("msg_waiting", {}, 10_000)!;
    const { output } = await outcome({ pipes: { messageId: "msg_waiting", poolNumberId: APP_NUMBER } });
    assert.equal(output, "ok");
    assert.ok(handling.pending("msg_waiting"), "still waiting after a read");
    handling.settle("msg_waiting", "handled");
    assert.equal(await wait, "handled");
  });

  it("a number id of '.' or '..' is refused before any request", async function () {
    await load({ kind: "template" });
    const refused = await helper.request().get("/pipes-bot/templates/cfg?poolNumberId=..").expect(502);
    assert.equal(refused.body.error, "BAD_INPUT");
  });
});
