import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import { PipesError } from "../../lib/errors";
import type { TypedInputType } from "./types";

/**
 * Reading a node's typedInput fields for one msg. A field read at once (msg, str, num, env, ...)
 * costs no promise, so a node whose fields are all immediate handles a msg in the same tick; a
 * context store or JSONata answers later. Values always travel inside records and arrays, never as
 * a promise's result: a msg property holding a promise would otherwise be waited for, forever if it
 * never settles.
 */

export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };
export type Field = Settled | Promise<Settled>;
const EMPTY: Field = { ok: true, value: undefined };

/** A field as the node stores it: the value and its typedInput type. Empty reads as undefined. */
export type FieldSpec = readonly [value: string | undefined, type: TypedInputType | undefined];

/**
 * One field for this msg: empty reads as undefined (the node's default applies); a Node-RED error,
 * or a throw while reading (invalid JSON, a msg property whose getter throws), is BAD_INPUT.
 */
export function readField(
  RED: NodeAPI,
  node: Node,
  msg: NodeMessageInFlow,
  value: string | undefined,
  type: TypedInputType | undefined,
): Field {
  if (value === undefined || value === "") return EMPTY;
  const kind = type ?? "str";
  let field: Settled | undefined;
  let later: ((result: Settled) => void) | undefined;
  try {
    RED.util.evaluateNodeProperty(value, kind, node, msg, (err: Error | null, result: unknown) => {
      const settled: Settled = err ? { ok: false, error: unreadable(kind, value, err) } : { ok: true, value: result };
      if (later) later(settled);
      else field ??= settled;
    });
  } catch (err) {
    return field ?? { ok: false, error: unreadable(kind, value, err) };
  }
  if (field) return field;
  return new Promise<Settled>((resolve) => {
    later = (settled) => {
      later = () => undefined; // the first answer counts, as with a promise
      resolve(settled);
    };
  });
}

/**
 * Several named fields for this msg: the record at once when every field was read at once (a
 * failure then throws), otherwise a promise of it (rejected with the first failure).
 */
export function readFields<K extends string>(
  RED: NodeAPI,
  node: Node,
  msg: NodeMessageInFlow,
  specs: Record<K, FieldSpec>,
): Record<K, unknown> | Promise<Record<K, unknown>> {
  const names = Object.keys(specs) as K[];
  const fields: Field[] = [];
  let waits = false;
  for (const name of names) {
    const field = readField(RED, node, msg, specs[name][0], specs[name][1]);
    if (field instanceof Promise) waits = true;
    fields.push(field);
  }
  if (!waits) return toRecord(names, fields as Settled[]);
  return Promise.all(fields.map((field) => (field instanceof Promise ? field : Promise.resolve(field)))).then((settled) =>
    toRecord(names, settled),
  );
}

/** msg.pipes, where the routing of a reply comes from; a getter that throws is BAD_INPUT, not a crash. */
export function msgPipes(msg: NodeMessageInFlow): unknown {
  try {
    return (msg as { pipes?: unknown }).pipes;
  } catch (err) {
    throw unreadable("msg", "pipes", err);
  }
}

function toRecord<K extends string>(names: K[], settled: Settled[]): Record<K, unknown> {
  const record = {} as Record<K, unknown>;
  for (let i = 0; i < names.length; i++) {
    const field = settled[i];
    if (!field.ok) throw field.error;
    record[names[i]] = field.value;
  }
  return record;
}

function unreadable(type: string, value: string, err: unknown): PipesError {
  let reason: string;
  try {
    reason = err instanceof Error ? err.message : String(err);
  } catch {
    reason = "an error that cannot be described";
  }
  return new PipesError("BAD_INPUT", `cannot read ${type} '${value}': ${reason}`);
}
