/**
 * The one way the tests wait: for an event, with a time limit that only guards against a hang.
 * `waitFor` is the primitive (its timer is the only wait timer of the tests); `waitUntil`,
 * `collect` and `poll` are built on it, and so are the Node-RED waits in nodered.ts (nextInput,
 * nextError, firstInput, waitForStatus), the emulator fixture's socket waits, TestSocket.next
 * and start-app's waitForOutput. A wait that times out fails with what it waited for, so a
 * missing feature fails the test instead of hanging it. Nothing here sleeps for a fixed time.
 */
import { EventEmitter } from "node:events";

/** Where an emission came from, for `until`. */
export interface Emission {
  event: string;
  emitter: EventEmitter;
}

export interface WaitOptions<T> {
  /** What is awaited, for the time-out message ("timed out after N ms waiting for <what>"). Default: the event names. */
  what?: string | (() => string);
  /** Default 5000. */
  timeoutMs?: number;
  /**
   * Called with each emission's first argument; the wait resolves with the first value it returns
   * other than undefined or false, and rejects if it throws. Without it, the wait resolves with
   * the first emission's first argument.
   */
  until?: (value: any, from: Emission) => T | undefined | false;
}

/** Resolves at an emission of one of `events` on one of `emitters` (see WaitOptions.until); rejects after `timeoutMs`. */
export function waitFor<T = any>(
  emitters: EventEmitter | readonly EventEmitter[],
  events: string | readonly string[],
  options: WaitOptions<T> = {},
): Promise<T> {
  const sources = Array.isArray(emitters) ? (emitters as readonly EventEmitter[]) : [emitters as EventEmitter];
  const names = typeof events === "string" ? [events] : events;
  const { timeoutMs = 5000, until } = options;
  return new Promise<T>((resolve, reject) => {
    const listeners: [EventEmitter, string, (value: unknown) => void][] = [];
    const cleanup = () => {
      clearTimeout(timer);
      for (const [emitter, event, listener] of listeners) emitter.off(event, listener);
    };
    const timer = setTimeout(() => {
      cleanup();
      const what = typeof options.what === "function" ? options.what() : (options.what ?? names.map((n) => `'${n}'`).join(" or "));
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    for (const emitter of sources) {
      for (const event of names) {
        const listener = (value: unknown) => {
          if (!until) {
            cleanup();
            resolve(value as T);
            return;
          }
          let result: T | undefined | false;
          try {
            result = until(value, { event, emitter });
          } catch (err) {
            cleanup();
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (result !== undefined && result !== false) {
            cleanup();
            resolve(result);
          }
        };
        listeners.push([emitter, event, listener]);
        emitter.on(event, listener);
      }
    }
  });
}

/**
 * Resolves when `check()` returns a value other than undefined/false: checked at once, then each
 * time `emitter` emits one of `events`. Fails after `timeoutMs` with `what` in the message.
 */
export function waitUntil<T>(
  what: string,
  check: () => T | undefined | false,
  emitter: EventEmitter,
  events: readonly string[],
  timeoutMs = 5000,
): Promise<T> {
  let first: T | undefined | false;
  try {
    first = check();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  if (first !== undefined && first !== false) return Promise.resolve(first);
  return waitFor<T>(emitter, events, { what, timeoutMs, until: () => check() });
}

/** The next `count` emissions of `event` (their first argument), with a time limit. */
export function collect<T = unknown>(emitter: EventEmitter, event: string, count: number, timeoutMs = 5000): Promise<T[]> {
  const items: T[] = [];
  return waitFor<T[]>(emitter, event, {
    what: () => `${count} '${event}' events (got ${items.length})`,
    timeoutMs,
    until: (item: T) => {
      items.push(item);
      return items.length >= count ? items : undefined;
    },
  });
}

/**
 * For a state no event announces (another process's port or PID): runs `check` every `everyMs`
 * (one run at a time; it may be async) until it returns a value other than undefined/false, and
 * fails after `timeoutMs` with `what` in the message, or with the error `check` throws.
 */
export function poll<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { everyMs, timeoutMs }: { everyMs: number; timeoutMs: number },
): Promise<T> {
  const ticks = new EventEmitter();
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const value = await check();
      if (value !== undefined && value !== false) ticks.emit("settled", { value });
    } catch (err) {
      ticks.emit("settled", { err });
    } finally {
      running = false;
    }
  };
  // Listening first: a check that settles on its first run is not missed.
  const settled = waitFor<{ value?: T; err?: unknown }>(ticks, "settled", { what, timeoutMs });
  const interval = setInterval(() => void tick(), everyMs);
  void tick();
  return settled
    .then(({ value, err }) => {
      if (err !== undefined) throw err instanceof Error ? err : new Error(`${what}: the check threw ${JSON.stringify(err)}`);
      return value as T;
    })
    .finally(() => clearInterval(interval));
}
