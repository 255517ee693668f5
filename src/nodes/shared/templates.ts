import type { NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../../lib/client";
import { badInput, PipesError } from "../../lib/errors";
import { ERROR_CODES, type TemplateDefinition } from "../../lib/protocol";
import { pick, prepareReplyParts, readRouting } from "../../lib/reply";
import { findTemplate, prepareTemplate, templateSlots } from "../../lib/templates";
import { msgPipes } from "./fields";

/**
 * What only an App key (ak_, the business's own number) may do, for pipes-send: send a template,
 * write first with text (POST /v1/messages/app/send) and list a number's templates
 * (docs/decisions/0054-template-sends.md). A pool key fails before anything is sent.
 */

type Values = Record<string, unknown>;

export function isTemplate(input: unknown): input is Record<string, unknown> {
  return typeof input === "object" && input !== null && !Array.isArray(input) && (input as { type?: unknown }).type === "template";
}

/** Where an App-key send goes. */
interface AppTarget {
  /** Into an existing conversation (the node's field, or the msg's own conversation). */
  conversationId?: string;
  /** The App's number it is sent from (needed to write to a phone number, and to check templates). */
  poolNumberId?: string;
  /** The recipient, digits only (Pipes' app/send and Meta's `to` take no "+"). */
  toNumber?: string;
}

/**
 * The node's routing fields win: a phone number (with the App's number) or a conversation id. Without
 * them the msg's own conversation (msg.pipes from a receiving node) is answered.
 */
function appTarget(v: Values, pipes: unknown, needsNumber: boolean): AppTarget {
  const fromMsg = readRouting(pipes);
  const poolNumberId = pick(v.poolNumberId, fromMsg.poolNumberId, "poolNumberId");
  const toNumber = pick(v.toNumber, undefined, "toNumber");
  const conversationId = pick(v.conversationId, undefined, "conversationId");
  if (toNumber) return { poolNumberId: required(poolNumberId, "poolNumberId (the App's number to send from)"), toNumber: digits(toNumber) };
  if (conversationId && !needsNumber) return { conversationId, poolNumberId };
  if (needsNumber) {
    // Writing first by app/send has no conversation form: the msg's sender is the recipient.
    const sender = pick(undefined, fromMsg.fromNumber, "msg.pipes.fromNumber");
    return { poolNumberId: required(poolNumberId, "poolNumberId"), toNumber: digits(required(sender, "toNumber (msg.pipes.fromNumber)")) };
  }
  const conversation = pick(undefined, fromMsg.conversationId, "msg.pipes.conversationId");
  if (conversation) return { conversationId: conversation, poolNumberId };
  throw new PipesError(
    ERROR_CODES.MISSING_ROUTING,
    "cannot tell where to send: set the node's phone number and the App's number (poolNumberId), or wire a msg from a receiving node (msg.pipes)",
  );
}

/**
 * Sends a template, checked against its definition when the number's templates can be read (a
 * failure to read them leaves the check to Pipes and WhatsApp: the send goes on unchecked).
 */
export async function sendTemplate(
  client: PipesClient,
  msg: NodeMessageInFlow,
  input: Record<string, unknown>,
  v: Values,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const refusal = client.appKeyRefusal("a template");
  if (refusal) throw refusal;
  let template = prepareTemplate(input);
  const target = appTarget(v, msgPipes(msg), false);
  const definition = target.poolNumberId ? await knownDefinition(client, target.poolNumberId, timeoutMs) : undefined;
  if (definition) template = prepareTemplate(input, findTemplate(definition, template.name, template.language.code));
  const routing = target.conversationId
    ? { conversationId: target.conversationId }
    : { poolNumberId: target.poolNumberId!, to: target.toNumber! };
  const result = await client.passthrough({ messaging_product: "whatsapp", ...routing, type: "template", template }, timeoutMs);
  return {
    messageId: result.messageId,
    kind: "template",
    template: template.name,
    language: template.language.code,
    ...describeTarget(target),
    checked: Boolean(definition),
    transport: "rest",
  };
}

/** The number's templates, or undefined when they cannot be read (the send then goes unchecked). */
async function knownDefinition(client: PipesClient, poolNumberId: string, timeoutMs: number): Promise<TemplateDefinition[] | undefined> {
  try {
    return await client.templates(poolNumberId, { timeoutMs: Math.min(timeoutMs, 10_000) });
  } catch (err) {
    // Stopping is not a reason to send anyway.
    if (err instanceof PipesError && err.code === ERROR_CODES.STOPPED) throw err;
    return undefined;
  }
}

/** `text` to any WhatsApp user from the App's number (POST /v1/messages/app/send). */
export async function writeFirst(
  client: PipesClient,
  msg: NodeMessageInFlow,
  text: unknown,
  v: Values,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const refusal = client.appKeyRefusal("writing first to a number");
  if (refusal) throw refusal;
  const [body] = prepareReplyParts(text, "reject");
  const target = appTarget(v, msgPipes(msg), true);
  const result = await client.appSend({ poolNumberId: target.poolNumberId!, toNumber: target.toNumber!, text: body }, timeoutMs);
  return { messageId: result.messageId, kind: "text", ...describeTarget(target), transport: "rest" };
}

/** A number's templates with what each send must fill, for msg.sent.templates (kind "templates"). */
export async function listTemplates(
  client: PipesClient,
  msg: NodeMessageInFlow,
  v: Values,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const refusal = client.appKeyRefusal("listing templates");
  if (refusal) throw refusal;
  const poolNumberId = required(pick(v.poolNumberId, readRouting(msgPipes(msg)).poolNumberId, "poolNumberId"), "poolNumberId");
  const templates = await client.templates(poolNumberId, { maxAgeMs: 0, timeoutMs });
  return {
    kind: "templates",
    poolNumberId,
    templates: templates.map((definition) => ({ ...definition, slots: templateSlots(definition) })),
  };
}

function describeTarget(target: AppTarget): Record<string, string> {
  const out: Record<string, string> = {};
  if (target.conversationId) out.conversationId = target.conversationId;
  if (target.poolNumberId) out.poolNumberId = target.poolNumberId;
  if (target.toNumber) out.toNumber = `+${target.toNumber}`;
  return out;
}

function required(value: string | undefined, what: string): string {
  if (!value) throw new PipesError(ERROR_CODES.MISSING_ROUTING, `cannot tell where to send: no ${what} on the node or in msg.pipes`);
  return value;
}

/** "+55 (11) 99999-0000" -> "5511999990000"; anything but 6 to 15 digits is refused. */
function digits(phone: string): string {
  const plain = phone.replace(/[\s().-]/g, "").replace(/^\+/, "");
  if (!/^\d{6,15}$/.test(plain))
    throw badInput(`'${phone.slice(0, 30)}' is not a phone number (digits with the country code, e.g. +5511999990000)`);
  return plain;
}
