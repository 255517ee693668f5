/**
 * The loopback servers the echo bots talk to, behind one small interface the driver uses:
 * send a text message from sender i, and hear when it went out and when its reply came back.
 *
 * - EmulatorServer: the package's own Pipes API emulator (src/emulator), used through its public API.
 * - LeanServer: a minimal Pipes socket (same frames, same shapes, no bookkeeping) for when the
 *   emulator's own per-message work, not the client, would set the pace.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { PipesEmulator } from "../src/emulator";

export const BENCH_KEY = "pk_bench_loopback_key_000000000000000";
const POOL = { id: "pn_bench", phoneNumber: "+15550009999" };

export interface ServerHooks {
  /** A whatsapp_message with this text was handed to the socket. */
  delivered?: (text: string, at: number) => void;
  /** A whatsapp_reply with this text was received (and answered). */
  reply?: (text: string, at: number) => void;
  connection?: () => void;
}

export interface BenchServer {
  readonly name: string;
  readonly baseUrl: string;
  readonly wsUrl: string;
  hooks: ServerHooks;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A text message from sender `sender` (one conversation per sender). */
  send(sender: number, text: string): void;
  connections(): number;
}

export function senderNumber(i: number): string {
  return `+1555${String(1_000_000 + i).slice(1)}`;
}

export class EmulatorServer implements BenchServer {
  readonly name = "emulator";
  readonly emulator = new PipesEmulator({ drainPacingMs: 0, tenants: [{ userId: "user_bench", apiKey: BENCH_KEY, poolNumbers: [POOL] }] });
  hooks: ServerHooks = {};
  private base = "";

  get baseUrl(): string {
    return this.base;
  }

  get wsUrl(): string {
    return `${this.base.replace(/^http/, "ws")}/ws?apiKey=${BENCH_KEY}`;
  }

  async start(): Promise<void> {
    this.base = await this.emulator.start(0, "127.0.0.1");
    this.emulator.on("delivered", ({ message }) => this.hooks.delivered?.(message.text ?? "", performance.now()));
    this.emulator.on("reply", ({ data }) => this.hooks.reply?.(data.text, performance.now()));
    this.emulator.on("connection", () => this.hooks.connection?.());
  }

  stop(): Promise<void> {
    return this.emulator.stop();
  }

  send(sender: number, text: string): void {
    this.emulator.inject({ fromNumber: senderNumber(sender), text });
  }

  connections(): number {
    return this.emulator.connections().length;
  }
}

interface LeanConversation {
  conversationId: string;
  fromNumber: string;
}

/**
 * The Pipes socket and nothing else: `connected` on open, whatsapp_message frames shaped like the
 * emulator's, and an immediate reply_status { success: true } for every whatsapp_reply into a
 * known conversation. Per message it does one JSON.stringify out and one JSON.parse in.
 */
export class LeanServer implements BenchServer {
  readonly name = "lean loopback server";
  hooks: ServerHooks = {};
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  private readonly sockets = new Set<WebSocket>();
  private readonly streams = new WeakMap<WebSocket, Duplex>();
  private readonly corked = new Set<Duplex>();
  private readonly conversations: LeanConversation[] = [];
  private readonly known = new Set<string>();
  private seq = 0;
  private base = "";

  get baseUrl(): string {
    return this.base;
  }

  get wsUrl(): string {
    return `${this.base.replace(/^http/, "ws")}/ws?apiKey=${BENCH_KEY}`;
  }

  async start(): Promise<void> {
    const server = createServer((_req, res) => res.writeHead(404).end());
    server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://bench.invalid");
      if (url.pathname !== "/ws" || url.searchParams.get("apiKey") !== BENCH_KEY) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.streams.set(ws, socket);
        this.open(ws);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  send(sender: number, text: string): void {
    const conversation = this.conversation(sender);
    const id = this.seq++;
    const frame = JSON.stringify({
      type: "whatsapp_message",
      data: {
        messageId: `msg_bench${id}`,
        conversationId: conversation.conversationId,
        poolNumberId: POOL.id,
        poolNumberPhoneNumber: POOL.phoneNumber,
        fromNumber: conversation.fromNumber,
        timestamp: new Date().toISOString(),
        type: "text",
        text,
        body: text,
      },
    });
    for (const ws of this.sockets) this.write(ws, frame);
    this.hooks.delivered?.(text, performance.now());
  }

  connections(): number {
    return this.sockets.size;
  }

  private conversation(sender: number): LeanConversation {
    let conversation = this.conversations[sender];
    if (!conversation) {
      conversation = { conversationId: `conv_bench${String(sender).padStart(6, "0")}`, fromNumber: senderNumber(sender) };
      this.conversations[sender] = conversation;
      this.known.add(conversation.conversationId);
    }
    return conversation;
  }

  /**
   * Frames written in one event-loop turn leave in one write (cork, uncork at the end of the turn),
   * so the server spends little per message and the client under test, not the server, sets the pace.
   */
  private write(ws: WebSocket, frame: string): void {
    const stream = this.streams.get(ws);
    if (stream && !this.corked.has(stream)) {
      this.corked.add(stream);
      stream.cork();
      setImmediate(() => {
        this.corked.delete(stream);
        stream.uncork();
      });
    }
    ws.send(frame);
  }

  private open(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on("close", () => this.sockets.delete(ws));
    ws.on("error", () => undefined);
    ws.on("message", (raw: Buffer) => {
      let frame: { type?: string; data?: { conversationId?: string; text?: string } };
      try {
        frame = JSON.parse(raw.toString()) as typeof frame;
      } catch {
        return;
      }
      const data = frame.data;
      if (frame.type !== "whatsapp_reply" || !data?.conversationId || !this.known.has(data.conversationId)) return;
      this.hooks.reply?.(data.text ?? "", performance.now());
      this.write(ws, JSON.stringify({ type: "reply_status", data: { conversationId: data.conversationId, success: true, messageId: `wamid.bench${this.seq++}` } }));
    });
    ws.send(JSON.stringify({ type: "connected", userId: "user_bench", connectionId: `bench-${this.sockets.size}`, scope: "user" }));
    this.hooks.connection?.();
  }
}
