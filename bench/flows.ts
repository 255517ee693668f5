/**
 * The bots under test as Node-RED flows, deployed into a real Node-RED runtime:
 *
 * - socket echo: ours (pipes-in -> function -> pipes-reply), core (websocket nodes), floor (do-nothing
 *   socket nodes);
 * - REST replies: ours-buttons (pipes-in -> function -> pipes-send, a buttons message through
 *   POST /v1/messages/passthrough), ours-rest (pipes-reply with transport REST, a text through
 *   POST /v1/messages/send), floor-post (do-nothing nodes: one bare undici POST of the same buttons
 *   body per message), core-http (websocket in -> functions -> Node-RED's http request node);
 * - webhooks in (a signed POST per message, answered 200; no reply): ours-webhook
 *   (pipes-webhook-in -> function), floor-webhook (a bare POST route node -> function), core-webhook
 *   (http in -> function -> http response);
 * - media (pipes-send-media).
 */

import { WEBHOOK_PATHS } from "./results";

export type FlowKind =
  | "ours"
  | "core"
  | "floor"
  | "ours-buttons"
  | "ours-rest"
  | "floor-post"
  | "core-http"
  | "ours-webhook"
  | "floor-webhook"
  | "core-webhook"
  | "media";

const FN = { type: "function", z: "tab", outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [] };
/** Where our nodes' output 2 goes: wired, as a bot that handles its failures would be (unwired, each failure is logged). */
const FAILURES = {
  id: "failures",
  type: "debug",
  z: "tab",
  name: "failures",
  active: false,
  tosidebar: false,
  console: false,
  complete: "error",
  wires: [],
};
/** The echo every contender runs, as examples/flows/echo-bot.json writes it. */
const YOU_SAID = { name: "You said", func: 'msg.payload = "You said: " + msg.payload;\nreturn msg;', ...FN };
/** The two reply buttons every buttons contender sends, in our friendly shape and in Meta's. */
const BUTTONS = '[{ id: "yes", title: "Yes" }, { id: "no", title: "No" }]';
const META_BUTTONS = '[{ type: "reply", reply: { id: "yes", title: "Yes" } }, { type: "reply", reply: { id: "no", title: "No" } }]';
/** Meta's body for the buttons message, as a floor or core flow writes it by hand (conversationId for Pipes' routing). */
const META_BODY = (conversationId: string, text: string) =>
  `{ conversationId: ${conversationId}, messaging_product: "whatsapp", type: "interactive", interactive: { type: "button", body: { text: ${text} }, action: { buttons: ${META_BUTTONS} } } }`;

/** What pipes-in -> "You said" -> pipes-reply looks like in examples/flows/echo-bot.json (transport "rest": the same over REST). */
function oursFlow(baseUrl: string, config: Record<string, unknown>, transport: "ws" | "rest" = "ws"): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bench: our nodes" },
    { id: "cfg", type: "pipes-config", name: "bench", baseUrl, scope: "user", ...config },
    { id: "in", type: "pipes-in", z: "tab", connection: "cfg", types: ["text"], downloadMedia: false, maxMediaMB: 16, wires: [["echo"]] },
    { id: "echo", ...YOU_SAID, wires: [["reply"]] },
    { id: "reply", type: "pipes-reply", z: "tab", connection: "cfg", transport, longText: "split", timeout: 30, wires: [[], ["failures"]] },
    FAILURES,
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

/** pipes-in -> a function that writes a buttons message -> pipes-send (kind "msg": the message is msg.payload). */
function oursButtonsFlow(baseUrl: string, config: Record<string, unknown>): Record<string, unknown>[] {
  const build = `msg.payload = { type: "buttons", body: "You said: " + msg.payload, buttons: ${BUTTONS} };\nreturn msg;`;
  return [
    { id: "tab", type: "tab", label: "bench: buttons through pipes-send" },
    { id: "cfg", type: "pipes-config", name: "bench", baseUrl, scope: "user", ...config },
    { id: "in", type: "pipes-in", z: "tab", connection: "cfg", types: ["text"], downloadMedia: false, maxMediaMB: 16, wires: [["build"]] },
    { id: "build", name: "buttons", func: build, ...FN, wires: [["send"]] },
    { id: "send", type: "pipes-send", z: "tab", connection: "cfg", kind: "msg", timeout: 30, wires: [[], ["failures"]] },
    FAILURES,
  ];
}

/** The floor of a REST reply: do-nothing socket in, a function writing Meta's buttons body, one bare POST (bench/floor-nodes.ts). */
function floorPostFlow(baseUrl: string, wsUrl: string, apiKey: string): Record<string, unknown>[] {
  const build = `msg.payload = ${META_BODY("msg.topic", '"You said: " + msg.payload')};\nreturn msg;`;
  return [
    { id: "tab", type: "tab", label: "bench: Node-RED floor, REST" },
    { id: "in", type: "bench-floor-in", z: "tab", url: wsUrl, wires: [["build"]] },
    { id: "build", name: "buttons", func: build, ...FN, wires: [["post"]] },
    { id: "post", type: "bench-floor-post", z: "tab", url: `${baseUrl}/v1/messages/passthrough`, apiKey, wires: [] },
  ];
}

/**
 * The buttons reply with Node-RED's own nodes only: websocket in, the parse function of coreFlow, a
 * function that writes Meta's body and the key header, and the http request node (POST, parsed JSON
 * answer, keep-alive connections).
 */
