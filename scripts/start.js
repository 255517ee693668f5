#!/usr/bin/env node
// `npm start`: the local emulator + Node-RED with these nodes and demo flows deployed, ready to chat.
//
// 1. checks that both ports are free, before starting anything;
// 2. starts the Pipes API emulator (demo tenant and key, and a demo BYON App whose ak_ key it prints)
//    in this process; it also serves the phone
//    page (http://127.0.0.1:3977/phone), a WhatsApp-like chat with the bot;
// 3. prepares a Node-RED user dir (.run/node-red) that links this package in, and starts Node-RED;
// 4. deploys, through the admin API, one tab each: examples/flows/echo-bot.json (answers text),
//    examples/flows/menu-bot.json (buttons, a list, a location: write "menu"),
//    examples/flows/send-media.json (sends received media back) and a follow-up flow (below), all
//    pointed at the emulator with the demo key as a credential (the example files carry no key);
// 5. on a terminal, every line you type arrives at the bot as a WhatsApp message and what the bot
//    sends (or tries to send) is printed. Ctrl+C stops Node-RED (by the PID we started) and the emulator.
//
// The follow-up flow shows the 24 h service window: when the emulator clock is moved (the phone
// page's "+25 h" button, or POST /_emulator/clock), this script presses the flow's inject node, and
// the bot writes to every chat it knows without a new message from the user. After 24 h that reply
// is refused with SERVICE_WINDOW_EXPIRED and leaves pipes-reply by its error output.
//
// Ports: PIPES_EMULATOR_PORT (3977) and NODE_RED_PORT (1880); PIPES_RUN_DIR moves the user dir;
// PIPES_CHAT_FROM is the number terminal lines come from; NODE_RED_FROM, a folder whose node_modules
// holds another Node-RED, runs that one (npm test's Node-RED 5 pass sets it).
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const net = require("net");
const path = require("path");
const readline = require("readline");

const root = path.resolve(__dirname, "..");
// package.json node-red.nodes is the one list of our node types (one type per node set).
const NODE_TYPES = Object.keys(require(path.join(root, "package.json"))["node-red"].nodes);
const runDir = path.resolve(process.env.PIPES_RUN_DIR || path.join(root, ".run"));
const userDir = path.join(runDir, "node-red");
const phoneNumber = process.env.PIPES_CHAT_FROM || "+15550001111";
const CONFIG_ID = "pipes-emulator-config";
const APP_CONFIG_ID = "pipes-emulator-app-config";
const FOLLOW_UP_INJECT = "followup-inject";

function fail(text) {
  console.error(`pipes start: ${text}`);
  process.exit(1);
}

function portFrom(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) fail(`${name} must be a port number (1-65535), got '${raw}'`);
  return port;
}
const emulatorPort = portFrom("PIPES_EMULATOR_PORT", 3977);
const nodeRedPort = portFrom("NODE_RED_PORT", 1880);
if (emulatorPort === nodeRedPort) fail(`PIPES_EMULATOR_PORT and NODE_RED_PORT are both ${nodeRedPort}; they need two ports`);

if (!fs.existsSync(path.join(root, "dist", "emulator", "index.js"))) {
  fail("dist/ is missing: run `npm install` (it builds the package) or `npm run build` first");
}
const { PipesEmulator, DEMO_API_KEY, DEMO_APP_KEY, DEFAULT_APP, DEFAULT_APP_NUMBER } = require(path.join(root, "dist", "emulator"));

/** Resolves null when 127.0.0.1:port can be listened on (and is released again), else the error code. */
function probePort(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err) => resolve(err.code || String(err)));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(null)));
  });
}

async function checkPorts() {
  const wanted = [
    { port: emulatorPort, name: "PIPES_EMULATOR_PORT", what: "the emulator and phone page" },
    { port: nodeRedPort, name: "NODE_RED_PORT", what: "the Node-RED editor" },
  ];
  const problems = [];
  for (const { port, name, what } of wanted) {
    const code = await probePort(port);
    if (code === "EADDRINUSE") problems.push(`port ${port} (${name}, ${what}) is already in use`);
    else if (code) problems.push(`cannot listen on 127.0.0.1:${port} (${name}, ${what}): ${code}`);
  }
  if (problems.length) {
    fail(
      `${problems.join("; ")}.\nIs another \`npm start\` still running? Stop it, or choose free ports, e.g. ` +
        `PIPES_EMULATOR_PORT=${emulatorPort + 10} NODE_RED_PORT=${nodeRedPort + 10} npm start`,
    );
  }
}

