import type { NodeMessage, NodeMessageInFlow } from "node-red";
import { toPipesError } from "../../lib/errors";

/**
 * Where a handled msg goes: output 1 with `msg.sent`, output 2 with `msg.error`, or, when output 2
 * is not wired, done(err) so a Catch node (or the log) sees it. A failure is reported once, never
 * both ways, and nothing here throws, whatever the msg is.
 */

export type Send = (msg: NodeMessage | (NodeMessage | null)[]) => void;
export type Done = (err?: Error) => void;

/** True when the node's second output (failures) is wired to something. */
export function hasFailureWires(wires: string[][] | undefined): boolean {
  return isWired(wires, 1);
}

/** True when the node's first output (sent) is wired to something. */
export function hasSuccessWires(wires: string[][] | undefined): boolean {
  return isWired(wires, 0);
}

function isWired(wires: string[][] | undefined, output: number): boolean {
  return Array.isArray(wires?.[output]) && wires[output].length > 0;
}

export function fail(msg: NodeMessageInFlow, err: unknown, failureWired: boolean, send: Send, done: Done): void {
  const error = toPipesError(err);
  const out = withProperty(msg, "error", error.toJSON());
  if (!failureWired) {
    done(error);
    return;
  }
  passOn(() => send([null, out]), done);
}

/**
 * With output 1 unwired the msg is not sent at all (only done()): Node-RED would still make up a
 * message id, log a metric event and route an empty list for it, about a microsecond and a half per
 * msg of a flow that only replies. msg.sent is set either way, so a Complete node watching this node
 * sees it (except on a msg that refuses new properties: its copy with msg.sent goes to output 1 only).
 */
export function succeed(msg: NodeMessageInFlow, sent: Record<string, unknown>, successWired: boolean, send: Send, done: Done): void {
  const out = withProperty(msg, "sent", sent);
  if (!successWired) {
    done();
    return;
  }
  passOn(() => send([out, null]), done);
}

/** Sends, then done(); a send that throws (Node-RED could not pass the msg on) ends in done(err). */
function passOn(sendIt: () => void, done: Done): void {
  try {
    sendIt();
  } catch (err) {
    done(toPipesError(err));
    return;
  }
  done();
}

/**
 * `msg[key] = value`, or, for a msg that refuses new properties (frozen, sealed, made
 * non-extensible by a function node, a setter that throws), a plain copy of what can be read of it
 * with the property added. The node must never crash on such a msg (an exception here would be an
 * unhandled rejection: Node-RED exits), and the result still reaches the flow.
 */
export function withProperty<T extends object>(msg: T, key: string, value: unknown): T {
  try {
    (msg as Record<string, unknown>)[key] = value;
    if ((msg as Record<string, unknown>)[key] === value) return msg;
  } catch {
    // refused: copy below
  }
  const copy: Record<string, unknown> = {};
  let names: string[] = [];
  try {
    names = Object.keys(msg);
  } catch {
    // a Proxy that refuses to list its keys: the copy carries only the new property
  }
  for (const name of names) {
    try {
      // defineProperty, not assignment: a key named "__proto__" must stay an ordinary property.
      Object.defineProperty(copy, name, {
        value: (msg as Record<string, unknown>)[name],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } catch {
      // a getter that throws: left out
    }
  }
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy as T;
}
