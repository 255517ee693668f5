/**
 * The WebSocket side (docs/protocol.md#socket): authenticates upgrades on /ws, greets with `connected`, delivers live
 * messages or queues them, starts drains, and answers whatsapp_reply frames with reply_status.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { parseClientFrame, type ConnectedFrame, type InboundMessage, type ReplyStatus, type WhatsAppReply } from "../lib/protocol";
import { ConnectionRegistry, sendFrame, type Connection } from "./connections";
import type { EmulatorContext } from "./context";
import { DrainManager } from "./drain";
import { newConnectionId } from "./ids";
import { OrderedDelayedSender } from "./ordered-delayed-sender";
import { maskKey } from "../lib/redact";
import { decideReply } from "./reply-handler";
import { liveTargets } from "./routing";
import type { Tenant } from "./tenants";
import type { ConnectionInfo, RefusedRecord } from "./types";

/** Inbound WS frame limit; the real one is UNSTATED (docs/decisions/0028-emulator-size-limits.md). Replies are text-only, so a few MB is plenty. */
const MAX_FRAME_BYTES = 4 * 1024 * 1024;

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" };

interface UpgradeTarget {
  tenant: Tenant;
  conversationId?: string;
  poolNumberId?: string;
}

export class WsGateway {
  readonly connections = new ConnectionRegistry();
  private readonly drains: DrainManager;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  constructor(private readonly ctx: EmulatorContext) {
    this.drains = new DrainManager(ctx, this.connections, (connection, message) => this.deliverTo(connection, message));
  }

  /** http.Server "upgrade" handler. Refusals are written on the raw socket before any upgrade (docs/protocol.md#upgrade-refusals). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", (error) => this.ctx.log(`ws: upgrade socket error: ${error.message}`));
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://emulator.invalid");
    } catch {
      return this.refuse(socket, 400, "upgrade URL does not parse");
    }
    if (url.pathname !== "/ws") return this.refuse(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
    const outcome = this.authorize(url.searchParams);
    if ("refusal" in outcome) return this.refuse(socket, outcome.refusal, outcome.reason);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, req, outcome));
  }

  /** Delivers a new inbound message live, or queues it when no open socket matches (docs/protocol.md#offline-queue). */
  deliver(tenant: Tenant, message: InboundMessage): "live" | "queued" {
    const targets = liveTargets(this.connections.ofTenant(tenant.userId), message, this.ctx.options().fanOut);
    let delivered = false;
    for (const connection of targets) delivered = this.deliverTo(connection, message) || delivered;
    if (delivered) return "live";
    const dropped = this.ctx.store.queues.enqueue(tenant.userId, message, this.ctx.clock.now());
    for (const entry of dropped) this.ctx.log(`queue: full for ${entry.fromNumber}, dropped oldest ${entry.message.messageId}`);
    this.ctx.log(`queue: ${message.messageId} queued for ${tenant.userId} (no matching socket)`);
    this.ctx.emit("queued", message);
    return "queued";
  }

  list(): ConnectionInfo[] {
    return this.connections.all().map((c) => ({ ...c.info }));
  }

  /** Abrupt close of every socket; their close handlers still run (requeue, disconnect events). */
  dropAll(): void {
    for (const connection of this.connections.all()) connection.ws.terminate();
  }

  /** reset(): running drains forget their messages along with the queues. */
  forgetDrains(): void {
    this.drains.cancelAll("drop");
  }

  /** stop(): cancel every timer, terminate every socket, close the ws server. */
  shutdown(): void {
    this.drains.cancelAll("requeue");
    for (const connection of this.connections.all()) {
      connection.statuses.cancel();
      connection.ws.terminate();
    }
    this.wss.close();
  }

  private authorize(query: URLSearchParams): UpgradeTarget | { refusal: number; reason: string } {
    const apiKey = query.get("apiKey");
    const tenant = this.ctx.tenants().byApiKey(apiKey);
    if (!tenant) return { refusal: 401, reason: `missing or unknown API key ${maskKey(apiKey ?? "")}` };
    // An empty parameter counts as absent, like the client:claude URL builder never sends one.
    const conversationId = query.get("conversationId") || undefined;
    const poolNumberId = query.get("poolNumberId") || undefined;
    if (poolNumberId !== undefined && !this.ctx.tenants().poolNumber(tenant, poolNumberId)) {
      return { refusal: 403, reason: `pool number ${poolNumberId} is not ${tenant.userId}'s` };
    }
    if (conversationId !== undefined) {
      const conversation = this.ctx.store.conversations.getOwned(conversationId, tenant.userId);
      if (!conversation) return { refusal: 403, reason: `conversation ${conversationId} unknown or not ${tenant.userId}'s` };
      // How the two filters combine is UNSTATED (docs/decisions/0017-pool-number-filter.md); a contradiction could never match anything.
      if (poolNumberId !== undefined && conversation.poolNumberId !== poolNumberId) {
        return { refusal: 403, reason: `conversation ${conversationId} is not on pool number ${poolNumberId}` };
      }
    }
    return { tenant, conversationId, poolNumberId };
  }

