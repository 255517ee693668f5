import type { EventEmitter } from "node:events";

/**
 * Resolves when `check()` returns a value other than undefined/false, re-checking each time
 * `emitter` emits one of `events`. Fails after `timeoutMs` with `what` in the message, so a
 * missing feature fails the test instead of hanging it. This waits on events, not on time.
 */
export function waitUntil<T>(what: string, check: () => T | undefined | false, emitter: EventEmitter, events: string[], timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const first = check();
    if (first !== undefined && first !== false) {
      resolve(first);
      return;
    }
    const onEvent = () => {
      let value: T | undefined | false;
      try {
        value = check();
      } catch (err) {
        cleanup();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (value !== undefined && value !== false) {
        cleanup();
        resolve(value);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      for (const event of events) emitter.off(event, onEvent);
    };
    for (const event of events) emitter.on(event, onEvent);
  });
}

/** The next `count` emissions of `event` (their first argument), with a time limit. */
export function collect<T = unknown>(emitter: EventEmitter, event: string, count: number, timeoutMs = 5000): Promise<T[]> {
  return new Promise<T[]>((resolve, reject) => {
    const items: T[] = [];
    const onEvent = (item: T) => {
      items.push(item);
      if (items.length >= count) {
        cleanup();
        resolve(items);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms with ${items.length} of ${count} '${event}' events`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
    };
    emitter.on(event, onEvent);
  });
}
