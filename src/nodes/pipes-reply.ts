import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../lib/client";
import { PipesError } from "../lib/errors";
import { ERROR_CODES } from "../lib/protocol";
import { prepareReplyParts, resolveRoute, type LongTextMode } from "../lib/reply";
import { configFor, evaluate, fail, hasFailureWires, positiveNumber, succeed, type Done, type Send } from "./shared/io";
import { misconfiguredStatus, showConnectionStatus } from "./shared/status";
import type { PipesReplyDef } from "./shared/types";

/**
 * pipes-reply: sends msg.payload as a text reply into the conversation the msg came from, over the
 * socket (whatsapp_reply, answered by reply_status) or over REST. Output 1: sent; output 2: failed.
 */
const nodeInit = (RED: NodeAPI): void => {
  function PipesReply(this: Node, def: PipesReplyDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const failureWired = hasFailureWires(def.wires);
    const transport = def.transport === "rest" ? "rest" : "ws";
    const longText: LongTextMode = def.longText === "reject" ? "reject" : "split";
    const timeoutMs = positiveNumber(def.timeout, 30) * 1000;
    const { config, problem } = configFor(RED, def.connection);
    const client = config?.client;

    let stopStatus = () => undefined as void;
    if (!client) node.status(misconfiguredStatus(problem ?? "no connection"));
    else if (transport === "ws") {
      stopStatus = showConnectionStatus(node, client);
      client.acquireSocket(node);
    }

    node.on("input", (msg: NodeMessageInFlow, send: Send, done: Done) => {
      if (!client) {
        fail(msg, new PipesError(ERROR_CODES.NOT_CONNECTED, `not sent: ${problem ?? "no connection configured"}`), failureWired, send, done);
        return;
      }
      reply(client, msg).then(
        (sent) => succeed(msg, sent, send, done),
        (err: unknown) => fail(msg, err, failureWired, send, done),
      );
    });

    async function reply(client: PipesClient, msg: NodeMessageInFlow): Promise<Record<string, unknown>> {
      const [text, conversationId, poolNumberId, toNumber] = await Promise.all([
        evaluate(RED, node, msg, def.text ?? "payload", def.textType ?? "msg"),
        evaluate(RED, node, msg, def.conversationId, def.conversationIdType),
        evaluate(RED, node, msg, def.poolNumberId, def.poolNumberIdType),
        evaluate(RED, node, msg, def.toNumber, def.toNumberType),
      ]);
      const route = resolveRoute({ conversationId, poolNumberId, toNumber }, (msg as { pipes?: unknown }).pipes, transport === "ws");
      const parts = prepareReplyParts(text, longText);

      const messageIds: string[] = [];
      if (transport === "rest") {
        for (const part of parts) {
          const result = await client.send({ conversationId: route.conversationId, text: part }, undefined, timeoutMs).catch((err: unknown) => {
            throw partial(err, messageIds.length, parts.length);
          });
          if (result.messageId) messageIds.push(result.messageId);
        }
      } else {
        // All parts are queued at once so no other reply into this conversation lands between them.
        const replies = parts.map((text) => ({ conversationId: route.conversationId, poolNumberId: route.poolNumberId!, toNumber: route.toNumber!, text }));
        for (const status of await client.reply(replies, { timeoutMs, owner: node })) {
          if (status.messageId) messageIds.push(status.messageId);
        }
      }
      return {
        messageId: messageIds[messageIds.length - 1],
        conversationId: route.conversationId,
        transport,
        parts: parts.length,
        ...(parts.length > 1 ? { messageIds } : {}),
      };
    }

    node.on("close", (removed: boolean, done: () => void) => {
      stopStatus();
      if (client && transport === "ws") client.releaseSocket(node, removed).then(done, () => done());
      else done();
    });
  }

  RED.nodes.registerType("pipes-reply", PipesReply);
};

/** For a split text, say how many parts went out before the failure (REST parts go one by one). */
function partial(err: unknown, sent: number, total: number): unknown {
  if (total > 1 && err instanceof PipesError) {
    return new PipesError(err.code, `${err.message} (part ${sent + 1} of ${total}; ${sent} sent before it, the rest not sent)`, err.source, { status: err.status });
  }
  return err;
}

export = nodeInit;
