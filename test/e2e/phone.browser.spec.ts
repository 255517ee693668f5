/**
 * The phone page as a newcomer meets it after `npm start`, in headless Chromium (Debian's chromium +
 * playwright-core): say hello and get the echo, send a picture and a document and get them back
 * (rendered inline / as a download link), move the clock 25 h and see the bot's follow-up refused
 * with SERVICE_WINDOW_EXPIRED. Any console error, CSP violation or failed request fails the test.
 *
 * Writes test-results/phone.png and test-results/phone.json (figures) every run; writes
 * docs/phone.png (the README's picture) only when UPDATE_SCREENSHOTS is set (or the file is missing),
 * so an ordinary `npm test` does not rewrite a tracked file.
 */
import * as assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { launchBrowser, requireChromium, type BrowserSession } from "../support/browser";
import { assertPhoneBuilt, startApp, type StartedApp } from "../support/start-app";

const ROOT = join(__dirname, "..", "..");
const MAX_SCREENSHOT_BYTES = 200 * 1024;

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
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
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

  it("chats, sends a picture and a document and gets them back, and shows the refused follow-up after +25 h", async function () {
    const { page, consoleErrors } = session!;
    const figures: Record<string, number> = {};
    const started = Date.now();

    // Load: the page is usable once the feed's hello arrived (body[data-feed=live]).
    await page.goto(app!.phoneUrl);
    await page.waitForSelector('body[data-feed="live"]');
    figures.pageLiveMs = Date.now() - started;
    figures.domContentLoadedMs = Math.round(await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).domContentLoadedEventEnd));
    // The deployed flows hold one user-scoped socket; nothing is queued.
    await page.locator("#connections li", { hasText: "user scope" }).waitFor();
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
      const size = await image.evaluate((img: HTMLImageElement) => img.decode().then(() => ({ width: img.naturalWidth, height: img.naturalHeight })));
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

    // Screenshots: always under test-results/, the README's copy when asked (or missing).
    const resultsDir = join(ROOT, "test-results");
    mkdirSync(resultsDir, { recursive: true });
    const shot = await page.screenshot({ path: join(resultsDir, "phone.png") });
    figures.screenshotBytes = shot.length;
    assert.ok(shot.length < MAX_SCREENSHOT_BYTES, `screenshot ${shot.length} bytes, over ${MAX_SCREENSHOT_BYTES}`);
    const docsShot = join(ROOT, "docs", "phone.png");
    if (process.env.UPDATE_SCREENSHOTS || !existsSync(docsShot)) {
      mkdirSync(join(ROOT, "docs"), { recursive: true });
      writeFileSync(docsShot, shot);
    }
    assert.ok(statSync(docsShot).size < MAX_SCREENSHOT_BYTES);
    writeFileSync(join(resultsDir, "phone.json"), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`      figures: ${JSON.stringify(figures)}`);
  });
});
