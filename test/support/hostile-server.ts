/**
 * A hostile Pipes.bot server for tests: HTTP + WebSocket on 127.0.0.1 that says whatever a test
 * scripts, including frames and HTTP answers a real server would never send. Point a pipes-config
 * (or a PipesClient) at `server.url`; the socket is `/ws?apiKey=...` as with the real service.
 *
 *   const server = new HostileServer();
 *   await server.start();
 *   server.onSocket = (ws) => {                       // each accepted socket (default: `connected`)
 *     server.send(ws, frames.connected());
 *     server.send(ws, "not json");                    // strings go out verbatim as text frames
 *     server.send(ws, Buffer.from([1, 2, 3]));        // Buffers go out as binary frames
 *     server.send(ws, frames.message({ messageId: 42 }));   // objects are JSON-encoded
 *   };
 *   server.onUpgrade = () => 401;                     // refuse upgrades with a status (or "hang", "reset")
 *   server.onRequest = (req) => ({ status: 429, headers: { "retry-after": "soon" }, body: "{" });
 *   server.onRequest = () => ({ raw: "HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n{}" });
 *   ...
 *   await server.stop();                              // cuts every socket and connection
 *
 * Everything it saw is kept for assertions: `upgrades`, `clientFrames` (text the clients sent),
 * `requests` (method, url, headers, the first 64 KiB of the body and its length), and the events
 * "socket" (ws, req), "client-frame" (text), "request" (HostileRequest) and "socket-closed".
 * A throwing script never crashes the test process: it is reported as the "script-error" event and
 * the socket or connection is cut. Nothing here waits for a fixed time.
 */
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocket, WebSocketServer } from "ws";

/** A frame to send: a string verbatim (text), a Buffer as a binary frame, anything else as JSON text. */
export type OutFrame = unknown;

/** How to answer an upgrade: undefined accepts; a number refuses with that HTTP status. */
export type UpgradeAnswer = undefined | number | "hang" | "reset";

export interface HttpAnswer {
  /** Default 200. Any number the HTTP layer accepts (100-999); use `raw` for anything else. */
  status?: number;
  headers?: Record<string, string | string[] | number>;
  /** A string or Buffer as it is; any other value JSON-encoded. Absent: no body. */
  body?: unknown;
  /** Raw bytes written on the TCP connection instead of an HTTP response, then the connection ends. */
  raw?: string | Buffer;
  /** Cut the connection (TCP reset) without answering. */
  reset?: boolean;
  /** Never answer; the client's time-out (or stop()) ends it. */
  hang?: boolean;
}

export interface HostileRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers: IncomingMessage["headers"];
  /** The first 64 KiB of the body. */
  body: Buffer;
  bodyLength: number;
}

const KEPT_BODY_BYTES = 64 * 1024;

/** Frame builders with the real protocol's shapes (src/lib/protocol.ts); every field can be overridden. */
export const frames = {
  connected: (extra: Record<string, unknown> = {}) => ({
    type: "connected",
    userId: "user_hostile",
    connectionId: "conn_hostile",
    scope: "user",
    ...extra,
  }),
  /** A valid whatsapp_message (a text) unless the overrides say otherwise. */
  message: (data: Record<string, unknown> = {}) => ({
    type: "whatsapp_message",
    data: {
      messageId: "msg_hostile_1",
      conversationId: "conv_hostile",
      poolNumberId: "pn_hostile",
      fromNumber: "+15550009999",
      timestamp: "2024-01-01T00:00:00.000Z",
      type: "text",
      text: "hello from a hostile server",
      ...data,
    },
  }),
  replyStatus: (data: Record<string, unknown> = {}) => ({
    type: "reply_status",
    data: { conversationId: "conv_nobody", success: true, messageId: "wamid.hostile", ...data },
  }),
};

/** A JSON REST answer in the emulator's shapes: a send that succeeded, or an error body. */
export const answers = {
  sent: (messageId = "wamid.hostile_rest", conversationId?: string): HttpAnswer => ({
    status: 200,
    body: { success: true, messageId, ...(conversationId ? { conversationId } : {}) },
  }),
  error: (status: number, code: string, message = code): HttpAnswer => ({ status, body: { success: false, error: { code, message } } }),
};

export class HostileServer extends EventEmitter {
  readonly http: Server;
  readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  /** http://127.0.0.1:PORT once started. */
  url = "";
  port = 0;
  upgrades = 0;
  readonly sockets = new Set<WebSocket>();
  readonly clientFrames: string[] = [];
  readonly requests: HostileRequest[] = [];
  /** When set, upgrades with another `apiKey` query parameter are refused with 401. */
  apiKey: string | undefined;
  onUpgrade: (req: IncomingMessage) => UpgradeAnswer = () => undefined;
  /** Runs for each accepted socket. Default: the `connected` frame. */
  onSocket: (ws: WebSocket, req: IncomingMessage) => void = (ws) => this.send(ws, frames.connected());
  /** Answers every HTTP request that is not an upgrade. Default: 404 with an error body. */
  onRequest: (req: HostileRequest) => HttpAnswer | Promise<HttpAnswer> = () =>
    answers.error(404, "NOT_FOUND", "the hostile server has no script for this request");
  private readonly connections = new Set<Socket>();

