/**
 * Installs the package the way the palette manager does: `npm pack`, then `npm install <tarball>`
 * into a fresh Node-RED user directory; starts a real Node-RED process (the one of the runtime under
 * test: NODE_RED_FROM selects Node-RED 5), checks the four types, icons and locales are served,
 * deploys the echo example through the admin HTTP API against the emulator, chats, and stops.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { DEMO_API_KEY } from "../../src/emulator";
import { useEmulator } from "../support/emulator-fixture";
import { NODE_TYPES } from "../support/package";
import { freePort } from "../support/ports";
import { waitFor, waitUntil } from "../support/wait";

const root = join(__dirname, "..", "..");

describe("install from a packed tarball into a real Node-RED", function () {
  this.timeout(120_000);
  let work: string;
  let nodeRed: ChildProcess | undefined;

  // Registered before useEmulator(): Node-RED is killed before the emulator stops.
  after(function () {
    if (nodeRed && nodeRed.exitCode === null) nodeRed.kill("SIGKILL");
  });
  const { emu, sockets } = useEmulator({ nodeRed: false, awaitSocketsClosed: false });
  before(function () {
    work = mkdtempSync(join(tmpdir(), "pipes-install-"));
  });
  after(function () {
    rmSync(work, { recursive: true, force: true });
  });

  it("registers the four types, serves icons and locales, and runs the echo example", async function () {
    // 1. pack (runs our build through `prepare`) and install into a fresh user dir.
    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", work], {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }),
    ) as { filename: string }[];
    const userDir = join(work, "userdir");
    execFileSync("mkdir", ["-p", userDir]);
    writeFileSync(join(userDir, "package.json"), JSON.stringify({ name: "node-red-project", private: true }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", join(work, packed.filename)], {
      cwd: userDir,
      stdio: ["ignore", "ignore", "inherit"],
    });

    // 2. start the Node-RED of the runtime under test.
    const port = await freePort();
    const redJs = require.resolve(
      "node-red/red.js",
      process.env.NODE_RED_FROM ? { paths: [process.env.NODE_RED_FROM] } : { paths: [root] },
    );
    const version = (JSON.parse(readFileSync(join(redJs, "..", "package.json"), "utf8")) as { version: string }).version;
    writeFileSync(
      join(userDir, "settings.js"),
      // pt-BR: the runtime's status texts must come from our pt-BR catalogue.
      `module.exports = ${JSON.stringify({ uiHost: "127.0.0.1", uiPort: port, flowFile: "flows.json", credentialSecret: "install-test", lang: "pt-BR", telemetry: { enabled: false }, diagnostics: { enabled: false }, editorTheme: { tours: false } })};`,
    );
    nodeRed = spawn(process.execPath, [redJs, "-u", userDir, "-s", join(userDir, "settings.js")], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    nodeRed.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    nodeRed.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    await waitUntil(
      `Node-RED ${version} to start`,
      () => log.includes(`http://127.0.0.1:${port}/`) /* "Server now running at ..." in any language */,
      nodeRed.stdout!,
      ["data"],
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${log}`);
    });
    const base = `http://127.0.0.1:${port}`;

    // 3. the palette sees our module, loaded from the user dir (not a link to this repo).
    const module = (await (await fetch(`${base}/nodes/@pipes.bot%2Fnode-red`, { headers: { accept: "application/json" } })).json()) as {
      path: string;
      nodes: { types: string[]; enabled: boolean; err?: string }[];
    };
    assert.ok(module.path.startsWith(userDir), module.path);
    const types = module.nodes.flatMap((set) => set.types).sort();
    assert.deepEqual(types, NODE_TYPES);
    for (const set of module.nodes) assert.ok(set.enabled && !set.err, JSON.stringify(set));
    assert.equal((await fetch(`${base}/icons/@pipes.bot/node-red/pipes.svg`)).status, 200);
    // The editor code every node shares, and the constants generated from src/lib, ship in resources/.
    for (const file of ["pipes-editor.js", "pipes-editor.css", "pipes-constants.js"]) {
      assert.equal((await fetch(`${base}/resources/@pipes.bot/node-red/${file}`)).status, 200, file);
    }
    assert.match(
      await (await fetch(`${base}/resources/@pipes.bot/node-red/pipes-constants.js`)).text(),
      /"numberSettings":\{"timeout":\{"min":0/,
    );
    const catalog = (await (await fetch(`${base}/locales/@pipes.bot/node-red/pipes-in?lng=en-US`)).json()) as Record<string, unknown>;
    assert.ok(catalog["pipes-in"], "the pipes-in message catalogue is served");
    const help = await (await fetch(`${base}/nodes`, { headers: { accept: "text/html" } })).text();
    for (const type of types) assert.ok(help.includes(`data-help-name="${type}"`), `help for ${type}`);

    // 4. deploy the shipped echo example against the emulator, with the key as a credential.
    const example = JSON.parse(
      readFileSync(join(userDir, "node_modules", "@pipes.bot", "node-red", "examples", "flows", "echo-bot.json"), "utf8"),
    ) as Record<string, unknown>[];
    const flow = [
      { id: "tab", type: "tab", label: "echo" },
      ...example.map((n) =>
        n.type === "pipes-config" ? { ...n, baseUrl: emu.url, credentials: { apiKey: DEMO_API_KEY } } : { ...n, z: "tab" },
      ),
    ];
    const deployed = await fetch(`${base}/flows`, {
      method: "POST",
      headers: { "content-type": "application/json", "node-red-deployment-type": "full" },
      body: JSON.stringify(flow),
    });
    assert.equal(deployed.status, 204);
    await sockets(1, 10_000);

    // The status the editor would show, from the comms socket: in Portuguese, from the runtime.
    const comms = new WebSocket(`ws://127.0.0.1:${port}/comms`);
    const statuses: string[] = [];
    comms.on("open", () => comms.send(JSON.stringify({ subscribe: "status/#" })));
    comms.on("message", (data: Buffer) => {
      for (const event of JSON.parse(data.toString()) as { topic: string; data: { text?: string } }[]) {
        if (event.topic === "status/echo-in" && event.data.text) statuses.push(event.data.text);
      }
    });
    await waitUntil("the pipes-in status in pt-BR", () => statuses.includes("conectado (usuário)"), comms, ["message"], 10_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}; saw ${JSON.stringify(statuses)}`);
      },
    );
    comms.close();

    // 5. chat through it.
    const inbound = emu.inject({ fromNumber: "+15550008888", text: "hello" });
    const sent = await waitUntil("the echo reply", () => emu.sent({ conversationId: inbound.conversationId })[0], emu, ["sent"], 10_000);
    assert.equal(sent.text, "You said: hello");

    // 6. the exported flow carries no key.
    const exported = await (await fetch(`${base}/flows`)).text();
    assert.ok(!exported.includes(DEMO_API_KEY));

    // 7. stop (by the PID we started) and the socket goes away.
    const exited = waitFor(nodeRed, "exit", { what: "Node-RED to exit on SIGINT", timeoutMs: 30_000 });
    nodeRed.kill("SIGINT");
    await exited;
    await sockets(0, 5000);
  });
});
