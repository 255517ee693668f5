import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../lib/client";
import { badInput } from "../lib/errors";
import { prepareMessage, type PreparedMessage } from "../lib/messages";
import { resolveRoute } from "../lib/reply";
import { msgPipes, readFields, type FieldSpec } from "./shared/fields";
import { nodeStrings } from "./shared/i18n";
import { sendNode } from "./shared/send-node";
import type { RoutingFields, TypedInputType, UsesConnection } from "./shared/types";

/** One row of a list message as the editor stores it. */
interface ListRow {
  id: string;
  title: string;
  description?: string;
}

interface PipesSendDef extends UsesConnection, RoutingFields {
  /** What to send: one of the forms, or "msg" (the whole message from `message`, default msg.payload). */
  kind?: "msg" | "buttons" | "list" | "cta_url" | "location" | "contacts" | "reaction" | "raw";
  message?: string;
  messageType?: TypedInputType;
  body?: string;
  bodyType?: TypedInputType;
  header?: string;
  headerType?: TypedInputType;
  footer?: string;
  footerType?: TypedInputType;
  /** Reply buttons, as typed in the editor. */
  buttons?: { id: string; title: string }[];
  /** List: the label of the button that opens it, one section's title and rows. */
  listButton?: string;
  listButtonType?: TypedInputType;
  sectionTitle?: string;
  rows?: ListRow[];
  /** Link button: its text and address. */
  linkText?: string;
  linkTextType?: TypedInputType;
  url?: string;
  urlType?: TypedInputType;
  /** Location ("place" is its name: the node has a name of its own). */
  latitude?: string;
  latitudeType?: TypedInputType;
  longitude?: string;
  longitudeType?: TypedInputType;
  place?: string;
  placeType?: TypedInputType;
  address?: string;
  addressType?: TypedInputType;
  /** Contacts: one card from the form (several come from msg). */
  contactName?: string;
  contactNameType?: TypedInputType;
  contactPhone?: string;
  contactPhoneType?: TypedInputType;
  /** Reaction: the message reacted to (default msg.pipes.messageId) and the emoji (empty removes it). */
  reactTo?: string;
  reactToType?: TypedInputType;
  emoji?: string;
  emojiType?: TypedInputType;
  /** Check the limits only third-party SDK docs state (default true). */
  softLimits?: boolean;
  /** How a reaction travels: auto (a wamid. id by REST passthrough, a Pipes id by the socket), socket, passthrough. */
  reactVia?: "auto" | "socket" | "passthrough";
  timeout?: number | string;
  wires: string[][];
}

/**
 * pipes-send: every WhatsApp message kind beyond text and media (reply buttons, lists, link
 * buttons, location, contacts, reactions, any raw Meta body), checked against WhatsApp's limits
 * before sending (src/lib/messages.ts), sent into the conversation the msg came from. Output 1:
 * sent; output 2: failed. Everything but reactions goes through POST /v1/messages/passthrough; a
 * reaction to a received message goes over the socket (docs/decisions/0033).
 */
