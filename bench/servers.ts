/**
 * The loopback servers the echo bots talk to, behind one small interface the driver uses:
 * send a text message from sender i, and hear when it went out and when its reply came back.
 *
 * - EmulatorServer: the package's own Pipes API emulator (src/emulator), used through its public API.
 * - LeanServer: a minimal Pipes socket and the two REST sends (same frames, same shapes, no
 *   bookkeeping) for when the emulator's own per-message work, not the client, would set the pace.
 * - WebhookSender: Pipes.bot's webhook delivery, as a client of the bot: one signed POST per
 *   message (Meta's shape plus `pipes`) to the Node-RED under test; its 200 stands for the reply,
 *   or, for a bot that replies by REST, the reply the LeanServer receives.
 * - TcpGate: a loopback TCP relay in front of a server that can be shut (every connection cut, new
 *   ones refused) and opened again: messages queue while a running client is kept out.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHmac } from "node:crypto";
import { createConnection, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { Agent, request } from "undici";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { PipesEmulator } from "../src/emulator";

export const BENCH_KEY = "pk_bench_loopback_key_000000000000000";
const POOL = { id: "pn_bench", phoneNumber: "+15550009999" };

export interface ServerHooks {
  /** A whatsapp_message with this text was handed to the socket. */
  delivered?: (text: string, at: number) => void;
  /** A reply with this text was received (and answered): a whatsapp_reply, or a REST send or passthrough (its body text). */
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

