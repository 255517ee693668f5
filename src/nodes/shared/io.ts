import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from "node-red";
import { PipesError, toPipesError } from "../../lib/errors";
import { connectionText } from "./status";
import type { PipesConfigNode, TypedInputType } from "./types";

export type Send = (msg: NodeMessage | (NodeMessage | null)[]) => void;
export type Done = (err?: Error) => void;

/** Reads a typedInput value for this msg; an empty field reads as undefined (use the default). */
export function evaluate(RED: NodeAPI, node: Node, msg: NodeMessageInFlow, value: string | undefined, type: TypedInputType | undefined): Promise<unknown> {
  if (value === undefined || value === "") return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    RED.util.evaluateNodeProperty(value, type ?? "str", node, msg, (err: Error | null, result: unknown) => {
      if (err) reject(new PipesError("BAD_INPUT", `cannot read ${type ?? "str"} '${value}': ${err.message}`));
      else resolve(result);
    });
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
