/**
 * The phone page as a newcomer meets it after `npm start`, in headless Chromium (Debian's chromium +
 * playwright-core), against the demo flows:
 * - the menu bot's rich messages: reply buttons under the bubble (tapped once per message), a list whose
 *   sheet of rows sends the choice, a location card, a link button, a 👍 reaction on the tapped answer; the
 *   user sends a location and a contact and reacts to a bot message; a picture sent over the socket
 *   (whatsapp_media_reply) shows inline;
 * - say hello and get the echo, send a picture and a document and get them back (rendered inline / as a
 *   download link), move the clock 25 h and see the bot's follow-up refused with SERVICE_WINDOW_EXPIRED.
 * Any console error, CSP violation or failed request fails the test.
 *
 * Writes test-results/phone-rich.png, test-results/phone.png and test-results/phone.json (figures) every
 * run; writes docs/phone.png (the README's picture, the rich chat) only when UPDATE_SCREENSHOTS is set
 * (or the file is missing), so an ordinary `npm test` does not rewrite a tracked file.
 */
import * as assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import type { Locator, Page } from "playwright-core";
import { DEFAULT_APP_NUMBER, DEMO_API_KEY } from "../../src/emulator";
import type { FeedEvent } from "../../src/emulator/event-feed";
import type { SentRecord } from "../../src/emulator/types";
import { launchBrowser, requireChromium, type BrowserSession } from "../support/browser";
import { TestSocket } from "../support/emulator-client";
import { assertPhoneBuilt, startApp, type StartedApp } from "../support/start-app";

const ROOT = join(__dirname, "..", "..");
const MAX_SCREENSHOT_BYTES = 200 * 1024;
/** The rich chat's number: its own conversation, apart from the echo test's +15550001111. */
const RICH_NUMBER = "+15550004242";

