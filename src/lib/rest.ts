import { Readable } from "node:stream";
import { Agent, ProxyAgent, type Dispatcher } from "undici";
import { copyParsed } from "./copy";
import { PipesError } from "./errors";
import {
  ERROR_CODES,
  REST_PATHS,
  readRestError,
  restUrl,
  type AppSendRequest,
  type MetaSendResponse,
  type SendMessageRequest,
  type SendMessageResponse,
  type TemplateDefinition,
  type TemplateListResponse,
} from "./protocol";
import { redact } from "./redact";
import { KeyedSerialQueue } from "./serial";
import { proxyAuthorization, proxyFor } from "./proxy";
import { describeNetworkError, isProxyErrorCode, isTlsErrorCode, type TlsOptions } from "./tls";

export interface RestClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Time limit for one send, from the call to the answer: waiting behind earlier sends, retries and pauses included. */
  timeoutMs?: number;
  /** Attempts for retryable failures (429, 503, connection refused), including the first. */
  maxAttempts?: number;
  /** Longest pause honoured between attempts, whatever Retry-After asks for. */
  maxRetryDelayMs?: number;
  /** Delay before the first retry when the server gives no Retry-After; doubles each time. */
  retryBaseMs?: number;
  /** TLS settings (custom CA, client certificate, verification) for https. */
  tls?: TlsOptions;
  /** An explicit HTTP proxy (may carry user:password); without it the environment's proxy rules apply. */
  proxyUrl?: string;
  /** For tests: the undici dispatcher to use for every request instead of our own. */
  dispatcher?: Dispatcher;
}

export interface DownloadedMedia {
  data: Buffer;
  mimeType?: string;
}

/** A send body: JSON fields plus, for base64 media, the raw bytes (streamed, never one big string). */
export interface SendBody extends Omit<SendMessageRequest, "media"> {
  media?: string;
}

/**
 * The body of POST /v1/messages/passthrough: routing plus Meta's `type` and its object. A pool key
 * routes by conversation; an App key may instead name its number and the recipient (`poolNumberId`, `to`).
 */
export type PassthroughBody = {
  messaging_product: "whatsapp";
  type: string;
  [meta: string]: unknown;
} & ({ conversationId: string } | { poolNumberId: string; to: string });

/** A POST body: sends go in order per conversation, or per (number, recipient) when there is none yet. */
type JsonBody = { conversationId?: string; poolNumberId?: string; to?: string; toNumber?: string };
const orderKey = (body: JsonBody): string => body.conversationId ?? `${body.poolNumberId ?? ""} ${body.to ?? body.toNumber ?? ""}`;

/** Pages of templates read at most (Meta pages by 25 by default; we ask 100 a page). */
const MAX_TEMPLATE_PAGES = 10;

const RETRYABLE_STATUS = new Set([429, 503]);
/** Target origins whose dispatcher a client remembers (dispatcherFor). */
const MAX_ORIGINS = 16;
/** Errors raised before the server could have accepted the request: safe to retry. */
const CONNECT_ERRORS = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * REST client for POST /v1/messages/send and media download (undici). Every failure becomes a
 * PipesError with a code; the API key never appears in one. Sends are kept in order per conversation.
 */
export class PipesRestClient {
  private readonly options: Required<Omit<RestClientOptions, "dispatcher" | "tls" | "proxyUrl">> &
    Pick<RestClientOptions, "tls" | "proxyUrl">;
  private readonly fixedDispatcher: Dispatcher | undefined;
  /** One dispatcher per route: "direct", or a proxy URL (NO_PROXY is decided per target host). */
  private readonly dispatchers = new Map<string, Dispatcher>();
  /**
   * The dispatcher decided per target origin, for this client's life (a config node's, so a changed
   * setting or environment applies from the next deploy): the proxy rules read the environment,
   * which cost more than the rest of a small send.
   */
  private readonly dispatcherByOrigin = new Map<string, Dispatcher>();
  /** The API's send URLs by path, parsed once. */
  private readonly apiUrls = new Map<string, URL>();
  private readonly order = new KeyedSerialQueue();
  private readonly inFlight = new Set<RequestAbort>();
  private closed = false;

