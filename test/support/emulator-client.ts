/**
 * Test helpers for the emulator spec: a WebSocket client that buffers frames and hands them out in
 * order, an upgrade-status probe, and an event recorder. Every wait goes through support/wait.ts and
 * is bounded by a timeout that only guards against a hang; nothing here sleeps for a fixed time.
 */
import { EventEmitter } from "node:events";
import WebSocket from "ws";
import { waitFor, waitUntil } from "./wait";

const WAIT_LIMIT_MS = 3000;

export type Frame = { type: string; [key: string]: any };

export function wsUrl(baseUrl: string, query: Record<string, string | undefined>, path = "/ws"): string {
  const url = new URL(path, baseUrl.replace(/^http/, "ws"));
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

/** The `data.text` of each frame, for order assertions. */
export function textsOf(frames: Frame[]): string[] {
  return frames.map((frame) => String(frame.data?.text));
}

export class TestSocket {
  private readonly buffered: Frame[] = [];
  /** Emits "frame" after each frame was buffered. */
  private readonly frames = new EventEmitter();
  /** Resolves with the close code once the socket is closed. */
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    // binaryType is the default "nodebuffer", so every message arrives as one Buffer.
    ws.on("message", (data) => {
      this.buffered.push(JSON.parse((data as Buffer).toString("utf8")) as Frame);
      this.frames.emit("frame");
    });
    // Errors end in a close, which `closed` reports; an unhandled 'error' would crash mocha.
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
  }

  /** Opens a socket and resolves with it and its `connected` frame. */
  static async open(baseUrl: string, query: Record<string, string | undefined>): Promise<{ socket: TestSocket; connected: Frame }> {
    const ws = new WebSocket(wsUrl(baseUrl, query));
    const socket = new TestSocket(ws);
    await waitFor(ws, ["open", "close"], {
      what: "the socket to open",
      timeoutMs: WAIT_LIMIT_MS,
      until: (_value, { event }) => {
        if (event === "close") throw new Error("socket closed before opening");
        return true;
      },
    });
    const connected = await socket.next("connected");
    return { socket, connected };
  }

  /** The first not-yet-taken frame of `type` (any type when omitted), in arrival order. */
  next(type?: string, timeoutMs = WAIT_LIMIT_MS): Promise<Frame> {
    return waitUntil(
      `a '${type ?? "any"}' frame`,
      () => {
        const index = this.buffered.findIndex((f) => type === undefined || f.type === type);
        return index >= 0 ? this.buffered.splice(index, 1)[0] : undefined;
      },
      this.frames,
      ["frame"],
      timeoutMs,
    );
  }

  /** Takes `count` frames of `type`, in order. */
  async take(type: string, count: number): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (let i = 0; i < count; i++) frames.push(await this.next(type));
    return frames;
  }

  /** Frames received but not taken yet (of `type` when given). */
  pending(type?: string): Frame[] {
    return this.buffered.filter((f) => type === undefined || f.type === type);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

/** The HTTP status an upgrade attempt was refused with (rejects if the upgrade succeeds). */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("open", () => {
      ws.terminate();
      reject(new Error("upgrade unexpectedly succeeded"));
    });
    // `on`, not `once`: terminate() may raise a second error after the first settled the promise.
    ws.on("error", (error) => reject(error));
  });
}

/** Collects every emission of `event` until the returned stop function is called. */
export function collectEvents<T = any>(emitter: EventEmitter, event: string): { items: T[]; stop: () => void } {
  const items: T[] = [];
  const listener = (payload: T): void => void items.push(payload);
  emitter.on(event, listener);
  return { items, stop: () => void emitter.off(event, listener) };
}
