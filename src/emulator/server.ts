/**
 * PipesEmulator: one http.Server on loopback that plays the Pipes.bot API (WebSocket + REST) plus a
 * control API, composed from the gateway, REST and control modules around one shared state.
 */
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { ERROR_CODES, type InboundMessage } from "../lib/protocol";
import { EmulatorClock } from "./clock";
import type { EmulatorContext } from "./context";
import { ControlApi, type ControlTarget, type EmulatorState } from "./control-api";
import { AppDeliverySettings, type AppDeliveryInfo } from "./app-delivery";
import {
  checkSecret,
  checkWebhookUrl,
  DeliverySettings,
  describeSetting,
  resolveDeliveryInput,
  type DeliveryInfo,
  type DeliveryInput,
  type DeliverySetting,
  type WebhookSetting,
} from "./delivery";
import { sendError } from "./http-util";
import { buildInbound } from "./inbound";
import { resolveOptions, type EmulatorOptions, type ResolvedOptions } from "./options";
import { RestApi, type InjectedSendFailure } from "./rest-api";
import { EventFeed, type FeedStatus } from "./event-feed";
import { PhonePage } from "./phone-page";
import { EmulatorStore } from "./store";
import { TenantRegistry } from "./tenants";
import type {
  ConnectionInfo,
  EmulatorEvents,
  InboundOutcome,
  InjectInput,
  RefusedRecord,
  SentRecord,
  WebhookDeliveryRecord,
  WebhookTestResult,
} from "./types";
import { WebhookDispatcher } from "./webhook";
import { WsGateway } from "./ws-gateway";

/** What POST /_emulator/delivery/:poolNumberId/test may send to instead of the saved webhook. */
export interface WebhookTestTarget {
  url: string;
  secret?: string;
}

