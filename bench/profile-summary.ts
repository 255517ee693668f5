/**
 * Reads a V8 CPU profile (.cpuprofile, as BENCH_PROFILE writes them) and says where the time went:
 * by owner (our src/, Node-RED, ws, undici, Node itself, GC, ...), the functions with the most self
 * time, and the functions of ours with the most inclusive time (their callees included).
 *
 *   [MESSAGES=100000] npx tsx bench/profile-summary.ts .run/bench/ours-saturation-<time>.cpuprofile [more files]
 *
 * A .heapprofile (BENCH_HEAP=1) is read as allocations: bytes per message by owner and by site.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fmt, table } from "./stats";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  name: string;
  owner: string;
  where: string;
  /** Share of the non-idle time, in %. */
  pct: number;
  /** Main-thread time per message, in µs (when the number of messages is known). */
  usPerMessage?: number;
}

export interface ProfileSummary {
  file: string;
  /** Who was profiled and in which phase. */
  kind?: string;
  phase?: string;
  messages?: number;
  /** Profiled wall time and the share of it the main thread was busy, in %. */
  seconds: number;
  busyPct: number;
  /** Main-thread busy time per message, in µs (GC included, idle not). */
  busyUsPerMessage?: number;
  owners: { owner: string; pct: number; usPerMessage?: number }[];
  topSelf: FunctionTime[];
  /** Ours only: the time spent in a function and everything it called. */
  topInclusiveOurs: FunctionTime[];
}

