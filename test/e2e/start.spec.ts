/**
 * The README's main command, for real: `node scripts/start.js` starts the emulator (with the phone
 * page) and a Node-RED process with the demo flows; messages injected through the emulator's control
 * API get the echo reply, media comes back, a clock jump makes the follow-up fail with
 * SERVICE_WINDOW_EXPIRED; SIGINT stops both, and a second start on the same ports works. Busy ports
 * are reported before anything starts. Needs the built package (npm test builds it first).
 */
import * as assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_APP_NUMBER, DEMO_APP_KEY } from "../../src/emulator";
import { assertPhoneBuilt, freePort, portIsFree, startApp, type StartedApp } from "../support/start-app";
import { poll } from "../support/wait";

const PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

async function post(app: StartedApp, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${app.emulatorUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.text());
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("npm start (scripts/start.js)", function () {
  this.timeout(60_000);
  const apps: StartedApp[] = [];
  const servers: Server[] = [];
  const dirs: string[] = [];

  afterEach(async function () {
    for (const app of apps.splice(0)) app.dispose();
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("works with a corporate proxy in the environment, and takes Node-RED down even when killed", async function () {
    assertPhoneBuilt();
    // A proxy that does not exist: the loopback emulator must be reached directly anyway.
    const app = await startApp({ env: { HTTP_PROXY: "http://127.0.0.1:9", HTTPS_PROXY: "http://127.0.0.1:9" } });
    apps.push(app);
    await post(app, "/_emulator/inbound", { fromNumber: "+15550004242", text: "through no proxy" });
    await app.waitForOutput("the echo", "You said: through no proxy", 10_000);
    const pid = Number(/Node-RED PID (\d+)/.exec(app.output())?.[1]);
    assert.ok(pid > 0, app.output());
    app.child.kill("SIGKILL"); // no chance to clean up: Node-RED must notice on its own
    await app.exited();
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Bounded: Node-RED stops its flows (up to ~2 s) after its parent's channel closes. It is not our
    // child, so no event says when it is gone: its PID is polled; a time-out is left to the assertion.
    await poll(`Node-RED (PID ${pid}) to exit after npm start was killed`, () => !alive(), { everyMs: 50, timeoutMs: 10_000 }).catch(
      () => undefined,
    );
    assert.equal(alive(), false, `Node-RED (PID ${pid}) outlived a killed npm start`);
    await portIsFree(app.nodeRedPort);
  });

  it("prints the editor and phone addresses, chats, sends media back, shows the closed window, stops on Ctrl+C, and starts again", async function () {
    assertPhoneBuilt();
    const runDir = mkdtempSync(join(tmpdir(), "pipes-start-"));
    dirs.push(runDir);
    const first = await startApp({ runDir });
    apps.push(first);
    assert.match(first.output(), new RegExp(`Node-RED editor: http://127\\.0\\.0\\.1:${first.nodeRedPort}`));
    assert.match(first.output(), new RegExp(`Phone page: +http://127\\.0\\.0\\.1:${first.emulatorPort}/phone`));
    // The BYON App a template is sent from: its number and key, to put in a connection of one's own.
    assert.match(first.output(), new RegExp(`BYON App: .*${DEFAULT_APP_NUMBER.id}.*App key ${DEMO_APP_KEY}`));

    // The Node-RED of the runtime under test (NODE_RED_FROM: npm test's Node-RED 5 pass).
    const redPackage = require.resolve("node-red/package.json", { paths: [process.env.NODE_RED_FROM ?? join(__dirname, "..", "..")] });
    const redVersion = (JSON.parse(readFileSync(redPackage, "utf8")) as { version: string }).version;
    assert.match(readFileSync(join(runDir, "node-red.log"), "utf8"), new RegExp(`Node-RED version: v${redVersion.replace(/\./g, "\\.")}`));

    const page = await fetch(first.phoneUrl);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /<script src="\/phone\/phone\.js"/);
    for (const asset of ["phone.js", "phone.css"]) assert.equal((await fetch(`${first.phoneUrl}/${asset}`)).status, 200, asset);

    await post(first, "/_emulator/inbound", { fromNumber: "+15550002222", text: "hello" });
    await first.waitForOutput("the echo reply", "bot → +15550002222: You said: hello");
    await post(first, "/_emulator/inbound", {
      fromNumber: "+15550002222",
      media: { data: PNG_1X1, mimeType: "image/png", fileName: "dot.png" },
    });
    await first.waitForOutput("the picture sent back", "bot → +15550002222: [image: Got your image]");
    await post(first, "/_emulator/clock", { advanceMs: 25 * 60 * 60 * 1000 });
    await first.waitForOutput("the refused follow-up", /bot ✗ \+15550002222: Following up.*not delivered: SERVICE_WINDOW_EXPIRED/);

    assert.equal(await first.interrupt(), 0);
    // Node-RED (its child) and the emulator are gone: both ports are free again.
    await portIsFree(first.nodeRedPort);
    await portIsFree(first.emulatorPort);

    // A second `npm start` with the same ports and run dir.
    const second = await startApp({ runDir, emulatorPort: first.emulatorPort, nodeRedPort: first.nodeRedPort });
    apps.push(second);
    await post(second, "/_emulator/inbound", { fromNumber: "+15550002222", text: "again" });
    await second.waitForOutput("the echo reply after a restart", "bot → +15550002222: You said: again");
    assert.doesNotMatch(second.output(), /SERVICE_WINDOW_EXPIRED|error/i);
    assert.equal(await second.interrupt(), 0);
  });

  it("names a busy port before starting anything", async function () {
    for (const which of ["NODE_RED_PORT", "PIPES_EMULATOR_PORT"] as const) {
      const busy = await freePort();
      servers.push(await listen(busy));
      const other = await freePort();
      const app = await startApp(
        which === "NODE_RED_PORT"
          ? { nodeRedPort: busy, emulatorPort: other, noWait: true }
          : { emulatorPort: busy, nodeRedPort: other, noWait: true },
      );
      apps.push(app);
      await app.waitForOutput("the busy-port message", new RegExp(`port ${busy} \\(${which}, [^)]*\\) is already in use`), 10_000);
      assert.equal(await app.exited(), 1);
      assert.match(app.output(), /another `npm start` still running/);
      // Nothing was started: no Node-RED log, and the other port was never taken.
      assert.equal(existsSync(join(app.runDir, "node-red.log")), false);
      await portIsFree(other);
    }
  });

  it("refuses a port setting that is not a port", async function () {
    const app = await startApp({ noWait: true, nodeRedPort: 70000 });
    apps.push(app);
    await app.waitForOutput("the bad-port message", "NODE_RED_PORT must be a port number (1-65535), got '70000'");
    assert.equal(await app.exited(), 1);
  });
});
