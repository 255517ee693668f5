/**
 * The REST side (docs/protocol.md#media-download, #sending-messages, #byon-apps): POST /v1/messages/send, POST
 * /v1/messages/passthrough (Meta bodies, docs/decisions/0035-emulator-passthrough-validation.md; templates, 0051), an App's
 * POST /v1/messages/app/send (0052) and /v1/pool-numbers/:id/templates (0050), GET /v1/media/download/:mediaId (302 to a
 * presigned URL) and the emulator's stand-in for object storage, GET /_emulator/storage/:token.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ERROR_CODES } from "../lib/protocol";
import { bodyLimitFor } from "./base64";
import type { EmulatorContext } from "./context";
import { parseJsonObject, readBody, sendError, sendJson, sendTooLarge } from "./http-util";
import { maskKey } from "../lib/redact";
import { processSend } from "./send-message";
import { processPassthrough } from "./passthrough";
import { processAppSend } from "./app-send";
import { PASSTHROUGH_TYPES } from "./meta-validator";
import { TemplateApi, TEMPLATES_PATH } from "./template-api";
import { TenantRegistry, type Tenant } from "./tenants";
import { mediaKindFor, mimeTypeFromFileName } from "../lib/media";
import type { RefusedRecord, SentKind } from "./types";

export const STORAGE_PATH_PREFIX = "/_emulator/storage/";

export interface InjectedSendFailure {
  status: number;
  code?: string;
  retryAfterSeconds?: number;
}

const DEFAULT_CODE_BY_STATUS: Record<number, string> = {
  400: ERROR_CODES.INVALID_REQUEST,
  401: ERROR_CODES.UNAUTHORIZED,
  403: ERROR_CODES.FORBIDDEN,
  404: ERROR_CODES.CONVERSATION_NOT_FOUND,
  413: ERROR_CODES.MEDIA_TOO_LARGE,
  429: ERROR_CODES.RATE_LIMITED,
};

export class RestApi {
  private injected: { remaining: number; failure: InjectedSendFailure } | undefined;
  /** Presigned downloads in progress (a test can watch how many a client runs at once). */
  private storageActive = 0;

  private readonly templates: TemplateApi;

  constructor(private readonly ctx: EmulatorContext) {
    this.templates = new TemplateApi(ctx);
  }

  /** The next `count` sends (authenticated POST /v1/messages/send, /app/send or /passthrough) answer `failure` instead. */
  failNextSends(count: number, failure: InjectedSendFailure): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError("failNextSends needs an integer count >= 0");
    if (!failure || !Number.isInteger(failure.status) || failure.status < 400 || failure.status > 599) {
      throw new RangeError("failNextSends needs an HTTP error status (400-599)");
    }
    if (failure.retryAfterSeconds !== undefined && !(Number.isFinite(failure.retryAfterSeconds) && failure.retryAfterSeconds >= 0)) {
      throw new RangeError("retryAfterSeconds must be a number >= 0");
    }
    this.injected = count > 0 ? { remaining: count, failure: { ...failure } } : undefined;
  }

  clearInjectedFailures(): void {
    this.injected = undefined;
  }

  /** Handles the request if the route is ours; returns false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (path === "/v1/messages/send" && req.method === "POST") {
      await this.send(req, res);
      return true;
    }
    if (path === "/v1/messages/app/send" && req.method === "POST") {
      await this.appSend(req, res);
      return true;
    }
    if (path === "/v1/messages/passthrough" && req.method === "POST") {
      await this.passthrough(req, res);
      return true;
    }
    const templates = TEMPLATES_PATH.exec(path);
    if (templates) {
      const account = this.authenticate(req, res);
      if (account) await this.templates.handle(req, res, url, account, templates);
      return true;
    }
    if (path.startsWith("/v1/media/download/") && req.method === "GET") {
      this.download(req, res, path.slice("/v1/media/download/".length));
      return true;
    }
    if (path.startsWith(STORAGE_PATH_PREFIX) && req.method === "GET") {
      this.storage(req, res, path.slice(STORAGE_PATH_PREFIX.length));
      return true;
    }
    return false;
  }

  private authenticate(req: IncomingMessage, res: ServerResponse): Tenant | undefined {
    const key = TenantRegistry.bearerKey(req.headers.authorization);
    const tenant = this.ctx.tenants().byApiKey(key);
    if (!tenant) {
      this.ctx.log(`rest: ${req.method} ${req.url?.split("?")[0]} refused 401 (key ${maskKey(key ?? "")})`);
      sendError(res, 401, ERROR_CODES.UNAUTHORIZED, "missing or invalid API key");
    }
    return tenant;
  }

  /**
   * Authenticates and reads a send's JSON body; answers the request itself (401, 413, an injected failure) and resolves
   * undefined when there is nothing more to do.
   */
  private async readSend(
    req: IncomingMessage,
    res: ServerResponse,
    what: "send" | "passthrough",
  ): Promise<{ tenant: Tenant; json: Record<string, unknown> | undefined } | undefined> {
    const tenant = this.authenticate(req, res);
    if (!tenant) return undefined;
    const maxMediaBytes = this.ctx.options().maxMediaBytes;
    const body = await readBody(req, bodyLimitFor(maxMediaBytes));
    if (!body.ok) {
      this.ctx.log(`rest: ${what} refused 413, body over the size limit`);
      const message = `request body too large (media limit ${maxMediaBytes} bytes)`;
      this.recordRefusal(tenant, undefined, 413, ERROR_CODES.MEDIA_TOO_LARGE, message, what);
      sendTooLarge(res, ERROR_CODES.MEDIA_TOO_LARGE, message);
      return undefined;
    }
    const json = parseJsonObject(body.body);
    if (this.injected) {
      const { failure } = this.injected;
      if (--this.injected.remaining <= 0) this.injected = undefined;
      const code = failure.code ?? DEFAULT_CODE_BY_STATUS[failure.status] ?? "INTERNAL_ERROR";
      const headers: Record<string, string> =
        failure.retryAfterSeconds !== undefined ? { "Retry-After": String(failure.retryAfterSeconds) } : {};
      this.ctx.log(`rest: ${what} answered with injected failure ${failure.status} ${code}`);
      this.recordRefusal(tenant, json, failure.status, code, "injected failure (failNextSends)", what);
      sendError(res, failure.status, code, "injected failure (failNextSends)", headers);
      return undefined;
    }
    return { tenant, json };
  }

  private async send(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await this.readSend(req, res, "send");
    if (!read) return;
    const { tenant, json } = read;
    const outcome = processSend(this.ctx, tenant, json);
    if (!outcome.ok) {
      this.ctx.log(`rest: send refused ${outcome.status} ${outcome.code}: ${outcome.message}`);
      this.recordRefusal(tenant, json, outcome.status, outcome.code, outcome.message);
      sendError(res, outcome.status, outcome.code, outcome.message);
      return;
    }
    const { record } = outcome;
    this.ctx.store.recordSent(record);
    this.ctx.log(`rest: sent ${record.kind} ${record.messageId} on ${record.conversationId}`);
    this.ctx.emit("sent", structuredClone(record));
    sendJson(res, 200, { success: true, messageId: record.messageId, conversationId: record.conversationId });
  }

  /** An App's text to a phone number (docs/decisions/0052-emulator-app-send-window.md): Meta's answer on success. */
  private async appSend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await this.readSend(req, res, "send");
    if (!read) return;
    const { tenant, json } = read;
    const outcome = processAppSend(this.ctx, tenant, json);
    if (!outcome.ok) {
      this.ctx.log(`rest: app/send refused ${outcome.status} ${outcome.code}: ${outcome.message}`);
      this.recordRefusal(tenant, json, outcome.status, outcome.code, outcome.message);
      sendError(res, outcome.status, outcome.code, outcome.message);
      return;
    }
    const { record } = outcome;
    this.ctx.store.recordSent(record);
    this.ctx.log(`rest: app/send sent ${record.messageId} on ${record.conversationId}`);
    this.ctx.emit("sent", structuredClone(record));
    sendJson(res, 200, outcome.response);
  }

  /** Meta bodies (docs/decisions/0035-emulator-passthrough-validation.md): Pipes' checks, then Meta's, then Meta's answer. */
  private async passthrough(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await this.readSend(req, res, "passthrough");
    if (!read) return;
    const { tenant, json } = read;
    const outcome = processPassthrough(this.ctx, tenant, json);
    if (outcome.ok) {
      const { record } = outcome;
      this.ctx.store.recordSent(record);
      this.ctx.log(`rest: passthrough sent ${record.kind} ${record.messageId} on ${record.conversationId}`);
      this.ctx.emit("sent", structuredClone(record));
      sendJson(res, 200, outcome.response);
      return;
    }
    if ("meta" in outcome) {
      const { meta } = outcome;
      this.ctx.log(`rest: passthrough refused 400 (#${meta.code}): ${meta.details}`);
      this.recordRefusal(tenant, json, 400, `WHATSAPP_${meta.code}`, meta.message, "passthrough");
      sendJson(res, 400, meta.body());
      return;
    }
    this.ctx.log(`rest: passthrough refused ${outcome.status} ${outcome.code}: ${outcome.message}`);
    this.recordRefusal(tenant, json, outcome.status, outcome.code, outcome.message, "passthrough");
    sendError(res, outcome.status, outcome.code, outcome.message);
  }

  /** Keeps what the bot tried to send (as far as the body says) for the refused log and its event. */
  private recordRefusal(
    tenant: Tenant,
    body: Record<string, unknown> | undefined,
    httpStatus: number,
    code: string,
    message: string,
    endpoint: "send" | "passthrough" = "send",
  ): void {
    const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
    const conversationId = str(body?.conversationId);
    const media = str(body?.media);
    const meta = endpoint === "passthrough" ? metaSummary(body) : undefined;
    const refused: RefusedRecord = {
      via: "rest",
      userId: tenant.userId,
      kind: meta?.kind ?? (media ? mediaKindFor(str(body?.mimeType) ?? mimeTypeFromFileName(str(body?.fileName))) : "text"),
      code,
      message,
      httpStatus,
      at: this.ctx.clock.now(),
    };
    if (conversationId) {
      refused.conversationId = conversationId;
      const toNumber = this.ctx.store.conversations.getOwned(conversationId, tenant.userId)?.fromNumber;
      if (toNumber) refused.toNumber = toNumber;
    } else if (tenant.app) {
      // An App names the recipient instead (passthrough `to`, app/send `toNumber`).
      const to = str(body?.to) ?? str(body?.toNumber);
      if (to && /\d/.test(to)) refused.toNumber = `+${to.replace(/\D/g, "")}`;
    }
    const text = meta ? meta.text : media ? (str(body?.caption) ?? str(body?.text)) : str(body?.text);
    if (text) refused.text = text;
    this.ctx.emit("refused", this.ctx.store.refused.add(refused));
  }

  private download(req: IncomingMessage, res: ServerResponse, encodedId: string): void {
    const tenant = this.authenticate(req, res);
    if (!tenant) return;
    const mediaId = safeDecode(encodedId);
    const now = this.ctx.clock.now();
    // Unknown, expired and another tenant's media all answer 404 (UNSTATED, docs/decisions/0027-emulator-rest-statuses.md): no existence leak.
    const stored = mediaId === undefined ? undefined : this.ctx.store.media.getOwned(mediaId, tenant.userId, now);
    if (!stored) {
      sendError(res, 404, ERROR_CODES.MEDIA_NOT_FOUND, "media not found or expired");
      return;
    }
    const token = this.ctx.store.media.presign(stored.mediaId, now);
    res.writeHead(302, {
      Location: `${this.ctx.baseUrl()}${STORAGE_PATH_PREFIX}${token}`,
      "Content-Length": "0",
      "Cache-Control": "no-store",
    });
    res.end();
  }

  private storage(req: IncomingMessage, res: ServerResponse, token: string): void {
    // Object storage refuses a second auth mechanism on a presigned URL; so do we, so a client that
    // forwards its Bearer header across the redirect finds out here and not in production (docs/decisions/0015-media-download-redirect.md).
    if (req.headers.authorization !== undefined) {
      sendError(res, 400, ERROR_CODES.INVALID_REQUEST, "presigned URL: Authorization header not allowed");
      return;
    }
    const stored = this.ctx.store.media.redeem(token, this.ctx.clock.now());
    if (!stored) {
      sendError(res, 403, ERROR_CODES.FORBIDDEN, "presigned URL expired or invalid");
      return;
    }
    this.storageActive++;
    this.ctx.emit("storage", { active: this.storageActive });
    res.once("close", () => {
      this.storageActive--;
      this.ctx.emit("storage", { active: this.storageActive });
    });
    const delay = this.ctx.options().storageDelayMs;
    if (delay > 0) setTimeout(() => this.serveStored(res, stored), delay);
    else this.serveStored(res, stored);
  }

  private serveStored(res: ServerResponse, stored: { mimeType: string; bytes: Buffer; fileName?: string }): void {
    if (res.destroyed) return;
    const headers: Record<string, string> = {
      "Content-Type": stored.mimeType,
      "Content-Length": String(stored.bytes.length),
    };
    if (stored.fileName) headers["Content-Disposition"] = `attachment; filename*=UTF-8''${encodeURIComponent(stored.fileName)}`;
    res.writeHead(200, headers);
    res.end(stored.bytes);
  }
}

/** A passthrough body (a Meta `type` and its object) as far as the refused log shows it: its kind and any text in it. */
function metaSummary(body: Record<string, unknown> | undefined): { kind: SentKind; text?: string } | undefined {
  const type = body?.type;
  if (typeof type !== "string" || !(PASSTHROUGH_TYPES as readonly string[]).includes(type)) return undefined;
  const content = body?.[type] as { body?: unknown; caption?: unknown; name?: unknown } | undefined;
  const inner = typeof content === "object" && content !== null ? content : {};
  const text =
    type === "text"
      ? inner.body
      : type === "interactive"
        ? (inner.body as { text?: unknown } | undefined)?.text
        : type === "template"
          ? typeof inner.name === "string" && `template ${inner.name}`
          : inner.caption;
  return { kind: type as SentKind, text: typeof text === "string" && text !== "" ? text : undefined };
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