/** What the emulator recorded: the chat history of its live feed's first (`hello`) event. */
async function feedHistory(emulatorUrl: string): Promise<FeedEvent[]> {
  const abort = new AbortController();
  const response = await fetch(`${emulatorUrl}/_emulator/events`, { signal: abort.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const hello = /event: hello\ndata: (.*)\n\n/.exec(text);
      if (hello) return (JSON.parse(hello[1]) as { events: FeedEvent[] }).events;
      const { value, done } = await reader.read();
      if (done) throw new Error("the feed ended before its hello event");
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    abort.abort();
  }
}

/** The inbound messages the emulator took from `fromNumber`, oldest first. */
async function inboundFrom(emulatorUrl: string, fromNumber: string): Promise<Record<string, any>[]> {
  return (await feedHistory(emulatorUrl)).flatMap((event) =>
    event.type === "inbound" && event.message.fromNumber === fromNumber ? [event.message] : [],
  );
}

async function sentTo(emulatorUrl: string, toNumber: string): Promise<SentRecord[]> {
  const sent = (await (await fetch(`${emulatorUrl}/_emulator/sent`)).json()) as SentRecord[];
  return sent.filter((record) => record.toNumber === toNumber);
}

/** The titles of a bot bubble's reply buttons, and whether each can still be tapped. */
async function buttonsOf(message: Locator): Promise<{ title: string; enabled: boolean }[]> {
  const buttons = message.locator(".buttons button");
  const found: { title: string; enabled: boolean }[] = [];
  for (let i = 0; i < (await buttons.count()); i++) {
    const button = buttons.nth(i);
    found.push({ title: ((await button.textContent()) ?? "").replace("↩", "").trim(), enabled: await button.isEnabled() });
  }
  return found;
}

/** Writes `text` in the composer and waits for its bubble. */
async function write(page: Page, text: string): Promise<void> {
  const before = await page.locator("#messages li.msg.me", { hasText: text }).count();
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await page.locator("#messages li.msg.me", { hasText: text }).nth(before).waitFor();
}

/** A width×height RGB PNG with a colour gradient and a diagonal stripe: visibly an image once rendered. */
function makePng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes: Buffer): number => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      const stripe = Math.abs(x - y) < 6;
      rows.set(stripe ? [255, 255, 255] : [0, Math.round((128 * x) / width) + 64, Math.round((160 * y) / height) + 80], row + 1 + x * 3);
    }
  }
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("phone page in Chromium (npm start)", function () {
  this.timeout(90_000);
  let app: StartedApp | undefined;
  let session: BrowserSession | undefined;

  before(async function () {
    const executablePath = requireChromium(this);
    assertPhoneBuilt();
    app = await startApp();
    session = await launchBrowser({ executablePath, viewport: { width: 1000, height: 760 } });
  });

  after(async function () {
    await session?.close();
    if (app) {
      await app.interrupt();
      app.dispose();
    }
  });

  it("menu bot: taps reply buttons, chooses from a list, sees location, link and reaction; sends a location and a contact, reacts", async function () {
    const { page, consoleErrors } = session!;
    const emulator = app!.emulatorUrl;
    const figures: Record<string, number> = {};
    const started = Date.now();
    await page.goto(app!.phoneUrl);
    await page.waitForSelector('body[data-feed="live"]');
    await page.fill("#number", RICH_NUMBER);
    await page.click("#number-form button");
    await page.locator("#chat-title", { hasText: RICH_NUMBER }).waitFor();
    const bot = (text: string): Locator => page.locator("#messages li.msg.bot", { hasText: text });
    const mine = (text: string): Locator => page.locator("#messages li.msg.me", { hasText: text });

    // "menu": the greeting with a header, a footer and three reply buttons under the bubble.
    let step = Date.now();
    await write(page, "menu");
    const greeting = bot("Hi! What can I do for you?");
    await greeting.locator(".buttons").waitFor();
    figures.menuRoundTripMs = Date.now() - step;
    assert.equal(await greeting.locator(".header").textContent(), "Pipes café");
    assert.equal(await greeting.locator(".footer").textContent(), "Tap a button");
    const three = ["See the menu", "Where are you?", "Talk to a person"];
    assert.deepEqual(
      await buttonsOf(greeting),
      three.map((title) => ({ title, enabled: true })),
    );

    // Tap "See the menu": my bubble shows the title (quoting the greeting), the buttons are spent, the list arrives.
    step = Date.now();
    await greeting.locator(".reply-button", { hasText: "See the menu" }).click();
    await mine("See the menu").locator(".quote", { hasText: "Hi! What can I do for you?" }).waitFor();
    const list = bot("Our menu today");
    await list.locator(".list-open", { hasText: "Choose" }).waitFor();
    figures.tapToListMs = Date.now() - step;
    assert.deepEqual(
      await buttonsOf(greeting),
      three.map((title) => ({ title, enabled: false })),
      "one tap per message",
    );
    const greetingId = (await greeting.getAttribute("data-message-id"))!;
    assert.match(greetingId, /^wamid\./);
    const tap = (await inboundFrom(emulator, RICH_NUMBER)).find((m) => m.text === "See the menu")!;
    assert.deepEqual(
      { type: tap.type, interactive: tap.interactive, context: tap.context },
      {
        type: "interactive",
        interactive: { type: "button_reply", button_reply: { id: "menu", title: "See the menu" } },
        context: { id: greetingId },
      },
    );

    // The list's button opens the sheet: sections and rows with descriptions; "Tea" closes it and answers.
    await list.locator(".list-open").click();
    const sheet = page.locator("#sheet");
    await sheet.waitFor();
    assert.equal(await page.textContent("#sheet-title"), "Choose");
    assert.deepEqual(await sheet.locator(".section-title").allTextContents(), ["Drinks", "Food"]);
    assert.deepEqual(await sheet.locator(".row-title").allTextContents(), ["Tea", "Coffee", "Cake"]);
    assert.deepEqual(await sheet.locator(".row-desc").allTextContents(), ["Hot, black", "Espresso", "Chocolate, one slice"]);
    step = Date.now();
    await sheet.locator(".row-choice", { hasText: "Tea" }).click();
    await sheet.waitFor({ state: "hidden" });
    await mine("Tea").waitFor();
    const more = bot("One Tea coming up! Anything else?");
    await more.locator(".buttons").waitFor();
    figures.rowToAnswerMs = Date.now() - step;
    const choice = (await inboundFrom(emulator, RICH_NUMBER)).find((m) => m.text === "Tea")!;
    assert.deepEqual(choice.interactive, { type: "list_reply", list_reply: { id: "tea", title: "Tea", description: "Hot, black" } });
    assert.equal(choice.context.id, await list.getAttribute("data-message-id"));

    // "That's all": the bot reacts 👍 to my tap, shown on my bubble.
    await more.locator(".reply-button", { hasText: "That's all" }).click();
    await mine("That's all").locator(".reactions", { hasText: "👍" }).waitFor();

    // A bot's picture over the socket (whatsapp_media_reply) shows inline, like a REST send.
    const conversationId = (await sentTo(emulator, RICH_NUMBER))[0].conversationId;
    const { socket } = await TestSocket.open(emulator, { apiKey: DEMO_API_KEY, conversationId });
    try {
      const png = makePng(160, 100);
      socket.send({
        type: "whatsapp_media_reply",
        data: {
          conversationId,
          poolNumberId: "pn_demo1",
          toNumber: RICH_NUMBER,
          media: { data: png.toString("base64"), mimeType: "image/png", fileName: "socket.png" },
          caption: "A picture over the socket",
        },
      });
      assert.equal((await socket.next("reply_status")).data.success, true);
      const picture = bot("A picture over the socket").locator("img");
      const size = await picture.evaluate((img: HTMLImageElement) =>
        img.decode().then(() => ({ width: img.naturalWidth, height: img.naturalHeight })),
      );
      assert.deepEqual(size, { width: 160, height: 100 });
      // The picture grew the chat once loaded: the chat still ends at its last message.
      await page.waitForFunction(() => {
        const list = document.getElementById("messages")!;
        return list.scrollHeight - list.scrollTop - list.clientHeight < 2;
      });
    } finally {
      socket.ws.close();
      await socket.closed;
    }
    // The socket's connection leaves the status list (the screenshot shows the bot's own).
    await page.locator("#connections li", { hasText: "conversation" }).waitFor({ state: "detached" });

    // "menu" again, "Talk to a person": a link button that opens https://pipes.bot in a new tab, without an opener.
    await write(page, "menu");
    await greeting.nth(1).locator(".reply-button", { hasText: "Talk to a person" }).click();
    const cta = bot("Write to us and a person answers within the day.").locator("a.cta");
    await cta.waitFor();
    assert.equal(await cta.textContent(), "↗Contact us");
    assert.deepEqual(
      { href: await cta.getAttribute("href"), target: await cta.getAttribute("target"), rel: await cta.getAttribute("rel") },
      { href: "https://pipes.bot", target: "_blank", rel: "noopener noreferrer" },
    );

    // I send a location and a contact from the attach menu; the emulator takes them as location and contacts messages.
    step = Date.now();
    await page.click("#attach");
    await page.click("#share-location");
    await page.locator("#location-dialog").waitFor();
    await page.fill("#loc-name", "Meeting point");
    await page.click("#loc-send");
    await page.locator("#location-dialog").waitFor({ state: "hidden" });
    await mine("Meeting point").locator(".coords", { hasText: "38.70760, -9.13650" }).waitFor();
    await page.click("#attach");
    await page.click("#share-contact");
    await page.fill("#contact-name", "Ada Lovelace");
    await page.fill("#contact-phone", "+44 20 7946 0000");
    await page.click("#contact-send");
    await mine("Ada Lovelace").locator(".contact-line.phone", { hasText: "+44 20 7946 0000" }).waitFor();
    figures.shareLocationAndContactMs = Date.now() - step;
    const shared = await inboundFrom(emulator, RICH_NUMBER);
    const location = shared.find((m) => m.type === "location")!;
    assert.deepEqual(location.location, {
      latitude: 38.7076,
      longitude: -9.1365,
      name: "Meeting point",
      address: "1100-148 Lisboa, Portugal",
    });
    const contact = shared.find((m) => m.type === "contacts")!;
    assert.equal(contact.contacts[0].name.formatted_name, "Ada Lovelace");
    assert.equal(contact.contacts[0].phones[0].phone, "+44 20 7946 0000");

    // "menu" again, "Where are you?": a location card (name, address, coordinates; a drawn map, no tiles).
    await write(page, "menu");
    await greeting.nth(2).locator(".reply-button", { hasText: "Where are you?" }).click();
    const place = bot("Av. Paulista 1000").locator(".location");
    await place.waitFor();
    assert.equal(await place.locator(".place").textContent(), "Pipes café");
    assert.equal(await place.locator(".coords").textContent(), "-23.56140, -46.65590");
    assert.equal(await place.locator("img").count(), 0, "no map tiles");

    // I react ❤️ to the bot's location (its react control), then take it back (the same emoji again).
    const placeMessage = bot("Av. Paulista 1000");
    const placeId = (await placeMessage.getAttribute("data-message-id"))!;
    await placeMessage.locator(".react-open").click();
    await page.locator("#react-bar .react-choice", { hasText: "❤️" }).click();
    await placeMessage.locator(".reactions", { hasText: "❤️" }).waitFor();
    const reactions = (await inboundFrom(emulator, RICH_NUMBER)).filter((m) => m.type === "reaction");
    assert.deepEqual(reactions.at(-1)!.reaction, { messageId: placeId, emoji: "❤️" });
    await placeMessage.click({ button: "right" });
    await page.locator('#react-bar .react-choice[aria-pressed="true"]', { hasText: "❤️" }).click();
    await placeMessage.locator(".reactions").waitFor({ state: "detached" });
    assert.deepEqual((await inboundFrom(emulator, RICH_NUMBER)).at(-1)!.reaction, { messageId: placeId, emoji: "" });
    await placeMessage.locator(".react-open").click();
    await page.locator("#react-bar .react-choice", { hasText: "👍" }).click();
    await placeMessage.locator(".reactions", { hasText: "👍" }).waitFor();

    assert.deepEqual(consoleErrors, [], "no console errors, CSP violations or failed requests");
    figures.richTestMs = Date.now() - started;
    // Taller for the picture: my contact, the buttons, my tap quoting them, the location with my reaction.
    await page.setViewportSize({ width: 1000, height: 920 });
    await page.mouse.move(0, 0);
    await page.evaluate(() => {
      const list = document.getElementById("messages")!;
      list.scrollTop = list.scrollHeight;
    });
    const resultsDir = join(ROOT, "test-results");
    mkdirSync(resultsDir, { recursive: true });
    const shot = await page.screenshot({ path: join(resultsDir, "phone-rich.png") });
    await page.setViewportSize({ width: 1000, height: 760 });
    figures.richScreenshotBytes = shot.length;
    assert.ok(shot.length < MAX_SCREENSHOT_BYTES, `screenshot ${shot.length} bytes, over ${MAX_SCREENSHOT_BYTES}`);
    const docsShot = join(ROOT, "docs", "phone.png");
    if (process.env.UPDATE_SCREENSHOTS || !existsSync(docsShot)) {
      mkdirSync(join(ROOT, "docs"), { recursive: true });
      writeFileSync(docsShot, shot);
    }
    assert.ok(statSync(docsShot).size < MAX_SCREENSHOT_BYTES);
    writeFileSync(join(resultsDir, "phone-rich.json"), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`      figures: ${JSON.stringify(figures)}`);
  });

  it("chats, sends a picture and a document and gets them back, and shows the refused follow-up after +25 h", async function () {
    const { page, consoleErrors } = session!;
    const figures: Record<string, number> = {};
    const started = Date.now();

    // Load: the page is usable once the feed's hello arrived (body[data-feed=live]).
    await page.goto(app!.phoneUrl);
    await page.waitForSelector('body[data-feed="live"]');
    figures.pageLiveMs = Date.now() - started;
    figures.domContentLoadedMs = Math.round(
      await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).domContentLoadedEventEnd),
    );
    // The deployed flows hold one user-scoped socket per account (the pool tenant's, the App's); nothing is queued.
    await page.locator("#connections li", { hasText: "user_demo · user scope" }).waitFor();
    await page.locator("#connections li", { hasText: "app_demo · user scope" }).waitFor();
    assert.equal(await page.textContent("#queue"), "0");

    // Text: hello -> "You said: hello".
    let step = Date.now();
    await page.fill("#text", "hello");
    await page.press("#text", "Enter");
    await page.locator("#messages li.msg.me", { hasText: "hello" }).waitFor();
    await page.locator("#messages li.msg.bot", { hasText: "You said: hello" }).waitFor();
    figures.echoRoundTripMs = Date.now() - step;
    assert.equal(await page.inputValue("#text"), "");

    // A picture from disk: shown in my bubble, downloadable, and sent back by the send-media flow.
    step = Date.now();
    const png = makePng(120, 90);
    await page.setInputFiles("#file", { name: "gradient.png", mimeType: "image/png", buffer: png });
    const mine = page.locator("#messages li.msg.me img");
    const returned = page.locator("#messages li.msg.bot", { hasText: "Got your image" }).locator("img");
    await returned.waitFor();
    for (const image of [mine, returned]) {
      // decode() settles once the picture is loaded and decoded, and rejects if it cannot render.
      const size = await image.evaluate((img: HTMLImageElement) =>
        img.decode().then(() => ({ width: img.naturalWidth, height: img.naturalHeight })),
      );
      assert.deepEqual(size, { width: 120, height: 90 });
    }
    const download = await page.request.get(new URL((await mine.getAttribute("src"))!, app!.phoneUrl).href);
    assert.equal(download.status(), 200);
    assert.ok((await download.body()).equals(png), "the stored picture is the uploaded one");
    figures.imageRoundTripMs = Date.now() - step;

    // A document: comes back as a download link with the same bytes.
    const text = Buffer.from("Meeting notes\n- phone page works\n");
    await page.setInputFiles("#file", { name: "notes.txt", mimeType: "text/plain", buffer: text });
    const link = page.locator("#messages li.msg.bot", { hasText: "Got your document" }).locator("a.file");
    await link.waitFor();
    assert.equal(await link.getAttribute("download"), "notes.txt");
    const file = await page.request.get(new URL((await link.getAttribute("href"))!, app!.phoneUrl).href);
    assert.ok((await file.body()).equals(text), "the returned document is the uploaded one");
    assert.match(file.headers()["content-disposition"] ?? "", /^attachment;/);

    // +25 h: the follow-up flow writes first and is refused; the bubble says why.
    step = Date.now();
    await page.click("#skip");
    const failed = page.locator("#messages li.msg.failed");
    await failed.waitFor();
    assert.match((await failed.textContent()) ?? "", /not delivered: SERVICE_WINDOW_EXPIRED.*Following up/s);
    await page.locator("#window.closed").waitFor();
    figures.clockToRefusalMs = Date.now() - step;
    assert.match((await page.textContent("#clock")) ?? "", /25 h ahead/);

    assert.deepEqual(consoleErrors, [], "no console errors, CSP violations or failed requests");
    figures.testMs = Date.now() - started;

    // The screenshot stays under test-results/; the README's picture is the rich chat's (above).
    const resultsDir = join(ROOT, "test-results");
    mkdirSync(resultsDir, { recursive: true });
    const shot = await page.screenshot({ path: join(resultsDir, "phone.png") });
    figures.screenshotBytes = shot.length;
    assert.ok(shot.length < MAX_SCREENSHOT_BYTES, `screenshot ${shot.length} bytes, over ${MAX_SCREENSHOT_BYTES}`);
    writeFileSync(join(resultsDir, "phone.json"), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`      figures: ${JSON.stringify(figures)}`);
  });

  it("npm start's App: past 24 h of silence, the reminder template reaches the phone and its button is answered", async function () {
    const { page, consoleErrors } = session!;
    await page.goto(app!.phoneUrl);
    await page.waitForSelector('body[data-feed="live"]');
    await page.fill("#number", "+15550001111");
    await page.selectOption("#bot", DEFAULT_APP_NUMBER.id);
    await page.click("#number-form button");
    // More than 24 h of silence (the customer never wrote to the App at all): only a template gets through.
    const clockBefore = (await page.textContent("#clock")) ?? "";
    await page.click("#skip");
    await page.waitForFunction((before) => document.querySelector("#clock")?.textContent !== before, clockBefore);
    // The editor's inject on the "Appointment reminder" tab (what a user presses).
    const pressed = await fetch(`${app!.editorUrl}/inject/pipes-example-reminder-inject`, { method: "POST" });
    assert.equal(pressed.status, 200);
    const reminder = page.locator("#messages li.msg.bot", { hasText: "Hi Ana, your appointment is on tomorrow at 10:00." });
    await reminder.waitFor();
    assert.match((await reminder.textContent()) ?? "", /template appointment_reminder · en_US/);
    await reminder.locator(".reply-button", { hasText: "Confirm" }).click();
    await page.locator("#messages li.msg.bot", { hasText: "Thanks, see you then!" }).waitFor();
    assert.deepEqual(consoleErrors, [], "no console errors, CSP violations or failed requests");
  });
});
