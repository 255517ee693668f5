/**
 * The WebSocket side (docs/protocol.md#socket): authenticates upgrades on /ws, greets with `connected`, delivers live
 * messages or queues them, starts drains, and answers whatsapp_reply frames (and the first-party client's
 * whatsapp_reaction and whatsapp_media_reply, docs/decisions/0036-emulator-reaction-and-media-frames.md) with reply_status.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { ERROR_CODES, type ConnectedFrame, type InboundMessage, type ReplyStatus, type WhatsAppReply } from "../lib/protocol";
import { mediaKindFor } from "../lib/media";
import { ConnectionRegistry, sendFrame, type Connection } from "./connections";
import type { EmulatorContext } from "./context";
import { DrainManager } from "./drain";
import { newConnectionId } from "./ids";
import { OrderedDelayedSender } from "./ordered-delayed-sender";
import { maskKey } from "../lib/redact";
import { decideMediaReply, decideReaction, decideReply, type FrameData, type ReplyDecision } from "./reply-handler";
import { liveTargets } from "./routing";
import type { Tenant } from "./tenants";
import type { ClientFrameType, ConnectionInfo, RefusedRecord, SentKind } from "./types";

const ANSWERED_FRAMES: readonly string[] = ["whatsapp_reply", "whatsapp_reaction", "whatsapp_media_reply"] satisfies ClientFrameType[];

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" };

interface UpgradeTarget {
  tenant: Tenant;
  conversationId?: string;
  poolNumberId?: string;
}

export class WsGateway {
  readonly connections = new ConnectionRegistry();
  private readonly drains: DrainManager;
  /** maxPayload is set from the maxFrameBytes option at each upgrade (docs/decisions/0037-emulator-frame-size.md). */
  private readonly wss = new WebSocketServer({ noServer: true });

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
    // ws reads maxPayload when it adopts the socket, so a configure() applies to the sockets opened after it.
    this.wss.options.maxPayload = this.ctx.options().maxFrameBytes;
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
    this.ctx.log(
      `ws: ${info.connectionId} open for ${tenant.userId} scope=${info.scope}${conversationId ? ` ${conversationId}` : ""}${poolNumberId ? ` pool=${poolNumberId}` : ""}`,
    );
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

  /**
   * whatsapp_reply, whatsapp_reaction and whatsapp_media_reply are answered with reply_status (or refused, per option)
   * whenever they name a conversation; other frames, and those without a conversationId, are logged and ignored, and the
   * socket stays open (the docs define no error frame).
   */
  private onFrame(connection: Connection, raw: RawData): void {
    const text = rawToString(raw);
    const id = connection.info.connectionId;
    this.ctx.emit("client-frame", { connectionId: id, raw: text });
    const frame = parseFrame(text);
    if (typeof frame === "string") {
      this.ctx.log(`ws: ${id} ignored frame: ${frame}`);
      return;
    }
    if (!ANSWERED_FRAMES.includes(frame.type)) {
      this.ctx.log(`ws: ${id} ignored frame: unknown frame type '${frame.type.slice(0, 64)}'`);
      return;
    }
    const type = frame.type as ClientFrameType;
    const data = frame.data;
    if (!isRecord(data) || typeof data.conversationId !== "string" || data.conversationId === "") {
      // Without a conversation there is nothing a reply_status could name: logged and kept in the refused log.
      const reason = `${type} ${isRecord(data) ? "lacks conversationId" : "has no data object"}`;
      this.ctx.log(`ws: ${id} ignored frame: ${reason}`);
      const refused: RefusedRecord = {
        via: "ws",
        userId: connection.info.userId,
        kind: frameKind(type, isRecord(data) ? data : {}),
        code: ERROR_CODES.INVALID_REQUEST,
        message: `${reason}; no reply_status sent`,
        silent: true,
        at: this.ctx.clock.now(),
      };
      this.ctx.emit("refused", this.ctx.store.refused.add(refused));
      return;
    }
    try {
      this.onAnswered(connection, type, data as FrameData);
    } catch (error) {
      // A frame must never take the emulator (or the socket) down.
      this.ctx.log(`ws: ${id} ${type} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private onAnswered(connection: Connection, type: ClientFrameType, data: FrameData): void {
    const options = this.ctx.options();
    let decision: ReplyDecision;
    if (type === "whatsapp_reply") decision = decideReply(this.ctx, connection, data);
    else if ((type === "whatsapp_reaction" ? options.reactionFrame : options.mediaReplyFrame) === "refuse") {
      decision = {
        status: {
          conversationId: data.conversationId,
          success: false,
          code: "UNSUPPORTED_FRAME",
          error: `${type} frames are not supported`,
        },
      };
    } else if (type === "whatsapp_reaction") decision = decideReaction(this.ctx, connection, data);
    else decision = decideMediaReply(this.ctx, connection, data);

    const { status, record, silentCode } = decision;
    if (record) {
      this.ctx.store.recordSent(record);
      this.ctx.emit("sent", { ...record });
    } else {
      this.recordRefusal(connection, type, data, status, silentCode);
    }
    const what = type === "whatsapp_reply" ? "reply" : type.slice("whatsapp_".length);
    this.ctx.log(
      `ws: ${what} on ${data.conversationId} -> ${status ? (status.success ? `ok ${String(status.messageId)}` : String(status.code)) : "no reply_status (silent)"}`,
    );
    const connectionId = connection.info.connectionId;
    if (type === "whatsapp_reply") this.ctx.emit("reply", { connectionId, data: data as unknown as WhatsAppReply, status });
    else this.ctx.emit(type === "whatsapp_reaction" ? "reaction" : "media-reply", { connectionId, data, status });
    if (status) connection.statuses.push(JSON.stringify({ type: "reply_status", data: status }), options.replyStatusDelayMs);
  }

  private recordRefusal(
    connection: Connection,
    type: ClientFrameType,
    data: FrameData,
    status: ReplyStatus | null,
    silentCode: string | undefined,
  ): void {
    const { userId } = connection.info;
    const owned = this.ctx.store.conversations.getOwned(data.conversationId, userId);
    const refused: RefusedRecord = {
      via: "ws",
      userId,
      conversationId: data.conversationId,
      kind: frameKind(type, data),
      code: status && !status.success ? String(status.code ?? "ERROR") : (silentCode ?? "NO_REPLY_STATUS"),
      message: status && !status.success ? String(status.error ?? "") : "no reply_status sent (the client times out)",
      at: this.ctx.clock.now(),
    };
    const toNumber = owned?.fromNumber ?? (typeof data.toNumber === "string" ? data.toNumber : undefined);
    if (toNumber) refused.toNumber = toNumber;
    const text = type === "whatsapp_reply" ? data.text : type === "whatsapp_media_reply" ? data.caption : data.emoji;
    if (typeof text === "string" && text !== "") refused.text = text;
    if (!status) refused.silent = true;
    this.ctx.emit("refused", this.ctx.store.refused.add(refused));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A JSON object with a string `type`, or why not. */
function parseFrame(text: string): { type: string; data?: unknown } | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "frame is not JSON";
  }
  if (!isRecord(value)) return "frame is not a JSON object";
  if (typeof value.type !== "string") return "frame has no string 'type'";
  return { type: value.type, data: value.data };
}

/** What a frame was trying to send, for the refused log. */
function frameKind(type: ClientFrameType, data: Record<string, unknown>): SentKind {
  if (type === "whatsapp_reaction") return "reaction";
  if (type === "whatsapp_reply") return "text";
  const media = data.media;
  const mimeType = isRecord(media) && typeof media.mimeType === "string" ? media.mimeType : undefined;
  return mediaKindFor(mimeType);
}

function rawToString(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString("utf8");
  if (Array.isArray(raw)) return Buffer.concat(raw).toString("utf8");
  return Buffer.from(raw).toString("utf8");
}
