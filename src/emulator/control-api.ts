/**
 * The control API under /_emulator (JSON, no auth; loopback only): lets tests, scripts and curl users
 * inject inbound messages and inspect or steer the emulator. Bad input answers 400, never a crash.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ERROR_CODES, type InboundMessage } from "../lib/protocol";
import { bodyLimitFor, compactBase64, isBase64 } from "./base64";
import type { EmulatorContext } from "./context";
import { EmulatorInputError } from "./errors";
import { parseJsonObject, readBody, sendError, sendJson, sendTooLarge } from "./http-util";
import type { InjectedSendFailure } from "./rest-api";
import type { ConnectionInfo, InjectInput, RefusedRecord, SentRecord } from "./types";

export interface EmulatorState {
  now: number;
  connections: ConnectionInfo[];
  /** Offline queue length per tenant userId (tenants with an empty queue are listed with 0). */
  queues: Record<string, number>;
  /** Never the API keys. */
  tenants: { userId: string; poolNumbers: { id: string; phoneNumber: string; label?: string }[] }[];
  conversations: { conversationId: string; userId: string; poolNumberId: string; fromNumber: string; lastInboundAt: number }[];
}

/** What the control API drives: the PipesEmulator's public methods. */
export interface ControlTarget {
  inject(input: InjectInput): InboundMessage;
  sent(filter?: { conversationId?: string }): SentRecord[];
  refused(filter?: { conversationId?: string }): RefusedRecord[];
  advanceClock(ms: number): number;
  state(): EmulatorState;
  reset(): void;
  failNextSends(count: number, failure: InjectedSendFailure): void;
  dropConnections(): void;
}

export const CONTROL_PREFIX = "/_emulator/";

type Route = (body: Record<string, unknown>, url: URL) => unknown;

export class ControlApi {
  private readonly getRoutes: Record<string, (url: URL) => unknown>;
  private readonly postRoutes: Record<string, Route>;

  constructor(
    private readonly ctx: EmulatorContext,
    target: ControlTarget,
  ) {
    this.getRoutes = {
      sent: (url) => target.sent({ conversationId: url.searchParams.get("conversationId") ?? undefined }),
      refused: (url) => target.refused({ conversationId: url.searchParams.get("conversationId") ?? undefined }),
      state: () => target.state(),
    };
    this.postRoutes = {
      inbound: (body) => target.inject(injectInputFromJson(body)),
      clock: (body) => ({ now: target.advanceClock(requireNumber(body, "advanceMs")) }),
      reset: () => {
        target.reset();
        return { success: true };
      },
      "fail-sends": (body) => {
        const failure: InjectedSendFailure = { status: requireNumber(body, "status") };
        if (body.code !== undefined) failure.code = requireString(body, "code");
        if (body.retryAfterSeconds !== undefined) failure.retryAfterSeconds = requireNumber(body, "retryAfterSeconds");
        target.failNextSends(body.count === undefined ? 1 : requireNumber(body, "count"), failure);
        return { success: true };
      },
      "drop-connections": () => {
        target.dropConnections();
        return { success: true };
      },
    };
  }

