import type { Node, NodeMessageInFlow } from "node-red";
import type { PipesClient } from "../../lib/client";
import { toPipesError, type PipesError } from "../../lib/errors";
import { fail, succeed, type Done, type Send } from "./io";
import { connectionText } from "./status";

/**
 * The input side of a node that sends (pipes-reply, pipes-send-media): each msg ends in exactly
 * one of output 1 (`msg.sent`), output 2 (`msg.error`) or done(err), whatever the msg is and
 * whatever the send does, and nothing that happens here can become an uncaught exception.
 */
export interface SendNodeSpec {
  node: Node;
  failureWired: boolean;
  client: PipesClient | undefined;
  /** Set when every msg must fail before sending (no usable connection, a setting out of range). */
  refusal?: PipesError;
  /** Sends one msg; resolves with `msg.sent`, rejects (or throws) with why it was not sent. */
  send(msg: NodeMessageInFlow): Promise<Record<string, unknown>>;
  /** Told when a send starts and how it ended (e.g. for a status of the node's own requests). */
  started?(): void;
  settled?(outcome: { sent: Record<string, unknown> } | { error: PipesError }): void;
}

export interface SendNodeHandle {
  /** Call first thing in the node's close handler: failures from here on are also logged. */
  closing(): void;
}

export function handleSends(spec: SendNodeSpec): SendNodeHandle {
  const { node, failureWired } = spec;
  let closing = false;
  const stopLosses = new StopLossLog(node, failureWired);

  node.on("input", (msg: NodeMessageInFlow, send: Send, nodeDone: Done) => {
    const done = guardDone(node, nodeDone);
    const failed = (err: unknown, started: boolean) => {
      const error = toPipesError(err);
      if (started) spec.settled?.({ error });
      // While the flow stops, output 2 and Catch nodes may be stopping too: the log always hears it.
      if (closing || spec.client?.isStopped) stopLosses.add(msg, error);
      fail(msg, error, failureWired, send, done);
    };
    if (spec.refusal) {
      failed(spec.refusal, false);
      return;
    }
    spec.started?.();
    let pending: Promise<Record<string, unknown>>;
    try {
      pending = spec.send(msg);
    } catch (err) {
      failed(err, true);
      return;
    }
    pending
      .then(
        (sent) => {
          spec.settled?.({ sent });
          succeed(msg, sent, send, done);
        },
        (err: unknown) => failed(err, true),
      )
      .catch((err: unknown) => done(toPipesError(err)));
  });

  return {
    closing: () => {
      closing = true;
    },
  };
}

/**
 * Node-RED's done(err) routes the error to Catch nodes with a clone of the msg; a msg that cannot
 * be cloned makes done throw. The failure is then at least logged, never thrown at our caller.
 */
function guardDone(node: Node, done: Done): Done {
  return (err) => {
    try {
      done(err);
    } catch (thrown) {
      node.error(toPipesError(err ?? thrown).message);
    }
  };
}

/**
 * Failures caused by a stop (a redeploy, or the connection's config node going away) are written
 * to the log as one line per burst, because the nodes wired to output 2 (or a Catch node) may be
 * stopping at the same moment and never see them.
 */
class StopLossLog {
  private pending: { id: string; code: string }[] = [];

  constructor(
    private readonly node: Node,
    private readonly failureWired: boolean,
  ) {}

  add(msg: NodeMessageInFlow, error: PipesError): void {
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push({ id: msgId(msg), code: error.code });
  }

  private flush(): void {
    const lost = this.pending;
    this.pending = [];
    const counts = new Map<string, number>();
    for (const { code } of lost) counts.set(code, (counts.get(code) ?? 0) + 1);
    const ids = lost.slice(0, 10).map((l) => l.id).join(", ") + (lost.length > 10 ? ", …" : "");
    this.node.warn(
      connectionText("warnings.stopped-unsent", {
        count: lost.length,
        codes: [...counts].map(([code, n]) => `${code} ×${n}`).join(", "),
        output: this.failureWired ? connectionText("warnings.output-2") : "done(err)",
        ids,
      }),
    );
  }
}

function msgId(msg: NodeMessageInFlow): string {
  try {
    return typeof msg._msgid === "string" ? msg._msgid.slice(0, 40) : "?";
  } catch {
    return "?";
  }
}
