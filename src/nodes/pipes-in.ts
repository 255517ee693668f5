import type { Node, NodeAPI, NodeMessage } from "node-red";
import { acceptsType, answerOf, immediatePayload, inboundPayload, messageKind, parseTypeFilter, type InboundContent } from "../lib/inbound";
import type { InboundMessage } from "../lib/protocol";
import { KeyedSerialQueue } from "../lib/serial";
import { shortText } from "../lib/redact";
import { toPipesError } from "../lib/errors";
import { configFor } from "./shared/connection";
import { nodeStrings } from "./shared/i18n";
import { nodeNumbers } from "./shared/settings";
import { misconfiguredStatus, showConnectionStatus } from "./shared/status";
import type { PipesInDef } from "./shared/types";

/**
 * pipes-in: one msg per inbound WhatsApp message. msg.payload is the content, msg.topic the
 * conversation, msg.pipes the whole event. Media can be downloaded into a Buffer; messages stay in
 * order per conversation even while a download is in progress.
 */
const nodeInit = (RED: NodeAPI): void => {
  const { t, common } = nodeStrings(RED, "pipes-in");

  function PipesIn(this: Node, def: PipesInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const { values, problem: settingProblem } = nodeNumbers(common, def, ["maxMediaMB"]);
    const { config, problem } = configFor(RED, def.connection, common);
    const client = settingProblem ? undefined : config?.client;
    if (!client) {
      const why = settingProblem ?? problem ?? "no connection";
      node.status(misconfiguredStatus(why));
      if (def.connection) node.error(t("warnings.cannot-start", { why }));
      return;
    }
    const accepted = parseTypeFilter(def.types);
    const downloadMedia = def.downloadMedia === true;
    const maxBytes = Math.max(1, Math.floor(values.maxMediaMB * 1024 * 1024));
    const order = new KeyedSerialQueue();

    const downloader = downloadMedia ? { client, maxBytes } : undefined;

    const emit = (message: InboundMessage, content: InboundContent): void => {
      // An answer to our buttons or list says so in msg.pipes.answer, whichever shape it came in.
      const answer = answerOf(message);
      const msg: NodeMessage & Record<string, unknown> = {
        _msgid: RED.util.generateId(),
        payload: content.payload,
        topic: message.conversationId,
        pipes: answer ? { ...message, answer } : message,
      };
      if (content.mimetype) msg.mimetype = content.mimetype;
      if (content.filename) msg.filename = content.filename;
      if (content.mediaError) {
        msg.mediaError = content.mediaError;
        node.warn(t("warnings.media-not-downloaded", { id: shortText(message.messageId), reason: content.mediaError.message }));
      }
      node.send(msg);
    };

    const deliver = async (message: InboundMessage): Promise<void> => {
      emit(message, await inboundPayload(message, downloader));
    };

    const failed = (message: InboundMessage, err: unknown): void => {
      node.error(t("warnings.not-delivered", { id: shortText(message.messageId), reason: toPipesError(err).message }));
    };

    /** Messages per conversation still in the chain below (waiting for, or in, a download). */
    const chained = new Map<string, number>();

    const receive = (message: InboundMessage) => {
      if (!acceptsType(accepted, messageKind(message))) return;
      const conversationId = message.conversationId;
      // Nothing to download and nothing of this conversation in the chain: send it now. Same order
      // and content as through the chain, without its promises (several per message).
      if (!chained.has(conversationId)) {
        const content = immediatePayload(message, downloader);
        if (content) {
          try {
            emit(message, content);
          } catch (err) {
            failed(message, err);
          }
          return;
        }
      }
      // Downloads are async: a per-conversation chain keeps a text from overtaking the image before it.
      chained.set(conversationId, (chained.get(conversationId) ?? 0) + 1);
      order
        .run(conversationId, () => deliver(message))
        .catch((err: unknown) => failed(message, err))
        .finally(() => {
          const left = (chained.get(conversationId) ?? 1) - 1;
          if (left > 0) chained.set(conversationId, left);
          else chained.delete(conversationId);
        });
    };

    const stopStatus = showConnectionStatus(node, client, common);
    const removeReceiver = client.addReceiver(receive);
    client.acquireSocket(node);

    node.on("close", (removed: boolean, done: () => void) => {
      stopStatus();
      removeReceiver();
      client.releaseSocket(node, removed).then(done, () => done());
    });
  }

  RED.nodes.registerType("pipes-in", PipesIn);
};

export = nodeInit;