  /** Handles any /_emulator/ path (except storage, which the REST side owns). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (!url.pathname.startsWith(CONTROL_PREFIX)) return false;
    const name = url.pathname.slice(CONTROL_PREFIX.length);
    const getRoute = Object.hasOwn(this.getRoutes, name) ? this.getRoutes[name] : undefined;
    const postRoute = Object.hasOwn(this.postRoutes, name) ? this.postRoutes[name] : undefined;
    if (req.method === "GET" && getRoute) {
      sendJson(res, 200, getRoute(url));
      return true;
    }
    if (req.method === "POST" && postRoute) {
      // No key guards these routes; the server refuses foreign hosts and origins before any route
      // (see trustedRequest in server.ts), so a web page elsewhere cannot drive them.
      await this.post(req, res, url, postRoute);
      return true;
    }
    if (getRoute || postRoute) {
      sendError(res, 405, ERROR_CODES.INVALID_REQUEST, `${req.method} not allowed on ${url.pathname}`, {
        Allow: getRoute ? "GET" : "POST",
      });
      return true;
    }
    sendError(res, 404, "NOT_FOUND", `no control route ${url.pathname}`);
    return true;
  }

  private async post(req: IncomingMessage, res: ServerResponse, url: URL, route: Route): Promise<void> {
    const body = await readBody(req, bodyLimitFor(this.ctx.options().maxMediaBytes));
    if (!body.ok) {
      sendTooLarge(res, ERROR_CODES.MEDIA_TOO_LARGE, "request body too large");
      return;
    }
    // An empty body is fine for routes without input (reset, drop-connections).
    const json = body.body.length === 0 ? {} : parseJsonObject(body.body);
    if (!json) {
      sendError(res, 400, ERROR_CODES.INVALID_REQUEST, "body must be a JSON object");
      return;
    }
    try {
      sendJson(res, 200, route(json, url));
    } catch (error) {
      if (error instanceof EmulatorInputError || error instanceof RangeError || error instanceof TypeError) {
        sendError(res, 400, ERROR_CODES.INVALID_REQUEST, error.message);
        return;
      }
      throw error;
    }
  }
}

function requireNumber(body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== "number" || !Number.isFinite(value)) throw new EmulatorInputError(`${field} must be a number`);
  return value;
}

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== "string") throw new EmulatorInputError(`${field} must be a string`);
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  return body[field] === undefined ? undefined : requireString(body, field);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** InjectInput from JSON: media.data arrives as a base64 string. */
export function injectInputFromJson(body: Record<string, unknown>): InjectInput {
  const input: InjectInput = { fromNumber: requireString(body, "fromNumber") };
  for (const field of ["apiKey", "fromName", "poolNumberId", "type", "text", "messageId", "timestamp"] as const) {
    const value = optionalString(body, field);
    if (value !== undefined) input[field] = value;
  }
  if (body.media !== undefined) input.media = mediaFromJson(body.media);
  if (body.location !== undefined) {
    if (!isRecord(body.location) || typeof body.location.latitude !== "number" || typeof body.location.longitude !== "number") {
      throw new EmulatorInputError("location needs numeric latitude and longitude");
    }
    input.location = body.location as unknown as InjectInput["location"];
  }
  if (body.contacts !== undefined) {
    if (!Array.isArray(body.contacts) || !body.contacts.every(isRecord))
      throw new EmulatorInputError("contacts must be an array of objects");
    input.contacts = body.contacts as unknown as InjectInput["contacts"];
  }
  if (body.reaction !== undefined) {
    if (!isRecord(body.reaction) || typeof body.reaction.messageId !== "string") throw new EmulatorInputError("reaction needs a messageId");
    input.reaction = body.reaction as unknown as InjectInput["reaction"];
  }
  if (body.answer !== undefined) {
    // Checked in full by inject(); here only that it is an object.
    if (!isRecord(body.answer)) throw new EmulatorInputError("answer must be an object");
    input.answer = body.answer as unknown as InjectInput["answer"];
  }
  if (body.extra !== undefined) {
    if (!isRecord(body.extra)) throw new EmulatorInputError("extra must be an object");
    input.extra = body.extra;
  }
  return input;
}

function mediaFromJson(media: unknown): NonNullable<InjectInput["media"]> {
  if (!isRecord(media)) throw new EmulatorInputError("media must be an object");
  const mimeType = requireString(media, "mimeType");
  if (media.unavailable === true) return { unavailable: true, mimeType };
  const data = compactBase64(requireString(media, "data"));
  if (!isBase64(data)) throw new EmulatorInputError("media.data must be base64");
  const fileName = optionalString(media, "fileName");
  return { data: Buffer.from(data, "base64"), mimeType, ...(fileName !== undefined ? { fileName } : {}) };
}
