/**
 * The control API under /_emulator (JSON, no auth; loopback only): lets tests, scripts and curl users
 * inject inbound messages and inspect or steer the emulator. Bad input answers 400, never a crash.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ERROR_CODES, type InboundMessage } from "../lib/protocol";
import { bodyLimitFor, compactBase64, isBase64 } from "./base64";
import type { EmulatorContext } from "./context";
import type { AppDeliveryInfo } from "./app-delivery";
import type { DeliveryInfo, DeliveryInput } from "./delivery";
import { EmulatorInputError, EmulatorNotFoundError } from "./errors";
import { parseJsonObject, readBody, sendError, sendJson, sendTooLarge } from "./http-util";
import type { InjectedSendFailure } from "./rest-api";
import type { ConnectionInfo, InjectInput, RefusedRecord, SentRecord, WebhookDeliveryRecord, WebhookTestResult } from "./types";

export interface EmulatorState {
  now: number;
  connections: ConnectionInfo[];
  /** Offline queue length per tenant userId (tenants with an empty queue are listed with 0); an App's is `apps[].queue`. */
  queues: Record<string, number>;
  /** Never the API keys. */
  tenants: { userId: string; poolNumbers: { id: string; phoneNumber: string; label?: string }[] }[];
  /** BYON Apps (docs/decisions/0049-emulator-byon-apps.md); never their keys. */
  apps: { appId: string; slug: string; name: string; numbers: { id: string; phoneNumber: string; label?: string }[]; queue: number }[];
  /** `userId` is a tenant's or an App's id; `lastInboundAt` null: the user has not written (a template opened it). */
  conversations: { conversationId: string; userId: string; poolNumberId: string; fromNumber: string; lastInboundAt: number | null }[];
  /** Every pool number's delivery setting; never the webhook secrets. */
  delivery: DeliveryInfo[];
  /** Every App's webhook setting (docs/decisions/0055-emulator-app-webhooks.md); never the secrets. */
  appDelivery: AppDeliveryInfo[];
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
  setDelivery(poolNumberId: string, setting: DeliveryInput, userId?: string): DeliveryInfo;
  deliveryOf(poolNumberId: string, userId?: string): DeliveryInfo;
  deliveries(): DeliveryInfo[];
  testWebhook(poolNumberId: string, options?: { userId?: string; target?: { url: string; secret?: string } }): Promise<WebhookTestResult>;
  setAppDelivery(slug: string, setting: DeliveryInput): AppDeliveryInfo;
  appDeliveryOf(slug: string): AppDeliveryInfo;
  appDeliveries(): AppDeliveryInfo[];
  testAppWebhook(slug: string, options?: { target?: { url: string; secret?: string } }): Promise<WebhookTestResult>;
  webhookDeliveries(filter?: { poolNumberId?: string; conversationId?: string }): WebhookDeliveryRecord[];
  webhookFailures(filter?: { poolNumberId?: string; conversationId?: string }): WebhookDeliveryRecord[];
}

export const CONTROL_PREFIX = "/_emulator/";

type Method = "GET" | "POST" | "PUT";
/** `params` are the decoded path segments a pattern route captured. */
type Route = (body: Record<string, unknown>, url: URL, params: string[]) => unknown;

/**
 * /_emulator/delivery/:poolNumberId and /_emulator/delivery/:poolNumberId/test (docs/decisions/0041-emulator-webhook-delivery.md),
 * and the same for an App's webhook under /_emulator/app-delivery/:slug (docs/decisions/0055-emulator-app-webhooks.md).
 */
const PATTERN_ROUTES: { pattern: RegExp; methods: readonly Method[]; name: string }[] = [
  { pattern: /^delivery\/([^/]+)$/, methods: ["GET", "PUT"], name: "delivery/:poolNumberId" },
  { pattern: /^delivery\/([^/]+)\/test$/, methods: ["POST"], name: "delivery/:poolNumberId/test" },
  { pattern: /^app-delivery\/([^/]+)$/, methods: ["GET", "PUT"], name: "app-delivery/:slug" },
  { pattern: /^app-delivery\/([^/]+)\/test$/, methods: ["POST"], name: "app-delivery/:slug/test" },
];

export class ControlApi {
  private readonly getRoutes: Record<string, (url: URL) => unknown>;
  private readonly postRoutes: Record<string, Route>;
  private readonly patternRoutes: Record<string, Partial<Record<Method, Route>>>;

