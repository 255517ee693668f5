import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../lib/client";
import { PipesError } from "../lib/errors";
import { ERROR_CODES } from "../lib/protocol";
import { prepareReplyParts, resolveRoute, type LongTextMode, type Route } from "../lib/reply";
import { configFor, fail, fieldValue, hasFailureWires, positiveNumber, readField, readNow, succeed, type Done, type Send } from "./shared/io";
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

    /**
     * The four fields, then the send. With every field answered at once (msg, str, num, env, ...),
     * the reply is queued in the same tick, without 4 promises and a Promise.all per message.
     * Failures still arrive as a rejection.
     */
    function reply(client: PipesClient, msg: NodeMessageInFlow): Promise<Record<string, unknown>> {
      const fields = [
        readField(RED, node, msg, def.text ?? "payload", def.textType ?? "msg"),
        readField(RED, node, msg, def.conversationId, def.conversationIdType),
        readField(RED, node, msg, def.poolNumberId, def.poolNumberIdType),
        readField(RED, node, msg, def.toNumber, def.toNumberType),
      ];
      if (fields.every(readNow)) {
        try {
          return sendReply(client, msg, fields.map((field) => (field as { value: unknown }).value));
        } catch (err) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what was thrown, as the async version rejected
          return Promise.reject(err);
        }
      }
      return Promise.all(fields.map(fieldValue)).then((values) => sendReply(client, msg, values));
    }

    /** Sends the text of `values` ([text, conversationId, poolNumberId, toNumber]); throws what cannot be sent. */
    function sendReply(client: PipesClient, msg: NodeMessageInFlow, [text, conversationId, poolNumberId, toNumber]: unknown[]): Promise<Record<string, unknown>> {
      const route = resolveRoute({ conversationId, poolNumberId, toNumber }, (msg as { pipes?: unknown }).pipes, transport === "ws");
      const parts = prepareReplyParts(text, longText);
      if (transport === "rest") return sendRest(client, route, parts);
      // All parts are queued at once so no other reply into this conversation lands between them.
      const replies = parts.map((text) => ({ conversationId: route.conversationId, poolNumberId: route.poolNumberId!, toNumber: route.toNumber!, text }));
      return client.reply(replies, { timeoutMs, owner: node }).then((statuses) => {
        const messageIds: string[] = [];
        for (const status of statuses) {
          if (status.messageId) messageIds.push(status.messageId);
        }
        return sent(route.conversationId, parts.length, messageIds);
      });
    }

    async function sendRest(client: PipesClient, route: Route, parts: string[]): Promise<Record<string, unknown>> {
      const messageIds: string[] = [];
      for (const part of parts) {
        const result = await client.send({ conversationId: route.conversationId, text: part }, undefined, timeoutMs).catch((err: unknown) => {
          throw partial(err, messageIds.length, parts.length);
        });
        if (result.messageId) messageIds.push(result.messageId);
      }
      return sent(route.conversationId, parts.length, messageIds);
    }

    function sent(conversationId: string, parts: number, messageIds: string[]): Record<string, unknown> {
      return {
        messageId: messageIds[messageIds.length - 1],
        conversationId,
        transport,
        parts,
        ...(parts > 1 ? { messageIds } : {}),
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
