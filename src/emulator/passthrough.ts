/**
 * POST /v1/messages/passthrough: a Meta Cloud API message body (interactive, location, contacts, reaction, template; text
 * and media too). Pipes' own checks come first, with the answers of POST /v1/messages/send (400 INVALID_REQUEST, 404
 * CONVERSATION_NOT_FOUND, 403 SERVICE_WINDOW_EXPIRED); then the body is checked as Meta would, and a refusal is Meta's
 * error body, forwarded with status 400 (docs/decisions/0035-emulator-passthrough-validation.md).
 *
 * A pool key names a conversation (`conversationId`); an App key names one too, or its number and the recipient
 * (`poolNumberId`, `to`, docs/protocol.md#byon-apps). Templates need an App key; they go out whatever the window, and one
 * to a number that never wrote starts the conversation without opening its window
 * (docs/decisions/0051-emulator-template-sends.md).
 */
import { ERROR_CODES } from "../lib/protocol";
import type { EmulatorContext } from "./context";
import { windowOpen, type Conversation } from "./conversations";
import { newWamid } from "./ids";
import { MetaError, validateMetaBody, type ValidMetaMessage } from "./meta-validator";
import type { SendFailure } from "./send-message";
import type { Tenant } from "./tenants";
import type { SentRecord } from "./types";

/** Meta's answer to a send, which Pipes forwards (also POST /v1/messages/app/send's). */
export interface MetaSendResponse {
  messaging_product: "whatsapp";
  contacts: { input: string; wa_id: string }[];
  messages: { id: string }[];
}

export interface PassthroughSuccess {
  ok: true;
  record: SentRecord;
  response: MetaSendResponse;
}

export type PassthroughOutcome = PassthroughSuccess | SendFailure | { ok: false; meta: MetaError };

const fail = (status: number, code: string, message: string): SendFailure => ({ ok: false, status, code, message });

/** Where an App send goes: its number and the recipient, and their conversation if there is one yet. */
export interface AppRoute {
  poolNumberId: string;
  /** "+" and digits, as the socket shows phone numbers. */
  toNumber: string;
  conversation?: Conversation;
}

/**
 * An App send's `poolNumberId` and recipient, checked: the number must be the App's and the recipient a phone number
 * (digits, an optional leading "+"; Meta's `to` and app/send's `toNumber` carry none).
 */
export function resolveAppRoute(
  ctx: EmulatorContext,
  app: Tenant,
  poolNumberId: unknown,
  to: unknown,
  toField: string,
): AppRoute | SendFailure {
  if (typeof poolNumberId !== "string" || poolNumberId === "") return fail(400, ERROR_CODES.INVALID_REQUEST, "poolNumberId is required");
  if (typeof to !== "string" || !/^\+?\d{6,15}$/.test(to.replace(/[\s-]/g, ""))) {
    return fail(400, ERROR_CODES.INVALID_REQUEST, `${toField} must be a phone number (digits, country code first)`);
  }
  if (!ctx.tenants().poolNumber(app, poolNumberId))
    return fail(403, ERROR_CODES.FORBIDDEN, `pool number ${poolNumberId} is not this App's`);
  const toNumber = `+${to.replace(/\D/g, "")}`;
  return { poolNumberId, toNumber, conversation: ctx.store.conversations.find(app.userId, poolNumberId, toNumber) };
}

/** Meta's send answer for a message to `toNumber`. */
export function metaSendResponse(toNumber: string, messageId: string): MetaSendResponse {
  const digits = toNumber.replace(/\D/g, "");
  return { messaging_product: "whatsapp", contacts: [{ input: digits, wa_id: digits }], messages: [{ id: messageId }] };
}

export function processPassthrough(ctx: EmulatorContext, tenant: Tenant, body: Record<string, unknown> | undefined): PassthroughOutcome {
  if (!body) return fail(400, ERROR_CODES.INVALID_REQUEST, "body must be a JSON object");
  const isTemplate = body.type === "template";
  if (isTemplate && !tenant.app) {
    return fail(403, ERROR_CODES.FORBIDDEN, "template messages need an App key (ak_); a pool key cannot send them");
  }
  const route = routeOf(ctx, tenant, body);
  if ("ok" in route) return route;
  const now = ctx.clock.now();
  // Only a template may go to someone whose window is closed, or who never wrote (docs/protocol.md#service-window).
  if (!isTemplate && !(route.conversation && windowOpen(route.conversation, now, ctx.options().serviceWindowMs))) {
    return fail(
      403,
      ERROR_CODES.SERVICE_WINDOW_EXPIRED,
      route.conversation
        ? "service window closed (last inbound > 24h)"
        : "the user has not written to this number: only a template may start the conversation",
    );
  }

  const message: Record<string, unknown> = { ...body };
  delete message.conversationId;
  delete message.poolNumberId;
  const conversationId = route.conversation?.conversationId;
  let valid: ValidMetaMessage;
  try {
    valid = validateMetaBody(message, {
      softLimits: ctx.options().softLimits,
      isSentMessage: (id) => conversationId !== undefined && ctx.store.messages.isOutbound(conversationId, id),
      findTemplate: tenant.app ? (name, language) => ctx.store.templates.find(route.poolNumberId, name, language, now) : undefined,
    });
  } catch (error) {
    if (error instanceof MetaError) return { ok: false, meta: error };
    throw error;
  }

  // A template to someone who never wrote starts the conversation; it does not open the window (the user's answer does).
  const conversation = route.conversation ?? ctx.store.conversations.openOutbound(tenant.userId, route.poolNumberId, route.toNumber, now);
  const messageId = newWamid();
  const record: SentRecord = {
    messageId,
    via: "rest",
    userId: tenant.userId,
    conversationId: conversation.conversationId,
    poolNumberId: conversation.poolNumberId,
    toNumber: conversation.fromNumber,
    kind: valid.kind,
    message: structuredClone(message),
    at: now,
  };
  if (valid.text !== undefined) record.text = valid.text;
  if (valid.caption !== undefined) record.caption = valid.caption;
  if (valid.media) record.media = valid.media;
  if (valid.reaction) record.reaction = valid.reaction;
  if (valid.template) record.template = valid.template;
  return { ok: true, record, response: metaSendResponse(conversation.fromNumber, messageId) };
}

/** The conversation a pool key names, or what an App key names (a conversation, or its number and `to`). */
function routeOf(ctx: EmulatorContext, tenant: Tenant, body: Record<string, unknown>): AppRoute | SendFailure {
  const { conversationId } = body;
  if (tenant.app && (conversationId === undefined || conversationId === "")) {
    if (body.messaging_product !== "whatsapp") return fail(400, ERROR_CODES.INVALID_REQUEST, "messaging_product 'whatsapp' is required");
    return resolveAppRoute(ctx, tenant, body.poolNumberId, body.to, "to");
  }
  if (typeof conversationId !== "string" || conversationId === "") {
    return fail(400, ERROR_CODES.INVALID_REQUEST, "conversationId is required");
  }
  const conversation = ctx.store.conversations.getOwned(conversationId, tenant.userId);
  if (!conversation) return fail(404, ERROR_CODES.CONVERSATION_NOT_FOUND, "conversation not found");
  return { poolNumberId: conversation.poolNumberId, toNumber: conversation.fromNumber, conversation };
}