function prepareUserDir() {
  fs.mkdirSync(path.join(userDir, "node_modules", "@pipes.bot"), { recursive: true });
  const link = path.join(userDir, "node_modules", "@pipes.bot", "node-red");
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(root, link, "dir");
  // Flows of an earlier run would start against its emulator before our deploy replaces them.
  for (const file of ["flows.json", "flows_cred.json", ".flows.json.backup", ".flows_cred.json.backup"]) {
    fs.rmSync(path.join(userDir, file), { force: true });
  }
  fs.writeFileSync(
    path.join(userDir, "package.json"),
    JSON.stringify({ name: "pipes-local-node-red", private: true, dependencies: { "@pipes.bot/node-red": `file:${root}` } }, null, 2),
  );
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

/** One example file on its own tab; its pipes-config is returned apart (all examples share its id). */
function exampleTab(file, tab, configId = CONFIG_ID) {
  const example = JSON.parse(fs.readFileSync(path.join(root, "examples", "flows", file), "utf8"));
  const nodes = example.filter((n) => n.type !== "tab" && n.type !== "pipes-config").map((node) => ({ ...node, z: tab.id }));
  const config = example.find((n) => n.type === "pipes-config");
  if (!config || config.id !== configId) throw new Error(`examples/flows/${file}: expected the pipes-config node ${configId}`);
  return { nodes: [tab, ...nodes], config };
}

/** The bot writes first: on the inject (pressed by this script when the emulator clock moves). */
function followUpTab() {
  const z = "pipes-followup-tab";
  const debug = (id, name, complete, y) => ({
    id,
    type: "debug",
    z,
    name,
    active: true,
    tosidebar: true,
    console: false,
    tostatus: false,
    complete,
    targetType: "msg",
    statusVal: "",
    statusType: "auto",
    x: 760,
    y,
    wires: [],
  });
  return [
    { id: z, type: "tab", label: "Follow-up (24 h window)", info: "npm start's demo of the 24 h service window." },
    {
      id: "followup-comment",
      type: "comment",
      z,
      name: "Follow-up: the bot writes first, when the emulator clock moves",
      x: 260,
      y: 60,
      wires: [],
      info: '`npm start` presses "Clock moved" whenever the emulator clock is moved (the phone page\'s "Move clock +25 h"\nbutton). The bot then sends "Following up" to every chat it has seen. After more than 24 h without a\nmessage from the person, Pipes.bot refuses it: pipes-reply sends the msg to output 2 with\n`msg.error.code` SERVICE_WINDOW_EXPIRED, and the phone page shows a red "not delivered" bubble.',
    },
    {
      id: "followup-in",
      type: "pipes-in",
      z,
      name: "",
      connection: CONFIG_ID,
      types: [],
      downloadMedia: false,
      maxMediaMB: 16,
      x: 150,
      y: 120,
      wires: [["followup-remember"]],
    },
    {
      id: "followup-remember",
      type: "function",
      z,
      name: "Remember the chat",
      outputs: 0,
      timeout: 0,
      noerr: 0,
      initialize: "",
      finalize: "",
      libs: [],
      x: 370,
      y: 120,
      wires: [],
      func: 'const chats = flow.get("chats") || {};\nconst { conversationId, poolNumberId, fromNumber } = msg.pipes;\nchats[conversationId] = { conversationId, poolNumberId, fromNumber };\nflow.set("chats", chats);\nreturn null;',
    },
    {
      id: FOLLOW_UP_INJECT,
      type: "inject",
      z,
      name: "Clock moved",
      props: [{ p: "payload" }],
      repeat: "",
      crontab: "",
      once: false,
      onceDelay: 0.1,
      topic: "",
      payload: "",
      payloadType: "date",
      x: 150,
      y: 200,
      wires: [["followup-compose"]],
    },
    {
      id: "followup-compose",
      type: "function",
      z,
      name: "Following up",
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: "",
      finalize: "",
      libs: [],
      x: 350,
      y: 200,
      wires: [["followup-reply"]],
      func: 'const chats = Object.values(flow.get("chats") || {});\nreturn [chats.map((pipes) => ({ payload: "Following up: anything else I can do for you?", pipes }))];',
    },
    {
      id: "followup-reply",
      type: "pipes-reply",
      z,
      name: "",
      connection: CONFIG_ID,
      text: "payload",
      textType: "msg",
      conversationId: "",
      conversationIdType: "str",
      poolNumberId: "",
      poolNumberIdType: "str",
      toNumber: "",
      toNumberType: "str",
      transport: "ws",
      longText: "split",
      timeout: 30,
      x: 550,
      y: 200,
      wires: [["followup-sent"], ["followup-failed"]],
    },
    debug("followup-sent", "sent", "sent", 180),
    debug("followup-failed", "window closed", "error", 220),
  ];
}

function demoFlows(baseUrl) {
  const echo = exampleTab("echo-bot.json", { id: "pipes-echo-tab", type: "tab", label: "Echo bot (local emulator)" });
  const media = exampleTab("send-media.json", { id: "pipes-media-tab", type: "tab", label: "Send media back" });
  const menu = exampleTab("menu-bot.json", { id: "pipes-menu-tab", type: "tab", label: 'Menu bot (write "menu")' });
  // The App (ak_ key): templates and writing first; its own connection.
  const reminder = exampleTab(
    "appointment-reminder.json",
    { id: "pipes-reminder-tab", type: "tab", label: "Appointment reminder (App, templates)" },
    APP_CONFIG_ID,
  );
  const config = { ...echo.config, baseUrl, credentials: { apiKey: DEMO_API_KEY } };
  const appConfig = { ...reminder.config, baseUrl, credentials: { apiKey: DEMO_APP_KEY } };
  return [...echo.nodes, ...menu.nodes, ...media.nodes, ...followUpTab(), ...reminder.nodes, config, appConfig];
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
  if (ours.length !== NODE_TYPES.length || failed.length) {
    throw new Error(`our nodes did not load in Node-RED: ${JSON.stringify(failed.map((s) => ({ id: s.id, err: s.err })))}`);
  }
}

/** Resolves once the deployed flows hold a socket to the emulator (or after `ms`, whichever is first). */
function botOnline(emulator, ms) {
  return new Promise((resolve) => {
    if (emulator.connections().length > 0) return resolve(true);
    const done = (online) => {
      clearTimeout(timer);
      emulator.off("connection", onConnection);
      resolve(online);
    };
    const onConnection = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    emulator.on("connection", onConnection);
  });
}

function startNodeRed() {
  const redJs = require.resolve("node-red/red.js", { paths: [process.env.NODE_RED_FROM || root] });
  // The emulator is on loopback: a corporate HTTP(S)_PROXY in the environment must not be used for it.
  const loopback = "127.0.0.1,localhost,::1";
  const noProxy = [process.env.NO_PROXY || process.env.no_proxy, loopback].filter(Boolean).join(",");
  const child = spawn(
    process.execPath,
    [path.join(__dirname, "node-red-child.js"), redJs, "-u", userDir, "-s", path.join(userDir, "settings.js")],
    {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, NO_PROXY: noProxy, no_proxy: noProxy },
    },
  );
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
  await checkPorts();
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
    if (child.exitCode === null && child.signalCode === null) {
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

  const editorUrl = `http://127.0.0.1:${nodeRedPort}`;
  try {
    await ready;
    await deploy(editorUrl, demoFlows(baseUrl));
    const online = await botOnline(emulator, 10_000);
    console.log("");
    console.log(
      `Node-RED editor: ${editorUrl}  (tabs: echo bot, menu bot, send media back, follow-up, appointment reminder; Node-RED PID ${child.pid}, log ${path.join(runDir, "node-red.log")})`,
    );
    console.log(`Phone page:      ${baseUrl}/phone  (chat with the bot as a WhatsApp user)`);
    console.log(`Pipes emulator:  ${baseUrl}  (demo API key ${DEMO_API_KEY})${online ? "" : "  warning: the bot has not connected yet"}`);
    // The demo BYON App: its key goes in a config node to try templates and writing first (its number is on the phone page).
    console.log(
      `BYON App:        "${DEFAULT_APP.name}" ${DEFAULT_APP_NUMBER.phoneNumber} (${DEFAULT_APP_NUMBER.id}), App key ${DEMO_APP_KEY}  (templates, app/send)`,
    );
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
    console.log(`bot → ${record.toNumber ?? record.conversationId}: ${describeSent(record)}`);
  });
  emulator.on("refused", (record) => {
    console.log(
      `bot ✗ ${record.toNumber ?? record.conversationId ?? "?"}: ${record.text ?? `[${record.kind}]`}  (not delivered: ${record.code})`,
    );
  });
  emulator.on("clock", ({ advancedMs }) => {
    console.log(`clock moved ${(advancedMs / 3_600_000).toFixed(1)} h ahead; the follow-up flow writes to every chat`);
    fetch(`${editorUrl}/inject/${FOLLOW_UP_INJECT}`, { method: "POST" })
      .then((response) => {
        if (!response.ok) console.error(`pipes start: the follow-up inject answered HTTP ${response.status}`);
      })
      .catch((err) => {
        if (!stopping) console.error(`pipes start: could not press the follow-up inject: ${err.message}`);
      });
  });
  if (process.stdin.isTTY) {
    const lines = readline.createInterface({ input: process.stdin });
    lines.on("line", (line) => {
      if (line.trim()) emulator.inject({ fromNumber: phoneNumber, fromName: "You", text: line });
    });
  }
}

main().catch((err) => fail(err.stack || String(err)));

/** One line for what the bot sent, as the terminal chat shows it (buttons and list rows by title). */
function describeSent(record) {
  if (record.template) {
    const buttons = record.template.rendered.buttons.map((b) => b.text);
    return `${record.text} [template ${record.template.name}${buttons.length ? `: ${buttons.join(" | ")}` : ""}]`;
  }
  if (record.text) return record.text;
  const message = record.message || {};
  const interactive = message.interactive;
  if (interactive) {
    const action = interactive.action || {};
    const buttons = (action.buttons || []).map((b) => b.reply && b.reply.title);
    const rows = (action.sections || []).flatMap((section) => section.rows || []).map((row) => row.title);
    const choices = buttons.length ? buttons.join(" | ") : rows.length ? `list: ${rows.join(", ")}` : interactive.type;
    return `${(interactive.body && interactive.body.text) || ""} [${choices}]`;
  }
  if (message.location) return `[location: ${message.location.name || ""} ${message.location.latitude}, ${message.location.longitude}]`;
  if (record.reaction) return `[reaction ${record.reaction.emoji || "removed"} on ${record.reaction.messageId}]`;
  return `[${record.kind}${record.caption ? `: ${record.caption}` : ""}]`;
}
