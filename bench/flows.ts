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
 * - webhooks in with a text reply by REST (POST /v1/messages/send): ours-webhook-reply
 *   (pipes-webhook-in -> function -> pipes-reply REST), floor-webhook-reply (the bare route -> a
 *   function -> one bare undici POST), core-webhook-reply (http in -> function -> http request ->
 *   http response);
 * - media (pipes-send-media).
 */

import { WEBHOOK_PATHS, type Contender } from "./results";

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
  | "ours-webhook-reply"
  | "floor-webhook-reply"
  | "core-webhook-reply"
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

/** Our config node, with `config` (e.g. outboxLimit) set as the editor would store it. */
const CFG = (baseUrl: string, config: Record<string, unknown> = {}) => ({
  id: "cfg",
  type: "pipes-config",
  name: "bench",
  baseUrl,
  scope: "user",
  ...config,
});
/** Where our flows receive, wired to `next`: pipes-in (the socket) or pipes-webhook-in (signed POSTs on its path; its secret in child.ts). */
type Receiver = (next: string) => Record<string, unknown>;
const RECEIVE = { types: ["text"], downloadMedia: false, maxMediaMB: 16 };
const PIPES_IN: Receiver = (next) => ({ id: "in", type: "pipes-in", z: "tab", connection: "cfg", ...RECEIVE, wires: [[next]] });
const webhookIn =
  (kind: Contender): Receiver =>
  (next) => ({ id: "hook", type: "pipes-webhook-in", z: "tab", connection: "cfg", path: WEBHOOK_PATHS[kind], ...RECEIVE, wires: [[next]] });

/**
 * What a receiver -> "You said" -> pipes-reply looks like in examples/flows/echo-bot.json: from the
 * socket (pipes-in) or a webhook (pipes-webhook-in), the reply over the socket or REST, or no reply.
 */
function oursFlow(
  label: string,
  baseUrl: string,
  config: Record<string, unknown>,
  receiver: Receiver,
  transport?: "ws" | "rest",
): Record<string, unknown>[] {
  const reply = {
    id: "reply",
    type: "pipes-reply",
    z: "tab",
    connection: "cfg",
    transport,
    longText: "split",
    timeout: 30,
    wires: [[], ["failures"]],
  };
  return [
    { id: "tab", type: "tab", label },
    CFG(baseUrl, config),
    receiver("echo"),
    { id: "echo", ...YOU_SAID, wires: [transport ? ["reply"] : []] },
    ...(transport ? [reply, FAILURES] : []),
  ];
}

/** The first lines of a core flow's function on a webhook: Meta's message and its conversation, from http in's parsed body. */
const READ_META = "const m = msg.payload.entry[0].changes[0].value.messages[0];\nconst conversationId = msg.payload.pipes.conversationId;";
/** Our key and JSON, as a core flow's function sets them in msg.headers for the http request node. */
const keyHeaders = (apiKey: string) => `{ authorization: ${JSON.stringify(`Bearer ${apiKey}`)}, "content-type": "application/json" }`;
/** The text reply's body (POST /v1/messages/send), as a floor or core function writes it. */
const TEXT_BODY = (conversationId: string, text: string) => `{ conversationId: ${conversationId}, text: ${text} }`;

/**
 * What a user builds instead with Node-RED's own nodes: websocket-in on a websocket-client config
 * (the Pipes socket URL with ?apiKey=), a function that parses the event, a function that builds
 * the whatsapp_reply JSON, websocket-out. The build function returns a new msg: websocket-out would
 * otherwise try to answer msg._session, which a client connection does not have, and drop the reply.
 */
function coreFlow(wsUrl: string): Record<string, unknown>[] {
  const build = [
    "const m = msg.event;",
    "return { payload: JSON.stringify({",
    '  type: "whatsapp_reply",',
    '  data: { conversationId: m.conversationId, poolNumberId: m.poolNumberId, toNumber: m.fromNumber, text: "You said: " + m.text },',
    "}) };",
  ].join("\n");
  return [
    { id: "tab", type: "tab", label: "bench: core websocket nodes" },
    ...coreSocketIn(wsUrl),
    { id: "build", name: "build reply", func: build, ...FN, wires: [["wsout"]] },
    { id: "wsout", type: "websocket out", z: "tab", name: "", server: "", client: "wsc" },
  ];
}