function coreHttpFlow(baseUrl: string, wsUrl: string, apiKey: string): Record<string, unknown>[] {
  const parse = [
    "const event = JSON.parse(msg.payload);",
    'if (event.type !== "whatsapp_message" || event.data.type !== "text") return null;',
    "msg.event = event.data;",
    "return msg;",
  ].join("\n");
  const build = [
    "const m = msg.event;",
    `return { headers: { authorization: ${JSON.stringify(`Bearer ${apiKey}`)}, "content-type": "application/json" }, payload: ${META_BODY("m.conversationId", '"You said: " + m.text')} };`,
  ].join("\n");
  return [
    { id: "tab", type: "tab", label: "bench: core nodes, REST" },
    { id: "wsc", type: "websocket-client", path: wsUrl, tls: "", wholemsg: "false", hb: "0", subprotocol: "", headers: [] },
    { id: "wsin", type: "websocket in", z: "tab", name: "", server: "", client: "wsc", wires: [["parse"]] },
    { id: "parse", name: "parse event", func: parse, ...FN, wires: [["build"]] },
    { id: "build", name: "buttons", func: build, ...FN, wires: [["post"]] },
    {
      id: "post",
      type: "http request",
      z: "tab",
      name: "",
      method: "POST",
      ret: "obj",
      paytoqs: "ignore",
      url: `${baseUrl}/v1/messages/passthrough`,
      tls: "",
      persist: true,
      proxy: "",
      insecureHTTPParser: false,
      authType: "",
      senderr: false,
      headers: [],
      wires: [[]],
    },
  ];
}

/** pipes-webhook-in (signature checked, the secret in its credentials) -> "You said". */
function oursWebhookFlow(baseUrl: string, config: Record<string, unknown>): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bench: webhook in" },
    { id: "cfg", type: "pipes-config", name: "bench", baseUrl, scope: "user", ...config },
    {
      id: "hook",
      type: "pipes-webhook-in",
      z: "tab",
      connection: "cfg",
      path: WEBHOOK_PATHS["ours-webhook"],
      types: ["text"],
      downloadMedia: false,
      maxMediaMB: 16,
      wires: [["echo"]],
    },
    { id: "echo", ...YOU_SAID, wires: [[]] },
  ];
}

/** The floor of a webhook: a bare POST route (bench/floor-nodes.ts) that parses, sends and answers 200 -> "You said". */
function floorWebhookFlow(): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bench: Node-RED floor, webhook" },
    { id: "hook", type: "bench-floor-webhook", z: "tab", path: WEBHOOK_PATHS["floor-webhook"], wires: [["echo"]] },
    { id: "echo", ...YOU_SAID, wires: [[]] },
  ];
}

/** Node-RED's own nodes: http in (POST, JSON parsed) -> a function reading Meta's shape -> http response 200. */
function coreWebhookFlow(): Record<string, unknown>[] {
  const read = [
    "const m = msg.payload.entry[0].changes[0].value.messages[0];",
    "msg.topic = msg.payload.pipes.conversationId;",
    'msg.text = "You said: " + m.text.body;',
    "msg.payload = { ok: true };",
    "return msg;",
  ].join("\n");
  return [
    { id: "tab", type: "tab", label: "bench: core nodes, webhook" },
    {
      id: "hook",
      type: "http in",
      z: "tab",
      name: "",
      url: WEBHOOK_PATHS["core-webhook"],
      method: "post",
      upload: false,
      swaggerDoc: "",
      wires: [["echo"]],
    },
    { id: "echo", name: "You said", func: read, ...FN, wires: [["answer"]] },
    { id: "answer", type: "http response", z: "tab", name: "", statusCode: "200", headers: {}, wires: [] },
  ];
}

/** Diagnostic: the same echo flow with do-nothing socket nodes (bench/floor-nodes.ts) in place of ours. */
function floorFlow(wsUrl: string): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bench: Node-RED floor" },
    { id: "in", type: "bench-floor-in", z: "tab", url: wsUrl, wires: [["echo"]] },
    { id: "echo", ...YOU_SAID, wires: [["out"]] },
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
export function flowFor(
  kind: FlowKind,
  baseUrl: string,
  wsUrl: string,
  apiKey: string,
  config: Record<string, unknown> = {},
): Record<string, unknown>[] {
  const flows: Record<FlowKind, () => Record<string, unknown>[]> = {
    ours: () => oursFlow(baseUrl, config),
    core: () => coreFlow(wsUrl),
    floor: () => floorFlow(wsUrl),
    "ours-buttons": () => oursButtonsFlow(baseUrl, config),
    "ours-rest": () => oursFlow(baseUrl, config, "rest"),
    "floor-post": () => floorPostFlow(baseUrl, wsUrl, apiKey),
    "core-http": () => coreHttpFlow(baseUrl, wsUrl, apiKey),
    "ours-webhook": () => oursWebhookFlow(baseUrl, config),
    "floor-webhook": () => floorWebhookFlow(),
    "core-webhook": () => coreWebhookFlow(),
    media: () => mediaFlow(baseUrl),
  };
  return placed(flows[kind]());
}

/** Flows whose only credentials are pipes-config's (the others carry the key in the flow, or need none). */
export const USES_PIPES_CONFIG: ReadonlySet<FlowKind> = new Set(["ours", "ours-buttons", "ours-rest", "ours-webhook", "media"]);

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
  // REST replies: the sending node completes once its POST was answered.
  "ours-buttons": { received: "build", replied: "send" },
  "ours-rest": { received: "echo", replied: "reply" },
  "floor-post": { received: "build", replied: "post" },
  "core-http": { received: "build", replied: "post" },
  // Webhooks: the sender counts the answered POSTs.
  "ours-webhook": { received: "echo" },
  "floor-webhook": { received: "echo" },
  "core-webhook": { received: "echo" },
  media: {},
};
