import type { EventEmitter } from "node:events";
import helper from "node-red-node-test-helper";
import { nodeModules } from "./package";
import { waitFor, waitUntil } from "./wait";

// NODE_RED_FROM: a folder whose node_modules holds another Node-RED (e.g. v5 under Node 22).
helper.init(require.resolve("node-red", process.env.NODE_RED_FROM ? { paths: [process.env.NODE_RED_FROM] } : undefined));

export { helper };

/** A module of the Node-RED runtime under test (e.g. "@node-red/util"), not necessarily this repo's. */
export function nodeRedModule(name: string): unknown {
  const from = process.env.NODE_RED_FROM ?? process.cwd();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve(name, { paths: [from] })) as unknown;
}

/** Node-RED's own nodes (function, debug, catch, ...) from the runtime under test. */
export function coreNodes(...files: string[]): unknown[] {
  return files.map((file) => nodeRedModule(`@node-red/nodes/core/${file}`));
}
/** Every node of this package (package.json node-red.nodes), loaded from the TypeScript sources. */
export const PIPES_NODES = nodeModules();

/** Timings that keep tests fast: quick handshakes and backoff. Real defaults are in lib/connection.ts. */
export const FAST_TUNING = { handshakeTimeoutMs: 2000, backoffBaseMs: 20, stableAfterMs: 200, idleCloseMs: 200 };

export function configNode(baseUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: "cfg", type: "pipes-config", name: "test", baseUrl, scope: "user", tuning: FAST_TUNING, ...extra };
}

/** Loads a flow with our node types and the config node's API key as a credential. */
export async function loadFlow(flow: Record<string, unknown>[], apiKey: string, extraNodes: unknown[] = []): Promise<void> {
  await helper.load([...PIPES_NODES, ...extraNodes] as never, flow as never, { cfg: { apiKey } });
}

type SpiedNode = EventEmitter & { status: { args: unknown[][] } };

/** Every status object a node has shown so far (the helper spies on node.status). */
export function statuses(id: string): { fill?: string; shape?: string; text?: string }[] {
  const node = helper.getNode(id) as unknown as SpiedNode;
  return node.status.args.map((a) => a[0] as { fill?: string; text?: string });
}

/** Waits until the node's latest status text matches. */
export function waitForStatus(
  id: string,
  text: string | RegExp,
  timeoutMs = 5000,
): Promise<{ fill?: string; shape?: string; text?: string }> {
  const node = helper.getNode(id) as unknown as SpiedNode;
  const matches = (t: string | undefined) => (typeof text === "string" ? t === text : text.test(t ?? ""));
  return waitUntil(
    `status '${String(text)}' on ${id}`,
    () => {
      const all = statuses(id);
      const last = all[all.length - 1];
      return last && matches(last.text) ? last : undefined;
    },
    node,
    ["call:status"],
    timeoutMs,
  );
}

/** The next msg a helper node receives. */
export function nextInput<T = any>(id: string, timeoutMs = 5000): Promise<T> {
  return waitFor<T>(helper.getNode(id), "input", { what: `a msg at ${id}`, timeoutMs });
}

/** The first msg to reach any of the helper nodes `ids`, and which one it reached. */
export function firstInput<T = any>(ids: readonly string[], timeoutMs = 5000): Promise<{ id: string; msg: T }> {
  const nodes = ids.map((id) => helper.getNode(id) as unknown as EventEmitter);
  return waitFor(nodes, "input", {
    what: `a msg at ${ids.join(" or ")}`,
    timeoutMs,
    until: (msg: T, { emitter }) => ({ id: ids[nodes.indexOf(emitter)], msg }),
  });
}

/** The next error a node reports (done(err) or node.error), as the spied call's arguments. */
export function nextError(id: string, timeoutMs = 5000): Promise<{ err: unknown; msg: any }> {
  return waitFor(helper.getNode(id) as unknown as EventEmitter, "call:error", {
    what: `an error from ${id}`,
    timeoutMs,
    until: (call: { args: unknown[] }) => ({ err: call.args[0], msg: call.args[1] }),
  });
}
