import type { PipesError } from "./errors";
import { ERROR_CODES } from "./protocol";

/**
 * "Answer when handled" for webhook deliveries (docs/decisions/0053-webhook-answer-when-handled.md):
 * the HTTP answer to Pipes waits until the flow has handled the message, so a Node-RED that dies
 * first never said 200 and Pipes delivers the message again. One registry per account (connection):
 * the receiving node opens a wait per message id, and every sending node of the same connection
 * settles it when it has sent (or failed to send) something for that msg.
 *
 * How a wait ends, and what Pipes is answered:
 * - "handled": a send for the msg succeeded, failed for a reason a new delivery cannot fix (the
 *   failure is on the send node's output 2), or the flow marked it handled -> 200;
 * - "retry": a send failed for a reason that may pass (not connected, queue full, rate limited,
 *   never reached the server, the flow stopping) -> 503, and the message may run again;
 * - "timeout": nothing settled it in time -> 200 (the flow still has it; the node warns);
 * - "stopped": the receiving node closed (a redeploy) -> 503.
 */

export type HandlingOutcome = "handled" | "retry" | "timeout" | "stopped";

/** Waits open at once, per account: past it a delivery is answered 503 (Pipes retries later). */
export const MAX_OPEN_WAITS = 1000;

interface Wait {
  owner: object;
  promise: Promise<HandlingOutcome>;
  settle(outcome: HandlingOutcome): void;
}

export class HandlingWaits {
  private readonly open = new Map<string, Wait>();

  constructor(private readonly maxOpen = MAX_OPEN_WAITS) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Opens the wait for one message; undefined when too many are open already. `owner` is the
   * receiving node (its waits end as "stopped" when it closes).
   */
  begin(messageId: string, owner: object, timeoutMs: number): Promise<HandlingOutcome> | undefined {
    const existing = this.open.get(messageId);
    if (existing) return existing.promise;
    if (this.open.size >= this.maxOpen) return undefined;
    let settle!: (outcome: HandlingOutcome) => void;
    const promise = new Promise<HandlingOutcome>((resolve) => {
      const timer = setTimeout(() => settle("timeout"), timeoutMs);
      settle = (outcome) => {
        if (this.open.get(messageId) !== wait) return;
        clearTimeout(timer);
        this.open.delete(messageId);
        resolve(outcome);
      };
    });
    const wait: Wait = { owner, promise, settle };
    this.open.set(messageId, wait);
    return promise;
  }

  /** The wait of a message still open (a second delivery of it joins the first's answer). */
  pending(messageId: string): Promise<HandlingOutcome> | undefined {
    return this.open.get(messageId)?.promise;
  }

  settle(messageId: string, outcome: HandlingOutcome): void {
    this.open.get(messageId)?.settle(outcome);
  }

  /** A send for the msg of `messageId` ended: succeeded (no error) or failed with `error`. */
  sendEnded(messageId: string, error?: PipesError): void {
    this.settle(messageId, error && mayPassOnRetry(error) ? "retry" : "handled");
  }

  /** Resolves when `owner` has no open wait left, or after `maxMs` (waits end by themselves within their time-out). */
  ownerIdle(owner: object, maxMs: number): Promise<void> {
    const mine = [...this.open.values()].filter((wait) => wait.owner === owner).map((wait) => wait.promise);
    if (mine.length === 0) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
    return Promise.race([Promise.all(mine).then(() => undefined), limit]).finally(() => clearTimeout(timer));
  }

  /** The receiving node closed: its waits end now. */
  closeOwner(owner: object): void {
    for (const wait of [...this.open.values()]) if (wait.owner === owner) wait.settle("stopped");
  }
}

/**
 * Failures after which nothing was sent and a later delivery of the same message may succeed.
 * Everything else is "handled": a time-out or an unknown outcome may have reached WhatsApp (a new
 * delivery would risk a second reply), a long text whose first parts went out would send them
 * again, and a refused message (bad input, window closed) would be refused again.
 */
const PASSING_CODES: ReadonlySet<string> = new Set([
  ERROR_CODES.NOT_CONNECTED,
  ERROR_CODES.QUEUE_FULL,
  ERROR_CODES.QUEUE_EXPIRED,
  ERROR_CODES.RATE_LIMITED,
  ERROR_CODES.STOPPED,
]);

export function mayPassOnRetry(error: PipesError): boolean {
  // Some parts already went out: a new delivery would send them again.
  if (error.partial) return false;
  return PASSING_CODES.has(error.code) || error.retryable === true || error.status === 429 || error.status === 503;
}

/** The id of the inbound message a msg answers (msg.pipes.messageId), read without trusting the msg. */
export function answeredMessageId(msg: unknown): string | undefined {
  try {
    const pipes = (msg as { pipes?: { messageId?: unknown } } | null)?.pipes;
    const id = pipes && typeof pipes === "object" ? pipes.messageId : undefined;
    return typeof id === "string" && id !== "" ? id : undefined;
  } catch {
    return undefined;
  }
}
