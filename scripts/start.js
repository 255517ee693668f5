#!/usr/bin/env node
// `npm start`: the local emulator + Node-RED with these nodes and the echo flow deployed, ready to chat.
//
// 1. starts the Pipes API emulator (demo tenant and key) in this process;
// 2. prepares a Node-RED user dir (.run/node-red) that links this package in, and starts Node-RED;
// 3. deploys examples/flows/echo-bot.json through the admin API, pointed at the emulator, with the
//    demo key as a credential (the example file itself carries no key);
// 4. on a terminal, every line you type arrives at the bot as a WhatsApp message and the bot's
//    replies are printed. Ctrl+C stops Node-RED (by the PID we started) and the emulator.
//
// Ports: PIPES_EMULATOR_PORT (3977) and NODE_RED_PORT (1880); PIPES_RUN_DIR moves the user dir.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const root = path.resolve(__dirname, "..");
const emulatorPort = Number(process.env.PIPES_EMULATOR_PORT || 3977);
const nodeRedPort = Number(process.env.NODE_RED_PORT || 1880);
const runDir = path.resolve(process.env.PIPES_RUN_DIR || path.join(root, ".run"));
const userDir = path.join(runDir, "node-red");
const phoneNumber = process.env.PIPES_CHAT_FROM || "+15550001111";

function fail(text) {
  console.error(`pipes start: ${text}`);
  process.exit(1);
}

if (!fs.existsSync(path.join(root, "dist", "emulator", "index.js"))) {
  fail("dist/ is missing: run `npm install` (it builds the package) or `npm run build` first");
}
const { PipesEmulator, DEMO_API_KEY } = require(path.join(root, "dist", "emulator"));

function prepareUserDir() {
  fs.mkdirSync(path.join(userDir, "node_modules", "@pipes.bot"), { recursive: true });
  const link = path.join(userDir, "node_modules", "@pipes.bot", "node-red");
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(root, link, "dir");
  fs.writeFileSync(path.join(userDir, "package.json"), JSON.stringify({ name: "pipes-local-node-red", private: true, dependencies: { "@pipes.bot/node-red": `file:${root}` } }, null, 2));
  const settings = {
    uiHost: "127.0.0.1",
    uiPort: nodeRedPort,
    flowFile: "flows.json",
    flowFilePretty: true,
    // Local demo only: credentials in this user dir are encrypted with a fixed secret.
    credentialSecret: "pipes-local-demo",
    logging: { console: { level: "info", metrics: false, audit: false } },
    editorTheme: { tours: false, projects: { enabled: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
  };
  fs.writeFileSync(path.join(userDir, "settings.js"), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
}

function echoFlow(baseUrl) {
  const example = JSON.parse(fs.readFileSync(path.join(root, "examples", "flows", "echo-bot.json"), "utf8"));
  const tab = { id: "pipes-echo-tab", type: "tab", label: "Echo bot (local emulator)" };
  const nodes = example.map((node) => {
    if (node.type === "pipes-config") return { ...node, baseUrl, credentials: { apiKey: DEMO_API_KEY } };
    if (node.type === "tab") return node;
    return { ...node, z: tab.id };
  });
  return [tab, ...nodes.filter((n) => n.type !== "tab")];
}

async function deploy(editorUrl, flow) {
  const response = await fetch(`${editorUrl}/flows`, {
    method: "POST",
    headers: { "content-type": "application/json", "node-red-deployment-type": "full" },
    body: JSON.stringify(flow),
  });
  if (!response.ok) throw new Error(`deploy answered HTTP ${response.status}: ${await response.text()}`);
  const nodes = await (await fetch(`${editorUrl}/nodes`, { headers: { accept: "application/json" } })).json();
  const ours = nodes.filter((set) => set.module === "@pipes.bot/node-red");
  const failed = ours.filter((set) => !set.enabled || set.err);
  if (ours.length !== 4 || failed.length) {
    throw new Error(`our nodes did not load in Node-RED: ${JSON.stringify(failed.map((s) => ({ id: s.id, err: s.err })))}`);
  }
}

function startNodeRed() {
  const redJs = require.resolve("node-red/red.js", { paths: [root] });
  const child = spawn(process.execPath, [redJs, "-u", userDir, "-s", path.join(userDir, "settings.js")], { stdio: ["ignore", "pipe", "pipe"] });
  const log = fs.createWriteStream(path.join(runDir, "node-red.log"));
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const ready = new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk) => {
      seen = (seen + chunk.toString()).slice(-4000);
      if (seen.includes("Server now running")) {
        child.stdout.off("data", onData);
        resolve();
      } else if (/EADDRINUSE|port.*in use/i.test(seen)) {
        reject(new Error(`Node-RED port ${nodeRedPort} is in use; set NODE_RED_PORT to another port`));
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`Node-RED exited early (code ${code}); see ${path.join(runDir, "node-red.log")}`)));
  });
  return { child, ready };
}

async function main() {
  const emulator = new PipesEmulator({});
  let baseUrl;
  try {
    baseUrl = await emulator.start(emulatorPort, "127.0.0.1");
  } catch (err) {
    if (err && err.code === "EADDRINUSE") fail(`emulator port ${emulatorPort} is in use; set PIPES_EMULATOR_PORT to another port`);
    throw err;
  }
  prepareUserDir();
  const { child, ready } = startNodeRed();

  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping Node-RED and the emulator…");
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await emulator.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  try {
    await ready;
    const editorUrl = `http://127.0.0.1:${nodeRedPort}`;
    await deploy(editorUrl, echoFlow(baseUrl));
    console.log(`Node-RED editor: ${editorUrl}  (echo flow deployed, Node-RED PID ${child.pid}, log ${path.join(runDir, "node-red.log")})`);
    console.log(`Pipes emulator:  ${baseUrl}  (demo API key ${DEMO_API_KEY})`);
    console.log(`ready: messages typed here come from ${phoneNumber}; Ctrl+C stops everything.`);
  } catch (err) {
    console.error(`pipes start: ${err.message}`);
    await stop(1);
    return;
  }
  child.once("exit", (code) => {
    if (!stopping) {
      console.error(`Node-RED exited (code ${code}); see ${path.join(runDir, "node-red.log")}`);
      void stop(1);
    }
  });

  emulator.on("sent", (record) => {
    const what = record.text ?? `[${record.kind}${record.caption ? `: ${record.caption}` : ""}]`;
    console.log(`bot → ${record.toNumber}: ${what}`);
  });
  if (process.stdin.isTTY) {
    const lines = readline.createInterface({ input: process.stdin });
    lines.on("line", (line) => {
      if (line.trim()) emulator.inject({ fromNumber: phoneNumber, fromName: "You", text: line });
    });
  }
}

main().catch((err) => fail(err.stack || String(err)));