/** Core websocket in on the Pipes socket and a function that parses its events, wired to "build". */
function coreSocketIn(wsUrl: string): Record<string, unknown>[] {
  const parse = [
    "const event = JSON.parse(msg.payload);",
    'if (event.type !== "whatsapp_message" || event.data.type !== "text") return null;',
    "msg.event = event.data;",
    "return msg;",
  ].join("\n");
  return [
    { id: "wsc", type: "websocket-client", path: wsUrl, tls: "", wholemsg: "false", hb: "0", subprotocol: "", headers: [] },
    { id: "wsin", type: "websocket in", z: "tab", name: "", server: "", client: "wsc", wires: [["parse"]] },
    { id: "parse", name: "parse event", func: parse, ...FN, wires: [["build"]] },
  ];
}

/** pipes-in -> a function that writes a buttons message -> pipes-send (kind "msg": the message is msg.payload). */
function oursButtonsFlow(baseUrl: string, config: Record<string, unknown>): Record<string, unknown>[] {
  const build = `msg.payload = { type: "buttons", body: "You said: " + msg.payload, buttons: ${BUTTONS} };\nreturn msg;`;
  return [
    { id: "tab", type: "tab", label: "bench: buttons through pipes-send" },
    CFG(baseUrl, config),
    PIPES_IN("build"),
    { id: "build", name: "buttons", func: build, ...FN, wires: [["send"]] },
    { id: "send", type: "pipes-send", z: "tab", connection: "cfg", kind: "msg", timeout: 30, wires: [[], ["failures"]] },
    FAILURES,
  ];
}

/**
 * A floor flow with a reply by REST: `input` (a do-nothing node wired to "build"), a function
 * writing the body, one bare undici POST of it to `url` (bench/floor-nodes.ts).
 */
function floorPostFlow(
  label: string,
  input: Record<string, unknown>,
  build: string,
  url: string,
  apiKey: string,
): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label },
    input,
    { id: "build", name: "build reply", func: `${build}\nreturn msg;`, ...FN, wires: [["post"]] },
    { id: "post", type: "bench-floor-post", z: "tab", url, apiKey, wires: [] },
  ];
}

/** Node-RED's http request node: POST to `url` (headers from msg.headers), the JSON answer parsed, keep-alive connections. */
function httpRequest(url: string, next: string[]): Record<string, unknown> {
  return {
    id: "post",
    type: "http request",
    z: "tab",
    name: "",
    method: "POST",
    ret: "obj",
    paytoqs: "ignore",
    url,
    tls: "",
    persist: true,
    proxy: "",
    insecureHTTPParser: false,
    authType: "",
    senderr: false,
    headers: [],
    wires: [next],
  };
}

/** The buttons reply with Node-RED's own nodes only: websocket in and parse (coreSocketIn), a function writing Meta's body and the key header, the http request node. */
function coreHttpFlow(baseUrl: string, wsUrl: string, apiKey: string): Record<string, unknown>[] {
  const build = `const m = msg.event;\nreturn { headers: ${keyHeaders(apiKey)}, payload: ${META_BODY("m.conversationId", '"You said: " + m.text')} };`;
  return [
    { id: "tab", type: "tab", label: "bench: core nodes, REST" },
    ...coreSocketIn(wsUrl),
    { id: "build", name: "buttons", func: build, ...FN, wires: [["post"]] },
    httpRequest(`${baseUrl}/v1/messages/passthrough`, []),
  ];
}

/** The floor of a webhook: a bare POST route (bench/floor-nodes.ts) that parses, sends and answers 200, wired to `next`. */
const floorRoute = (kind: Contender, next: string) => ({
  id: "hook",
  type: "bench-floor-webhook",
  z: "tab",
  path: WEBHOOK_PATHS[kind],
  wires: [[next]],
});

/** Node-RED's own nodes on a webhook: http in (POST, JSON parsed) -> `work` (functions, maybe an http request) -> http response 200. */
function httpInFlow(label: string, kind: Contender, work: Record<string, unknown>[]): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label },
    {
      id: "hook",
      type: "http in",
      z: "tab",
      name: "",
      url: WEBHOOK_PATHS[kind],
      method: "post",
      upload: false,
      swaggerDoc: "",
      wires: [[work[0].id]],
    },
    ...work,
    { id: "answer", type: "http response", z: "tab", name: "", statusCode: "200", headers: {}, wires: [] },
  ];
}