  constructor(options: RestClientOptions) {
    this.options = {
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxAttempts: options.maxAttempts ?? 3,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      retryBaseMs: options.retryBaseMs ?? 1000,
      tls: options.tls,
      proxyUrl: options.proxyUrl,
    };
    this.fixedDispatcher = options.dispatcher;
  }

  /** The dispatcher for a target: through the proxy that applies to it, or direct; with our TLS settings. */
  private dispatcherFor(url: URL): Dispatcher {
    if (this.fixedDispatcher) return this.fixedDispatcher;
    let dispatcher = this.dispatcherByOrigin.get(url.origin);
    if (!dispatcher) {
      // Bounded: the API host and the storage hosts of media downloads; an odd host per download
      // would only cost its decision again.
      if (this.dispatcherByOrigin.size >= MAX_ORIGINS) this.dispatcherByOrigin.clear();
      dispatcher = this.decideDispatcher(url);
      this.dispatcherByOrigin.set(url.origin, dispatcher);
    }
    return dispatcher;
  }

  private decideDispatcher(url: URL): Dispatcher {
    const proxy = proxyFor(url, this.options.proxyUrl);
    // The tls-config settings (a CA that replaces the system ones, a client certificate) are for the
    // Pipes.bot host; another host (the signed storage URL) is checked against the system CAs.
    const apiHost = url.origin === restUrl(this.options.baseUrl, "/").origin;
    const key = `${proxy ? proxy.href : "direct"} ${apiHost ? "api" : "other"}`;
    let dispatcher = this.dispatchers.get(key);
    if (!dispatcher) {
      const tls = apiHost ? (this.options.tls ?? {}) : {};
      dispatcher = proxy
        ? new ProxyAgent({
            uri: `${proxy.protocol}//${proxy.host}`,
            token: proxyAuthorization(proxy),
            requestTls: tls,
            connect: { timeout: 10_000 },
          })
        : new Agent({ connect: { timeout: 10_000, ...tls }, keepAliveTimeout: 10_000 });
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  /** Sends text or media into a conversation; `data` is base64-streamed as the `media` field. */
  send(body: SendBody, data?: Buffer, timeoutMs?: number): Promise<SendMessageResponse> {
    return this.post(REST_PATHS.send, body, data, timeoutMs);
  }

  /**
   * Forwards a Meta Cloud API message body (buttons, lists, location, ...) into a conversation:
   * POST /v1/messages/passthrough. The answer is Meta's (`messages[0].id`), read as a send's.
   */
  passthrough(body: PassthroughBody, timeoutMs?: number): Promise<SendMessageResponse> {
    const conversationId = typeof body.conversationId === "string" ? body.conversationId : undefined;
    return this.post(REST_PATHS.passthrough, body, undefined, timeoutMs).then((answer) => {
      const messages = (answer as { messages?: unknown }).messages;
      const first: unknown = Array.isArray(messages) ? messages[0] : undefined;
      const id = typeof first === "object" && first !== null ? (first as { id?: unknown }).id : undefined;
      const result = sentAs(answer, typeof id === "string" ? id : answer.messageId);
      result.conversationId = conversationId;
      return result;
    });
  }

  /** Plain text from an App's own number to any WhatsApp user: POST /v1/messages/app/send (App keys). */
  async appSend(body: AppSendRequest, timeoutMs?: number): Promise<SendMessageResponse> {
    const answer = await this.post(REST_PATHS.appSend, body, undefined, timeoutMs);
    const first = (answer as MetaSendResponse).messages?.[0];
    return sentAs(answer, typeof first?.id === "string" ? first.id : answer.messageId);
  }

  /** The templates of an App's number (GET /v1/pool-numbers/:id/templates, every page up to a bound). */
  async listTemplates(poolNumberId: string, timeoutMs?: number): Promise<TemplateDefinition[]> {
    // "." and ".." would survive encodeURIComponent and walk up the path.
    if (/^\.{1,2}$/.test(poolNumberId)) throw new PipesError(ERROR_CODES.BAD_INPUT, `'${poolNumberId}' is not a number id`);
    const limit = timeoutMs ?? this.options.timeoutMs;
    const deadline = Date.now() + limit;
    const templates: TemplateDefinition[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_TEMPLATE_PAGES; page++) {
      const url = restUrl(this.options.baseUrl, REST_PATHS.templates(poolNumberId));
      url.searchParams.set("limit", "100");
      if (after) url.searchParams.set("after", after);
      const answer = (await this.getJson(url, Math.max(1, deadline - Date.now()), limit)) as Partial<TemplateListResponse>;
      if (!Array.isArray(answer.data)) throw new PipesError(ERROR_CODES.HTTP_ERROR, "the template list has no data array", "server");
      for (const item of answer.data) if (isTemplateDefinition(item)) templates.push(item);
      after = answer.paging?.next ? answer.paging.cursors?.after : undefined;
      if (!after) break;
    }
    return templates;
  }

  private async getJson(url: URL, timeoutMs: number, limit: number): Promise<unknown> {
    const { response, release } = await this.timedCall(url, Math.min(timeoutMs, limit), {
      method: "GET",
      headers: { accept: "application/json", authorization: `Bearer ${this.options.apiKey}` },
    });
    let parsed: unknown;
    try {
      parsed = await readJson(response);
    } finally {
      release();
    }
    if (response.statusCode >= 200 && response.statusCode < 300 && typeof parsed === "object" && parsed !== null) return parsed;
    throw this.httpError(response, parsed);
  }

  /** One JSON POST into a conversation: in order per conversation, retried when safe, within one deadline. */
  private post(path: string, body: JsonBody, data: Buffer | undefined, timeoutMs: number | undefined): Promise<SendMessageResponse> {
    const limit = timeoutMs ?? this.options.timeoutMs;
    const deadline = Date.now() + limit;
    // One timer and one abort signal for the whole send. The deadline covers the wait behind
    // earlier sends to the same conversation, every attempt (its answer's body included) and the
    // pauses between them: at the deadline the request in flight is aborted and the send rejects at
    // once. A send that starts after its deadline gives up without a request; close() aborts it too.
    // One promise settled by whichever comes first (not a race of two promises and a finally:
    // three fewer promises per send).
    const controller = new RequestAbort();
    this.inFlight.add(controller);
    return new Promise<SendMessageResponse>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.inFlight.delete(controller);
      };
      const timer = setTimeout(() => {
        const error = timeoutError(limit);
        controller.abort(error);
        finish();
        reject(error);
      }, limit);
      this.order
        .run(orderKey(body), () => this.sendWithRetry(path, body, data, deadline, limit, controller))
        .then(
          (answer) => {
            finish();
            resolve(answer);
          },
          // sendWithRetry rejects with a PipesError only.
          (err: Error) => {
            finish();
            reject(err);
          },
        );
    });
  }

  private async sendWithRetry(
    path: string,
    body: JsonBody,
    data: Buffer | undefined,
    deadline: number,
    limit: number,
    controller: RequestAbort,
  ): Promise<SendMessageResponse> {
    for (let attempt = 1; ; attempt++) {
      if (deadline - Date.now() <= 0) throw timeoutError(limit);
      try {
        return await this.sendOnce(path, body, data, controller);
      } catch (err) {
        const error = err instanceof PipesError ? err : this.networkError(err);
        const retryable = error.retryable === true || (error.status !== undefined && RETRYABLE_STATUS.has(error.status));
        if (!retryable || attempt >= this.options.maxAttempts || this.closed) throw error;
        const backoff = this.options.retryBaseMs * 2 ** (attempt - 1);
        const pause = Math.min(error.retryAfterMs ?? backoff, this.options.maxRetryDelayMs);
        // A retry that could not finish before the deadline is not worth starting.
        if (Date.now() + pause >= deadline) throw error;
        await this.pause(pause);
      }
    }
  }

  /** One attempt; `controller` (the send's deadline, or close()) aborts it. */
  private async sendOnce(path: string, body: JsonBody, data: Buffer | undefined, controller: RequestAbort): Promise<SendMessageResponse> {
    const { payload, length } = encodeSendBody(body, data);
    let url = this.apiUrls.get(path);
    if (!url) this.apiUrls.set(path, (url = restUrl(this.options.baseUrl, path)));
    const init: CallInit = {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(length), authorization: `Bearer ${this.options.apiKey}` },
      body: payload,
    };
    const response = await this.call(url, init, controller);
    const parsed = await readJson(response);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      // A 2xx whose body is not an object (a number, a string) still means sent, without an id.
      const result = (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : {}) as SendMessageResponse;
      if (result.success === false) throw this.httpError(response, parsed);
      return result;
    }
    throw this.httpError(response, parsed);
  }

  /**
   * Downloads inbound media: GET the relative `downloadUrl` with the key, expect a 302 to a presigned
   * storage URL, and fetch that WITHOUT the key (it must never reach the storage host). A 200 on the
   * first request is used as it is. Stops reading past `maxBytes`.
   */
  download(downloadUrl: string, maxBytes: number, timeoutMs?: number): Promise<DownloadedMedia> {
    // A body that breaks off mid-read rejects with undici's own error: name it like any network failure.
    return this.downloadOnce(downloadUrl, maxBytes, timeoutMs).catch((err: unknown) => {
      throw err instanceof PipesError ? err : this.networkError(err);
    });
  }

  private async downloadOnce(downloadUrl: string, maxBytes: number, timeoutMs?: number): Promise<DownloadedMedia> {
    const limit = timeoutMs ?? this.options.timeoutMs;
    const source = this.apiUrl(downloadUrl);
    const first = await this.timedCall(source, limit, {
      method: "GET",
      headers: { authorization: `Bearer ${this.options.apiKey}` },
    });
    let response = first.response;
    if (response.statusCode >= 300 && response.statusCode < 400) {
      const location = response.headers.location;
      await response.body.dump();
      first.release();
      if (typeof location !== "string")
        throw new PipesError(ERROR_CODES.DOWNLOAD_FAILED, `media download answered ${response.statusCode} without a Location`, "server", {
          status: response.statusCode,
        });
      let target: URL;
      try {
        target = new URL(location, source);
      } catch {
        throw new PipesError(ERROR_CODES.DOWNLOAD_FAILED, "media download redirected to an invalid URL", "server", {
          status: response.statusCode,
        });
      }
      if (target.protocol !== "https:" && target.protocol !== "http:")
        throw new PipesError(ERROR_CODES.DOWNLOAD_FAILED, "media download redirected to a non-HTTP URL", "server");
      // The signed storage URL carries its own authorisation: never our key.
      const second = await this.timedCall(target, limit, { method: "GET", headers: {} });
      response = second.response;
      try {
        return await readMedia(response, maxBytes, (body) => this.httpError(response, body));
      } finally {
        second.release();
      }
    }
    try {
      return await readMedia(response, maxBytes, (body) => this.httpError(response, body));
    } finally {
      first.release();
    }
  }

  /** Aborts every request in flight and closes the connection pool. */
  async close(): Promise<void> {
    this.closed = true;
    for (const controller of this.inFlight) controller.abort(new PipesError(ERROR_CODES.STOPPED, "the node was stopped"));
    this.inFlight.clear();
    const owned = [...this.dispatchers.values()];
    this.dispatchers.clear();
    this.dispatcherByOrigin.clear();
    await Promise.all(owned.map((dispatcher) => dispatcher.destroy().catch(() => undefined)));
  }

  /**
   * An API URL the server handed us (the media `downloadUrl`), which will carry our key: only a
   * path on the configured host. `//other.host/x` and friends would otherwise resolve elsewhere.
   */
  private apiUrl(pathOrUrl: string): URL {
    const base = restUrl(this.options.baseUrl, "/");
    const absolute = /^[a-z][a-z0-9+.-]*:/i.test(pathOrUrl);
    const url = absolute
      ? new URL(pathOrUrl)
      : /^[/\\]{2}/.test(pathOrUrl) || !pathOrUrl.startsWith("/")
        ? undefined
        : restUrl(this.options.baseUrl, pathOrUrl);
    if (!url || url.origin !== base.origin) {
      throw new PipesError(
        ERROR_CODES.DOWNLOAD_FAILED,
        "the media download URL does not point at the configured Pipes.bot host; not sending the key there",
        "server",
      );
    }
    return url;
  }

  /** One HTTP request that `controller` aborts (with a PipesError as the reason: TIMEOUT, STOPPED). */
  private async call(url: URL, init: CallInit, controller: RequestAbort): Promise<Dispatcher.ResponseData> {
    if (this.closed) throw new PipesError(ERROR_CODES.STOPPED, "the node was stopped");
    try {
      // The dispatcher's own request(), as undici's top-level request(url, options) ends up calling
      // it: that wrapper re-parses the URL and copies the options on every send.
      return await this.dispatcherFor(url).request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: init.method,
        headers: init.headers,
        body: init.body,
        signal: controller,
      });
    } catch (err) {
      const reason: unknown = controller.reason;
      if (controller.aborted && reason instanceof PipesError) throw reason;
      throw this.networkError(err);
    }
  }

  /** One request with a time limit of its own (downloads), to be released once its body is read. */
  private async timedCall(url: URL, limitMs: number, init: CallInit): Promise<CallResult> {
    const controller = new RequestAbort();
    const timer = setTimeout(() => controller.abort(timeoutError(limitMs)), limitMs);
    this.inFlight.add(controller);
    const release = () => {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    };
    try {
      return { response: await this.call(url, init, controller), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  private networkError(err: unknown): PipesError {
    const { code, message } = describeNetworkError(err);
    const secrets = [this.options.apiKey, this.options.proxyUrl];
    if (isTlsErrorCode(code)) return new PipesError(ERROR_CODES.TLS_ERROR, redact(message, secrets));
    if (isProxyErrorCode(code)) return new PipesError(ERROR_CODES.PROXY_ERROR, redact(message, secrets));
    return new PipesError(ERROR_CODES.NETWORK_ERROR, redact(`network error${code ? ` (${code})` : ""}: ${message}`, secrets), "client", {
      retryable: code !== undefined && CONNECT_ERRORS.has(code),
    });
  }

  private httpError(result: { statusCode: number; headers: Record<string, string | string[] | undefined> }, body: unknown): PipesError {
    const status = result.statusCode;
    const { code, message } = readRestError(body);
    const retryAfterMs = parseRetryAfter(result.headers["retry-after"]);
    const fallback =
      status === 401
        ? ERROR_CODES.UNAUTHORIZED
        : status === 403
          ? ERROR_CODES.FORBIDDEN
          : status === 413
            ? ERROR_CODES.MEDIA_TOO_LARGE
            : status === 429
              ? ERROR_CODES.RATE_LIMITED
              : ERROR_CODES.HTTP_ERROR;
    // The server's own words, but never a whole page of them in a msg or a log line.
    const said = message && message.length > 500 ? `${message.slice(0, 500)}…` : message;
    const text = redact(said ?? `Pipes.bot answered HTTP ${status}`, [this.options.apiKey]);
    return new PipesError(code ?? fallback, text, "server", { status, retryAfterMs });
  }

  /** A pause between attempts that close() cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const controller = new RequestAbort();
      const finish = () => {
        clearTimeout(timer);
        this.inFlight.delete(controller);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      controller.once("abort", finish);
      this.inFlight.add(controller);
    });
  }
}

type AbortListener = () => void;

/**
 * Aborts one send (its deadline, or close()): a signal as undici takes one (`aborted`, `reason`,
 * an "abort" listener added with on/once and removed with removeListener), and nothing more.
 * Not an AbortController: with its AbortSignal ~3 µs per send to make and listen to, this ~0.15 µs
 * (measured, 300,000 of each). Not an EventEmitter either: its listener table and once() wrapper
 * are object literals in Node's own code, shared with every emitter in the process, and V8 learns
 * to allocate those in the old generation (most emitters live long: sockets, streams). There each
 * send's listener, and through it the whole request, outlived every young GC until a full one
 * (docs/performance.md). A send has one listener at a time; more are kept in a Set.
 */
class RequestAbort {
  aborted = false;
  reason: unknown;
  private listener: AbortListener | undefined;
  private more: Set<AbortListener> | undefined;

  on(event: string, listener: AbortListener): this {
    if (event !== "abort" || this.aborted) return this;
    if (!this.listener) this.listener = listener;
    else (this.more ??= new Set()).add(listener);
    return this;
  }

  /** The same as on(): "abort" happens once. */
  once(event: string, listener: AbortListener): this {
    return this.on(event, listener);
  }

  addListener(event: string, listener: AbortListener): this {
    return this.on(event, listener);
  }

  removeListener(event: string, listener: AbortListener): this {
    if (event !== "abort") return this;
    if (this.listener === listener) this.listener = undefined;
    else this.more?.delete(listener);
    return this;
  }

  off(event: string, listener: AbortListener): this {
    return this.removeListener(event, listener);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const { listener, more } = this;
    this.listener = undefined;
    this.more = undefined;
    listener?.();
    if (more) for (const each of more) each();
  }
}

/** What call() sends: the method, headers and body of one request. */
interface CallInit {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: Readable | Buffer;
}

interface CallResult {
  response: Dispatcher.ResponseData;
  release: () => void;
}

function timeoutError(limitMs: number): PipesError {
  return new PipesError(
    ERROR_CODES.TIMEOUT,
    `no answer from Pipes.bot within ${limitMs % 1000 === 0 ? limitMs / 1000 : (limitMs / 1000).toFixed(1)} s; the outcome is unknown`,
  );
}

export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Meta's answer read as a send's: its own fields, plus success and the message id. */
function sentAs(answer: SendMessageResponse, messageId: string | undefined): SendMessageResponse {
  const result = copyParsed(answer);
  result.success = true;
  result.messageId = messageId;
  return result;
}

async function readJson(result: Dispatcher.ResponseData): Promise<unknown> {
  const text = await result.body.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { message: text.slice(0, 200) };
  }
}

async function readMedia(
  result: Dispatcher.ResponseData,
  maxBytes: number,
  failure: (body: unknown) => PipesError,
): Promise<DownloadedMedia> {
  if (result.statusCode !== 200) {
    const error = failure(await readJson(result));
    throw new PipesError(
      error.code === ERROR_CODES.HTTP_ERROR ? ERROR_CODES.DOWNLOAD_FAILED : error.code,
      `media download failed: HTTP ${result.statusCode}`,
      "server",
      { status: result.statusCode },
    );
  }
  const declared = Number(result.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await result.body.dump();
    throw new PipesError(ERROR_CODES.MEDIA_TOO_LARGE, `media is ${declared} bytes; the download limit is ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of result.body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) {
      result.body.destroy();
      throw new PipesError(ERROR_CODES.MEDIA_TOO_LARGE, `media is over the download limit of ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  const contentType = result.headers["content-type"];
  return { data: Buffer.concat(chunks, size), mimeType: typeof contentType === "string" ? contentType.split(";")[0].trim() : undefined };
}

/**
 * Encodes the JSON send body. Without media it is one small Buffer: undici writes it with the
 * headers, where a stream costs a stream's machinery and a write of its own per request. With
 * media, a stream: the small fields through JSON.stringify, the media bytes as base64 in slices (a
 * multiple of 3 bytes, so the slices join into valid base64). This keeps a 16 MB upload from
 * existing as one 21 MB string plus copies.
 */
export function encodeSendBody(body: JsonBody | SendBody, data?: Buffer): { payload: Readable | Buffer; length: number } {
  if (!data) {
    const json = Buffer.from(JSON.stringify(body));
    return { payload: json, length: json.length };
  }
  const fields = JSON.stringify({ ...body, media: undefined });
  const head = Buffer.from(`${fields.slice(0, -1)}${fields === "{}" ? "" : ","}"media":"`);
  const tail = Buffer.from('"}');
  const base64Length = Math.ceil(data.length / 3) * 4;
  return { payload: Readable.from(streamed(head, data, tail)), length: head.length + base64Length + tail.length };
}

/**
 * 48 KiB of media per slice (64 KiB of base64). Small on purpose: Node hands a base64 string of
 * about 1 MB or more to V8 as an external string, which only a full GC frees, so 768 KiB slices
 * piled up the whole file again in dead strings (peak RSS 3.1x the file for 16 MB). Strings of
 * 64 KiB are young objects that the next scavenge frees. Same bytes on the wire.
 */
export const SEND_SLICE_BYTES = 3 * 16 * 1024;
function* streamed(head: Buffer, data: Buffer, tail: Buffer): Generator<Buffer> {
  yield head;
  for (let offset = 0; offset < data.length; offset += SEND_SLICE_BYTES) {
    yield Buffer.from(data.subarray(offset, offset + SEND_SLICE_BYTES).toString("base64"), "latin1");
  }
  yield tail;
}

function isTemplateDefinition(value: unknown): value is TemplateDefinition {
  if (typeof value !== "object" || value === null) return false;
  const t = value as Partial<TemplateDefinition>;
  return typeof t.name === "string" && typeof t.language === "string" && typeof t.status === "string" && Array.isArray(t.components);
}
