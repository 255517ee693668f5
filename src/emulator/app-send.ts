/**
 * POST /v1/messages/app/send (docs/protocol.md#byon-apps): text from an App's number to a phone number, answered with
 * Meta's send response. App keys only. Free-form text, so the user's 24-hour window with that number must be open: a
 * number that never wrote, or wrote too long ago, is refused with SERVICE_WINDOW_EXPIRED; a template opens nothing
 * (docs/decisions/0052-emulator-app-send-window.md).
 */
import { ERROR_CODES, LIMITS } from "../lib/protocol";
import type { EmulatorContext } from "./context";
import { windowOpen } from "./conversations";
import { newWamid } from "./ids";
import { metaSendResponse, resolveAppRoute, type PassthroughSuccess } from "./passthrough";
import type { SendFailure } from "./send-message";
import type { Tenant } from "./tenants";

const fail = (status: number, code: string, message: string): SendFailure => ({ ok: false, status, code, message });

export function processAppSend(
  ctx: EmulatorContext,
  account: Tenant,
  body: Record<string, unknown> | undefined,
): PassthroughSuccess | SendFailure {
  if (!account.app) return fail(403, ERROR_CODES.FORBIDDEN, "app/send needs an App key (ak_); a pool key replies in its conversations");
  if (!body) return fail(400, ERROR_CODES.INVALID_REQUEST, "body must be a JSON object");
  const route = resolveAppRoute(ctx, account, body.poolNumberId, body.toNumber, "toNumber");
  if ("ok" in route) return route;
  const { text } = body;
  if (typeof text !== "string" || text === "") return fail(400, ERROR_CODES.INVALID_REQUEST, "text is required");
  if (text.length > LIMITS.textMax) return fail(400, ERROR_CODES.TEXT_TOO_LONG, `text longer than ${LIMITS.textMax} characters`);
  const now = ctx.clock.now();
  const { conversation } = route;
  if (!conversation || !windowOpen(conversation, now, ctx.options().serviceWindowMs)) {
    return fail(
      403,
      ERROR_CODES.SERVICE_WINDOW_EXPIRED,
      conversation
        ? "service window closed (last inbound > 24h): send a template"
        : "this number has not written to the App's number: send a template first",
    );
  }
  const messageId = newWamid();
  return {
    ok: true,
    record: {
      messageId,
      via: "rest",
      userId: account.userId,
      conversationId: conversation.conversationId,
      poolNumberId: conversation.poolNumberId,
      toNumber: conversation.fromNumber,
      kind: "text",
      text,
      at: now,
    },
    response: metaSendResponse(conversation.fromNumber, messageId),
  };
}
