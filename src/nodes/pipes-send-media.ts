import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import { PipesError } from "../lib/errors";
import { prepareMedia } from "../lib/media";
import { ERROR_CODES } from "../lib/protocol";
import { resolveRoute } from "../lib/reply";
import { configFor, hasFailureWires, readAll, readField } from "./shared/io";
import { handleSends } from "./shared/send-node";
import { nodeNumbers } from "./shared/settings";
import { translator } from "./shared/i18n";
import { misconfiguredStatus } from "./shared/status";
import type { PipesSendMediaDef } from "./shared/types";

/**
 * pipes-send-media: images, audio, video, documents and stickers through POST /v1/messages/send.
 * A Buffer is streamed as base64; an https URL or a media id is passed through. REST does not use
 * the socket, so this node does not open it; its status shows its own requests.
 */
const nodeInit = (RED: NodeAPI): void => {
  const t = translator(RED, "pipes-send-media");

  function PipesSendMedia(this: Node, def: PipesSendMediaDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const { values, problem: settingProblem } = nodeNumbers(def, ["timeout"]);
    const timeoutMs = values.timeout * 1000;
    const { config, problem } = configFor(RED, def.connection);
    const client = settingProblem ? undefined : config?.client;
    let pending = 0;

    if (settingProblem) node.status(misconfiguredStatus(settingProblem));
    else if (!client) node.status(misconfiguredStatus(problem ?? "no connection"));
    else node.status({});

    const sends = handleSends({
      node,
      failureWired: hasFailureWires(def.wires),
      client,
      refusal: settingProblem
        ? new PipesError(ERROR_CODES.INVALID_CONFIG, `not sent: ${settingProblem}`)
        : client
          ? undefined
          : new PipesError(ERROR_CODES.NOT_CONNECTED, `not sent: ${problem ?? "no connection configured"}`),
      send: sendMedia,
      started: () => {
        pending++;
        node.status({ fill: "yellow", shape: "ring", text: t("status.sending", { count: pending }) });
      },
      settled: (outcome) => {
        pending--;
        if ("sent" in outcome) node.status({ fill: "green", shape: "dot", text: t("status.sent", { kind: typeof outcome.sent.kind === "string" ? outcome.sent.kind : "media" }) });
        else node.status({ fill: "red", shape: "ring", text: t("status.failed", { code: outcome.error.code }) });
      },
    });

    async function sendMedia(msg: NodeMessageInFlow): Promise<Record<string, unknown>> {
      const [payload, caption, mimeType, fileName, conversationId] = await readAll([
        readField(RED, node, msg, def.media ?? "payload", def.mediaType ?? "msg"),
        readField(RED, node, msg, def.caption ?? "caption", def.captionType ?? "msg"),
        readField(RED, node, msg, def.mimetype ?? "mimetype", def.mimetypeType ?? "msg"),
        readField(RED, node, msg, def.filename ?? "filename", def.filenameType ?? "msg"),
        readField(RED, node, msg, def.conversationId, def.conversationIdType),
      ]);
      const route = resolveRoute({ conversationId }, (msg as { pipes?: unknown }).pipes, false);
      const media = prepareMedia({ payload, caption, mimeType, fileName });
      const result = await client!.send(
        { conversationId: route.conversationId, media: media.media, mimeType: media.mimeType, fileName: media.fileName, caption: media.caption },
        media.data,
        timeoutMs,
      );
      return { messageId: result.messageId, conversationId: result.conversationId ?? route.conversationId, kind: media.kind, mode: media.mode };
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      sends.closing();
      done();
    });
  }

  RED.nodes.registerType("pipes-send-media", PipesSendMedia);
};

export = nodeInit;
