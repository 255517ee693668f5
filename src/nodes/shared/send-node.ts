import type { Node, NodeAPI, NodeDef, NodeMessageInFlow, NodeStatus } from "node-red";
import type { PipesClient } from "../../lib/client";
import { PipesError, toPipesError } from "../../lib/errors";
import { answeredMessageId } from "../../lib/handling";
import { ERROR_CODES } from "../../lib/protocol";
import { configFor } from "./connection";
import type { NodeStrings, Translate } from "./i18n";
import { fail, hasFailureWires, hasSuccessWires, succeed, type Done, type Send } from "./outputs";
import { nodeNumbers } from "./settings";
import { misconfiguredStatus, showConnectionStatus } from "./status";

/**
 * The skeleton of every node that sends (pipes-reply, pipes-send-media, and the next ones): it
 * finds the connection, checks the node's time-out, shows a status, and runs each msg through
 * input -> read fields -> validate -> send -> output 1 / output 2 / done(err). A node supplies only
 * `send`. Each msg ends in exactly one of output 1 (`msg.sent`), output 2 (`msg.error`) or
 * done(err), whatever the msg is and whatever the send does; nothing here can become an uncaught
 * exception.
 */

export interface SendNodeDef extends NodeDef {
  connection: string;
  timeout?: number | string;
  wires: string[][];
}

export interface SendContext {
  client: PipesClient;
  /** The node's time-out, checked at deploy (1 day at most). */
  timeoutMs: number;
}

export interface SendNodeSpec {
  strings: NodeStrings;
  /**
   * "socket": the node replies over the connection's socket when a pipes-in keeps it open, and shows
   * the connection's state. "rest": it only calls the REST API and shows its own requests.
   */
  uses: "socket" | "rest";
  /** Sends one msg; resolves with `msg.sent`, rejects (or throws) with why it was not sent. */
  send(msg: NodeMessageInFlow, context: SendContext): Promise<Record<string, unknown>>;
  /** For "rest" nodes: how the status names a sent msg ("sent image"). */
  describeSent?(sent: Record<string, unknown>): string;
  /**
   * Whether this node's outcome decides a webhook delivery's answer ("answer when handled"). Default
   * true; false for a node that only reads (pipes-send listing templates): the flow goes on after it.
   */
  settlesHandling?: boolean;
}

export function sendNode(RED: NodeAPI, node: Node, def: SendNodeDef, spec: SendNodeSpec): void {
  const { common } = spec.strings;
  const { values, problem: settingProblem } = nodeNumbers(common, def, ["timeout"]);
  const timeoutMs = values.timeout * 1000;
  const { config, problem } = configFor(RED, def.connection, common);
  const client = settingProblem ? undefined : config?.client;

  let stopStatus = () => undefined as void;
  let requests: RequestStatus | undefined;
  if (settingProblem) node.status(misconfiguredStatus(settingProblem));
  else if (!client) node.status(misconfiguredStatus(problem ?? common("status.no-connection")));
  else if (spec.uses === "socket") {
    stopStatus = showConnectionStatus(node, client, common, { sender: true });
    client.acquireSocket(node, "sender");
  } else {
    node.status({});
    requests = new RequestStatus(node, common, (sent) => spec.describeSent?.(sent) ?? "");
  }

  const context: SendContext = { client: client!, timeoutMs };
  const sends = handleSends({
    node,
    client,
    common,
    refusal: settingProblem
      ? new PipesError(ERROR_CODES.INVALID_CONFIG, `not sent: ${settingProblem}`)
      : client
        ? undefined
        : new PipesError(ERROR_CODES.NOT_CONNECTED, `not sent: ${problem ?? "no connection configured"}`),
    send: (msg) => spec.send(msg, context),
    settlesHandling: spec.settlesHandling !== false,
    started: requests && (() => requests.started()),
    settled: requests && ((outcome) => requests.settled(outcome)),
  });

  node.on("close", (removed: boolean, done: () => void) => {
    sends.closing();
    stopStatus();
    if (client && spec.uses === "socket") client.releaseSocket(node, removed).then(done, () => done());
    else done();
  });
}

