import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import { PipesError, toPipesError } from "../../lib/errors";
import { connectionText } from "./status";
import type { PipesConfigNode, TypedInputType } from "./types";

export type Send = (msg: NodeMessage | (NodeMessage | null)[]) => void;
export type Done = (err?: Error) => void;

/**
 * One typedInput field for this msg: empty reads as undefined (use the default); a Node-RED error is
 * a BAD_INPUT PipesError; a throw is passed on as it is. Settled at once when Node-RED calls back at
 * once (msg, str, num, env, ...), else a promise (flow/global context stores, jsonata), so a hot
 * path with only immediate fields needs no promise per field.
 */
export type Field = { ok: true; value: unknown } | { ok: false; error: unknown } | Promise<unknown>;
const EMPTY: Field = { ok: true, value: undefined };

export function readField(RED: NodeAPI, node: Node, msg: NodeMessageInFlow, value: string | undefined, type: TypedInputType | undefined): Field {
  if (value === undefined || value === "") return EMPTY;
  let field: Field | undefined;
  let later: ((result: Field) => void) | undefined;
  try {
    RED.util.evaluateNodeProperty(value, type ?? "str", node, msg, (err: Error | null, result: unknown) => {
      const settled: Field = err ? { ok: false, error: new PipesError("BAD_INPUT", `cannot read ${type ?? "str"} '${value}': ${err.message}`) } : { ok: true, value: result };
      if (later) later(settled);
      else field ??= settled;
    });
  } catch (err) {
    return field ?? { ok: false, error: err };
  }
  if (field) return field;
  return new Promise<Field>((resolve) => {
    later = (settled) => {
      later = () => undefined; // the first answer counts, as with a promise
      resolve(settled);
    };
  }).then(fieldValue);
}

/** True when the field was read at once, without an error. */
export function readNow(field: Field): field is { ok: true; value: unknown } {
  return !(field instanceof Promise) && field.ok;
}

/** A field as a promise of its value (rejected with its error). */
export function fieldValue(field: Field): Promise<unknown> {
  if (field instanceof Promise) return field;
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what Node-RED threw, passed on as it is
  return field.ok ? Promise.resolve(field.value) : Promise.reject(field.error);
}

/** Reads a typedInput value for this msg as a promise (see readField). */
export function evaluate(RED: NodeAPI, node: Node, msg: NodeMessageInFlow, value: string | undefined, type: TypedInputType | undefined): Promise<unknown> {
  return fieldValue(readField(RED, node, msg, value, type));
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
 */
export function fail(msg: NodeMessageInFlow, err: unknown, failureWired: boolean, send: Send, done: Done): void {
  const error = toPipesError(err);
  (msg as NodeMessageInFlow & { error: unknown }).error = error.toJSON();
  if (failureWired) {
    send([null, msg]);
    done();
  } else {
    done(error);
  }
}

export function succeed(msg: NodeMessageInFlow, sent: Record<string, unknown>, send: Send, done: Done): void {
  (msg as NodeMessageInFlow & { sent: unknown }).sent = sent;
  send([msg, null]);
  done();
}

/** Parses a numeric editor field, falling back when it is empty or not a positive number. */
export function positiveNumber(value: number | string | undefined, fallback: number): number {
  const n = typeof value === "string" ? Number(value.trim()) : value;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : fallback;
}
