/**
 * Diagnostic only: the cheapest possible Node-RED echo bot, to tell Node-RED's own per-message cost
 * from ours. `bench-floor-in` opens its own socket, JSON.parses each frame and sends
 * {payload: text, pipes: data} for a whatsapp_message (counting reply_status frames, success only);
 * `bench-floor-out` JSON.stringifies the reply and writes it. No validation, no routing checks, no
 * outbox, no reply_status tracking: what the raw client does, plus Node-RED's hops and a function node.
 * `bench-floor-post` is the floor of a REST reply: it POSTs msg.payload as JSON with undici (the
 * HTTP client our nodes use, keep-alive), reads the JSON answer and is done; no ordering, deadline,
 * retries or answer checks. `bench-floor-webhook` is the floor of a webhook in: a bare POST route on
 * Node-RED's node app that parses the body, sends {payload: text, topic, pipes} and answers 200; no
 * signature, no checks, no deduplication.
 */
import type { Node, NodeAPI, NodeDef } from "node-red";
import { Agent, request } from "undici";
import WebSocket from "ws";

interface FloorDef extends NodeDef {
  url?: string;
  apiKey?: string;
  path?: string;
}

interface RouteRequest {
  body?: unknown;
  _body?: boolean;
  on(event: "data", listener: (chunk: Buffer) => void): void;
  on(event: "end", listener: () => void): void;
}
interface RouteResponse {
  status(code: number): { json(body: unknown): void };
}

let socket: WebSocket | undefined;
/** Set by bench/child.ts to count reply_status frames. */
const floorHooks = globalThis as { benchFloorReplied?: () => void };

const nodeInit = (RED: NodeAPI): void => {
  function FloorIn(this: Node, def: FloorDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let closing = false;
    let ws: WebSocket;
    // Reconnects 50 ms after a drop (the drain keeps a running client out for a while).
    const connect = () => {
      ws = new WebSocket(def.url ?? "", { perMessageDeflate: false });
      socket = ws;
      ws.on("message", (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as { type: string; data: Record<string, any> };
        if (frame.type === "whatsapp_message") {
          node.send({ _msgid: RED.util.generateId(), payload: frame.data.text, topic: frame.data.conversationId, pipes: frame.data });
        } else if (frame.type === "reply_status" && frame.data.success) {
          floorHooks.benchFloorReplied?.();
        }
      });
      ws.on("error", () => undefined);
      ws.on("close", () => {
        if (!closing) setTimeout(connect, 50);
      });
    };
    connect();
    node.on("close", (done: () => void) => {
      closing = true;
      ws.terminate();
      done();
    });
  }
  function FloorOut(this: Node, def: FloorDef): void {
    RED.nodes.createNode(this, def);
    this.on("input", (msg: any, _send: unknown, done: () => void) => {
      const m = msg.pipes;
      socket?.send(
        JSON.stringify({
          type: "whatsapp_reply",
          data: { conversationId: m.conversationId, poolNumberId: m.poolNumberId, toNumber: m.fromNumber, text: msg.payload },
        }),
      );
      done();
    });
  }
  function FloorPost(this: Node, def: FloorDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const url = def.url ?? "";
    const headers = { "content-type": "application/json", authorization: `Bearer ${def.apiKey ?? ""}` };
    const dispatcher = new Agent({ keepAliveTimeout: 10_000 });
    this.on("input", (msg: any, _send: unknown, done: (err?: Error) => void) => {
      request(url, { method: "POST", headers, body: JSON.stringify(msg.payload), dispatcher })
        .then(async (response) => {
          await response.body.json();
          done(response.statusCode === 200 ? undefined : new Error(`HTTP ${response.statusCode}`));
        })
        .catch((err: Error) => done(err));
    });
    node.on("close", (done: () => void) => {
      dispatcher.destroy().then(
        () => done(),
        () => done(),
      );
    });
  }
  function FloorWebhook(this: Node, def: FloorDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const accept = (payload: any, res: RouteResponse) => {
      const m = payload.entry[0].changes[0].value.messages[0];
      node.send({ _msgid: RED.util.generateId(), payload: m.text.body, topic: payload.pipes.conversationId, pipes: payload.pipes });
      res.status(200).json({ ok: true });
    };
    // One deploy per bench process: the route is never removed.
    RED.httpNode.post(def.path ?? "/floor/webhook", (req: RouteRequest, res: RouteResponse) => {
      if (req._body) return accept(req.body, res); // a body parser of Node-RED's got there first
      const chunks: Buffer[] = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", () => accept(JSON.parse(Buffer.concat(chunks).toString()), res));
    });
  }
  RED.nodes.registerType("bench-floor-in", FloorIn);
  RED.nodes.registerType("bench-floor-webhook", FloorWebhook);
  RED.nodes.registerType("bench-floor-out", FloorOut);
  RED.nodes.registerType("bench-floor-post", FloorPost);
};

export = nodeInit;
