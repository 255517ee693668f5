/**
 * GET /_emulator/events: a Server-Sent Events stream of what happens in the emulator, for the phone
 * page (and anyone with `curl -N`). Every (re)connect starts with a `hello` event carrying the recent
 * chat history and a status snapshot, so a page that reconnects (or an emulator that restarted) just
 * redraws; then `chat` events (inbound, delivered, webhook, sent, refused, reset) and coalesced `status` events.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { InboundMessage } from "../lib/protocol";
import type { AppDeliveryInfo } from "./app-delivery";
import type { DeliveryInfo } from "./delivery";
import type { ConnectionInfo, EmulatorEvents, InboundOutcome, RefusedRecord, SentRecord, WebhookDeliveryRecord } from "./types";

/** Chat events kept for the `hello` replay; the oldest go first. */
export const FEED_HISTORY = 500;
/** A client that lets this much pile up unread is cut off (its EventSource reconnects and redraws). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const PING_MS = 20_000;
/** Inbound messages that went to the offline queue, remembered so their later delivery is reported. */
const MAX_PENDING_QUEUED = 10_000;

export type FeedEvent =
  /** `dual`: an App's message, on its way to the App's webhook too. */
  | { seq: number; type: "inbound"; message: InboundMessage; outcome: InboundOutcome; dual?: true }
  | { seq: number; type: "delivered"; messageId: string; conversationId: string }
  /** A webhook delivery ended: delivered, or failed and (a pool number's) handed to the socket path (`fallback`); `dual`: an App's. */
  | {
      seq: number;
      type: "webhook";
      messageId: string;
      conversationId: string;
      result: "delivered" | "failed";
      attempts: number;
      fallback?: "live" | "queued";
      dual?: true;
    }
  | { seq: number; type: "sent"; record: SentRecord }
  | { seq: number; type: "refused"; record: RefusedRecord };

export interface FeedStatus {
  now: number;
  serviceWindowMs: number;
  connections: ConnectionInfo[];
  /** Offline queue length, all tenants. */
  queueSize: number;
  poolNumbers: { id: string; phoneNumber: string; label?: string }[];
  /** BYON Apps and their numbers, which the phone may write to too (never their keys). */
  apps: { slug: string; name: string; numbers: { id: string; phoneNumber: string; label?: string }[] }[];
  /** `lastInboundAt` null: the user has not written yet (a template opened the conversation). */
  conversations: { conversationId: string; poolNumberId: string; fromNumber: string; lastInboundAt: number | null }[];
  /** Every pool number's delivery setting (never a secret). */
  delivery: DeliveryInfo[];
  /** Every App's webhook setting (never a secret). */
  appDelivery: AppDeliveryInfo[];
  /** The latest webhook deliveries (oldest first) and how many failed since the last reset. */
  webhooks: { recent: WebhookDeliveryRecord[]; failures: number };
}