/**
 * The status of a node that shows its own requests: "sending", "sent image", "failed: CODE". It
 * changes on transitions only (the first request of a burst, a failure, the last request settled),
 * and each text is translated once: at thousands of requests a second, a status and a translation
 * per request cost more than the request itself.
 */
class RequestStatus {
  private pending = 0;
  private shown: NodeStatus | undefined;
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly node: Node,
    private readonly common: Translate,
    private readonly describeSent: (sent: Record<string, unknown>) => string,
  ) {}

  started(): void {
    this.pending++;
    if (this.pending === 1) this.show("yellow", "ring", "status.request-sending");
  }

  settled(outcome: Outcome): void {
    this.pending--;
    if ("error" in outcome) this.show("red", "ring", "status.request-failed", "code", outcome.error.code);
    else if (this.pending === 0) this.show("green", "dot", "status.request-sent", "what", this.describeSent(outcome.sent));
  }

  private show(fill: "yellow" | "red" | "green", shape: "ring" | "dot", key: string, param?: string, value?: string): void {
    const cacheKey = `${key}\n${value ?? ""}`;
    let text = this.texts.get(cacheKey);
    if (text === undefined) {
      text = this.common(key, param ? { [param]: value ?? "" } : undefined).trim();
      if (this.texts.size < 100) this.texts.set(cacheKey, text);
    }
    if (this.shown && this.shown.fill === fill && this.shown.text === text) return;
    this.shown = { fill, shape, text };
    this.node.status(this.shown);
  }
}

type Outcome = { sent: Record<string, unknown> } | { error: PipesError };

interface HandleSendsSpec {
  node: Node;
  client: PipesClient | undefined;
  common: Translate;
  /** Set when every msg must fail before sending (no usable connection, a setting out of range). */
  refusal?: PipesError;
  send(msg: NodeMessageInFlow): Promise<Record<string, unknown>>;
  settlesHandling: boolean;
  started?(): void;
  settled?(outcome: Outcome): void;
}

function handleSends(spec: HandleSendsSpec): { closing(): void } {
  const { node } = spec;
  let closing = false;
  // Read per msg, not at deploy: a "modified nodes" deploy that only rewires a node keeps it
  // running and gives it its new wires (Node-RED's updateWires).
  const wires = () => (node as unknown as { wires?: string[][] }).wires;
  const stopLosses = new StopLossLog(node, spec.common, () => hasFailureWires(wires()));

  node.on("input", (msg: NodeMessageInFlow, send: Send, nodeDone: Done) => {
    const done = guardDone(node, nodeDone);
    const failed = (err: unknown, started: boolean) => {
      const error = toPipesError(err);
      if (started) spec.settled?.({ error });
      if (spec.settlesHandling) handlingEnded(spec.client, msg, error);
      // While the flow stops, output 2 and Catch nodes may be stopping too: the log always hears it.
      if (closing || spec.client?.isStopped) stopLosses.add(msg, error);
      fail(msg, error, hasFailureWires(wires()), send, done);
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
          if (spec.settlesHandling) handlingEnded(spec.client, msg);
          succeed(msg, sent, hasSuccessWires(wires()), send, done);
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
 * A webhook delivery waiting for its msg to be handled ("answer when handled") is answered now
 * (src/lib/handling.ts). Free when nothing waits: the msg is not even looked at.
 */
function handlingEnded(client: PipesClient | undefined, msg: NodeMessageInFlow, error?: PipesError): void {
  if (!client || client.handling.size === 0) return;
  const messageId = answeredMessageId(msg);
  if (messageId) client.handling.sendEnded(messageId, error);
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
    private readonly common: Translate,
    private readonly failureWired: () => boolean,
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
    const ids = lost
      .slice(0, 10)
      .map((l) => l.id)
      .join(", ");
    this.node.warn(
      this.common("warnings.stopped-unsent", {
        count: lost.length,
        codes: [...counts].map(([code, n]) => `${code} ×${n}`).join(", "),
        output: this.failureWired() ? this.common("warnings.output-2") : "done(err)",
        ids: lost.length > 10 ? `${ids}, …` : ids,
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
