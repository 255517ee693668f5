import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import { PipesError, toPipesError } from "../../lib/errors";
import { connectionText } from "./status";
import type { PipesConfigNode, TypedInputType } from "./types";

export type Send = (msg: NodeMessage | (NodeMessage | null)[]) => void;
export type Done = (err?: Error) => void;

/**
 * One typedInput field for this msg: empty reads as undefined (use the default); a Node-RED error,
 * or a throw while reading, is a BAD_INPUT PipesError. Settled at once when Node-RED calls back at
 * once (msg, str, num, env, ...), else a promise (flow/global context stores, jsonata), so a hot
 * path with only immediate fields needs no promise per field.
 */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };
export type Field = Settled | Promise<Settled>;
const EMPTY: Field = { ok: true, value: undefined };

export function readField(RED: NodeAPI, node: Node, msg: NodeMessageInFlow, value: string | undefined, type: TypedInputType | undefined): Field {
  if (value === undefined || value === "") return EMPTY;
  let field: Settled | undefined;
  let later: ((result: Settled) => void) | undefined;
  try {
    RED.util.evaluateNodeProperty(value, type ?? "str", node, msg, (err: Error | null, result: unknown) => {
      const settled: Settled = err ? { ok: false, error: new PipesError("BAD_INPUT", `cannot read ${type ?? "str"} '${value}': ${err.message}`) } : { ok: true, value: result };
      if (later) later(settled);
      else field ??= settled;
    });
  } catch (err) {
    // Node-RED threw while reading (invalid JSON, a msg property whose getter throws, ...).
    return field ?? { ok: false, error: new PipesError("BAD_INPUT", `cannot read ${type ?? "str"} '${value}': ${describe(err)}`) };
  }
  if (field) return field;
  return new Promise<Settled>((resolve) => {
    later = (settled) => {
      later = () => undefined; // the first answer counts, as with a promise
      resolve(settled);
    };
  });
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return "an error that cannot be described";
  }
}

/** True when the field was read at once, without an error. */
export function readNow(field: Field): field is { ok: true; value: unknown } {
  return !(field instanceof Promise) && field.ok;
}

/**
 * The values of several fields, in order; rejects with the first field's error. The values travel
 * inside arrays and records, never as a promise's result: a value that is itself a promise (a msg
 * property holding one) would otherwise be waited for, forever if it never settles.
 */
export function readAll(fields: Field[]): Promise<unknown[]> {
  return Promise.all(fields.map((field) => (field instanceof Promise ? field : Promise.resolve(field)))).then((settled) => {
    const failed = settled.find((field) => !field.ok);
    if (failed && !failed.ok) throw failed.error;
    return settled.map((field) => (field as { value: unknown }).value);
  });
}

/** The config node behind a `connection` property, or the reason it cannot be used. */
export function configFor(RED: NodeAPI, id: string | undefined): { config?: PipesConfigNode; problem?: string } {
  const config = id ? (RED.nodes.getNode(id) as PipesConfigNode | null) : null;
  if (!config) return { problem: connectionText("status.no-connection") };
  if (!config.client) return { config, problem: config.configError ?? connectionText("status.unusable") };
  return { config };
}

/** True when the node's second output (failures) is wired to something. */
export function hasFailureWires(wires: string[][] | undefined): boolean {
  return Array.isArray(wires?.[1]) && wires[1].length > 0;
}

/**
 * The one place a failed msg goes: `msg.error = {message, code, source}`, then output 2 when it is
 * wired, else done(err) so a Catch node (or the log) sees it. Never both: a failure is reported once.
 * Never throws: whatever the msg is, it ends in exactly one of output 2 or done(err).
 */
export function fail(msg: NodeMessageInFlow, err: unknown, failureWired: boolean, send: Send, done: Done): void {
  const error = toPipesError(err);
  const out = withProperty(msg, "error", error.toJSON());
  if (!failureWired) {
    done(error);
    return;
  }
  passOn(() => send([null, out]), done);
}

/** Output 1 with `msg.sent`; never throws (see fail). */
export function succeed(msg: NodeMessageInFlow, sent: Record<string, unknown>, send: Send, done: Done): void {
  const out = withProperty(msg, "sent", sent);
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
      Object.defineProperty(copy, name, { value: (msg as Record<string, unknown>)[name], enumerable: true, writable: true, configurable: true });
    } catch {
      // a getter that throws: left out
    }
  }
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy as T;
}
