import type { Node, NodeAPI } from "node-red";
import { prepareMedia } from "../lib/media";
import { resolveRoute } from "../lib/reply";
import { msgPipes, readFields } from "./shared/fields";
import { nodeStrings } from "./shared/i18n";
import { sendNode } from "./shared/send-node";
import type { PipesSendMediaDef } from "./shared/types";

/**
 * pipes-send-media: images, audio, video, documents and stickers through POST /v1/messages/send.
 * A Buffer is streamed as base64; an https URL or a media id is passed through. REST does not use
 * the socket, so this node does not open it; its status shows its own requests.
 */
const nodeInit = (RED: NodeAPI): void => {
  const strings = nodeStrings(RED, "pipes-send-media");

  function PipesSendMedia(this: Node, def: PipesSendMediaDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const fields = {
      payload: [def.media ?? "payload", def.mediaType ?? "msg"],
      caption: [def.caption ?? "caption", def.captionType ?? "msg"],
      mimeType: [def.mimetype ?? "mimetype", def.mimetypeType ?? "msg"],
      fileName: [def.filename ?? "filename", def.filenameType ?? "msg"],
      conversationId: [def.conversationId, def.conversationIdType],
    } as const;

    sendNode(RED, node, def, {
      strings,
      uses: "rest",
      describeSent: (sent) => (typeof sent.kind === "string" ? sent.kind : "media"),
      send: async (msg, { client, timeoutMs }) => {
        const { conversationId, ...media } = await readFields(RED, node, msg, fields);
        const route = resolveRoute({ conversationId }, msgPipes(msg), false);
        const prepared = prepareMedia(media);
        const result = await client.send(
          {
            conversationId: route.conversationId,
            media: prepared.media,
            mimeType: prepared.mimeType,
            fileName: prepared.fileName,
            caption: prepared.caption,
          },
          prepared.data,
          timeoutMs,
        );
        return {
          messageId: result.messageId,
          conversationId: result.conversationId ?? route.conversationId,
          kind: prepared.kind,
          mode: prepared.mode,
        };
      },
    });
  }

  RED.nodes.registerType("pipes-send-media", PipesSendMedia);
};

export = nodeInit;