  constructor(
    private readonly ctx: EmulatorContext,
    target: ControlTarget,
  ) {
    this.getRoutes = {
      sent: (url) => target.sent({ conversationId: url.searchParams.get("conversationId") ?? undefined }),
      refused: (url) => target.refused({ conversationId: url.searchParams.get("conversationId") ?? undefined }),
      state: () => target.state(),
      delivery: () => target.deliveries(),
      "app-delivery": () => target.appDeliveries(),
      "webhook-deliveries": (url) => target.webhookDeliveries(recordFilter(url)),
      "webhook-failures": (url) => target.webhookFailures(recordFilter(url)),
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
    const userIdOf = (url: URL) => url.searchParams.get("userId") ?? undefined;
    this.patternRoutes = {
      "delivery/:poolNumberId": {
        GET: (_body, url, [poolNumberId]) => target.deliveryOf(poolNumberId, userIdOf(url)),
        // Checked in full by setDelivery (a RangeError names the bad field; 400).
        PUT: (body, url, [poolNumberId]) => target.setDelivery(poolNumberId, body as unknown as DeliveryInput, userIdOf(url)),
      },
      "delivery/:poolNumberId/test": {
        POST: (body, url, [poolNumberId]) => target.testWebhook(poolNumberId, { userId: userIdOf(url), ...testTarget(body) }),
      },
      "app-delivery/:slug": {
        GET: (_body, _url, [slug]) => target.appDeliveryOf(slug),
        PUT: (body, _url, [slug]) => target.setAppDelivery(slug, body as unknown as DeliveryInput),
      },
      "app-delivery/:slug/test": {
        POST: (body, _url, [slug]) => target.testAppWebhook(slug, testTarget(body)),
      },
    };
  }

  /** Handles any /_emulator/ path (except storage, which the REST side owns). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (!url.pathname.startsWith(CONTROL_PREFIX)) return false;
    const name = url.pathname.slice(CONTROL_PREFIX.length);
    const routes: Partial<Record<Method, Route>> = {};
    let params: string[] = [];
    if (Object.hasOwn(this.getRoutes, name)) {
      const get = this.getRoutes[name];
      routes.GET = (_body, routeUrl) => get(routeUrl);
    }
    if (Object.hasOwn(this.postRoutes, name)) routes.POST = this.postRoutes[name];
    for (const { pattern, name: routeName } of PATTERN_ROUTES) {
      const match = pattern.exec(name);
      if (!match) continue;
      try {
        params = match.slice(1).map((segment) => decodeURIComponent(segment));
      } catch {
        sendError(res, 400, ERROR_CODES.INVALID_REQUEST, `bad path segment in ${url.pathname}`);
        return true;
      }
      Object.assign(routes, this.patternRoutes[routeName]);
      break;
    }
    const allowed = Object.keys(routes);
    const route = routes[req.method as Method];
    if (route && req.method === "GET") {
      await this.answer(res, () => route({}, url, params));
      return true;
    }
    if (route) {
      // No key guards these routes; the server refuses foreign hosts and origins before any route
      // (see trustedRequest in server.ts), so a web page elsewhere cannot drive them.
      await this.withBody(req, res, url, params, route);
      return true;
    }
    if (allowed.length > 0) {
      sendError(res, 405, ERROR_CODES.INVALID_REQUEST, `${req.method} not allowed on ${url.pathname}`, { Allow: allowed.join(", ") });
      return true;
    }
    sendError(res, 404, "NOT_FOUND", `no control route ${url.pathname}`);
    return true;
  }

  /** Sends the route's result as JSON; bad input is 400, something that does not exist 404. */
  private async answer(res: ServerResponse, run: () => unknown): Promise<void> {
    try {
      sendJson(res, 200, await run());
    } catch (error) {
      if (error instanceof EmulatorNotFoundError) {
        sendError(res, 404, "NOT_FOUND", error.message);
        return;
      }
      if (error instanceof EmulatorInputError || error instanceof RangeError || error instanceof TypeError) {
        sendError(res, 400, ERROR_CODES.INVALID_REQUEST, error.message);
        return;
      }
      throw error;
    }
  }

  private async withBody(req: IncomingMessage, res: ServerResponse, url: URL, params: string[], route: Route): Promise<void> {
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
    await this.answer(res, () => route(json, url, params));
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

/** A test call's body: `{}` tests the saved webhook, `{ url, secret? }` another one. */
function testTarget(body: Record<string, unknown>): { target?: { url: string; secret?: string } } {
  const url = optionalString(body, "url");
  const secret = optionalString(body, "secret");
  if (url !== undefined) return { target: secret === undefined ? { url } : { url, secret } };
  if (secret !== undefined) throw new EmulatorInputError("secret without url: a test of the saved webhook uses its own secret");
  return {};
}

function recordFilter(url: URL): { poolNumberId?: string; conversationId?: string } {
  const filter: { poolNumberId?: string; conversationId?: string } = {};
  const poolNumberId = url.searchParams.get("poolNumberId");
  const conversationId = url.searchParams.get("conversationId");
  if (poolNumberId !== null) filter.poolNumberId = poolNumberId;
  if (conversationId !== null) filter.conversationId = conversationId;
  return filter;
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
