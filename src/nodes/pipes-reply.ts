import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../lib/client";
import { PipesError } from "../lib/errors";
import { ERROR_CODES } from "../lib/protocol";
import { prepareReplyParts, resolveRoute, type LongTextMode, type Route } from "../lib/reply";
import { configFor, fail, hasFailureWires, positiveNumber, succeed, type Done, type Send } from "./shared/io";
import { misconfiguredStatus, showConnectionStatus } from "./shared/status";
import type { PipesReplyDef, TypedInputType } from "./shared/types";

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
     * The four fields, then the send. The fields are read as evaluate() in shared/io.ts reads them
     * (same calls, same errors), but a field Node-RED answers at once (msg, str, num, env, ...) is
     * not wrapped in a promise: with every field answered at once, the reply is queued in the same
     * tick, without 4 promises and a Promise.all per message. Failures still arrive as a rejection.
     */
    function reply(client: PipesClient, msg: NodeMessageInFlow): Promise<Record<string, unknown>> {
      const fields = [
        read(msg, def.text ?? "payload", def.textType ?? "msg"),
        read(msg, def.conversationId, def.conversationIdType),
        read(msg, def.poolNumberId, def.poolNumberIdType),
        read(msg, def.toNumber, def.toNumberType),
      ];
      if (fields.every(isRead)) {
        try {
          return sendReply(client, msg, fields.map((field) => (field as { value: unknown }).value));
        } catch (err) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what was thrown, as the async version rejected
          return Promise.reject(err);
        }
      }
      return Promise.all(fields.map(settle)).then((values) => sendReply(client, msg, values));
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

    /**
     * One typedInput field, as shared/io.ts evaluate() reads it: empty is undefined; a Node-RED
     * error is a BAD_INPUT PipesError; a throw is passed on as it is. Settled at once when Node-RED
     * calls back at once, else a promise.
     */
    function read(msg: NodeMessageInFlow, value: string | undefined, type: TypedInputType | undefined): Field {
      if (value === undefined || value === "") return EMPTY;
      let field: Field | undefined;
      let later: ((result: Field) => void) | undefined;
      try {
        RED.util.evaluateNodeProperty(value, type ?? "str", node, msg, (err: Error | null, result: unknown) => {
          const settled: Field = err ? { ok: false, error: new PipesError("BAD_INPUT", `cannot read ${type ?? "str"} '${value}': ${err.message}`) } : { ok: true, value: result };
          if (later) later(settled);
          else field ??= settled;
        });
      } catch (err) {
        return field ?? { ok: false, error: err };
      }
      if (field) return field;
      return new Promise<Field>((resolve) => {
        later = (settled) => {
          later = () => undefined; // the first answer counts, as with a promise
          resolve(settled);
        };
      }).then(settle);
    }

    node.on("close", (removed: boolean, done: () => void) => {
      stopStatus();
      if (client && transport === "ws") client.releaseSocket(node, removed).then(done, () => done());
      else done();
    });
  }

  RED.nodes.registerType("pipes-reply", PipesReply);
};

type Field = { ok: true; value: unknown } | { ok: false; error: unknown } | Promise<unknown>;
const EMPTY: Field = { ok: true, value: undefined };

function isRead(field: Field): boolean {
  return !(field instanceof Promise) && field.ok;
}

/** A field as a promise of its value (rejected with its error). */
function settle(field: Field): Promise<unknown> {
  if (field instanceof Promise) return field;
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what Node-RED threw, as evaluate() rejects
  return field.ok ? Promise.resolve(field.value) : Promise.reject(field.error);
}

/** For a split text, say how many parts went out before the failure (REST parts go one by one). */
function partial(err: unknown, sent: number, total: number): unknown {
  if (total > 1 && err instanceof PipesError) {
    return new PipesError(err.code, `${err.message} (part ${sent + 1} of ${total}; ${sent} sent before it, the rest not sent)`, err.source, { status: err.status });
  }
  return err;
}

export = nodeInit;
