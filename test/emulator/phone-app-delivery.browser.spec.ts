/**
 * The phone page's Delivery panel for a BYON App (docs/decisions/0055-emulator-app-webhooks.md), in headless Chromium against
 * the emulator alone: pick the App, give it a webhook URL and secret, save; a message to the App's number then reaches its
 * `ak_` socket and the webhook, and the panel and the bubble say so. Any console error, CSP violation or failed request fails it.
 */
import * as assert from "node:assert/strict";
import { DEFAULT_APP, DEMO_APP_KEY } from "../../src/emulator";
import { launchBrowser, requireChromium, type BrowserSession } from "../support/browser";
import { TestSocket } from "../support/emulator-client";
import { useEmulator } from "../support/emulator-fixture";
import { Receiver, SECRET, signature } from "./webhook-receiver";

const APP_NUMBER = DEFAULT_APP.numbers[0].id;
const WAIT_MS = 10_000;

describe("phone page: an App's webhook in the Delivery panel (Chromium)", function () {
  this.timeout(60_000);
  let executablePath = "";
  let session: BrowserSession | undefined;
  let hook: Receiver | undefined;
  let socket: TestSocket | undefined;
  const { emu } = useEmulator({
    nodeRed: false,
    cleanup: async () => {
      socket?.ws.terminate();
      await hook?.close();
      await session?.close();
      [socket, hook, session] = [undefined, undefined, undefined];
    },
  });

  before(function () {
    executablePath = requireChromium(this);
  });

  it("sets the App's webhook from the page; a message to the App then goes to its socket and its webhook", async function () {
    hook = await Receiver.start();
    socket = (await TestSocket.open(emu.url, { apiKey: DEMO_APP_KEY })).socket;
    session = await launchBrowser({ executablePath, viewport: { width: 1000, height: 760 } });
    const { page } = session;
    await page.goto(`${emu.url}/phone/`);
    await page.locator("#delivery summary").click();
    await page.locator("#delivery-pool").selectOption("app demo");
    assert.equal(await page.locator("#delivery-webhook-label").textContent(), "Sockets + webhook");
    await page.locator("#delivery-webhook").check();
    await page.locator("#delivery-url").fill(hook.url);
    await page.locator("#delivery-secret").fill(SECRET);
    await page.locator("#delivery-save").click();
    await page.getByText("Saved: messages go to the App's sockets and its webhook, signed").waitFor({ timeout: WAIT_MS });
    assert.deepEqual(
      [emu.appDeliveryOf("demo").mode, emu.appDeliveryOf("demo").url, emu.appDeliveryOf("demo").secretSet],
      ["webhook", hook.url, true],
    );
    await page.locator("#delivery-mode", { hasText: "sockets + webhook" }).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator("#delivery-secret").inputValue(), "", "the secret is never put back into the page");

    // Written from the page to the App's number.
    await page.locator("#bot").selectOption(APP_NUMBER);
    await page.locator("#text").fill("hello app");
    await page.locator("#send").click();
    const frame = await socket.next("whatsapp_message", WAIT_MS);
    const [request] = await hook.count(1);
    assert.equal(frame.data.text, "hello app");
    assert.equal(request.headers["x-pipes-signature"], signature(request.raw));
    await page.locator("li.msg.me .meta", { hasText: "+ webhook ✓✓" }).waitFor({ timeout: WAIT_MS });
    await page.locator("#webhooks li.delivered", { hasText: frame.data.messageId as string }).waitFor({ timeout: WAIT_MS });
    assert.deepEqual(session.consoleErrors, []);
  });
});
