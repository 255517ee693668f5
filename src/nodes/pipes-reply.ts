import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../lib/client";
import { PipesError } from "../lib/errors";
import { ERROR_CODES } from "../lib/protocol";
import { prepareReplyParts, resolveRoute, type LongTextMode, type Route } from "../lib/reply";
import { configFor, hasFailureWires, readAll, readField, readNow } from "./shared/io";
import { handleSends } from "./shared/send-node";
import { nodeNumbers } from "./shared/settings";
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
    const transport = def.transport === "rest" ? "rest" : "ws";
    const longText: LongTextMode = def.longText === "reject" ? "reject" : "split";
    const { values, problem: settingProblem } = nodeNumbers(def, ["timeout"]);
    const timeoutMs = values.timeout * 1000;
    const { config, problem } = configFor(RED, def.connection);
    const client = settingProblem ? undefined : config?.client;

    let stopStatus = () => undefined as void;
    if (settingProblem) node.status(misconfiguredStatus(settingProblem));
    else if (!client) node.status(misconfiguredStatus(problem ?? "no connection"));
    else if (transport === "ws") {
      stopStatus = showConnectionStatus(node, client, { sender: true });
      client.acquireSocket(node, "sender");
    }

    const sends = handleSends({
      node,
      failureWired: hasFailureWires(def.wires),
      client,
      refusal: settingProblem
        ? new PipesError(ERROR_CODES.INVALID_CONFIG, `not sent: ${settingProblem}`)
        : client
          ? undefined
          : new PipesError(ERROR_CODES.NOT_CONNECTED, `not sent: ${problem ?? "no connection configured"}`),
      send: (msg) => reply(client!, msg),
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
      return readAll(fields).then((values) => sendReply(client, msg, values));
    }

    /** Sends the text of `values` ([text, conversationId, poolNumberId, toNumber]); throws what cannot be sent. */
    function sendReply(client: PipesClient, msg: NodeMessageInFlow, [text, conversationId, poolNumberId, toNumber]: unknown[]): Promise<Record<string, unknown>> {
      // A user-scoped socket that no pipes-in reads is never opened (it would collect the offline
      // queue for nobody): socket replies then go over REST, and msg.sent.transport says so.
      const overSocket = transport === "ws" && client.repliesOverSocket;
      const route = resolveRoute({ conversationId, poolNumberId, toNumber }, (msg as { pipes?: unknown }).pipes, overSocket);
      const parts = prepareReplyParts(text, longText);
      if (!overSocket) return sendRest(client, route, parts);
      // All parts are queued at once so no other reply into this conversation lands between them.
      const replies = parts.map((text) => ({ conversationId: route.conversationId, poolNumberId: route.poolNumberId!, toNumber: route.toNumber!, text }));
      return client.reply(replies, { timeoutMs, owner: node }).then((statuses) => {
        const messageIds: string[] = [];
        for (const status of statuses) {
          if (status.messageId) messageIds.push(status.messageId);
        }
        return sent(route.conversationId, parts.length, messageIds, "ws");
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
      return sent(route.conversationId, parts.length, messageIds, "rest");
    }

    function sent(conversationId: string, parts: number, messageIds: string[], via: "ws" | "rest"): Record<string, unknown> {
      return {
        messageId: messageIds[messageIds.length - 1],
        conversationId,
        transport: via,
        parts,
        ...(parts > 1 ? { messageIds } : {}),
      };
    }

    node.on("close", (removed: boolean, done: () => void) => {
      sends.closing();
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
