/**
 * Test helpers for the emulator spec: a WebSocket client that buffers frames and hands them out in
 * order, an upgrade-status probe, and an event waiter. Every wait is bounded by a timeout that only
 * guards against a hang; nothing here sleeps for a fixed time.
 */
import type { EventEmitter } from "node:events";
import WebSocket from "ws";

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

interface Waiter {
  type: string | undefined;
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class TestSocket {
  private readonly buffered: Frame[] = [];
  private readonly waiters: Waiter[] = [];
  /** Resolves with the close code once the socket is closed. */
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    // binaryType is the default "nodebuffer", so every message arrives as one Buffer.
    ws.on("message", (data) => this.onFrame(JSON.parse((data as Buffer).toString("utf8")) as Frame));
    // Errors end in a close, which `closed` reports; an unhandled 'error' would crash mocha.
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
  }

  /** Opens a socket and resolves with it and its `connected` frame. */
  static async open(baseUrl: string, query: Record<string, string | undefined>): Promise<{ socket: TestSocket; connected: Frame }> {
    const ws = new WebSocket(wsUrl(baseUrl, query));
    const socket = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("close", () => reject(new Error("socket closed before opening")));
    });
    const connected = await socket.next("connected");
    return { socket, connected };
  }

  /** The first not-yet-taken frame of `type` (any type when omitted), in arrival order. */
  next(type?: string, timeoutMs = WAIT_LIMIT_MS): Promise<Frame> {
    const index = this.buffered.findIndex((f) => type === undefined || f.type === type);
    if (index >= 0) return Promise.resolve(this.buffered.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`no '${type ?? "any"}' frame within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
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

  private onFrame(frame: Frame): void {
    const index = this.waiters.findIndex((w) => w.type === undefined || w.type === frame.type);
    if (index < 0) {
      this.buffered.push(frame);
      return;
    }
    const [waiter] = this.waiters.splice(index, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(frame);
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

/** Resolves with the first emission of `event` whose payload passes `match`. */
export function nextEvent<T = any>(emitter: EventEmitter, event: string, match: (payload: T) => boolean = () => true, timeoutMs = WAIT_LIMIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (payload: T): void => {
      if (!match(payload)) return;
      cleanup();
      resolve(payload);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, listener);
    };
    emitter.on(event, listener);
  });
}

/** Collects every emission of `event` until the returned stop function is called. */
export function collectEvents<T = any>(emitter: EventEmitter, event: string): { items: T[]; stop: () => void } {
  const items: T[] = [];
  const listener = (payload: T): void => void items.push(payload);
  emitter.on(event, listener);
  return { items, stop: () => void emitter.off(event, listener) };
}
