import { badInput, PipesError } from "./errors";
import { ERROR_CODES, LIMITS } from "./protocol";
import { splitText } from "./text";

/** What to do with a reply text over WhatsApp's 4096-character limit. */
export type LongTextMode = "split" | "reject";

/**
 * Turns a reply payload into the texts to send: strings as they are, numbers and booleans as
 * text; anything else (undefined, objects, Buffers, empty text) is a BAD_INPUT error. A text over
 * the limit is split on natural boundaries or refused, never truncated.
 */
export function prepareReplyParts(value: unknown, mode: LongTextMode, max: number = LIMITS.textMax): string[] {
  const text = replyText(value);
  if (text.length <= max) return [text];
  if (mode === "reject") {
    throw new PipesError(
      ERROR_CODES.TEXT_TOO_LONG,
      `text is ${text.length} characters; WhatsApp allows ${max} (turn on splitting to send it in parts)`,
    );
  }
  return splitText(text, max);
}

function replyText(value: unknown): string {
  if (typeof value === "string") {
    if (value.trim() === "") throw badInput("reply text is empty");
    return value;
  }
  if (typeof value === "number" && !Number.isFinite(value))
    throw badInput(`reply text is the number ${String(value)}; refusing to send it as text`);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === undefined || value === null) throw badInput("reply text is missing (msg.payload is empty)");
  if (Buffer.isBuffer(value)) throw badInput("reply text is a Buffer; convert it to a string first, or send it with pipes-send-media");
  throw badInput(`reply text must be a string, got ${Array.isArray(value) ? "an array" : typeof value}`);
}

export interface Route {
  conversationId: string;
  poolNumberId?: string;
  toNumber?: string;
}

/**
 * Where a reply goes: a value set on the node wins; an empty one takes the inbound event's
 * routing from `msg.pipes` (conversationId, poolNumberId, and fromNumber as the recipient).
 * A socket reply needs all three (docs/decisions/0003-reply-routing-fields.md); a REST send needs only the conversation.
 */
export function resolveRoute(node: Partial<Record<keyof Route, unknown>>, pipes: unknown, needsNumbers: boolean): Route {
  const fromMsg = readRouting(pipes);
  const conversationId = pick(node.conversationId, fromMsg.conversationId, "conversationId");
  const poolNumberId = pick(node.poolNumberId, fromMsg.poolNumberId, "poolNumberId");
  const toNumber = pick(node.toNumber, fromMsg.fromNumber, "toNumber");
  if (!conversationId || (needsNumbers && (!poolNumberId || !toNumber))) {
    const missing = [
      conversationId ? undefined : "conversationId",
      needsNumbers && !poolNumberId ? "poolNumberId" : undefined,
      needsNumbers && !toNumber ? "toNumber (msg.pipes.fromNumber)" : undefined,
    ].filter(Boolean);
    throw new PipesError(
      ERROR_CODES.MISSING_ROUTING,
      `cannot tell where to send: no ${missing.join(", ")} on the node or in msg.pipes (wire the msg from a pipes-in node, or set the node's fields)`,
    );
  }
  return { conversationId, poolNumberId, toNumber };
}

/** The routing fields of msg.pipes; a msg.pipes whose properties throw when read is BAD_INPUT. */
export function readRouting(pipes: unknown): { conversationId?: unknown; poolNumberId?: unknown; fromNumber?: unknown } {
  try {
    if (typeof pipes !== "object" || pipes === null) return {};
    const fields = pipes as Record<string, unknown>;
    return { conversationId: fields.conversationId, poolNumberId: fields.poolNumberId, fromNumber: fields.fromNumber };
  } catch (err) {
    throw badInput(`cannot read msg.pipes: ${err instanceof Error ? err.message : "it throws when read"}`);
  }
}

/** The node's value if set, else the msg's: text (numbers as text, trimmed) or undefined; anything else is BAD_INPUT. */
export function pick(fromNode: unknown, fromMsg: unknown, what: string): string | undefined {
  for (const value of [fromNode, fromMsg]) {
    if (value === undefined || value === null || value === "") continue;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw badInput(`${what} is the number ${String(value)}`);
      return String(value);
    }
    if (typeof value !== "string") throw badInput(`${what} must be a string, got ${typeof value}`);
    const trimmed = value.trim();
    if (trimmed) return trimmed;
  }
  return undefined;
}