/** Who wrote the code a sample is in, from its script URL. */
export function ownerOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(program)") return "V8/native (program)";
    if (functionName === "(idle)") return "idle";
    if (functionName === "(root)") return "root";
    return "native";
  }
  const path = url.replace(/^file:\/\//, "");
  // Our nodes: src/ itself, or as the bench runs them, compiled into .run/bench/nodes-js/.
  if (/\/(src|nodes-js)\/(lib|nodes)\//.test(path) && !path.includes("node_modules")) return "ours (src/)";
  if (/\/bench\//.test(path) && !path.includes("node_modules")) return "bench (floor nodes, driver hooks)";
  if (path.startsWith("node:") || !path.includes("/")) return path.startsWith("Function node") ? "function node code" : "Node.js core";
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (module) {
    const name = module[1];
    if (name.startsWith("@node-red/") || name === "node-red") return "Node-RED";
    return name;
  }
  return "other";
}

/** `messages`: how many went through during the profile, for the times per message. */
export function summarizeProfile(file: string, top = 15, about: { kind?: string; phase?: string; messages?: number } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node in µs: each sample weighs the time since the one before it (hitCount x the
  // mean interval when there is no sample list).
  const hits = new Map<number, number>();
  const samples = profile.samples ?? [];
  if (samples.length) samples.forEach((id, i) => hits.set(id, (hits.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
  else {
    const count = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
    const each = (profile.endTime - profile.startTime) / Math.max(1, count);
    for (const n of profile.nodes) hits.set(n.id, (n.hitCount ?? 0) * each);
  }
  const key = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"}\u0000${n.callFrame.url}\u0000${n.callFrame.lineNumber}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  let idle = 0;
  // Depth-first with the keys on the stack, so recursion counts a sample once per function.
  const root = profile.nodes[0];
  const walk = (node: ProfileNode, onStack: Map<string, number>): number => {
    const k = key(node);
    let subtree = hits.get(node.id) ?? 0;
    onStack.set(k, (onStack.get(k) ?? 0) + 1);
    for (const child of node.children ?? []) subtree += walk(byId.get(child)!, onStack);
    const depth = onStack.get(k)! - 1;
    if (depth === 0) onStack.delete(k);
    else onStack.set(k, depth);
    const own = hits.get(node.id) ?? 0;
    const owner = ownerOf(node.callFrame.url, node.callFrame.functionName);
    if (owner === "idle") idle += own;
    else if (owner !== "root") {
      total += own;
      self.set(k, (self.get(k) ?? 0) + own);
      owners.set(owner, (owners.get(owner) ?? 0) + own);
      if (depth === 0) inclusive.set(k, (inclusive.get(k) ?? 0) + subtree);
    }
    return subtree;
  };
  walk(root, new Map());
  const describe = (k: string, count: number): FunctionTime => {
    const [name, url, line] = k.split("\u0000");
    const path = url.replace(/^file:\/\//, "");
    const short = path.includes("node_modules/")
      ? path.slice(path.lastIndexOf("node_modules/") + 13)
      : path.replace(/^.*\/(src|bench)\//, "$1/");
    return {
      name,
      owner: ownerOf(url, name),
      where: url ? `${short}:${Number(line) + 1}` : "",
      pct: (count / Math.max(1, total)) * 100,
      usPerMessage: perMessage(count),
    };
  };
  const perMessage = (us: number) => (about.messages ? us / about.messages : undefined);
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    file: basename(file),
    ...about,
    seconds: (profile.endTime - profile.startTime) / 1e6,
    busyPct: (total / Math.max(1, total + idle)) * 100,
    busyUsPerMessage: perMessage(total),
    owners: sorted(owners).map(([owner, count]) => ({ owner, pct: (count / Math.max(1, total)) * 100, usPerMessage: perMessage(count) })),
    topSelf: sorted(self)
      .slice(0, top)
      .map(([k, count]) => describe(k, count)),
    topInclusiveOurs: sorted(inclusive)
      .map(([k, count]) => describe(k, count))
      .filter((f) => f.owner === "ours (src/)")
      .slice(0, top),
  };
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: HeapNode[];
}

export interface HeapSummary {
  file: string;
  kind?: string;
  phase?: string;
  messages?: number;
  /** Bytes allocated per message (sampled, collected objects included), in all and by owner. */
  bytesPerMessage?: number;
  owners: { owner: string; pct: number; bytesPerMessage?: number }[];
  top: { name: string; owner: string; where: string; pct: number; bytesPerMessage?: number }[];
}

/**
 * Reads an allocation-sampling heap profile (BENCH_HEAP=1, written next to the CPU profile): who
 * allocates, objects the GC has collected since included, so the figures are allocation volume.
 */
export function summarizeHeapProfile(
  file: string,
  top = 15,
  about: { kind?: string; phase?: string; messages?: number } = {},
): HeapSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode };
  const bySite = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize) {
      const key = `${functionName || "(anonymous)"}\u0000${url}\u0000${lineNumber}`;
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
      const owner = ownerOf(url, functionName);
      owners.set(owner, (owners.get(owner) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children ?? []) walk(child);
  };
  walk(profile.head);
  const per = (bytes: number) => (about.messages ? bytes / about.messages : undefined);
  const pct = (bytes: number) => (bytes / Math.max(1, total)) * 100;
  return {
    file: basename(file),
    ...about,
    bytesPerMessage: per(total),
    owners: [...owners.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([owner, bytes]) => ({ owner, pct: pct(bytes), bytesPerMessage: per(bytes) })),
    top: [...bySite.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, bytes]) => {
        const [name, url, line] = key.split("\u0000");
        const path = url.replace(/^file:\/\//, "");
        const where = url
          ? `${path.includes("node_modules/") ? path.slice(path.lastIndexOf("node_modules/") + 13) : path.replace(/^.*\/(src|bench)\//, "$1/")}:${Number(line) + 1}`
          : "";
        return { name, owner: ownerOf(url, name), where, pct: pct(bytes), bytesPerMessage: per(bytes) };
      }),
  };
}

export function printHeapSummary(h: HeapSummary): void {
  const b = (v: number | undefined) => (v === undefined ? "" : fmt(v, 0));
  console.log(
    `\nallocations ${h.file}: ${h.bytesPerMessage === undefined ? "" : `${fmt(h.bytesPerMessage, 0)} bytes per message over ${h.messages} messages`}`,
  );
  console.log(
    table(
      ["owner", "%", "bytes/msg"],
      h.owners.filter((o) => o.pct >= 0.5).map((o) => [o.owner, fmt(o.pct, 1), b(o.bytesPerMessage)]),
    ),
  );
  console.log("");
  console.log(
    table(
      ["top allocation sites", "owner", "where", "%", "bytes/msg"],
      h.top.map((f) => [f.name, f.owner, f.where, fmt(f.pct, 1), b(f.bytesPerMessage)]),
    ),
  );
}

const us = (v: number | undefined) => (v === undefined ? "" : fmt(v, 2));

export function printProfileSummary(s: ProfileSummary): void {
  const perMessage =
    s.busyUsPerMessage === undefined ? "" : `, ${fmt(s.busyUsPerMessage, 1)} µs of main thread per message over ${s.messages} messages`;
  console.log(`\nprofile ${s.file}: ${fmt(s.seconds, 1)} s, main thread busy ${fmt(s.busyPct, 0)}%${perMessage}`);
  console.log(
    table(
      ["owner", "self %", "µs/msg"],
      s.owners.filter((o) => o.pct >= 0.5).map((o) => [o.owner, fmt(o.pct, 1), us(o.usPerMessage)]),
    ),
  );
  console.log("");
  console.log(
    table(
      ["top self time", "owner", "where", "%", "µs/msg"],
      s.topSelf.map((f) => [f.name, f.owner, f.where, fmt(f.pct, 1), us(f.usPerMessage)]),
    ),
  );
  console.log("");
  console.log(
    table(
      ["ours, inclusive (with callees)", "where", "%", "µs/msg"],
      s.topInclusiveOurs.map((f) => [f.name, f.where, fmt(f.pct, 1), us(f.usPerMessage)]),
    ),
  );
}

/** Where one contender spends more than another, owner by owner, in µs of main thread per message. */
export function compareProfiles(a: ProfileSummary, b: ProfileSummary): { owner: string; a: number; b: number; difference: number }[] {
  const owners = new Set([...a.owners, ...b.owners].map((o) => o.owner));
  const get = (s: ProfileSummary, owner: string) => s.owners.find((o) => o.owner === owner)?.usPerMessage ?? 0;
  return [...owners]
    .map((owner) => ({ owner, a: get(a, owner), b: get(b, owner), difference: get(a, owner) - get(b, owner) }))
    .sort((x, y) => Math.abs(y.difference) - Math.abs(x.difference));
}

export function printComparison(a: ProfileSummary, b: ProfileSummary): void {
  const rows = compareProfiles(a, b);
  console.log(
    `\n${a.kind} vs ${b.kind}, ${a.phase}: main thread µs per message by owner (${fmt(a.busyUsPerMessage, 1)} vs ${fmt(b.busyUsPerMessage, 1)} in all)`,
  );
  console.log(
    table(
      ["owner", a.kind ?? "a", b.kind ?? "b", "difference"],
      rows
        .filter((r) => Math.abs(r.difference) >= 0.05 || r.a >= 0.5)
        .map((r) => [r.owner, fmt(r.a, 2), fmt(r.b, 2), `${r.difference >= 0 ? "+" : ""}${fmt(r.difference, 2)}`]),
    ),
  );
}

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [...]");
    process.exitCode = 1;
  }
  // MESSAGES=n: how many messages the profiled phase handled, for the figures per message.
  const about = { messages: Number(process.env.MESSAGES) || undefined };
  for (const file of files) {
    if (file.endsWith(".heapprofile")) printHeapSummary(summarizeHeapProfile(file, Number(process.env.TOP) || 15, about));
    else printProfileSummary(summarizeProfile(file, Number(process.env.TOP) || 15, about));
  }
}
