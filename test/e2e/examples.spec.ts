/**
 * The shipped example flows, loaded as they are (with Node-RED's own function, debug, switch and
 * catch nodes) against the emulator: they must work, use every node type, and carry no secrets.
 */
import * as assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_APP_NUMBER, DEMO_API_KEY, DEMO_APP_KEY } from "../../src/emulator";
import { useEmulator } from "../support/emulator-fixture";
import { coreNodes, FAST_TUNING, helper, nextInput, PIPES_NODES } from "../support/nodered";
import { NODE_TYPES } from "../support/package";
import { waitUntil } from "../support/wait";

const CORE_NODES = coreNodes(
  "function/10-function.js",
  "function/10-switch.js",
  "common/21-debug.js",
  "common/25-catch.js",
  "common/90-comment.js",
  "common/20-inject.js",
);
const EXAMPLES = join(__dirname, "..", "..", "examples", "flows");
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(32, 2)]);

type FlowNode = { id: string; type: string; z?: string; [key: string]: unknown };

function example(name: string): FlowNode[] {
  return JSON.parse(readFileSync(join(EXAMPLES, name), "utf8")) as FlowNode[];
}

describe("example flows", function () {
  const { emu, sockets } = useEmulator();

  /** Loads an example on a tab, pointed at the emulator with the demo key, and waits for its socket. */
  async function run(name: string, apiKey = DEMO_API_KEY): Promise<FlowNode[]> {
    const nodes = example(name).map((n) =>
      n.type === "pipes-config" ? { ...n, baseUrl: emu.url, tuning: FAST_TUNING } : { ...n, z: "tab" },
    );
    const config = nodes.find((n) => n.type === "pipes-config")!;
    await helper.load([...PIPES_NODES, ...CORE_NODES] as never, [{ id: "tab", type: "tab" }, ...nodes] as never, {
      [config.id]: { apiKey },
    });
    await sockets(1);
    return nodes;
  }

  it("are valid, carry no credentials, and together use every node type", function () {
    const used = new Set<string>();
    for (const file of readdirSync(EXAMPLES)) {
      const text = readFileSync(join(EXAMPLES, file), "utf8");
      const nodes = JSON.parse(text) as FlowNode[];
      assert.ok(Array.isArray(nodes) && nodes.length > 0, file);
      assert.ok(!/\b(pk|ak)_[A-Za-z0-9_]{8,}/.test(text), `${file} must not contain a key`);
      for (const node of nodes) {
        assert.equal(node.credentials, undefined, `${file}: ${node.id} carries credentials`);
        used.add(node.type);
      }
    }
    for (const type of NODE_TYPES) assert.ok(used.has(type), `no example uses ${type}`);
  });

  it("appointment-reminder sends the template to a number that never wrote, and routes the customer's tap", async function () {
    await run("appointment-reminder.json", DEMO_APP_KEY);
    helper.getNode("pipes-example-reminder-inject").receive({});
    const customer = "+15550001111";
    const reminder = await waitUntil("the template", () => emu.sent().find((s) => s.kind === "template"), emu, ["sent"]);
    assert.equal(reminder.toNumber, customer);
    assert.equal(reminder.template?.rendered.body, "Hi Ana, your appointment is on tomorrow at 10:00.");
    emu.inject({
      fromNumber: customer,
      poolNumberId: DEFAULT_APP_NUMBER.id,
      answer: { kind: "template_button", id: "RESCHEDULE", title: "Reschedule", toMessageId: reminder.messageId },
    });
    const reply = await waitUntil("the answer's reply", () => emu.sent().find((s) => s.kind === "text"), emu, ["sent"]);
    assert.equal(reply.text, "No problem: reply with a day and time that suit you.");
    assert.equal(reply.conversationId, reminder.conversationId);
  });

  it("echo-bot answers 'You said: <text>'", async function () {
    await run("echo-bot.json");
    const inbound = emu.inject({ fromNumber: "+15550003333", text: "hello" });
    const sent = await waitUntil("the echo", () => emu.sent({ conversationId: inbound.conversationId })[0], emu, ["sent"]);
    assert.equal(sent.text, "You said: hello");
    assert.equal(sent.toNumber, "+15550003333");
  });

  it("send-media sends a received picture back with a caption", async function () {
    await run("send-media.json");
    const inbound = emu.inject({ fromNumber: "+15550004444", media: { data: PNG, mimeType: "image/png", fileName: "dot.png" } });
    const sent = await waitUntil("the media send", () => emu.sent({ conversationId: inbound.conversationId })[0], emu, ["sent"]);
    assert.equal(sent.kind, "image");
    assert.equal(sent.media?.mode, "base64");
    assert.equal(sent.media?.byteSize, PNG.length);
    assert.match(sent.caption ?? "", /image/);
  });

  it("error-handling routes SERVICE_WINDOW_EXPIRED to its own branch", async function () {
    const nodes = await run("error-handling.json");
    const windowDebug = nodes.find((n) => n.id === "errors-window");
    assert.ok(windowDebug, "the example has an errors-window debug node");
    const reached = nextInput("errors-window");
    emu.configure({ replyStatusDelayMs: 0 });
    // The 24 h window closes between the user's message and the bot's answer.
    emu.on("delivered", function closeWindow() {
      emu.off("delivered", closeWindow);
      emu.advanceClock(25 * 60 * 60 * 1000);
    });
    emu.inject({ fromNumber: "+15550005555", text: "hello" });
    const msg = await reached;
    assert.equal(msg.error.code, "SERVICE_WINDOW_EXPIRED");
  });
});