  constructor(options: { apiKey?: string } = {}) {
    super();
    this.setMaxListeners(0);
    this.apiKey = options.apiKey;
    this.http = createServer((req, res) => this.request(req, res));
    this.http.on("connection", (socket: Socket) => {
      this.connections.add(socket);
      socket.on("close", () => this.connections.delete(socket));
    });
    this.http.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
    // A client that sends garbage at the HTTP layer only costs that connection.
    this.http.on("clientError", (_err, socket: Socket) => socket.destroy());
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this.url;
  }

  /** Cuts every socket and connection (hung ones too) and closes the listener. */
  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    for (const socket of this.connections) socket.destroy();
    if (!this.http.listening) return;
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** Sends one frame; resolves once it is written (or at once when the socket is no longer open). */
  send(ws: WebSocket, frame: OutFrame): Promise<void> {
    if (ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    const binary = Buffer.isBuffer(frame);
    const data = typeof frame === "string" || binary ? frame : JSON.stringify(frame);
    return new Promise((resolve) => ws.send(data ?? "undefined", { binary }, () => resolve()));
  }

  /** Sends the frames in order to one socket (stops early if the client closes it). */
  async sendAll(ws: WebSocket, list: readonly OutFrame[]): Promise<void> {
    for (const frame of list) await this.send(ws, frame);
  }

  /** Sends a frame to every open socket. */
  async broadcast(frame: OutFrame): Promise<void> {
    await Promise.all([...this.sockets].map((ws) => this.send(ws, frame)));
  }

  /** Clears what was recorded (frames, requests, the upgrade count). */
  forget(): void {
    this.clientFrames.length = 0;
    this.requests.length = 0;
    this.upgrades = 0;
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.upgrades++;
    socket.on("error", () => undefined);
    let answer: UpgradeAnswer;
    try {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.pathname !== "/ws") answer = 404;
      else if (this.apiKey !== undefined && url.searchParams.get("apiKey") !== this.apiKey) answer = 401;
      else answer = this.onUpgrade(req);
    } catch (err) {
      this.emit("script-error", err);
      answer = "reset";
    }
    if (answer === "hang") return; // stop() cuts it
    if (answer === "reset") {
      socket.destroy();
      return;
    }
    if (typeof answer === "number") {
      socket.end(`HTTP/1.1 ${answer} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.add(ws);
      ws.on("error", () => undefined);
      ws.on("message", (data, isBinary) => {
        const text = isBinary ? `<binary ${(data as Buffer).length} bytes>` : (data as Buffer).toString("utf8");
        this.clientFrames.push(text);
        this.emit("client-frame", text, ws);
      });
      ws.on("close", () => {
        this.sockets.delete(ws);
        this.emit("socket-closed", ws);
      });
      this.emit("socket", ws, req);
      try {
        this.onSocket(ws, req);
      } catch (err) {
        this.emit("script-error", err);
        ws.terminate();
      }
    });
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let length = 0;
    req.on("data", (chunk: Buffer) => {
      length += chunk.length;
      if (keptBytes < KEPT_BODY_BYTES) {
        const piece = chunk.subarray(0, KEPT_BODY_BYTES - keptBytes);
        kept.push(piece);
        keptBytes += piece.length;
      }
    });
    req.on("error", () => undefined);
    req.on("end", () => {
      const recorded: HostileRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(kept),
        bodyLength: length,
      };
      this.requests.push(recorded);
      this.emit("request", recorded);
      Promise.resolve()
        .then(() => this.onRequest(recorded))
        .then(
          (answer) => this.answer(res, answer),
          (err: unknown) => {
            this.emit("script-error", err);
            res.socket?.destroy();
          },
        );
    });
  }

  private answer(res: ServerResponse, answer: HttpAnswer): void {
    const socket = res.socket;
    if (answer.hang) return;
    if (answer.reset) {
      if (socket && !socket.destroyed) socket.resetAndDestroy();
      return;
    }
    if (answer.raw !== undefined) {
      // Bypass the HTTP layer: whatever bytes the script chose, then the end of the connection.
      socket?.end(answer.raw);
      return;
    }
    try {
      const body =
        answer.body === undefined
          ? undefined
          : typeof answer.body === "string" || Buffer.isBuffer(answer.body)
            ? answer.body
            : JSON.stringify(answer.body);
      res.writeHead(answer.status ?? 200, answer.headers);
      res.end(body);
    } catch (err) {
      // A status or header the HTTP layer refuses: the script asked for the impossible; cut it.
      this.emit("script-error", err);
      socket?.destroy();
    }
  }
}
