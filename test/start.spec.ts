/**
 * The README's main command, for real: `node scripts/start.js` starts the emulator and a Node-RED
 * process with the echo flow; a message injected through the emulator's control API gets the echo
 * reply; SIGINT stops both. Needs the built package (npm test builds it first).
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "./support/wait";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("npm start (scripts/start.js)", function () {
  this.timeout(30_000);
  let child: ChildProcess | undefined;
  let runDir: string;

  afterEach(function () {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    rmSync(runDir, { recursive: true, force: true });
  });

  it("starts Node-RED with the echo flow against the emulator, chats, and stops cleanly on Ctrl+C", async function () {
    runDir = mkdtempSync(join(tmpdir(), "pipes-start-"));
    const [emulatorPort, nodeRedPort] = [await freePort(), await freePort()];
    child = spawn(process.execPath, ["scripts/start.js"], {
      env: { ...process.env, PIPES_EMULATOR_PORT: String(emulatorPort), NODE_RED_PORT: String(nodeRedPort), PIPES_RUN_DIR: runDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitUntil("the ready line", () => output.includes("ready:"), child.stdout!, ["data"], 25_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
    assert.match(output, new RegExp(`Node-RED editor: http://127\\.0\\.0\\.1:${nodeRedPort}`));

    const response = await fetch(`http://127.0.0.1:${emulatorPort}/_emulator/inbound`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fromNumber: "+15550002222", text: "hello" }),
    });
    assert.equal(response.status, 200);
    await waitUntil("the echo reply", () => output.includes("bot → +15550002222: You said: hello"), child.stdout!, ["data"], 10_000);

    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    assert.equal(await exited, 0);
    // The Node-RED process it started is gone: its port is free again.
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once("error", reject);
      probe.listen(nodeRedPort, "127.0.0.1", () => probe.close(() => resolve()));
    });
  });
});