export class PipesEmulator extends EventEmitter<EmulatorEvents> implements ControlTarget {
  private options: ResolvedOptions;
  private tenants: TenantRegistry;
  private readonly clock = new EmulatorClock();
  private readonly store: EmulatorStore;
  private readonly gateway: WsGateway;
  private readonly rest: RestApi;
  private readonly control: ControlApi;
  private readonly feed: EventFeed;
  private readonly phone: PhonePage;
  private readonly delivery: DeliverySettings;
  private readonly appDelivery: AppDeliverySettings;
  private readonly webhooks: WebhookDispatcher;
  private readonly ctx: EmulatorContext;
  private server: Server | undefined;
  private baseUrl: string | undefined;
  private boundHost: string | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: EmulatorOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.tenants = new TenantRegistry(this.options.tenants, this.options.apps);
    this.store = new EmulatorStore(() => this.options);
    const ctx: EmulatorContext = (this.ctx = {
      options: () => this.options,
      clock: this.clock,
      store: this.store,
      tenants: () => this.tenants,
      log: (line) => this.log(line),
      emit: (event, ...args) => this.safeEmit(event, ...args),
      baseUrl: () => this.url,
    });
    this.gateway = new WsGateway(ctx);
    this.delivery = new DeliverySettings(() => this.tenants);
    this.delivery.restore(this.options.tenants);
    this.appDelivery = new AppDeliverySettings(() => this.tenants);
    this.appDelivery.restore(this.options.apps);
    this.webhooks = new WebhookDispatcher(ctx, (tenant, message) => this.gateway.deliver(tenant, message));
    this.rest = new RestApi(ctx);
    this.control = new ControlApi(ctx, this);
    this.feed = new EventFeed(this, () => this.feedStatus());
    this.phone = new PhonePage(ctx, this.feed);
  }

  /** Base URL "http://127.0.0.1:PORT" (REST base; the socket is the same with ws: and /ws). */
  get url(): string {
    if (!this.baseUrl) throw new Error("PipesEmulator is not started");
    return this.baseUrl;
  }

  /**
   * Listens on host:port (port 0 = a free port) and resolves the base URL. With `tls` (a key and
   * certificate, PEM) it serves HTTPS and WSS instead, to test private CAs and TLS options.
   */
  async start(port = 0, host = "127.0.0.1", tls?: { key: string | Buffer; cert: string | Buffer }): Promise<string> {
    if (this.server) throw new Error("PipesEmulator already started");
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.onRequest(req, res);
    const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createServer(handler);
    server.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => {
      const refusal = this.untrusted(req);
      if (refusal) {
        this.log(`ws: upgrade refused: ${refusal}`);
        socket.on("error", () => undefined);
        socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      this.gateway.handleUpgrade(req, socket, head);
    });
    server.on("clientError", (error, socket) => {
      this.log(`http: client error: ${error.message}`);
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.server = undefined;
      throw error;
    }
    server.on("error", (error) => this.log(`http: server error: ${error.message}`));
    const address = server.address() as AddressInfo;
    this.baseUrl = `${tls ? "https" : "http"}://${urlHost(address.address)}:${address.port}`;
    this.boundHost = host;
    this.log(`listening on ${this.baseUrl}`);
    return this.baseUrl;
  }

  /** Terminates every socket, cancels every timer and closes the server. Safe to call twice. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const server = this.server;
    this.webhooks.shutdown();
    this.gateway.shutdown();
    this.feed.close();
    if (!server) {
      this.stopping = Promise.resolve();
      return this.stopping;
    }
    this.stopping = new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Keep-alive HTTP connections would otherwise hold close() open for seconds.
      server.closeAllConnections();
    }).then(() => this.log("stopped"));
    return this.stopping;
  }

  /** Changes options at run time; they apply to the next decision (pending timers keep theirs). */
  configure(partial: Partial<EmulatorOptions>): void {
    this.options = resolveOptions(partial, this.options);
    // New tenants or Apps replace the registry; data of an id that stays keeps working. Delivery settings follow the new specs.
    if (partial.tenants || partial.apps) {
      this.tenants = new TenantRegistry(this.options.tenants, this.options.apps);
      this.delivery.restore(this.options.tenants);
    }
    if (partial.apps) {
      this.store.templates.restore(this.options.apps);
      this.appDelivery.restore(this.options.apps);
    }
  }

  /**
   * Builds a whatsapp_message and delivers it as its pool number says: live or queued (socket mode), or by webhook, which
   * falls back to the socket path after its last failed attempt. An App's message goes to its sockets (live or queued)
   * and, when the App has a webhook, to the webhook too, in parallel (docs/decisions/0055-emulator-app-webhooks.md).
   * Returns its data.
   */
  inject(input: InjectInput): InboundMessage {
    const { tenant, message } = buildInbound(this.ctx, input);
    // The channel is decided now: a later setDelivery() does not move a message already on its way.
    const app = tenant.app !== undefined;
    const setting = app ? this.appDelivery.get(tenant.userId) : this.delivery.get(tenant.userId, message.poolNumberId);
    const outcome: InboundOutcome = app || setting.mode === "socket" ? this.gateway.deliver(tenant, message) : "webhook";
    if (setting.mode === "webhook") this.webhooks.deliver(tenant, message, setting, input.answer);
    const dual = app && setting.mode === "webhook";
    this.log(
      `inbound ${message.messageId} (${message.type}) from ${message.fromNumber} on ${message.conversationId}: ${outcome}${dual ? " + webhook" : ""}`,
    );
    this.safeEmit("inbound", { message: structuredClone(message), outcome, ...(dual ? { dual: true as const } : {}) });
    return structuredClone(message);
  }

  sent(filter?: { conversationId?: string }): SentRecord[] {
    return this.store.sent.list(filter);
  }

  /** Sends the emulator refused (reply_status failures, REST errors, silent replies), oldest first. */
  refused(filter?: { conversationId?: string }): RefusedRecord[] {
    return this.store.refused.list(filter);
  }

  advanceClock(ms: number): number {
    const now = this.clock.advance(ms);
    this.log(`clock advanced by ${ms} ms`);
    this.safeEmit("clock", { advancedMs: ms, now });
    return now;
  }

  now(): number {
    return this.clock.now();
  }

  connections(): ConnectionInfo[] {
    return this.gateway.list();
  }

  /** Offline queue length (all senders) of a tenant, default the first; expired entries do not count. */
  queueSize(apiKey?: string): number {
    const tenant = apiKey === undefined ? this.tenants.first() : this.tenants.byApiKey(apiKey);
    if (!tenant) throw new RangeError("queueSize: unknown apiKey");
    return this.store.queues.size(tenant.userId, this.clock.now());
  }

  dropConnections(): void {
    this.gateway.dropAll();
  }

  failNextSends(count: number, failure: InjectedSendFailure): void {
    this.rest.failNextSends(count, failure);
  }

  /**
   * Sets how a pool number delivers inbound messages from now on: `{ mode: "socket" }` or `{ mode: "webhook", url, secret? }`
   * (docs/decisions/0041-emulator-webhook-delivery.md); `{ mode: "webhook", url, keepSecret: true }` keeps the secret already
   * set (the phone page cannot read it back). `userId` picks the tenant when several have the pool number, default the
   * first that has it. Messages already on their way keep their channel. Returns the new setting, without the secret.
   */
  setDelivery(poolNumberId: string, setting: DeliveryInput, userId?: string): DeliveryInfo {
    const app = userId === undefined ? this.tenants.appOfNumber(poolNumberId) : undefined;
    if (app) throw new RangeError(`${poolNumberId} is App ${app.app?.slug ?? ""}'s number: its webhook is the App's, setAppDelivery()`);
    const { tenant, pool } = this.delivery.resolve(poolNumberId, userId);
    this.delivery.set(tenant.userId, pool.id, resolveDeliveryInput(setting, this.delivery.get(tenant.userId, pool.id), pool.id));
    const info = this.delivery.info(tenant, pool);
    this.log(`delivery: ${pool.id} of ${tenant.userId} -> ${describeSetting(info)}`);
    this.safeEmit("delivery", { ...info });
    return info;
  }

  /** The delivery setting of one pool number (never the secret). */
  deliveryOf(poolNumberId: string, userId?: string): DeliveryInfo {
    const { tenant, pool } = this.delivery.resolve(poolNumberId, userId);
    return this.delivery.info(tenant, pool);
  }

  /** Every pool number's delivery setting (never the secrets). */
  deliveries(): DeliveryInfo[] {
    return this.delivery.list();
  }

  /**
   * Sets a BYON App's webhook (docs/decisions/0055-emulator-app-webhooks.md): `{ mode: "webhook", url, secret? }` delivers
   * each message to it AND to the App's sockets, in parallel, on the App's retry schedule; `{ mode: "socket" }` to the
   * sockets only; `keepSecret: true` as in setDelivery(). Messages already on their way keep theirs. Returns the new
   * setting, without the secret.
   */
  setAppDelivery(slug: string, setting: DeliveryInput): AppDeliveryInfo {
    const app = this.appDelivery.resolve(slug);
    this.appDelivery.set(app.userId, resolveDeliveryInput(setting, this.appDelivery.get(app.userId), `App ${slug}`));
    const info = this.appDelivery.info(app);
    this.log(`delivery: App ${slug} -> sockets${info.mode === "webhook" ? ` + ${describeSetting(info)}` : " only"}`);
    this.safeEmit("app-delivery", { ...info });
    return info;
  }

  /** One App's webhook setting (never the secret). */
  appDeliveryOf(slug: string): AppDeliveryInfo {
    return this.appDelivery.info(this.appDelivery.resolve(slug));
  }

  /** Every App's webhook setting (never the secrets). */
  appDeliveries(): AppDeliveryInfo[] {
    return this.appDelivery.list();
  }

  /**
   * Sends one test POST (docs/decisions/0046-emulator-webhook-test-call.md) to the pool number's webhook, or to `target`,
   * and resolves with its outcome; never retried, never a fallback.
   */
  async testWebhook(poolNumberId: string, options: { userId?: string; target?: WebhookTestTarget } = {}): Promise<WebhookTestResult> {
    const { tenant, pool } = this.delivery.resolve(poolNumberId, options.userId);
    const setting = testSetting(options.target, this.delivery.get(tenant.userId, pool.id), pool.id);
    return this.webhooks.test(tenant, pool, setting);
  }

  /** The same test call for an App's webhook (or `target`); its payload names the App's first number. */
  async testAppWebhook(slug: string, options: { target?: WebhookTestTarget } = {}): Promise<WebhookTestResult> {
    const app = this.appDelivery.resolve(slug);
    const setting = testSetting(options.target, this.appDelivery.get(app.userId), `App ${slug}`);
    return this.webhooks.test(app, app.poolNumbers[0], setting);
  }

  /** Webhook deliveries (pending, delivered and failed), oldest first. */
  webhookDeliveries(filter?: { poolNumberId?: string; conversationId?: string }): WebhookDeliveryRecord[] {
    return this.webhooks.deliveries(filter);
  }

  /** Webhook deliveries whose every attempt failed (a pool number's was then handed to the socket path), oldest first. */
  webhookFailures(filter?: { poolNumberId?: string; conversationId?: string }): WebhookDeliveryRecord[] {
    return this.webhooks.failed(filter);
  }

  /**
   * Forgets conversations, media, queues (also mid-drain), the sent log, pending injected failures, webhook deliveries
   * (those under way end) and their records; every pool number's and App's delivery goes back to what the tenants and
   * apps options say.
   */
  reset(): void {
    this.gateway.forgetDrains();
    this.webhooks.reset();
    this.delivery.restore(this.options.tenants);
    this.appDelivery.restore(this.options.apps);
    this.store.reset();
    this.rest.clearInjectedFailures();
    this.log("reset");
    this.safeEmit("reset");
  }

  /** A snapshot for the control API and for debugging; never contains API keys (neither tenants' nor Apps'). */
  state(): EmulatorState {
    const now = this.clock.now();
    const queues: Record<string, number> = {};
    for (const tenant of this.tenants.all()) queues[tenant.userId] = this.store.queues.size(tenant.userId, now);
    return {
      now,
      connections: this.connections(),
      queues,
      tenants: this.tenants.all().map((t) => ({ userId: t.userId, poolNumbers: t.poolNumbers.map((p) => ({ ...p })) })),
      // Like tenants: never the key.
      apps: this.tenants.apps().map((a) => ({
        appId: a.userId,
        slug: a.app?.slug ?? "",
        name: a.app?.name ?? "",
        numbers: a.poolNumbers.map((p) => ({ ...p })),
        queue: this.store.queues.size(a.userId, now),
      })),
      delivery: this.delivery.list(),
      appDelivery: this.appDelivery.list(),
      conversations: this.store.conversations.all().map((c) => ({
        conversationId: c.conversationId,
        userId: c.userId,
        poolNumberId: c.poolNumberId,
        fromNumber: c.fromNumber,
        lastInboundAt: c.lastInboundAt,
      })),
    };
  }

  /** The phone page's status line: connections, queue, pool numbers, conversations (never API keys). */
  private feedStatus(): FeedStatus {
    const state = this.state();
    return {
      now: state.now,
      serviceWindowMs: this.options.serviceWindowMs,
      connections: state.connections,
      queueSize: Object.values(state.queues).reduce((sum, size) => sum + size, 0) + state.apps.reduce((sum, app) => sum + app.queue, 0),
      poolNumbers: state.tenants.flatMap((tenant) => tenant.poolNumbers),
      apps: state.apps.map(({ slug, name, numbers }) => ({ slug, name, numbers })),
      conversations: state.conversations.map(({ conversationId, poolNumberId, fromNumber, lastInboundAt }) => ({
        conversationId,
        poolNumberId,
        fromNumber,
        lastInboundAt,
      })),
      delivery: state.delivery,
      appDelivery: state.appDelivery,
      webhooks: { recent: this.webhooks.deliveries().slice(-FEED_WEBHOOKS), failures: this.webhooks.failureCount },
    };
  }

  /**
   * The emulator has no key on its control API and a published demo key: only this machine may
   * talk to it. A Host header other than a loopback name (or the address it was started on) is DNS
   * rebinding; an Origin of another site is a web page trying to drive it (or, on the socket, to
   * read the bot's messages). Programs (curl, Node-RED) send no Origin. Returns why it refuses.
   */
  private untrusted(req: IncomingMessage): string | undefined {
    const allowed = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
    if (this.boundHost && !["0.0.0.0", "::"].includes(this.boundHost)) allowed.add(this.boundHost.toLowerCase());
    const hostOf = (value: string) => {
      try {
        return new URL(`http://${value}`).hostname.toLowerCase();
      } catch {
        return "";
      }
    };
    const host = hostOf(req.headers.host ?? "");
    if (!allowed.has(host) && !allowed.has(`[${host}]`)) return `Host '${req.headers.host ?? ""}' is not this machine`;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost = "";
      try {
        originHost = new URL(origin).hostname.toLowerCase();
      } catch {
        // "null" or garbage: not ours
      }
      if (!allowed.has(originHost)) return `Origin '${origin}' is another site`;
    }
    return undefined;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const refusal = this.untrusted(req);
      if (refusal) {
        sendError(res, 403, ERROR_CODES.FORBIDDEN, `refused: ${refusal}`);
        return;
      }
      const url = new URL(req.url ?? "/", "http://emulator.invalid");
      if (await this.rest.handle(req, res, url)) return;
      if (await this.phone.handle(req, res, url)) return;
      if (await this.control.handle(req, res, url)) return;
      if (url.pathname === "/ws") {
        sendError(res, 426, ERROR_CODES.INVALID_REQUEST, "WebSocket upgrade required", { Upgrade: "websocket" });
        return;
      }
      sendError(res, 404, "NOT_FOUND", `no route ${req.method} ${url.pathname}`);
    } catch (error) {
      this.log(`http: ${req.method} ${req.url?.split("?")[0]} failed: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendError(res, 500, "INTERNAL_ERROR", "emulator error");
      else res.destroy();
    }
  }

  private log(line: string): void {
    try {
      this.options.log(`[pipes-emulator] ${line}`);
    } catch {
      // A failing logger must not break the emulator.
    }
  }

  /** A throwing listener is logged instead of breaking a socket handler or an HTTP answer. */
  private safeEmit<K extends keyof EmulatorEvents>(event: K, ...args: EmulatorEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: EmulatorEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.log(`listener of "${event}" threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** A test call's setting: the `target` given, else the saved one, which must be a webhook. */
function testSetting(target: WebhookTestTarget | undefined, saved: DeliverySetting, name: string): WebhookSetting {
  if (target) {
    const url = checkWebhookUrl(target.url);
    const secret = checkSecret(target.secret);
    return secret === undefined ? { mode: "webhook", url } : { mode: "webhook", url, secret };
  }
  if (saved.mode !== "webhook") throw new RangeError(`${name} delivers by socket: set a webhook first, or give a url to test`);
  return saved;
}

/** Recent webhook deliveries in the phone page's status. */
const FEED_WEBHOOKS = 20;

function urlHost(address: string): string {
  if (address === "0.0.0.0" || address === "::") return "127.0.0.1";
  return address.includes(":") ? `[${address}]` : address;
}
