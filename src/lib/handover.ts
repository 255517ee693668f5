import type { InboundMessage } from "./protocol";
import type { ReplayFilter } from "./replay-filter";

/**
 * What a stopping client passes to the next client of the same account: the inbound messages it
 * still held (they arrived while its pipes-in nodes were restarting, or on its closing socket during
 * a full deploy) and its replay filter (so a message seen before the deploy is not delivered twice
 * after it). Node-RED stops every node of a full deploy before it starts the new ones, so the new
 * config node's client finds the handover waiting when it is constructed. One that nobody takes
 * within `ttlMs` is reported as lost, message by message (`onExpired`).
 */

export interface HeldMessage {
  message: InboundMessage;
  /** Size of the frame it came in (what holding it costs, roughly). */
  bytes: number;
}

export interface Handover {
  messages: HeldMessage[];
  replayFilter: ReplayFilter;
}

type Claimant = (handover: Handover) => void;

/**
 * Handovers waiting for a client. One with messages has a timer that reports them lost; one with
 * only a replay filter has none (it costs a little memory, and a stop must leave no timer behind):
 * it is dropped when it is older than its TTL, at the next deposit or claim.
 */
const deposited = new Map<string, { handover: Handover; timer?: NodeJS.Timeout; expiresAt: number }>();
const claimants = new Map<string, Set<Claimant>>();

/** Leaves a handover for the next client of `account`; a live client of that account gets it at once. */
export function depositHandover(account: string, handover: Handover, ttlMs: number, onExpired: (messages: HeldMessage[]) => void): void {
  const live = claimants.get(account);
  if (live?.size) {
    const [first] = live;
    first(handover);
    return;
  }
  sweepExpired();
  const previous = deposited.get(account);
  if (previous) {
    // Two stops in a row with no client between them: keep both, oldest messages first.
    clearTimeout(previous.timer);
    handover = { messages: [...previous.handover.messages, ...handover.messages], replayFilter: handover.replayFilter };
    handover.replayFilter.adopt(previous.handover.replayFilter);
  }
  const expiresAt = Date.now() + ttlMs;
  if (!handover.messages.length) {
    deposited.set(account, { handover, expiresAt });
    return;
  }
  const messages = handover.messages;
  const timer = setTimeout(() => {
    deposited.delete(account);
    onExpired(messages);
  }, ttlMs);
  timer.unref(); // a handover never keeps the process alive (the stop already logged what it holds)
  deposited.set(account, { handover, timer, expiresAt });
}

function sweepExpired(): void {
  const now = Date.now();
  for (const [account, entry] of deposited) if (!entry.timer && entry.expiresAt <= now) deposited.delete(account);
}

/** Registers a live client of `account`: returns the handover waiting for it, if any, and an unregister. */
export function claimHandovers(account: string, claimant: Claimant): { waiting?: Handover; release: () => void } {
  sweepExpired();
  const entry = deposited.get(account);
  if (entry) {
    clearTimeout(entry.timer);
    deposited.delete(account);
  }
  let set = claimants.get(account);
  if (!set) {
    set = new Set();
    claimants.set(account, set);
  }
  set.add(claimant);
  return {
    waiting: entry?.handover,
    release: () => {
      set.delete(claimant);
      if (set.size === 0 && claimants.get(account) === set) claimants.delete(account);
    },
  };
}
