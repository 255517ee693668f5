/**
 * Headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core (which
 * never downloads a browser). Use:
 *
 *   before(function () { requireChromium(this); });           // skips locally, fails in CI, when missing
 *   const session = await launchBrowser();                     // { browser, context, page, consoleErrors, close }
 *   ...
 *   await session.close();
 *
 * consoleErrors collects console.error lines, uncaught page errors and failed requests (CSP
 * violations and 404s of the page's own assets show up here), so a test can assert it stays empty.
 *
 * Gotcha: mocha runs the tests through tsx, whose esbuild wraps named functions in `__name(...)`. A
 * function given to page.evaluate()/locator.evaluate() runs in the browser, where `__name` does not
 * exist ("ReferenceError: __name is not defined"): keep such functions free of named inner
 * functions (`const f = () => …` counts), or pass the code as a string.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/** Where Debian (and Ubuntu/Fedora) put it; CHROMIUM_PATH wins. */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"];

/**
 * Flags that work as root in a container with no network: no sandbox (root), no GPU, and none of
 * Chromium's own background connections (refused here, and slow to fail). Playwright refuses
 * --user-data-dir in args; chromium.launch() makes a fresh temporary profile itself.
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumPath(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

export function inCi(): boolean {
  return /^(1|true|yes)$/i.test(process.env.CI ?? "");
}

/**
 * Call in a before() hook. No Chromium: locally the suite is skipped with a message saying how to
 * install it; in CI (CI=true) it fails, so a CI image without Chromium cannot pass silently.
 */
export function requireChromium(context: Mocha.Context): string {
  const found = chromiumPath();
  if (found) return found;
  const how = "install it with `apt-get install -y chromium` (Debian) or set CHROMIUM_PATH";
  if (inCi())
    throw new Error(
      `Chromium is required in CI (CI=${process.env.CI}) but was not found at ${process.env.CHROMIUM_PATH ?? CANDIDATES.join(", ")}: ${how}`,
    );
  console.log(`      skipping browser tests: Chromium not found (${how})`);
  context.skip();
  throw new Error("unreachable: skip() throws");
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** console.error output, uncaught page errors and failed requests, in order. */
  consoleErrors: string[];
  /** Closes the context and the browser; safe to call twice. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  executablePath?: string;
  viewport?: { width: number; height: number };
  /** Default 15 s; applies to every page action and wait. */
  timeoutMs?: number;
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<BrowserSession> {
  const executablePath = options.executablePath ?? chromiumPath();
  if (!executablePath) throw new Error("Chromium not found: install Debian's chromium package or set CHROMIUM_PATH");
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  let context: BrowserContext;
  let page: Page;
  try {
    context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
    context.setDefaultTimeout(options.timeoutMs ?? 15_000);
    page = await context.newPage();
  } catch (error) {
    await browser.close();
    throw error;
  }
  const consoleErrors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => consoleErrors.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => {
    // Navigating away (or closing) aborts open requests such as an EventSource: not a page fault.
    const failure = request.failure()?.errorText ?? "failed";
    if (failure !== "net::ERR_ABORTED") consoleErrors.push(`request ${request.method()} ${request.url()}: ${failure}`);
  });
  let closed: Promise<void> | undefined;
  return {
    browser,
    context,
    page,
    consoleErrors,
    close() {
      closed ??= (async () => {
        await context.close().catch(() => undefined);
        await browser.close();
      })();
      return closed;
    },
  };
}