/** The conversation of sender i, on the lean server and in the webhook sender's `pipes` alike. */
function conversationIdOf(i: number): string {
  return `conv_bench${String(i).padStart(6, "0")}`;
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

/** The REST sends LeanServer answers, and where a reply's text is in each body. */
const REST_ROUTES: Record<
  string,
  { textOf: (body: Record<string, any>) => unknown; answer: (conversationId: string, id: number) => object }
> = {
  "/v1/messages/send": {
    textOf: (body) => body.text,
    answer: (conversationId, id) => ({ success: true, messageId: `msg_bench_out${id}`, conversationId }),
  },
  // Meta's answer, as the passthrough forwards it (docs/protocol.md#message-kinds).
  "/v1/messages/passthrough": {
    textOf: (body) => body.interactive?.body?.text ?? body.text?.body,
    answer: (_conversationId, id) => ({ messaging_product: "whatsapp", messages: [{ id: `wamid.bench${id}` }] }),
  },
};

/**
 * The Pipes socket and REST sends, nothing else: `connected` on open, whatsapp_message frames
 * shaped like the emulator's, and an immediate reply_status { success: true } for every
 * whatsapp_reply into a known conversation; POST /v1/messages/send and /v1/messages/passthrough
 * into a known conversation answer 200 at once. Per message it does one JSON.stringify out and one
 * JSON.parse in.
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
    const server = createServer((req, res) => this.rest(req, res));
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

  /** Forgets every conversation (after a phase that made many of them). */
  forgetConversations(): void {
    this.conversations.length = 0;
    this.known.clear();
  }

  private rest(req: IncomingMessage, res: ServerResponse): void {
    const route = req.method === "POST" ? REST_ROUTES[req.url ?? ""] : undefined;
    if (!route) {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${BENCH_KEY}`) {
      req.resume();
      res
        .writeHead(401, { "content-type": "application/json" })
        .end('{"success":false,"error":{"code":"UNAUTHORIZED","message":"bad key"}}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      let body: Record<string, any> | undefined;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, any>;
      } catch {
        body = undefined;
      }
      const conversationId = body?.conversationId;
      if (!body || typeof conversationId !== "string" || !this.known.has(conversationId)) {
        res
          .writeHead(400, { "content-type": "application/json" })
          .end('{"success":false,"error":{"code":"INVALID_REQUEST","message":"unknown conversation"}}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(route.answer(conversationId, this.seq++)));
      const text = route.textOf(body);
      this.hooks.reply?.(typeof text === "string" ? text : "", performance.now());
    });
  }

  /** Sender i's conversation, known from now on (REST sends into it are answered). */
  conversation(sender: number): LeanConversation {
    let conversation = this.conversations[sender];
    if (!conversation) {
      conversation = { conversationId: conversationIdOf(sender), fromNumber: senderNumber(sender) };
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
      this.write(
        ws,
        JSON.stringify({
          type: "reply_status",
          data: { conversationId: data.conversationId, success: true, messageId: `wamid.bench${this.seq++}` },
        }),
      );
    });
    ws.send(JSON.stringify({ type: "connected", userId: "user_bench", connectionId: `bench-${this.sockets.size}`, scope: "user" }));
    this.hooks.connection?.();
  }
}

/**
 * A TCP relay on 127.0.0.1 in front of `target` (a host:port): open, it pipes each connection
 * through; shut, it cuts every connection and refuses new ones (a client then sees its socket drop
 * and retries with its backoff). For the drain: a running client is kept out while messages queue.
 */
export class TcpGate {
  private server: TcpServer | undefined;
  private readonly pairs = new Set<Socket>();
  private open = true;
  private port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws?apiKey=${BENCH_KEY}`;
  }

  async start(): Promise<void> {
    const server = createTcpServer((inbound) => {
      if (!this.open) {
        inbound.destroy();
        return;
      }
      const outbound = createConnection(this.target);
      for (const socket of [inbound, outbound]) {
        this.pairs.add(socket);
        socket.setNoDelay(true);
        socket.on("error", () => undefined);
        socket.on("close", () => {
          this.pairs.delete(socket);
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Cuts every connection through the gate and refuses new ones until reopen(). */
  shut(): void {
    this.open = false;
    for (const socket of this.pairs) socket.destroy();
  }

  reopen(): void {
    this.open = true;
  }

  async stop(): Promise<void> {
    this.shut();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * Pipes.bot's webhook delivery (docs/protocol.md#webhooks) to a Node-RED under test: each message is
 * one POST of Meta's webhook shape plus `pipes`, signed (X-Pipes-Signature: HMAC-SHA256 of the exact
 * bytes), over keep-alive connections. `delivered` fires when it leaves. `reply` fires when the POST
 * is answered 200 (with the text an echo would send): a webhook alone has no reply path. With
 * `replies` (a lean server the bot replies to by REST), `reply` is that server's instead: the reply
 * received there, and the conversation is known there before its message leaves.
 */
export class WebhookSender implements BenchServer {
  readonly name: string;
  private own: ServerHooks = {};
  /** Answers other than 200, by status. */
  readonly refused = new Map<number, number>();
  /** The last network error (status 0 in `refused`). */
  lastError: string | undefined;
  private url: string | undefined;
  private readonly dispatcher = new Agent({ keepAliveTimeout: 10_000 });
  private seq = 0;

  constructor(
    private readonly secret: string,
    private readonly replies?: LeanServer,
  ) {
    this.name = replies ? "webhook sender, replies to the lean server" : "webhook sender";
  }

  get hooks(): ServerHooks {
    return this.own;
  }

  set hooks(hooks: ServerHooks) {
    this.own = hooks;
    if (this.replies) this.replies.hooks = { reply: hooks.reply };
  }

  get baseUrl(): string {
    return this.url ?? "";
  }

  get wsUrl(): string {
    return "";
  }

  /** Where the POSTs go (the client under test), or nowhere. */
  target(url: string | undefined): void {
    this.url = url;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.dispatcher.destroy();
  }

  send(sender: number, text: string): void {
    const url = this.url;
    if (!url) throw new Error("webhook sender: no target");
    const from = senderNumber(sender);
    this.replies?.conversation(sender);
    const raw = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [
        {
          id: POOL.id,
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: POOL.phoneNumber, phone_number_id: POOL.id },
                contacts: [{ profile: { name: "Bench" }, wa_id: from.slice(1) }],
                messages: [
                  {
                    id: `msg_bench_hook${this.seq++}`,
                    from: from.slice(1),
                    timestamp: new Date().toISOString(),
                    type: "text",
                    text: { body: text },
                  },
                ],
              },
            },
          ],
        },
      ],
      pipes: { conversationId: conversationIdOf(sender), poolNumberId: POOL.id },
    });
    const signature = createHmac("sha256", this.secret).update(raw).digest("hex");
    this.hooks.delivered?.(text, performance.now());
    request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-pipes-signature": signature },
      body: raw,
      dispatcher: this.dispatcher,
    })
      .then(async (response) => {
        await response.body.dump();
        if (response.statusCode !== 200) this.refused.set(response.statusCode, (this.refused.get(response.statusCode) ?? 0) + 1);
        else if (!this.replies) this.hooks.reply?.(`You said: ${text}`, performance.now());
      })
      .catch((err: unknown) => {
        this.refused.set(0, (this.refused.get(0) ?? 0) + 1);
        this.lastError = err instanceof Error ? `${err.message} ${(err as { code?: string }).code ?? ""}` : String(err);
      });
  }

  connections(): number {
    return this.url ? 1 : 0;
  }
}