/** The floor of a REST reply: do-nothing socket in, a function writing Meta's buttons body, one bare POST. */
function floorRestFlow(baseUrl: string, wsUrl: string, apiKey: string): Record<string, unknown>[] {
  const input = { id: "in", type: "bench-floor-in", z: "tab", url: wsUrl, wires: [["build"]] };
  const build = `msg.payload = ${META_BODY("msg.topic", '"You said: " + msg.payload')};`;
  return floorPostFlow("bench: Node-RED floor, REST", input, build, `${baseUrl}/v1/messages/passthrough`, apiKey);
}

/** The floor of a webhook: the bare route -> "You said"; with `reply`, -> a function writing the text body -> one bare POST to /v1/messages/send. */
function floorWebhookFlow(baseUrl: string, apiKey: string, reply: boolean): Record<string, unknown>[] {
  if (reply) {
    const build = `msg.payload = ${TEXT_BODY("msg.topic", '"You said: " + msg.payload')};`;
    const input = floorRoute("floor-webhook-reply", "build");
    return floorPostFlow("bench: Node-RED floor, webhook and REST reply", input, build, `${baseUrl}/v1/messages/send`, apiKey);
  }
  return [
    { id: "tab", type: "tab", label: "bench: Node-RED floor, webhook" },
    floorRoute("floor-webhook", "echo"),
    { id: "echo", ...YOU_SAID, wires: [[]] },
  ];
}

/**
 * The core flows on a webhook: a function reading Meta's shape -> http response 200; with `reply`,
 * the function writes the text body and the key header, and the http request node POSTs it to
 * /v1/messages/send before the http response answers.
 */
function coreWebhookFlow(baseUrl: string, apiKey: string, reply: boolean): Record<string, unknown>[] {
  if (reply) {
    const build = `${READ_META}\nmsg.headers = ${keyHeaders(apiKey)};\nmsg.payload = ${TEXT_BODY("conversationId", '"You said: " + m.text.body')};\nreturn msg;`;
    return httpInFlow("bench: core nodes, webhook and REST reply", "core-webhook-reply", [
      { id: "build", name: "build reply", func: build, ...FN, wires: [["post"]] },
      httpRequest(`${baseUrl}/v1/messages/send`, ["answer"]),
    ]);
  }
  const read = `${READ_META}\nmsg.topic = conversationId;\nmsg.text = "You said: " + m.text.body;\nmsg.payload = { ok: true };\nreturn msg;`;
  return httpInFlow("bench: core nodes, webhook", "core-webhook", [
    { id: "echo", name: "You said", func: read, ...FN, wires: [["answer"]] },
  ]);
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
    CFG(baseUrl),
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
    ours: () => oursFlow("bench: our nodes", baseUrl, config, PIPES_IN, "ws"),
    core: () => coreFlow(wsUrl),
    floor: () => floorFlow(wsUrl),
    "ours-buttons": () => oursButtonsFlow(baseUrl, config),
    "ours-rest": () => oursFlow("bench: our nodes, REST", baseUrl, config, PIPES_IN, "rest"),
    "floor-post": () => floorRestFlow(baseUrl, wsUrl, apiKey),
    "core-http": () => coreHttpFlow(baseUrl, wsUrl, apiKey),
    "ours-webhook": () => oursFlow("bench: webhook in", baseUrl, config, webhookIn("ours-webhook")),
    "floor-webhook": () => floorWebhookFlow(baseUrl, apiKey, false),
    "core-webhook": () => coreWebhookFlow(baseUrl, apiKey, false),
    "ours-webhook-reply": () => oursFlow("bench: webhook in, REST reply", baseUrl, config, webhookIn("ours-webhook-reply"), "rest"),
    "floor-webhook-reply": () => floorWebhookFlow(baseUrl, apiKey, true),
    "core-webhook-reply": () => coreWebhookFlow(baseUrl, apiKey, true),
    media: () => mediaFlow(baseUrl),
  };
  return placed(flows[kind]());
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
  // REST replies: the sending node completes once its POST was answered.
  "ours-buttons": { received: "build", replied: "send" },
  "ours-rest": { received: "echo", replied: "reply" },
  "floor-post": { received: "build", replied: "post" },
  "core-http": { received: "build", replied: "post" },
  // Webhooks: the sender counts the answered POSTs.
  "ours-webhook": { received: "echo" },
  "floor-webhook": { received: "echo" },
  "core-webhook": { received: "echo" },
  // Webhook in, REST reply: as the REST replies.
  "ours-webhook-reply": { received: "echo", replied: "reply" },
  "floor-webhook-reply": { received: "build", replied: "post" },
  "core-webhook-reply": { received: "build", replied: "post" },
  media: {},
};
