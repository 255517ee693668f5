import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../lib/client";
import { partFailure } from "../lib/errors";
import { prepareReplyParts, resolveRoute, type LongTextMode, type Route } from "../lib/reply";
import { msgPipes, readFields } from "./shared/fields";
import { nodeStrings } from "./shared/i18n";
import { sendNode } from "./shared/send-node";
import type { PipesReplyDef } from "./shared/types";

/**
 * pipes-reply: sends msg.payload as a text reply into the conversation the msg came from, over the
 * socket (whatsapp_reply, answered by reply_status) or over REST. Output 1: sent; output 2: failed.
 */
const nodeInit = (RED: NodeAPI): void => {
  const strings = nodeStrings(RED, "pipes-reply");

  function PipesReply(this: Node, def: PipesReplyDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const transport = def.transport === "rest" ? "rest" : "ws";
    const longText: LongTextMode = def.longText === "reject" ? "reject" : "split";
    const fields = {
      text: [def.text ?? "payload", def.textType ?? "msg"],
      conversationId: [def.conversationId, def.conversationIdType],
      poolNumberId: [def.poolNumberId, def.poolNumberIdType],
      toNumber: [def.toNumber, def.toNumberType],
    } as const;

    sendNode(RED, node, def, {
      strings,
      uses: transport === "ws" ? "socket" : "rest",
      describeSent: () => "",
      // With every field answered at once (msg, str, num, env, ...) the reply is queued in the same
      // tick, without a promise per field.
      send: (msg, { client, timeoutMs }) => {
        const values = readFields(RED, node, msg, fields);
        return values instanceof Promise
          ? values.then((v) => sendReply(client, msg, v, timeoutMs))
          : sendReply(client, msg, values, timeoutMs);
      },
    });

    function sendReply(
      client: PipesClient,
      msg: NodeMessageInFlow,
      values: Record<keyof typeof fields, unknown>,
      timeoutMs: number,
    ): Promise<Record<string, unknown>> {
      // A user-scoped socket that no pipes-in reads is never opened (it would collect the offline
      // queue for nobody): socket replies then go over REST, and msg.sent.transport says so.
      const overSocket = transport === "ws" && client.repliesOverSocket;
      const route = resolveRoute(values, msgPipes(msg), overSocket);
      const parts = prepareReplyParts(values.text, longText);
      if (!overSocket) return sendRest(client, route, parts, timeoutMs);
      // All parts are queued at once so no other reply into this conversation lands between them.
      const replies = parts.map((part) => ({
        conversationId: route.conversationId,
        poolNumberId: route.poolNumberId!,
        toNumber: route.toNumber!,
        text: part,
      }));
      return client.reply(replies, { timeoutMs, owner: node }).then((statuses) => {
        const messageIds: string[] = [];
        for (const status of statuses) {
          if (status.messageId) messageIds.push(status.messageId);
        }
        return sent(route.conversationId, parts.length, messageIds, "ws");
      });
    }

    async function sendRest(client: PipesClient, route: Route, parts: string[], timeoutMs: number): Promise<Record<string, unknown>> {
      const messageIds: string[] = [];
      for (const part of parts) {
        const result = await client
          .send({ conversationId: route.conversationId, text: part }, undefined, timeoutMs)
          .catch((err: unknown) => {
            throw partFailure(err, messageIds.length, parts.length);
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
  }

  RED.nodes.registerType("pipes-reply", PipesReply);
};

export = nodeInit;
