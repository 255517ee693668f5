import type { Node, NodeAPI, NodeMessage } from "node-red";
import type { PipesClient } from "../../lib/client";
import { copyParsed } from "../../lib/copy";
import { toPipesError } from "../../lib/errors";
import {
  acceptsType,
  answerOf,
  immediatePayload,
  inboundPayload,
  messageKind,
  parseTypeFilter,
  type Answer,
  type InboundContent,
} from "../../lib/inbound";
import type { InboundMessage } from "../../lib/protocol";
import { shortText } from "../../lib/redact";
import { KeyedSerialQueue } from "../../lib/serial";
import type { Translate } from "./i18n";

/**
 * What every receiving node does with an inbound message, wherever it came from (the socket for
 * pipes-in, a webhook POST for pipes-webhook-in): the type filter, the payload (media downloaded
 * when asked, through the connection's download gate), order per conversation, and the msg
 * `{payload, topic, pipes, mimetype?, filename?, mediaError?}`. One conversion, so a flow can swap
 * one node for the other.
 */
export interface ReceiverOptions {
  types?: string[] | string;
  downloadMedia?: boolean;
  maxBytes: number;
  /** The receiving node's strings (warnings.media-not-downloaded, warnings.not-delivered). */
  t: Translate;
}

/** Returns the function to call with each message; `done` is told when its msg left (or failed). */
export function messageReceiver(
  RED: NodeAPI,
  node: Node,
  client: PipesClient,
  options: ReceiverOptions,
): (message: InboundMessage, done?: (err?: unknown) => void) => boolean {
  const accepted = parseTypeFilter(options.types);
  const downloader = options.downloadMedia === true ? { client, maxBytes: options.maxBytes } : undefined;
  const order = new KeyedSerialQueue();
  const { t } = options;

  // An answer to our buttons or list says so in msg.pipes.answer, whichever shape it came in.
  const emit = (message: InboundMessage, content: InboundContent, answer: Answer | undefined): void => {
    // Built property by property, not as an object literal: V8 tracks where a literal is made and,
    // once it sees those objects outlive young GCs (a msg lives until Pipes confirms its reply, and
    // under load that spans a GC), allocates every later msg from it straight in the old
    // generation. A msg there keeps its payload and msg.pipes alive through every young GC until a
    // full one: measured on the echo at 5,000 msg/s, young GCs then promoted ~375 KB each in some
    // runs, against ~30 KB in every run built like this (the floor: 3 KB), and their pauses are the
    // latency tail.
    const msg = {} as NodeMessage & Record<string, unknown>;
    msg._msgid = RED.util.generateId();
    msg.payload = content.payload;
    msg.topic = message.conversationId;
    msg.pipes = answer ? Object.assign(copyParsed(message), { answer }) : message;
    if (content.mimetype) msg.mimetype = content.mimetype;
    if (content.filename) msg.filename = content.filename;
    if (content.mediaError) {
      msg.mediaError = content.mediaError;
      node.warn(t("warnings.media-not-downloaded", { id: shortText(message.messageId), reason: content.mediaError.message }));
    }
    node.send(msg);
  };

  const failed = (message: InboundMessage, err: unknown): void => {
    node.error(t("warnings.not-delivered", { id: shortText(message.messageId), reason: toPipesError(err).message }));
  };

  /** Messages per conversation still in the chain below (waiting for, or in, a download). */
  const chained = new Map<string, number>();

  /** Handles one message; false when the type filter drops it. */
  return (message, done) => {
    // Read once: the filter, the payload and msg.pipes all need it.
    const answer = answerOf(message);
    if (!acceptsType(accepted, messageKind(message, answer))) return false;
    const conversationId = message.conversationId;
    // Nothing to download and nothing of this conversation in the chain: send it now. Same order
    // and content as through the chain, without its promises (several per message).
    if (!chained.has(conversationId)) {
      const content = immediatePayload(message, downloader, answer);
      if (content) {
        try {
          emit(message, content, answer);
          done?.();
        } catch (err) {
          failed(message, err);
          done?.(err);
        }
        return true;
      }
    }
    // Downloads are async: a per-conversation chain keeps a text from overtaking the image before it.
    chained.set(conversationId, (chained.get(conversationId) ?? 0) + 1);
    order
      .run(conversationId, async () => emit(message, await inboundPayload(message, downloader, answer), answer))
      .then(
        () => done?.(),
        (err: unknown) => {
          failed(message, err);
          done?.(err);
        },
      )
      .finally(() => {
        const left = (chained.get(conversationId) ?? 1) - 1;
        if (left > 0) chained.set(conversationId, left);
        else chained.delete(conversationId);
      });
    return true;
  };
}