  private refuse(socket: Duplex, status: number, reason: string): void {
    this.ctx.log(`ws: upgrade refused ${status}: ${reason}`);
    socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    socket.once("finish", () => socket.destroy());
  }

  private open(ws: WebSocket, req: IncomingMessage, target: UpgradeTarget): void {
    const { tenant, conversationId, poolNumberId } = target;
    const info: ConnectionInfo = {
      connectionId: newConnectionId(),
      userId: tenant.userId,
      scope: conversationId ? "conversation" : "user",
      remotePort: req.socket.remotePort ?? 0,
      openedAt: this.ctx.clock.now(),
    };
    if (conversationId) info.conversationId = conversationId;
    if (poolNumberId) info.poolNumberId = poolNumberId;
    const connection: Connection = {
      info,
      ws,
      tenant,
      statuses: new OrderedDelayedSender((payload) => {
        if (ws.readyState === ws.OPEN) ws.send(payload);
      }),
    };
    this.connections.add(connection);
    ws.on("message", (raw) => this.onFrame(connection, raw));
    ws.on("error", (error) => this.ctx.log(`ws: ${info.connectionId} error: ${error.message}`));
    ws.on("close", () => this.onClose(connection));

    const welcome: ConnectedFrame = { type: "connected", userId: tenant.userId, connectionId: info.connectionId, scope: info.scope };
    if (conversationId) welcome.conversationId = conversationId;
    sendFrame(connection, welcome, (error) => this.ctx.log(`ws: welcome failed: ${error.message}`));
    this.ctx.log(`ws: ${info.connectionId} open for ${tenant.userId} scope=${info.scope}${conversationId ? ` ${conversationId}` : ""}${poolNumberId ? ` pool=${poolNumberId}` : ""}`);
    this.ctx.emit("connection", { ...info });
    this.drains.start(connection);
  }

  private onClose(connection: Connection): void {
    connection.statuses.cancel();
    this.connections.remove(connection.info.connectionId);
    this.drains.connectionClosed(connection.info.connectionId);
    this.ctx.log(`ws: ${connection.info.connectionId} closed`);
    this.ctx.emit("disconnect", { ...connection.info });
  }

  private deliverTo(connection: Connection, message: InboundMessage): boolean {
    const sent = sendFrame(connection, { type: "whatsapp_message", data: message }, (error) =>
      this.ctx.log(`ws: delivery of ${message.messageId} to ${connection.info.connectionId} failed: ${error.message}`),
    );
    if (sent) this.ctx.emit("delivered", { connectionId: connection.info.connectionId, message });
    return sent;
  }

  /** Bad frames are logged and ignored; the socket stays open (the docs define no error frame). */
  private onFrame(connection: Connection, raw: RawData): void {
    const text = rawToString(raw);
    this.ctx.emit("client-frame", { connectionId: connection.info.connectionId, raw: text });
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.ctx.log(`ws: ${connection.info.connectionId} ignored frame: ${parsed.reason}`);
      return;
    }
    try {
      this.onReply(connection, parsed.value.data);
    } catch (error) {
      // A frame must never take the emulator (or the socket) down.
      this.ctx.log(`ws: ${connection.info.connectionId} reply failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private onReply(connection: Connection, reply: WhatsAppReply): void {
    const { status, record, silentCode } = decideReply(this.ctx, connection, reply);
    if (record) {
      this.ctx.store.sent.add(record);
      this.ctx.emit("sent", { ...record });
    } else {
      this.recordRefusal(connection, reply, status, silentCode);
    }
    this.ctx.log(
      `ws: reply on ${reply.conversationId} -> ${status ? (status.success ? `ok ${String(status.messageId)}` : String(status.code)) : "no reply_status (silent)"}`,
    );
    this.ctx.emit("reply", { connectionId: connection.info.connectionId, data: reply, status });
    if (status) connection.statuses.push(JSON.stringify({ type: "reply_status", data: status }), this.ctx.options().replyStatusDelayMs);
  }

  private recordRefusal(connection: Connection, reply: WhatsAppReply, status: ReplyStatus | null, silentCode: string | undefined): void {
    const { userId } = connection.info;
    const owned = this.ctx.store.conversations.getOwned(reply.conversationId, userId);
    const refused: RefusedRecord = {
      via: "ws",
      userId,
      conversationId: reply.conversationId,
      kind: "text",
      code: status && !status.success ? String(status.code ?? "ERROR") : (silentCode ?? "NO_REPLY_STATUS"),
      message: status && !status.success ? String(status.error ?? "") : "no reply_status sent (the client times out)",
      at: this.ctx.clock.now(),
    };
    const toNumber = owned?.fromNumber ?? (typeof reply.toNumber === "string" ? reply.toNumber : undefined);
    if (toNumber) refused.toNumber = toNumber;
    if (typeof reply.text === "string") refused.text = reply.text;
    if (!status) refused.silent = true;
    this.ctx.emit("refused", this.ctx.store.refused.add(refused));
  }
}

function rawToString(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString("utf8");
  if (Array.isArray(raw)) return Buffer.concat(raw).toString("utf8");
  return Buffer.from(raw).toString("utf8");
}