/** What the feed listens to: the PipesEmulator's events. */
export interface FeedSource {
  on<K extends keyof EmulatorEvents>(event: K, listener: (...args: EmulatorEvents[K]) => void): unknown;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class EventFeed {
  private readonly history: FeedEvent[] = [];
  private readonly clients = new Set<ServerResponse>();
  private readonly pendingQueued = new Set<string>();
  private seq = 0;
  private statusScheduled: NodeJS.Immediate | undefined;
  private ping: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    source: FeedSource,
    private readonly status: () => FeedStatus,
  ) {
    source.on("inbound", ({ message, outcome, dual }) => {
      if (outcome === "queued") this.rememberQueued(message.messageId);
      this.push(dual ? { type: "inbound", message, outcome, dual } : { type: "inbound", message, outcome });
    });
    source.on("delivered", ({ message }) => {
      // Live deliveries are already told by the inbound event; only a drained message changes state.
      if (this.pendingQueued.delete(message.messageId)) {
        this.push({ type: "delivered", messageId: message.messageId, conversationId: message.conversationId });
      }
    });
    source.on("webhook-delivered", (record) => this.pushWebhook(record));
    source.on("webhook-failed", (record) => {
      // Handed to the queue: its later drain is reported like any queued message's.
      if (record.fallback === "queued") this.rememberQueued(record.messageId);
      this.pushWebhook(record);
    });
    source.on("sent", (record) => this.push({ type: "sent", record }));
    source.on("refused", (record) => this.push({ type: "refused", record }));
    source.on("reset", () => {
      this.history.length = 0;
      this.pendingQueued.clear();
      // Pages clear their chat on hello.
      for (const client of this.clients) this.write(client, "hello", this.hello());
    });
    for (const event of ["connection", "disconnect", "queued", "clock", "delivery", "app-delivery", "webhook-attempt"] as const) {
      source.on(event, () => this.scheduleStatus());
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Answers GET /_emulator/events. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" }).end("emulator stopping");
      return;
    }
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      "X-Content-Type-Options": "nosniff",
    });
    res.write("retry: 1000\n\n");
    this.clients.add(res);
    const forget = (): void => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopPing();
    };
    req.on("close", forget);
    res.on("error", forget);
    this.write(res, "hello", this.hello());
    this.startPing();
  }

  /** Ends every stream and timer (PipesEmulator.stop). */
  close(): void {
    this.closed = true;
    if (this.statusScheduled) clearImmediate(this.statusScheduled);
    this.statusScheduled = undefined;
    this.stopPing();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private hello(): { events: FeedEvent[]; status: FeedStatus } {
    return { events: this.history, status: this.status() };
  }

  private push(event: DistributiveOmit<FeedEvent, "seq">): void {
    const full: FeedEvent = { ...event, seq: ++this.seq };
    this.history.push(full);
    if (this.history.length > FEED_HISTORY) this.history.splice(0, this.history.length - FEED_HISTORY);
    for (const client of this.clients) this.write(client, "chat", full);
    this.scheduleStatus();
  }

  private pushWebhook(record: WebhookDeliveryRecord): void {
    const event: DistributiveOmit<FeedEvent, "seq"> = {
      type: "webhook",
      messageId: record.messageId,
      conversationId: record.conversationId,
      result: record.state === "delivered" ? "delivered" : "failed",
      attempts: record.attempts.length,
    };
    if (record.fallback !== undefined) event.fallback = record.fallback;
    if (record.dual) event.dual = true;
    this.push(event);
  }

  private rememberQueued(messageId: string): void {
    this.pendingQueued.add(messageId);
    if (this.pendingQueued.size > MAX_PENDING_QUEUED) {
      // Sets iterate in insertion order: drop the oldest (it has most likely expired from the queue).
      for (const oldest of this.pendingQueued) {
        this.pendingQueued.delete(oldest);
        break;
      }
    }
  }

  /** Several changes in one tick (a drain, a burst of messages) become one status event. */
  private scheduleStatus(): void {
    if (this.closed || this.statusScheduled || this.clients.size === 0) return;
    this.statusScheduled = setImmediate(() => {
      this.statusScheduled = undefined;
      if (this.clients.size === 0) return;
      const status = this.status();
      for (const client of this.clients) this.write(client, "status", status);
    });
  }

  private write(client: ServerResponse, event: string, data: unknown): void {
    if (client.writableEnded || client.destroyed) return;
    if (client.writableLength > MAX_BUFFERED_BYTES) {
      client.destroy();
      this.clients.delete(client);
      return;
    }
    // JSON.stringify escapes line breaks, so the payload is one `data:` line.
    client.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private startPing(): void {
    if (this.ping) return;
    this.ping = setInterval(() => {
      for (const client of this.clients) if (!client.writableEnded) client.write(": ping\n\n");
    }, PING_MS);
    this.ping.unref();
  }

  private stopPing(): void {
    if (this.ping) clearInterval(this.ping);
    this.ping = undefined;
  }
}
