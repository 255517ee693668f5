/**
 * What the emulator's webhook suites share: a webhook receiver (a real HTTP server on 127.0.0.1 that records each request's
 * raw bytes and answers as a test tells it: a status, or no answer at all), the signature and payload accessors, and
 * useWebhookSuite(), the emulator fixture with receivers, sockets and a control API caller closed after each test.
 */
import { createHmac } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { DEMO_API_KEY, type EmulatorOptions, type PipesEmulator } from "../../src/emulator";
import { TestSocket } from "../support/emulator-client";
import { useEmulator } from "../support/emulator-fixture";
import { waitUntil } from "../support/wait";

export const SECRET = "s3cret-of-at-least-16-chars";
const WAIT_MS = 5000;

export type Json = Record<string, any>;

export interface Received {
  raw: Buffer;
  headers: IncomingHttpHeaders;
  json: Json;
  /** performance.now() when the body was complete. */
  at: number;
}

/** What the receiver answers the n-th request (0-based): a status, or no answer at all. */
export type Answer = number | "hang";

/** A webhook receiver on 127.0.0.1 that records each request's raw bytes and answers as told. */
export class Receiver extends EventEmitter {
  readonly requests: Received[] = [];
  private readonly open = new Set<ServerResponse>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
    public answer: (received: Received, index: number) => Answer,
  ) {
    super();
  }

  static async start(answer: (received: Received, index: number) => Answer = () => 200): Promise<Receiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=t1`, answer);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => receiver.onRequest(req, res));
    return receiver;
  }

  /** The messages[0] ids of the requests so far, in arrival order. */
  get ids(): string[] {
    return this.requests.map((r) => String(r.json.entry?.[0]?.changes?.[0]?.value?.messages?.[0]?.id));
  }

  /** Resolves once `n` requests arrived. */
  count(n: number): Promise<Received[]> {
    return waitUntil(
      `${n} webhook request(s) (got ${this.requests.length})`,
      () => this.requests.length >= n && this.requests,
      this,
      ["request"],
      WAIT_MS,
    );
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const received: Received = { raw, headers: req.headers, json: JSON.parse(raw.toString("utf8")) as Json, at: performance.now() };
      const index = this.requests.push(received) - 1;
      const answer = this.answer(received, index);
      if (answer === "hang") {
        this.open.add(res);
        res.on("close", () => {
          this.open.delete(res);
          this.emit("hung-up");
        });
      } else {
        res.writeHead(answer, { "Content-Type": "text/plain" }).end(answer < 300 ? "ok" : "no");
      }
      this.emit("request", received);
    });
  }
}

export const signature = (raw: Buffer, secret = SECRET): string => createHmac("sha256", secret).update(raw).digest("hex");
export const valueOf = (received: Received): Json => received.json.entry[0].changes[0].value as Json;
export const messageOf = (received: Received): Json => valueOf(received).messages[0] as Json;

export interface WebhookSuite {
  emu: PipesEmulator;
  /** A receiver, closed after the test. */
  receiver: (answer?: (received: Received, index: number) => Answer) => Promise<Receiver>;
  /** A user-scoped socket (default the pool key), closed after the test. */
  connect: (apiKey?: string) => Promise<TestSocket>;
  /** A control API call; `body` is the parsed JSON answer (the text when it is not JSON). */
  http: (method: string, path: string, body?: unknown) => Promise<{ status: number; text: string; body: any }>;
}

/** The emulator (no Node-RED) for a describe block, `settings` applied before each test; see WebhookSuite. */
export function useWebhookSuite(settings: Partial<EmulatorOptions>): WebhookSuite {
  const receivers: Receiver[] = [];
  const sockets: TestSocket[] = [];
  const { emu } = useEmulator({
    nodeRed: false,
    settings,
    cleanup: async () => {
      for (const socket of sockets.splice(0)) socket.ws.terminate();
      for (const receiver of receivers.splice(0)) await receiver.close();
    },
  });
  return {
    emu,
    receiver: async (answer) => {
      const started = await Receiver.start(answer);
      receivers.push(started);
      return started;
    },
    connect: async (apiKey = DEMO_API_KEY) => {
      const { socket } = await TestSocket.open(emu.url, { apiKey });
      sockets.push(socket);
      return socket;
    },
    http: async (method, path, body) => {
      const res = await fetch(`${emu.url}${path}`, {
        method,
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, text, body: parsed };
    },
  };
}
