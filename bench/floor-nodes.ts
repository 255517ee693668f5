/**
 * Diagnostic only: the cheapest possible Node-RED echo bot, to tell Node-RED's own per-message cost
 * from ours. `bench-floor-in` opens its own socket, JSON.parses each frame and sends
 * {payload: text, pipes: data} for a whatsapp_message (counting reply_status frames, success only);
 * `bench-floor-out` JSON.stringifies the reply and writes it. No validation, no routing checks, no
 * outbox, no reply_status tracking: what the raw client does, plus Node-RED's hops and a function node.
 */
import type { Node, NodeAPI, NodeDef } from "node-red";
import WebSocket from "ws";

interface FloorDef extends NodeDef {
  url?: string;
}

let socket: WebSocket | undefined;
/** Set by bench/child.ts to count reply_status frames. */
const floorHooks = globalThis as { benchFloorReplied?: () => void };

const nodeInit = (RED: NodeAPI): void => {
  function FloorIn(this: Node, def: FloorDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const ws = new WebSocket(def.url ?? "", { perMessageDeflate: false });
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
    node.on("close", (done: () => void) => {
      ws.terminate();
      done();
    });
  }
  function FloorOut(this: Node, def: FloorDef): void {
    RED.nodes.createNode(this, def);
    this.on("input", (msg: any, _send: unknown, done: () => void) => {
      const m = msg.pipes;
      socket?.send(JSON.stringify({ type: "whatsapp_reply", data: { conversationId: m.conversationId, poolNumberId: m.poolNumberId, toNumber: m.fromNumber, text: msg.payload } }));
      done();
    });
  }
  RED.nodes.registerType("bench-floor-in", FloorIn);
  RED.nodes.registerType("bench-floor-out", FloorOut);
};

export = nodeInit;
