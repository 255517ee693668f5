/** The three echo bots as Node-RED flows (plus the media flow), deployed into a real Node-RED runtime. */

export type FlowKind = "ours" | "core" | "floor" | "media";

/** What pipes-in -> "You said" -> pipes-reply looks like in examples/flows/echo-bot.json. */
function oursFlow(baseUrl: string, config: Record<string, unknown>): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bench: our nodes" },
    { id: "cfg", type: "pipes-config", name: "bench", baseUrl, scope: "user", ...config },
    { id: "in", type: "pipes-in", z: "tab", connection: "cfg", types: ["text"], downloadMedia: false, maxMediaMB: 16, wires: [["echo"]] },
    { id: "echo", type: "function", z: "tab", name: "You said", func: 'msg.payload = "You said: " + msg.payload;\nreturn msg;', outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [["reply"]] },
    { id: "reply", type: "pipes-reply", z: "tab", connection: "cfg", transport: "ws", longText: "split", timeout: 30, wires: [[], ["failures"]] },
    // Output 2 wired, as a bot that handles its failures would be (unwired, each failure is logged).
    { id: "failures", type: "debug", z: "tab", name: "failures", active: false, tosidebar: false, console: false, complete: "error", wires: [] },
  ];
}

/**
 * What a user builds instead with Node-RED's own nodes: websocket-in on a websocket-client config
 * (the Pipes socket URL with ?apiKey=), a function that parses the event, a function that builds
 * the whatsapp_reply JSON, websocket-out. The build function returns a new msg: websocket-out would
 * otherwise try to answer msg._session, which a client connection does not have, and drop the reply.
 */
function coreFlow(wsUrl: string): Record<string, unknown>[] {
  const parse = [
    "const event = JSON.parse(msg.payload);",
    'if (event.type !== "whatsapp_message" || event.data.type !== "text") return null;',
    "msg.event = event.data;",
    "return msg;",
  ].join("\n");
  const build = [
    "const m = msg.event;",
    "return { payload: JSON.stringify({",
    '  type: "whatsapp_reply",',
    '  data: { conversationId: m.conversationId, poolNumberId: m.poolNumberId, toNumber: m.fromNumber, text: "You said: " + m.text },',
    "}) };",
  ].join("\n");
  const fn = { type: "function", z: "tab", outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [] };
  return [
    { id: "tab", type: "tab", label: "bench: core websocket nodes" },
    { id: "wsc", type: "websocket-client", path: wsUrl, tls: "", wholemsg: "false", hb: "0", subprotocol: "", headers: [] },
    { id: "wsin", type: "websocket in", z: "tab", name: "", server: "", client: "wsc", wires: [["parse"]] },
    { id: "parse", name: "parse event", func: parse, ...fn, wires: [["build"]] },
    { id: "build", name: "build reply", func: build, ...fn, wires: [["wsout"]] },
    { id: "wsout", type: "websocket out", z: "tab", name: "", server: "", client: "wsc" },
  ];
}

/** Diagnostic: the same echo flow with do-nothing socket nodes (bench/floor-nodes.ts) in place of ours. */
function floorFlow(wsUrl: string): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bench: Node-RED floor" },
    { id: "in", type: "bench-floor-in", z: "tab", url: wsUrl, wires: [["echo"]] },
    { id: "echo", type: "function", z: "tab", name: "You said", func: 'msg.payload = "You said: " + msg.payload;\nreturn msg;', outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], wires: [["out"]] },
    { id: "out", type: "bench-floor-out", z: "tab", wires: [] },
  ];
}

function mediaFlow(baseUrl: string): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bench: media" },
    { id: "cfg", type: "pipes-config", name: "bench", baseUrl, scope: "user" },
    { id: "media", type: "pipes-send-media", z: "tab", connection: "cfg", timeout: 60, wires: [[], []] },
  ];
}

/** `config`: pipes-config properties to set (e.g. outboxLimit), as the editor would store them. */
export function flowFor(kind: FlowKind, baseUrl: string, wsUrl: string, config: Record<string, unknown> = {}): Record<string, unknown>[] {
  const flow = kind === "ours" ? oursFlow(baseUrl, config) : kind === "core" ? coreFlow(wsUrl) : kind === "floor" ? floorFlow(wsUrl) : mediaFlow(baseUrl);
  return placed(flow);
}

/**
 * Positions for the nodes on the tab, as the editor saves them: Node-RED tells flow nodes from
 * config nodes by their x/y, and would otherwise start every node as a config node.
 */
function placed(flow: Record<string, unknown>[]): Record<string, unknown>[] {
  let column = 0;
  return flow.map((node) => (node.z ? { ...node, x: 120 + 180 * column++, y: 80 } : node));
}

/** Node ids whose completion (done()) the child counts: bot received a message / reply confirmed. */
export const COUNTED: Record<FlowKind, { received?: string; replied?: string }> = {
  ours: { received: "echo", replied: "reply" },
  // The core flow ignores reply_status (its parse function drops those frames): the server counts its
  // replies. "build" completes once per whatsapp_message (parse also runs for every reply_status).
  core: { received: "build" },
  // bench-floor-in counts reply_status itself (child.ts).
  floor: { received: "echo" },
  media: {},
};
