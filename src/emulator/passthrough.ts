/**
 * POST /v1/messages/passthrough: a Meta Cloud API message body (interactive, location, contacts, reaction; text and media
 * too) for a conversation. Pipes' own checks come first, with the answers of POST /v1/messages/send (400 INVALID_REQUEST
 * for a body without conversationId, 404 CONVERSATION_NOT_FOUND, 403 SERVICE_WINDOW_EXPIRED); then the body is checked
 * as Meta would, and a refusal is Meta's error body, forwarded with status 400
 * (docs/decisions/0035-emulator-passthrough-validation.md).
 */
import { ERROR_CODES } from "../lib/protocol";
import type { EmulatorContext } from "./context";
import { windowOpen } from "./conversations";
import { newWamid } from "./ids";
import { MetaError, validateMetaBody, type ValidMetaMessage } from "./meta-validator";
import type { SendFailure } from "./send-message";
import type { Tenant } from "./tenants";
import type { SentRecord } from "./types";

export interface PassthroughSuccess {
  ok: true;
  record: SentRecord;
  /** Meta's answer, forwarded. */
  response: { messaging_product: "whatsapp"; contacts: { input: string; wa_id: string }[]; messages: { id: string }[] };
}

export type PassthroughOutcome = PassthroughSuccess | SendFailure | { ok: false; meta: MetaError };

const fail = (status: number, code: string, message: string): SendFailure => ({ ok: false, status, code, message });

export function processPassthrough(ctx: EmulatorContext, tenant: Tenant, body: Record<string, unknown> | undefined): PassthroughOutcome {
  if (!body) return fail(400, ERROR_CODES.INVALID_REQUEST, "body must be a JSON object");
  const { conversationId } = body;
  if (typeof conversationId !== "string" || conversationId === "")
    return fail(400, ERROR_CODES.INVALID_REQUEST, "conversationId is required");
  const conversation = ctx.store.conversations.getOwned(conversationId, tenant.userId);
  if (!conversation) return fail(404, ERROR_CODES.CONVERSATION_NOT_FOUND, "conversation not found");
  const now = ctx.clock.now();
  if (!windowOpen(conversation, now, ctx.options().serviceWindowMs)) {
    return fail(403, ERROR_CODES.SERVICE_WINDOW_EXPIRED, "service window closed (last inbound > 24h)");
  }

  const message: Record<string, unknown> = { ...body };
  delete message.conversationId;
  let valid: ValidMetaMessage;
  try {
    valid = validateMetaBody(message, {
      softLimits: ctx.options().softLimits,
      isSentMessage: (id) => ctx.store.messages.isOutbound(conversationId, id),
    });
  } catch (error) {
    if (error instanceof MetaError) return { ok: false, meta: error };
    throw error;
  }

  const messageId = newWamid();
  const record: SentRecord = {
    messageId,
    via: "rest",
    userId: tenant.userId,
    conversationId,
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
  const digits = conversation.fromNumber.replace(/\D/g, "");
  return {
    ok: true,
    record,
    response: { messaging_product: "whatsapp", contacts: [{ input: digits, wa_id: digits }], messages: [{ id: messageId }] },
  };
}