const nodeInit = (RED: NodeAPI): void => {
  const strings = nodeStrings(RED, "pipes-send");

  function PipesSend(this: Node, def: PipesSendDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const kind = def.kind ?? "msg";
    const reactVia = def.reactVia === "socket" || def.reactVia === "passthrough" ? def.reactVia : "auto";
    const softLimits = def.softLimits !== false;
    const field = (value: string | undefined, type: PipesSendDef["bodyType"], fallback?: FieldSpec): FieldSpec =>
      value === undefined && fallback ? fallback : [value, type];
    const fields = {
      message: field(def.message, def.messageType, ["payload", "msg"]),
      body: field(def.body, def.bodyType),
      header: field(def.header, def.headerType),
      footer: field(def.footer, def.footerType),
      button: field(def.listButton, def.listButtonType),
      text: field(def.linkText, def.linkTextType),
      url: field(def.url, def.urlType),
      latitude: field(def.latitude, def.latitudeType),
      longitude: field(def.longitude, def.longitudeType),
      name: field(def.place, def.placeType),
      address: field(def.address, def.addressType),
      contactName: field(def.contactName, def.contactNameType),
      contactPhone: field(def.contactPhone, def.contactPhoneType),
      messageId: field(def.reactTo, def.reactToType, ["pipes.messageId", "msg"]),
      emoji: field(def.emoji, def.emojiType),
      conversationId: field(def.conversationId, def.conversationIdType),
      poolNumberId: field(def.poolNumberId, def.poolNumberIdType),
      toNumber: field(def.toNumber, def.toNumberType),
    } as const;
    // Kind "msg" takes the whole message from one field: the form's fields are not read for it.
    const msgFields = {
      message: fields.message,
      conversationId: fields.conversationId,
      poolNumberId: fields.poolNumberId,
      toNumber: fields.toNumber,
    };

    sendNode(RED, node, def, {
      strings,
      uses: "socket",
      send: async (msg, { client, timeoutMs }) => {
        if (kind === "msg") {
          const values = await readFields(RED, node, msg, msgFields);
          return send(client, msg, prepareMessage(values.message, { softLimits }), values, timeoutMs);
        }
        const values = await readFields(RED, node, msg, fields);
        return send(client, msg, prepareMessage(fromForm(values), { softLimits }), values, timeoutMs);
      },
    });

    /** The friendly message the node's form describes. */
    function fromForm(v: Record<keyof typeof fields, unknown>): Record<string, unknown> {
      const frame = { body: v.body, header: v.header, footer: v.footer };
      switch (kind) {
        case "buttons":
          return { type: "buttons", ...frame, buttons: def.buttons ?? [] };
        case "list":
          return { type: "list", ...frame, button: v.button, sections: [{ title: def.sectionTitle || undefined, rows: def.rows ?? [] }] };
        case "cta_url":
          return { type: "cta_url", ...frame, text: v.text, url: v.url };
        case "location":
          return { type: "location", latitude: v.latitude, longitude: v.longitude, name: v.name, address: v.address };
        case "contacts":
          return { type: "contacts", contacts: [{ name: v.contactName, phones: v.contactPhone ? [v.contactPhone] : [] }] };
        case "reaction":
          return { type: "reaction", messageId: v.messageId, emoji: v.emoji ?? "" };
        default:
          // "raw" has no form: its Meta body comes from the msg.
          return { type: "raw", message: v.message };
      }
    }

    async function send(
      client: PipesClient,
      msg: NodeMessageInFlow,
      prepared: PreparedMessage,
      v: Record<"conversationId" | "poolNumberId" | "toNumber", unknown>,
      timeoutMs: number,
    ): Promise<Record<string, unknown>> {
      const pipes = msgPipes(msg);
      const reaction = prepared.reaction;
      const bySocket = reaction && (reactVia === "socket" || (reactVia === "auto" && !reaction.messageId.startsWith("wamid.")));
      const route = resolveRoute(
        { conversationId: v.conversationId, poolNumberId: v.poolNumberId, toNumber: v.toNumber },
        pipes,
        Boolean(bySocket),
      );
      if (reaction && bySocket) {
        const status = await client.react(
          { conversationId: route.conversationId, poolNumberId: route.poolNumberId!, toNumber: route.toNumber!, ...reaction },
          { timeoutMs, owner: node },
        );
        return { messageId: status.messageId, conversationId: route.conversationId, kind: prepared.kind, transport: "ws" };
      }
      if (reaction && !reaction.messageId.startsWith("wamid.")) {
        throw badInput(
          `a reaction by REST passthrough needs WhatsApp's message id (wamid.…); '${reaction.messageId.slice(0, 40)}' is a Pipes id: react via the socket`,
        );
      }
      const result = await client.passthrough(
        { conversationId: route.conversationId, messaging_product: "whatsapp", type: prepared.type, [prepared.type]: prepared.content },
        timeoutMs,
      );
      return { messageId: result.messageId, conversationId: route.conversationId, kind: prepared.kind, transport: "rest" };
    }
  }

  RED.nodes.registerType("pipes-send", PipesSend);
};

export = nodeInit;
