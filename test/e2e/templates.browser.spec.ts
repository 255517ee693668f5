/**
 * The template picker as a user meets it (issue 13), in headless Chromium against a real Node-RED
 * process and the emulator's demo App: open a pipes-send, press Choose…, pick an approved template,
 * see its text with the variables marked, fill the slots, deploy, press the inject; the phone page
 * shows the filled template to the customer, who never wrote. The key is never sent to the browser.
 */
import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_APP_NUMBER, DEMO_APP_KEY } from "../../src/emulator";
import { launchBrowser, requireChromium, type BrowserSession } from "../support/browser";
import { useEmulator } from "../support/emulator-fixture";
import { prepareUserDir, startNodeRed, type NodeRedProcess } from "../support/nodered-process";
import { freePort } from "../support/ports";
import { poll, waitUntil } from "../support/wait";

const CUSTOMER = "+15550009876";
const ROOT = join(__dirname, "..", "..");

describe("template picker in Chromium", function () {
  this.timeout(90_000);
  let nodeRed: NodeRedProcess | undefined;
  let session: BrowserSession | undefined;
  let userDir = "";

  // Registered before useEmulator(): the browser and Node-RED stop before the emulator does.
  after(async function () {
    await session?.close();
    await nodeRed?.kill("SIGINT");
    if (userDir) rmSync(userDir, { recursive: true, force: true });
  });
  const { emu } = useEmulator({ nodeRed: false, awaitSocketsClosed: false });

  before(async function () {
    requireChromium(this);
    userDir = mkdtempSync(join(tmpdir(), "pipes-picker-"));
    const port = await freePort();
    prepareUserDir(userDir, port);
    nodeRed = await startNodeRed(userDir, port);
    await nodeRed.deploy([
      { id: "tab", type: "tab", label: "reminders" },
      {
        id: "cfg",
        type: "pipes-config",
        name: "demo App",
        baseUrl: emu.url,
        scope: "user",
        keyKind: "app",
        credentials: { apiKey: DEMO_APP_KEY },
      },
      {
        id: "go",
        type: "inject",
        z: "tab",
        name: "remind",
        props: [{ p: "payload" }],
        payload: "",
        payloadType: "date",
        repeat: "",
        crontab: "",
        once: false,
        onceDelay: 0.1,
        topic: "",
        x: 120,
        y: 80,
        wires: [["send"]],
      },
      {
        id: "send",
        type: "pipes-send",
        z: "tab",
        connection: "cfg",
        kind: "template",
        poolNumberId: DEFAULT_APP_NUMBER.id,
        poolNumberIdType: "str",
        toNumber: CUSTOMER,
        toNumberType: "str",
        x: 320,
        y: 80,
        wires: [[], []],
      },
    ]);
    session = await launchBrowser({ viewport: { width: 1400, height: 900 }, timeoutMs: 20_000 });
  });

  it("chooses a template, fills its slots, deploys; the customer's phone shows it filled in", async function () {
    const { page, consoleErrors } = session!;
    const bodies: Promise<string>[] = [];
    // The editor's responses only (the phone page's event feed is a stream that never ends).
    page.on("response", (response) => {
      if (response.url().startsWith(nodeRed!.url)) bodies.push(response.text().catch(() => ""));
    });
    await page.goto(nodeRed!.url);
    // Any step that times out leaves a picture of the editor in test-results/ (CI keeps it).
    const shot = async (err: Error): Promise<never> => {
      mkdirSync(join(ROOT, "test-results"), { recursive: true });
      await page.screenshot({ path: join(ROOT, "test-results", "picker-failure.png") }).catch(() => undefined);
      throw new Error(`${err.message}\nbrowser console: ${consoleErrors.join("\n")}\nNode-RED:\n${nodeRed!.log().slice(-3000)}`);
    };
    await page.locator('g.red-ui-flow-node-group[id="send"] rect.red-ui-flow-node').waitFor({ timeout: 30_000 });
    // The node's edit dialog, opened as a double-click does, without depending on where the canvas is.
    await page.waitForFunction(() => Boolean((window as any).RED?.nodes?.node("send"))).catch(shot);
    // Our node types registered in the editor (not shown as "unknown: pipes-send").
    await page.waitForFunction(() => Boolean((window as any).RED.nodes.getType("pipes-send"))).catch(shot);
    await page.evaluate(() => (window as any).RED.editor.edit((window as any).RED.nodes.node("send")));
    await page.waitForSelector("#node-dialog-ok", { state: "visible" }).catch(shot);
    // The pipes-send dialog, prepared: its kind select shows the template form.
    await page.waitForFunction(() => document.querySelector<HTMLSelectElement>("#node-input-kind")?.value === "template").catch(shot);

    await page.click("#pipes-send-template-load").catch(shot);
    const option = page.locator("#pipes-send-template-picker option", { hasText: "appointment_reminder (en_US)" });
    await option.waitFor({ state: "attached" });
    assert.equal(
      await page.locator("#pipes-send-template-picker option", { hasText: "seasonal_promo" }).isDisabled(),
      true,
      "a PENDING one cannot be chosen",
    );
    await page.selectOption("#pipes-send-template-picker", { label: "appointment_reminder (en_US)" });
    await page.locator("#pipes-send-template-preview mark").nth(1).waitFor();
    assert.match(await page.locator("#pipes-send-template-preview").innerText(), /Hi \{\{1\}\}, your appointment is on \{\{2\}\}\./);
    const slots = page.locator("#pipes-send-template-slots input.red-ui-typedInput-input");
    assert.equal(await slots.count(), 4, "two body variables and two quick-reply payloads");
    await slots.nth(0).fill("Ana");
    await slots.nth(1).fill("Monday 10:00");
    await slots.nth(2).fill("CONFIRM");
    await page.click("#node-dialog-ok");
    await page.click("#red-ui-header-button-deploy");
    await page.waitForFunction(() => !(window as any).RED.nodes.dirty(), undefined, { timeout: 10_000 }).catch(shot);

    // The editor is told "deployed" before the new flows have started: until then the inject is not
    // there (404, nothing injected). Pressed once it is.
    await poll(
      "the deployed inject to be pressed",
      async () => (await fetch(`${nodeRed!.url}/inject/go`, { method: "POST" })).status === 200,
      {
        everyMs: 100,
        timeoutMs: 10_000,
      },
    );
    const sent = await waitUntil("the template", () => emu.sent().find((s) => s.kind === "template"), emu, ["sent"], 10_000);
    assert.equal(sent.template?.rendered.body, "Hi Ana, your appointment is on Monday 10:00.");

    // The customer's phone: writing to the App's number, the template is there with its buttons.
    await page.goto(`${emu.url}/phone`);
    await page.waitForSelector('body[data-feed="live"]');
    await page.fill("#number", CUSTOMER);
    await page.selectOption("#bot", DEFAULT_APP_NUMBER.id);
    await page.click("#number-form button");
    const bubble = page.locator("#messages li.msg.bot", { hasText: "Hi Ana, your appointment is on Monday 10:00." });
    await bubble.waitFor({ timeout: 10_000 });
    assert.ok((await bubble.innerText()).includes("Confirm"));

    const texts = await Promise.all(bodies);
    assert.ok(!texts.some((t) => t.includes(DEMO_APP_KEY)), "no response to the browser contains the key");
    assert.deepEqual(consoleErrors, []);
  });
});
