import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../lib/client";
import { badInput } from "../lib/errors";
import { prepareMessage, type PreparedMessage } from "../lib/messages";
import { isTemplate, listTemplates, sendTemplate, writeFirst } from "./shared/templates";
import { registerTemplateRoutes } from "./shared/template-routes";
import { resolveRoute } from "../lib/reply";
import { msgPipes, readFields, type FieldSpec } from "./shared/fields";
import { nodeStrings } from "./shared/i18n";
import { sendNode } from "./shared/send-node";
import type { RoutingFields, TypedInputType, UsesConnection } from "./shared/types";

/**
 * What the node sends: one of the forms, "msg" (the whole message from `message`, default
 * msg.payload), "text" (write first, App keys) or "templates" (list a number's templates).
 */
type Kind = "msg" | "buttons" | "list" | "cta_url" | "location" | "contacts" | "reaction" | "raw" | "template" | "text" | "templates";
type Values = Record<string, unknown>;

/** A typedInput value as the editor stores it in a list (a template's slots). */
interface TypedValue {
  value?: string;
  type?: TypedInputType;
}

/** One row of a list message as the editor stores it. */
interface ListRow {
  id: string;
  title: string;
  description?: string;
}

interface PipesSendDef extends UsesConnection, RoutingFields {
  kind?: Kind;
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
  /** Template: its name and language, and one typedInput per slot (chosen in the editor's picker). */
  templateName?: string;
  templateNameType?: TypedInputType;
  templateLanguage?: string;
  templateLanguageType?: TypedInputType;
  templateHeader?: TypedValue;
  templateBody?: TypedValue[];
  templateButtons?: TypedValue[];
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
    const bodySlots = slotFields("body", def.templateBody);
    const buttonSlots = slotFields("button", def.templateButtons);
    /** Every typedInput of the form; a kind reads only the ones it names below (plus the routing). */
    const allFields: Record<string, FieldSpec> = {
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
      templateName: field(def.templateName, def.templateNameType),
      templateLanguage: field(def.templateLanguage, def.templateLanguageType),
      templateHeader: field(def.templateHeader?.value, def.templateHeader?.type),
      ...bodySlots,
      ...buttonSlots,
    };
    // A template's body and button values, one field each (body0, body1, ..., button0, ...), named once.
    function slotFields(prefix: string, values: TypedValue[] | undefined): Record<string, FieldSpec> {
      return Object.fromEntries((Array.isArray(values) ? values : []).map((v, i) => [`${prefix}${i}`, field(v?.value, v?.type)]));
    }
    const bodyNames = Object.keys(bodySlots);
    const buttonNames = Object.keys(buttonSlots);

    /**
     * What each kind of the form reads and the message it makes: one place for both, so a msg is
     * read for the fields its kind uses and nothing else (a reaction's default msg.pipes.messageId
     * must not fail a template written to a number).
     */
    const forms: Record<Kind, { fields: string[]; build(v: Values): unknown }> = {
      msg: { fields: ["message"], build: (v) => v.message },
      raw: { fields: ["message"], build: (v) => ({ type: "raw", message: v.message }) },
      // The interactive kinds name body, header and footer one by one: a spread of a shared part
      // would copy it through V8's slower clone path on every message.
      buttons: {
        fields: ["body", "header", "footer"],
        build: (v) => ({ type: "buttons", body: v.body, header: v.header, footer: v.footer, buttons: def.buttons ?? [] }),
      },
      list: {
        fields: ["body", "header", "footer", "button"],
        build: (v) => ({
          type: "list",
          body: v.body,
          header: v.header,
          footer: v.footer,
          button: v.button,
          sections: [{ title: def.sectionTitle || undefined, rows: def.rows ?? [] }],
        }),
      },
      cta_url: {
        fields: ["body", "header", "footer", "text", "url"],
        build: (v) => ({ type: "cta_url", body: v.body, header: v.header, footer: v.footer, text: v.text, url: v.url }),
      },
      location: {
        fields: ["latitude", "longitude", "name", "address"],
        build: (v) => ({ type: "location", latitude: v.latitude, longitude: v.longitude, name: v.name, address: v.address }),
      },
      contacts: {
        fields: ["contactName", "contactPhone"],
        build: (v) => ({ type: "contacts", contacts: [{ name: v.contactName, phones: v.contactPhone ? [v.contactPhone] : [] }] }),
      },
      reaction: { fields: ["messageId", "emoji"], build: (v) => ({ type: "reaction", messageId: v.messageId, emoji: v.emoji ?? "" }) },
      template: {
        fields: ["templateName", "templateLanguage", "templateHeader", ...bodyNames, ...buttonNames],
        build: (v) => ({
          type: "template",
          name: v.templateName,
          language: v.templateLanguage,
          header: v.templateHeader,
          body: bodyNames.map((name) => v[name]),
          buttons: buttonNames.map((name) => v[name]),
        }),
      },
      // Writing first: the text is the node's body, else its message (msg.payload by default).
      text: { fields: ["body", "message"], build: (v) => v.body ?? v.message },
      // Listing templates builds nothing: it reads only the number (routing).
      templates: { fields: [], build: () => undefined },
    };
    const form = forms[kind] ?? forms.msg;
    const specs: Record<string, FieldSpec> = {
      conversationId: field(def.conversationId, def.conversationIdType),
      poolNumberId: field(def.poolNumberId, def.poolNumberIdType),
      toNumber: field(def.toNumber, def.toNumberType),
    };
    for (const name of form.fields) specs[name] = allFields[name];

    sendNode(RED, node, def, {
      strings,
      uses: "socket",
      // Listing templates is a read: the message is not handled until something is sent for it.
      settlesHandling: kind !== "templates",
      send: async (msg, { client, timeoutMs }) => {
        const values = await readFields(RED, node, msg, specs);
        if (kind === "text") return writeFirst(client, msg, form.build(values), values, timeoutMs);
        if (kind === "templates") return listTemplates(client, msg, values, timeoutMs);
        const input = form.build(values);
        if (isTemplate(input)) return sendTemplate(client, msg, input, values, timeoutMs);
        const prepared = prepareMessage(input, { softLimits });
        return send(client, msg, prepared, values, timeoutMs);
      },
    });

    async function send(
      client: PipesClient,
      msg: NodeMessageInFlow,
      prepared: PreparedMessage,
      v: Values,
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
  registerTemplateRoutes(RED);
};

export = nodeInit;
