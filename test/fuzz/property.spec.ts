/**
 * Property-based ("generated input") tests with fast-check. Hand-written tables (bad-input.spec.ts,
 * connection.spec.ts) find the cases someone thought of; these throw generated ones:
 *
 * - every node (pipes-reply over the socket and REST, pipes-send-media; output 2 wired and not;
 *   straight in and through a function node) gets arbitrary msgs: arbitrary values, frozen, sealed
 *   and non-extensible msgs, throwing getters and setters, write-refusing proxies, huge and odd
 *   strings (up to 1 MB), Buffers, typed arrays, serialised Buffers, data: URIs, NaN/Infinity,
 *   promises and thenables. Invariants: Node-RED keeps running (no unhandled rejection, no uncaught
 *   exception: either ends a real Node-RED process), each msg ends in exactly one of output 1,
 *   output 2 or done(err), no API key in any output msg, log line, status or reported error, and
 *   the heap after GC stays bounded.
 * - a few oracles the table cannot cover: a non-finite number is never sent as text, a data: URI
 *   whose body is not base64 is refused (and a valid one sent whole), splitText is lossless, cuts
 *   no emoji, makes no tiny parts and runs in linear time whatever the whitespace.
 * - PipesClient against test/support/hostile-server.ts: arbitrary frames (random JSON, wrong
 *   types, huge fields and messageIds, binary, reply_status for nobody, frames before or instead
 *   of `connected`, oversized frames) and arbitrary REST answers (any status, headers, bodies,
 *   Retry-After garbage, redirects to odd places, raw bytes no HTTP server would send, resets and
 *   silence). Invariants: nothing throws or rejects unhandled, the client keeps running and
 *   delivers the valid message sent after the garbage, heap after GC bounded, log lines and error
 *   messages bounded, every REST failure a PipesError without the key, the key never follows a
 *   redirect. And pipes-in in a real runtime behind the same server.
 *
 * Seeded and bounded: `npm test` runs each property a few dozen times with a fixed seed (a few
 * seconds in all). A failure prints the seed, the path and the shrunk counterexample (fast-check's
 * report), then the invariant that broke.
 *
 *   npm run test:fuzz                  the long run: 20 times the runs, a fresh seed (printed), no time limit
 *   FUZZ_RUNS=500 npm run test:fuzz    runs per property (either mode)
 *   FUZZ_SEED=123 npm run test:fuzz    the seed (either mode; default under npm test: 20240611)
 *   FUZZ_PATH=3:1:0 FUZZ_SEED=123 npm run test:fuzz -- --grep 'exactly one'
 *                                      replays one counterexample (the path is per property: grep it)
 *   FUZZ_TIME_LIMIT_S=120              stops a property (and its shrinking) after this long;
 *                                      default 60 s under npm test, none in the long run
 *   FUZZ_STATS=1                       prints what the msgs led to, per node (always in the long run)
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import fc from "fast-check";
import { PipesEmulator } from "../../src/emulator";
import { PipesClient } from "../../src/lib/client";
import { PipesError } from "../../src/lib/errors";
import type { InboundMessage } from "../../src/lib/protocol";
import { splitText } from "../../src/lib/text";
import { frames, HostileServer, type HttpAnswer } from "../support/hostile-server";
import { configNode, coreNodes, helper, nodeRedModule, PIPES_NODES, statuses, waitForStatus } from "../support/nodered";
import { waitUntil } from "../support/wait";

// ---------------------------------------------------------------------------------------------
// Run configuration
// ---------------------------------------------------------------------------------------------

const envInt = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got '${raw}'`);
  return value;
};
const LONG = process.env.npm_lifecycle_event === "test:fuzz";
const SEED = envInt("FUZZ_SEED") ?? (LONG ? Math.floor(Math.random() * 2 ** 31) : 20_240_611);
const RUNS = envInt("FUZZ_RUNS");
const PATH = process.env.FUZZ_PATH?.trim() || undefined;
const TIME_LIMIT_MS = (envInt("FUZZ_TIME_LIMIT_S") ?? (LONG ? 0 : 60)) * 1000;
/** Print what the generated msgs led to (outcome per node), to see what a run covered. */
const STATS = LONG || process.env.FUZZ_STATS === "1";

/** fast-check parameters: the seed, the runs (a default per property), and the report. */
function params<Ts extends unknown[]>(runs: number, examples: NoInfer<Ts>[] = []): fc.Parameters<Ts> {
  return {
    seed: SEED,
    numRuns: RUNS ?? (LONG ? runs * 20 : runs),
    ...(PATH ? { path: PATH } : {}),
    examples,
    includeErrorInReport: true,
    plugins: TIME_LIMIT_MS > 0 ? [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)] : [],
  };
}
/** The mocha time-out of one property: its own time limit plus shrinking headroom, or none in the long run. */
const propertyTimeout = (): number => (TIME_LIMIT_MS > 0 ? TIME_LIMIT_MS * 2 + 30_000 : 0);

/** Node-RED's hooks, from the runtime under test (NODE_RED_FROM picks another one, as in support/nodered.ts). */
const { hooks } = nodeRedModule("@node-red/util") as {
  hooks: { add(id: string, callback: (event: any) => unknown): void; remove(id: string): void };
};

// ---------------------------------------------------------------------------------------------
// Shared invariant machinery
// ---------------------------------------------------------------------------------------------

const KEY = "pk_fuzz_Q7vX2mZr9KcT4wLp8NbY3sHdJ6fE";
/** The key, its secret part, and every 12-character piece of the secret part. */
const KEY_PIECES = (() => {
  const secret = KEY.slice(3);
  const pieces = new Set([KEY, secret]);
  for (let i = 0; i + 12 <= secret.length; i++) pieces.add(secret.slice(i, i + 12));
  return [...pieces];
})();
function keyPieceIn(text: string): string | undefined {
  return KEY_PIECES.find((piece) => text.includes(piece));
}

/** Everything readable about a value, without calling getters, proxies' traps or custom inspectors. */
function readable(value: unknown): string {
  try {
    return inspect(value, {
      depth: 5,
      maxStringLength: Infinity,
      maxArrayLength: 64,
      breakLength: Infinity,
      getters: false,
      customInspect: false,
      showProxy: false,
    });
  } catch (err) {
    return `<not inspectable: ${safeString(err)}>`;
  }
}
/**
 * A copy of a string that shares no memory with it. V8 makes a slice of a long string a view of
 * it: keeping `huge.slice(0, 80)` (or a short line built from one) keeps all of `huge` alive.
 */
function detach(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}
/** A short description for assertion messages (detached: it never keeps a huge value alive). */
function brief(value: unknown, max = 300): string {
  const text = typeof value === "string" ? value : readable(value);
  return detach(text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text);
}
/** String(value), or a placeholder when even that throws (a toString that throws, a revoked proxy). */
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "<not printable>";
  }
}
/** What `read` returns, or a description of what it threw (a getter that throws). */
function attempt<T>(read: () => T): T | string {
  try {
    return read();
  } catch (err) {
    return `<threw ${safeString(err)}>`;
  }
}

type Listener = (...args: unknown[]) => void;
const CRASH_EVENTS = ["unhandledRejection", "uncaughtException"] as const;

/**
 * Records unhandled rejections and uncaught exceptions while a property runs: either one ends a
 * real Node-RED process. Mocha's own listeners are set aside meanwhile (and restored after), so a
 * crash fails the run that caused it, with its counterexample, instead of some later test.
 */
class CrashWatch extends EventEmitter {
  readonly crashes: string[] = [];
  private saved: [string, Listener[]][] = [];
  private mine: [string, Listener][] = [];

  install(): void {
    const proc = process as unknown as EventEmitter;
    for (const event of CRASH_EVENTS) {
      this.saved.push([event, proc.listeners(event) as Listener[]]);
      proc.removeAllListeners(event);
      const listener: Listener = (reason) => {
        const text = reason instanceof Error ? (reason.stack ?? String(reason)).split("\n").slice(0, 4).join(" | ") : brief(reason);
        this.crashes.push(`${event}: ${text}`.slice(0, 800));
        this.emit("crash");
      };
      proc.on(event, listener);
      this.mine.push([event, listener]);
    }
  }

  uninstall(): void {
    const proc = process as unknown as EventEmitter;
    for (const [event, listener] of this.mine) proc.off(event, listener);
    for (const [event, listeners] of this.saved) for (const listener of listeners) proc.on(event, listener);
    this.mine = [];
    this.saved = [];
  }

  since(mark: number): string[] {
    return this.crashes.slice(mark);
  }
}

async function watchingCrashes(run: (watch: CrashWatch) => Promise<void>): Promise<void> {
  const watch = new CrashWatch();
  watch.install();
  try {
    await run(watch);
  } finally {
    watch.uninstall();
  }
}

/** A gc() without --expose-gc on the command line (mocha runs without it). */
const collectGarbage: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();
/** Heap plus external memory (Buffers) still reachable after two full collections. */
function retainedBytes(): number {
  collectGarbage();
  collectGarbage();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}
const MB = 1024 * 1024;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

/** Resolves with the promise's outcome, or "pending" if it has not settled within `ms` (a guard against a hang). */
function settleWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ state: "resolved"; value: T } | { state: "rejected"; error: unknown } | { state: "pending" }> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<{ state: "pending" }>((resolve) => {
    timer = setTimeout(() => resolve({ state: "pending" }), ms);
  });
  const settled = promise.then(
    (value) => ({ state: "resolved" as const, value }),
    (error: unknown) => ({ state: "rejected" as const, error }),
  );
  return Promise.race([settled, guard]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Generated msgs (recipes: plain data that prints well; the msg is built fresh for each run)
// ---------------------------------------------------------------------------------------------

type Head = "png" | "jpeg" | "gif" | "pdf" | "webp" | "ogg" | "mp4" | "none";
const HEADS: Record<Head, Buffer> = {
  png: Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"),
  jpeg: Buffer.from("ffd8ffe000104a464946", "hex"),
  gif: Buffer.from("GIF89a", "latin1"),
  pdf: Buffer.from("%PDF-1.4\n", "latin1"),
  webp: Buffer.concat([Buffer.from("RIFF"), Buffer.alloc(4, 1), Buffer.from("WEBPVP8 ")]),
  ogg: Buffer.from("OggS\0", "latin1"),
  mp4: Buffer.concat([Buffer.from("00000018", "hex"), Buffer.from("ftypmp42", "latin1")]),
  none: Buffer.alloc(0),
};
function bytesWith(head: Head, size: number, fill = 0): Buffer {
  const data = Buffer.alloc(Math.max(0, size), fill);
  HEADS[head].copy(data, 0, 0, Math.min(HEADS[head].length, data.length));
  return data;
}

const TYPED_KINDS = [
  "Uint8Array",
  "Uint8ClampedArray",
  "Int8Array",
  "Uint16Array",
  "Int32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "DataView",
  "ArrayBuffer",
  "SharedArrayBuffer",
] as const;
type TypedKind = (typeof TYPED_KINDS)[number];

const SPECIALS = [
  "missing",
  "undefined",
  "null",
  "function",
  "symbol",
  "date",
  "invalidDate",
  "cyclic",
  "throwingToString",
  "deep",
  "hugeArray",
  "throwingProxy",
  "boxedString",
  "nullPrototype",
  "pendingPromise",
  "resolvedPromise",
  "rejectingThenable",
  "throwingThenable",
] as const;
type Special = (typeof SPECIALS)[number];

type ValueSpec =
  | { t: "any"; v: unknown }
  | { t: "string"; v: string }
  /** `unit` repeated to `length` characters (the last repetition cut): huge and odd strings. */
  | { t: "repeat"; unit: string; length: number }
  | { t: "number"; v: number }
  | { t: "bigint"; v: bigint }
  | { t: "buffer"; head: Head; size: number; fill: number }
  | { t: "typed"; kind: TypedKind; head: Head; size: number }
  | { t: "serialized"; head: Head; data: unknown[] }
  | { t: "dataUri"; mime: string; params: string; body: string }
  | { t: "url"; v: string }
  | { t: "mediaId"; v: string }
  | { t: "special"; v: Special };

const MEDIA_ID_ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"];
const BASE64_ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="];

const stringLength = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 5000 }) },
  { weight: 2, arbitrary: fc.constantFrom(4095, 4096, 4097, 8192, 8193, 100_000, 1 << 20) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1 << 20 }) },
);
const repeatUnit = fc.oneof(
  fc.constantFrom(
    " ",
    "\n",
    "\t ",
    "a",
    "ab ",
    "😀",
    "\u00a0",
    "\u2028",
    ". ",
    "\n\n",
    "\ud83d",
    "\udc00",
    "é",
    "word ".repeat(900) + "\n",
  ),
  fc.string({ unit: "binary", minLength: 1, maxLength: 4 }),
);
const anyValue = fc.anything({
  maxDepth: 3,
  maxKeys: 4,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: "binary",
});
const numberValue = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 1));
const headArb = fc.constantFrom<Head>("png", "jpeg", "gif", "pdf", "webp", "ogg", "mp4", "none");

const valueSpec: fc.Arbitrary<ValueSpec> = fc.oneof(
  { weight: 3, arbitrary: anyValue.map((v): ValueSpec => ({ t: "any", v })) },
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 60 }).map((v): ValueSpec => ({ t: "string", v })) },
  { weight: 3, arbitrary: fc.record({ unit: repeatUnit, length: stringLength }).map((r): ValueSpec => ({ t: "repeat", ...r })) },
  { weight: 2, arbitrary: numberValue.map((v): ValueSpec => ({ t: "number", v })) },
  { weight: 1, arbitrary: fc.bigInt().map((v): ValueSpec => ({ t: "bigint", v })) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        head: headArb,
        size: fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(0, 1, 8, 100_000, 1 << 20)),
        fill: fc.integer({ min: 0, max: 255 }),
      })
      .map((r): ValueSpec => ({ t: "buffer", ...r })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ kind: fc.constantFrom(...TYPED_KINDS), head: headArb, size: fc.integer({ min: 0, max: 2048 }) })
      .map((r): ValueSpec => ({ t: "typed", ...r })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        head: headArb,
        data: fc.array(fc.oneof(fc.integer({ min: -300, max: 300 }), fc.double(), fc.string({ maxLength: 3 }), fc.constant(null)), {
          maxLength: 40,
        }),
      })
      .map((r): ValueSpec => ({ t: "serialized", ...r })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        mime: fc.oneof(fc.constantFrom("image/png", "image/jpeg", "text/plain", "application/pdf", ""), fc.string({ maxLength: 12 })),
        params: fc.constantFrom("", ";charset=utf-8", ";;", ";name=a.png"),
        body: fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.concat([HEADS.png, Buffer.from(b)]).toString("base64")),
          fc.string({ unit: fc.constantFrom(...BASE64_ALPHABET, "!", " ", "\n", "-", "_", "%", "é"), maxLength: 80 }),
          fc.string({ unit: "binary", maxLength: 40 }),
        ),
      })
      .map((r): ValueSpec => ({ t: "dataUri", ...r })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.webUrl({ validSchemes: ["https"], withQueryParameters: true, withFragments: true }),
        fc.string({ unit: "binary", maxLength: 30 }).map((s) => `https://${s}`),
      )
      .map((v): ValueSpec => ({ t: "url", v })),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: fc.constantFrom(...MEDIA_ID_ALPHABET), minLength: 20, maxLength: 22 })
      .map((v): ValueSpec => ({ t: "mediaId", v })),
  },
  { weight: 3, arbitrary: fc.constantFrom(...SPECIALS).map((v): ValueSpec => ({ t: "special", v })) },
);

/** The same, without the heavy kinds: for the msg's other properties and msg.pipes fields. */
const smallValueSpec: fc.Arbitrary<ValueSpec> = fc.oneof(
  anyValue.map((v): ValueSpec => ({ t: "any", v })),
  fc.string({ unit: "binary", maxLength: 30 }).map((v): ValueSpec => ({ t: "string", v })),
  fc.record({ unit: repeatUnit, length: fc.integer({ min: 0, max: 5000 }) }).map((r): ValueSpec => ({ t: "repeat", ...r })),
  numberValue.map((v): ValueSpec => ({ t: "number", v })),
  fc
    .constantFrom<Special>(
      "undefined",
      "null",
      "function",
      "symbol",
      "cyclic",
      "throwingToString",
      "throwingProxy",
      "nullPrototype",
      "pendingPromise",
      "rejectingThenable",
    )
    .map((v): ValueSpec => ({ t: "special", v })),
);

function makeTyped(kind: TypedKind, head: Head, size: number): unknown {
  const length = size - (size % 8);
  const bytes = bytesWith(head, length, 7);
  if (kind === "SharedArrayBuffer") {
    const shared = new SharedArrayBuffer(length);
    new Uint8Array(shared).set(bytes);
    return shared;
  }
  const buffer = new ArrayBuffer(length);
  new Uint8Array(buffer).set(bytes);
  switch (kind) {
    case "ArrayBuffer":
      return buffer;
    case "DataView":
      return new DataView(buffer);
    case "Uint8Array":
      return new Uint8Array(buffer);
    case "Uint8ClampedArray":
      return new Uint8ClampedArray(buffer);
    case "Int8Array":
      return new Int8Array(buffer);
    case "Uint16Array":
      return new Uint16Array(buffer);
    case "Int32Array":
      return new Int32Array(buffer);
    case "Float32Array":
      return new Float32Array(buffer);
    case "Float64Array":
      return new Float64Array(buffer);
    case "BigInt64Array":
      return new BigInt64Array(buffer);
  }
}

const NO = (what: string) => (): never => {
  throw new Error(`${what} says no`);
};

/** `undefined` for "missing": the property is not set at all. */
function buildValue(spec: ValueSpec): { value: unknown } | undefined {
  switch (spec.t) {
    case "any":
    case "string":
    case "number":
    case "bigint":
    case "url":
    case "mediaId":
      return { value: spec.v };
    case "repeat":
      return { value: spec.unit.repeat(Math.ceil(spec.length / spec.unit.length)).slice(0, spec.length) };
    case "buffer":
      return { value: bytesWith(spec.head, spec.size, spec.fill) };
    case "typed":
      return { value: makeTyped(spec.kind, spec.head, spec.size) };
    case "serialized":
      return { value: { type: "Buffer", data: [...HEADS[spec.head], ...spec.data] } };
    case "dataUri":
      return { value: `data:${spec.mime}${spec.params};base64,${spec.body}` };
    case "special":
      return buildSpecial(spec.v);
  }
}

function buildSpecial(kind: Special): { value: unknown } | undefined {
  switch (kind) {
    case "missing":
      return undefined;
    case "undefined":
      return { value: undefined };
    case "null":
      return { value: null };
    case "function":
      return { value: () => "a function" };
    case "symbol":
      return { value: Symbol("fuzz") };
    case "date":
      return { value: new Date(0) };
    case "invalidDate":
      return { value: new Date(NaN) };
    case "cyclic": {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      return { value: cyclic };
    }
    case "throwingToString":
      return { value: { toString: NO("toString"), valueOf: NO("valueOf"), [Symbol.toPrimitive]: NO("toPrimitive") } };
    case "deep": {
      let deep: unknown = "bottom";
      for (let i = 0; i < 20_000; i++) deep = [deep];
      return { value: deep };
    }
    case "hugeArray":
      return { value: new Array<string>(200_000).fill("a") };
    case "throwingProxy":
      return {
        value: new Proxy(
          {},
          { get: NO("proxy get"), has: NO("proxy has"), ownKeys: NO("proxy ownKeys"), getOwnPropertyDescriptor: NO("proxy descriptor") },
        ),
      };
    case "boxedString":
      return { value: Object("boxed") as unknown };
    case "nullPrototype":
      return { value: Object.assign(Object.create(null) as object, { text: "no prototype" }) };
    case "pendingPromise":
      return { value: new Promise(() => undefined) };
    case "resolvedPromise":
      return { value: Promise.resolve(bytesWith("png", 64)) };
    case "rejectingThenable":
      return { value: { then: (_resolve: unknown, reject: (err: Error) => void) => reject(new Error("thenable rejects")) } };
    case "throwingThenable":
      return { value: { then: NO("then") } };
  }
}

const NODE_IDS = ["replyWs", "replyRest", "media", "replyWsUnwired", "replyRestUnwired", "mediaUnwired"] as const;
type NodeId = (typeof NODE_IDS)[number];
/** The function node's outputs, in order. */
const FN_TARGETS: NodeId[] = ["replyWs", "media", "replyWsUnwired", "mediaUnwired"];

/** How the msg object itself misbehaves. The first group also comes through a function node. */
const FN_SHAPES = ["plain", "sealed", "nonExtensible", "throwingSent", "throwingError", "throwingPayload", "throwingOther"] as const;
const DIRECT_ONLY_SHAPES = ["frozen", "deepFrozen", "throwingPipes", "refusingProxy"] as const;
type Shape = (typeof FN_SHAPES)[number] | (typeof DIRECT_ONLY_SHAPES)[number];

type PipesSpec =
  | { t: "valid" }
  | { t: "absent" }
  | { t: "unknownConversation" }
  | { t: "override"; field: "conversationId" | "poolNumberId" | "fromNumber"; v: ValueSpec }
  | { t: "value"; v: ValueSpec };

interface MsgRecipe {
  node: NodeId;
  /** Through the function node (the realistic path); only for FN_TARGETS and FN_SHAPES. */
  viaFunction: boolean;
  shape: Shape;
  payload: ValueSpec;
  pipes: PipesSpec;
  extras: [string, ValueSpec][];
}

const EXTRA_KEYS = [
  "caption",
  "mimetype",
  "filename",
  "topic",
  "sent",
  "error",
  "_error",
  "req",
  "res",
  "__proto__",
  "constructor",
  "toJSON",
  "then",
  "parts",
];
const pipesSpec: fc.Arbitrary<PipesSpec> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<PipesSpec>({ t: "valid" }) },
  { weight: 1, arbitrary: fc.constant<PipesSpec>({ t: "absent" }) },
  { weight: 1, arbitrary: fc.constant<PipesSpec>({ t: "unknownConversation" }) },
  {
    weight: 2,
    arbitrary: fc
      .record({ field: fc.constantFrom("conversationId" as const, "poolNumberId" as const, "fromNumber" as const), v: smallValueSpec })
      .map((r): PipesSpec => ({ t: "override", ...r })),
  },
  { weight: 1, arbitrary: smallValueSpec.map((v): PipesSpec => ({ t: "value", v })) },
);
const msgRecipe: fc.Arbitrary<MsgRecipe> = fc
  .record({
    node: fc.constantFrom(...NODE_IDS),
    viaFunction: fc.boolean(),
    shape: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom<Shape>(...FN_SHAPES) },
      { weight: 1, arbitrary: fc.constantFrom<Shape>(...DIRECT_ONLY_SHAPES) },
    ),
    payload: valueSpec,
    pipes: pipesSpec,
    extras: fc.array(
      fc.tuple(
        fc
          .oneof(fc.constantFrom(...EXTRA_KEYS), fc.string({ maxLength: 8 }))
          .filter((key) => !["_msgid", "payload", "pipes", "fuzzShape", "fuzzTarget"].includes(key)),
        smallValueSpec,
      ),
      { maxLength: 3 },
    ),
  })
  .map((recipe) => {
    // The function node path exists for some nodes and some shapes only; otherwise it goes straight in.
    const viaFunction = recipe.viaFunction && FN_TARGETS.includes(recipe.node) && (FN_SHAPES as readonly string[]).includes(recipe.shape);
    return { ...recipe, viaFunction };
  });

/** Applies a shape (not through the function node: that one applies it itself). */
function applyShape(msg: Record<string, unknown>, shape: Shape): Record<string, unknown> {
  const accessor = (key: string, get: boolean, set: boolean) =>
    Object.defineProperty(msg, key, {
      enumerable: true,
      configurable: false,
      ...(get ? { get: NO(`getter of msg.${key}`) } : { get: () => undefined }),
      ...(set ? { set: NO(`setter of msg.${key}`) } : {}),
    });
  switch (shape) {
    case "plain":
      return msg;
    case "frozen":
      return Object.freeze(msg);
    case "deepFrozen":
      for (const value of Object.values(msg)) {
        try {
          if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) Object.freeze(value);
        } catch {
          // a proxy that refuses to be frozen stays as it is
        }
      }
      return Object.freeze(msg);
    case "sealed":
      return Object.seal(msg);
    case "nonExtensible":
      return Object.preventExtensions(msg);
    case "throwingSent":
      accessor("sent", true, true);
      return msg;
    case "throwingError":
      accessor("error", true, true);
      return msg;
    case "throwingPayload":
      accessor("payload", true, false);
      return msg;
    case "throwingPipes":
      accessor("pipes", true, false);
      return msg;
    case "throwingOther":
      accessor("hostile", true, true);
      return msg;
    case "refusingProxy":
      return new Proxy(msg, {
        set: NO("proxy set"),
        defineProperty: NO("proxy defineProperty"),
        deleteProperty: NO("proxy deleteProperty"),
      });
  }
}

/** The function node between the inject and our nodes: applies msg.fuzzShape, routes by msg.fuzzTarget. */
const FUNCTION_NODE_CODE = `
const target = msg.fuzzTarget;
const shape = msg.fuzzShape;
delete msg.fuzzTarget;
delete msg.fuzzShape;
const no = function (what) { return function () { throw new Error(what + " says no"); }; };
const accessor = function (key, set) {
  Object.defineProperty(msg, key, { enumerable: true, configurable: false, get: no("getter of msg." + key), set: set ? no("setter of msg." + key) : undefined });
};
if (shape === "sealed") Object.seal(msg);
else if (shape === "nonExtensible") Object.preventExtensions(msg);
else if (shape === "throwingSent") accessor("sent", true);
else if (shape === "throwingError") accessor("error", true);
else if (shape === "throwingPayload") accessor("payload", false);
else if (shape === "throwingOther") accessor("hostile", true);
const out = [null, null, null, null];
out[target] = msg;
return out;
`;

function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function buildMsg(recipe: MsgRecipe, id: string, conv: InboundMessage): Record<string, unknown> {
  const msg: Record<string, unknown> = {};
  define(msg, "_msgid", id);
  for (const [key, spec] of recipe.extras) {
    const built = buildValue(spec);
    if (built) define(msg, key, built.value);
  }
  const payload = buildValue(recipe.payload);
  if (payload) define(msg, "payload", payload.value);
  const pipes = recipe.pipes;
  if (pipes.t === "valid") define(msg, "pipes", { ...conv });
  else if (pipes.t === "unknownConversation") define(msg, "pipes", { ...conv, conversationId: `conv_unknown_${id}` });
  else if (pipes.t === "override") {
    const built = buildValue(pipes.v);
    const routing: Record<string, unknown> = { ...conv };
    if (built) routing[pipes.field] = built.value;
    else delete routing[pipes.field];
    define(msg, "pipes", routing);
  } else if (pipes.t === "value") {
    const built = buildValue(pipes.v);
    if (built) define(msg, "pipes", built.value);
  }
  if (recipe.viaFunction) {
    define(msg, "fuzzShape", recipe.shape);
    define(msg, "fuzzTarget", FN_TARGETS.indexOf(recipe.node));
    return msg;
  }
  return applyShape(msg, recipe.shape);
}

// ---------------------------------------------------------------------------------------------
// Nodes in a real Node-RED runtime, against the emulator
// ---------------------------------------------------------------------------------------------

describe("property-based: generated input", function () {
  before(function () {
    if (LONG || process.env.FUZZ_SEED !== undefined)
      console.log(`      fast-check seed ${SEED}${RUNS ? `, ${RUNS} runs per property` : LONG ? ", 20x the default runs" : ""}`);
  });

  it("the crash watch sees an unhandled rejection and an uncaught exception (self-check)", async function () {
    await watchingCrashes(async (watch) => {
      const seen = new Promise((resolve) => watch.on("crash", () => watch.crashes.length === 2 && resolve(undefined)));
      void Promise.reject(new Error("self-check rejection"));
      setImmediate(() => {
        throw new Error("self-check exception");
      });
      await seen;
      assert.match(watch.crashes[0], /^unhandledRejection: Error: self-check rejection/);
      assert.match(watch.crashes[1], /^uncaughtException: Error: self-check exception/);
    });
  });

  describe("nodes: arbitrary msgs (real Node-RED runtime, emulator)", function () {
    let emu: PipesEmulator;
    /** The outcomes seen per msg (by _msgid): "output 1", "output 2 (CODE)", "done(err) CODE" ... */
    const outcomes = new Map<string, string[]>();
    /** The msg each id last came out with (output 1 or 2), for the oracles. */
    const lastOut = new Map<string, { output: 1 | 2; msg: any }>();
    /** Ids whose run ended: a later outcome for one of them is a second outcome. */
    const finished = new Set<string>();
    const late: string[] = [];
    const problems: string[] = [];
    const leaks: string[] = [];
    const bus = new EventEmitter();
    /** Errors already counted as done(err) (Node-RED then also reports them with node.error). */
    const reportedByDone = new WeakSet<object>();
    let numbers = 0;
    let runs = 0;

    const record = (id: string, what: string): void => {
      if (finished.has(id)) late.push(`${id}: ${what}`);
      else outcomes.set(id, [...(outcomes.get(id) ?? []), what]);
      bus.emit("tick");
    };
    const scan = (where: string, text: string): void => {
      const piece = keyPieceIn(text);
      if (piece)
        leaks.push(`${where} contains '${piece}' (from the API key): ${brief(text.slice(Math.max(0, text.indexOf(piece) - 80)), 200)}`);
    };
    const idOf = (msg: unknown): string => String(attempt(() => (msg as { _msgid?: unknown })._msgid));

    before(async function () {
      this.timeout(20_000);
      emu = new PipesEmulator({ drainPacingMs: 0, foreignConversationReply: "error", tenants: [{ userId: "user_fuzz", apiKey: KEY }] });
      await emu.start(0, "127.0.0.1");
      await new Promise<void>((resolve, reject) => helper.startServer((err?: Error) => (err ? reject(err) : resolve())));
      const reply = (id: string, extra: Record<string, unknown>, wires: string[][]) => ({
        id,
        type: "pipes-reply",
        z: "tab",
        connection: "cfg",
        timeout: 1,
        ...extra,
        wires,
      });
      const media = (id: string, wires: string[][]) => ({ id, type: "pipes-send-media", z: "tab", connection: "cfg", timeout: 2, wires });
      const flow = [
        { id: "tab", type: "tab", label: "property" },
        configNode(emu.url),
        { id: "in", type: "pipes-in", z: "tab", connection: "cfg", wires: [[]] },
        reply("replyWs", {}, [["ok"], ["failed"]]),
        reply("replyRest", { transport: "rest" }, [["ok"], ["failed"]]),
        media("media", [["ok"], ["failed"]]),
        reply("replyWsUnwired", {}, [["ok"]]),
        reply("replyRestUnwired", { transport: "rest" }, [["ok"]]),
        media("mediaUnwired", [["ok"]]),
        {
          id: "fn",
          type: "function",
          z: "tab",
          name: "shaper",
          func: FUNCTION_NODE_CODE,
          outputs: FN_TARGETS.length,
          noerr: 0,
          initialize: "",
          finalize: "",
          libs: [],
          wires: FN_TARGETS.map((t) => [t]),
        },
        { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["caught"]] },
        { id: "ok", type: "helper", z: "tab" },
        { id: "failed", type: "helper", z: "tab" },
        { id: "caught", type: "helper", z: "tab" },
      ];
      await helper.load([...PIPES_NODES, ...coreNodes("function/10-function.js", "common/25-catch.js")] as never, flow as never, {
        cfg: { apiKey: KEY },
      });
      await waitForStatus("replyWs", "connected (user)");

      helper.getNode("ok").on("input", (msg: any) => {
        const id = idOf(msg);
        if (typeof attempt(() => msg.sent) !== "object" || attempt(() => msg.sent) === null)
          problems.push(`${id}: output 1 without msg.sent`);
        lastOut.set(id, { output: 1, msg });
        record(id, "output 1");
        scan("a msg on output 1", readable(msg));
      });
      helper.getNode("failed").on("input", (msg: any) => {
        const id = idOf(msg);
        const code = attempt(() => msg.error?.code as unknown);
        if (typeof code !== "string" || typeof attempt(() => msg.error?.message as unknown) !== "string")
          problems.push(`${id}: output 2 without msg.error {code, message}: ${brief(attempt(() => msg.error as unknown))}`);
        lastOut.set(id, { output: 2, msg });
        record(id, `output 2 (${String(code)})`);
        scan("a msg on output 2", readable(msg));
      });
      helper.getNode("caught").on("input", (msg: any) => scan("a msg from the Catch node", readable(msg)));
      // done(err) is observed where Node-RED sees it, in its onComplete hook: before it tells Catch
      // nodes, which can fail (a msg that cannot be cloned) after the node did its part.
      hooks.add("onComplete.propertySpec", (event: { msg: unknown; error?: unknown; node: { id: string } }) => {
        if (!event.error || !(NODE_IDS as readonly string[]).includes(event.node.id)) return;
        if (typeof event.error === "object") reportedByDone.add(event.error);
        scan(`the error of done(err) from ${event.node.id}`, readable(event.error));
        record(idOf(event.msg), `done(err) ${String(attempt(() => (event.error as { code?: unknown }).code))}`);
      });
      for (const id of [...NODE_IDS, "fn"]) {
        (helper.getNode(id) as unknown as EventEmitter).on("call:error", (call: { args: unknown[] }) => {
          const [err, msg] = call.args;
          scan(`an error reported by ${id}`, readable(err));
          // done(err)'s own report (counted above), or a log line without a msg: not an outcome.
          if ((typeof err === "object" && err !== null && reportedByDone.has(err)) || msg === undefined) return;
          record(
            idOf(msg),
            id === "fn"
              ? `the function node failed: ${brief(attempt(() => String(err)))}`
              : `node.error(err, msg) from ${id} (not done(err))`,
          );
        });
      }
    });

    after(async function () {
      hooks.remove("*.propertySpec");
      await helper.unload();
      await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
      await emu?.stop();
    });

    /** Log lines and statuses so far (the helper's spies), checked for the key; then the spies forget them. */
    function scanSpiesAndForget(): void {
      const logSpy = helper.log() as unknown as { args: unknown[][] };
      for (const args of logSpy.args) scan("a log line", readable(args));
      for (const id of ["cfg", "in", ...NODE_IDS]) for (const status of statuses(id)) scan(`a status of ${id}`, readable(status));
      // The spies keep every call (with its msg): without this the heap grows with every run.
      (helper as unknown as { _sandbox: { resetHistory(): void } })._sandbox.resetHistory();
    }

    function freshConversation(): InboundMessage {
      emu.reset(); // forgets the sent log, media and conversations of the run before (memory stays flat)
      return emu.inject({ fromNumber: `+1555${String(3_000_000 + ++numbers)}`, text: "hello" });
    }

    /**
     * Sends one msg into `entry` and waits for its first outcome (or a crash), then a barrier msg
     * through `node` (an instant BAD_INPUT) so a second outcome of the same msg has had its chance.
     */
    async function deliver(
      entry: string,
      node: NodeId,
      msg: Record<string, unknown>,
      id: string,
      watch: CrashWatch,
      conv: InboundMessage,
    ): Promise<{ outcomes: string[]; crashes: string[]; ms: number; described: string }> {
      const described = brief(msg, 400); // before the node sees it
      const mark = watch.crashes.length;
      const started = Date.now();
      const wake = () => bus.emit("tick");
      watch.on("crash", wake);
      try {
        try {
          helper.getNode(entry).receive(msg);
        } catch (err) {
          record(id, `receive() threw: ${brief(safeString(err))}`);
        }
        const guardMs = 4000; // every node has a time-out of 2 s or less: an outcome is due well before
        await waitUntil(
          `an outcome for ${id}`,
          () => (outcomes.get(id)?.length ?? 0) > 0 || watch.crashes.length > mark,
          bus,
          ["tick"],
          guardMs,
        ).catch(() => undefined);
        const ms = Date.now() - started;
        if ((outcomes.get(id)?.length ?? 0) > 0) {
          const barrier = `barrier-${id}`;
          helper.getNode(node).receive({ _msgid: barrier, pipes: conv });
          await waitUntil(`the barrier after ${id}`, () => (outcomes.get(barrier)?.length ?? 0) > 0, bus, ["tick"], 5000).catch(
            () => undefined,
          );
          outcomes.delete(barrier);
          lastOut.delete(barrier);
        }
        return { outcomes: outcomes.get(id) ?? [], crashes: watch.since(mark), ms, described };
      } finally {
        watch.off("crash", wake);
      }
    }

    function assertOneOutcome(id: string, result: { outcomes: string[]; crashes: string[]; ms: number; described: string }): void {
      assert.deepEqual(
        result.crashes,
        [],
        `Node-RED would crash (an unhandled rejection or uncaught exception ends its process):\n  ${result.crashes.join("\n  ")}\n  the msg: ${result.described}`,
      );
      assert.equal(
        result.outcomes.length,
        1,
        `expected exactly one outcome (output 1, output 2 or done(err)), got ${result.outcomes.length}: ${result.outcomes.join("; ") || `none within ${result.ms} ms`}\n  the msg: ${result.described}`,
      );
      finished.add(id);
      outcomes.delete(id);
    }

    function assertClean(): void {
      scanSpiesAndForget();
      assert.deepEqual(late, [], "a msg had a second outcome after its first");
      assert.deepEqual(problems, [], "an outcome broke the msg contract");
      assert.deepEqual(leaks, [], "the API key leaked");
    }

    function resetRun(): void {
      late.length = 0;
      problems.length = 0;
      leaks.length = 0;
      lastOut.clear();
    }

    it("every msg ends in exactly one of output 1, output 2 or done(err); Node-RED keeps running; no key anywhere; heap bounded", async function () {
      this.timeout(propertyTimeout());
      scanSpiesAndForget();
      const before = retainedBytes();
      const tally = new Map<string, number>();
      await watchingCrashes(async (watch) => {
        await fc.assert(
          fc.asyncProperty(msgRecipe, async (recipe) => {
            resetRun();
            const id = `fuzz-${++runs}`;
            const conv = freshConversation();
            const msg = buildMsg(recipe, id, conv);
            const result = await deliver(recipe.viaFunction ? "fn" : recipe.node, recipe.node, msg, id, watch, conv);
            const label = `${recipe.node}${recipe.viaFunction ? " via function" : ""}: ${result.outcomes.join(" + ") || "nothing"}`;
            tally.set(label, (tally.get(label) ?? 0) + 1);
            assertOneOutcome(id, result);
            assertClean();
          }),
          params(100, [
            // Always in the seeded run: the msgs that cannot take msg.sent / msg.error.
            [
              {
                node: "replyWs",
                viaFunction: false,
                shape: "frozen",
                payload: { t: "string", v: "hi" },
                pipes: { t: "valid" },
                extras: [],
              },
            ],
            [
              {
                node: "mediaUnwired",
                viaFunction: true,
                shape: "nonExtensible",
                payload: { t: "string", v: "not media" },
                pipes: { t: "valid" },
                extras: [],
              },
            ],
            [
              {
                node: "replyRest",
                viaFunction: false,
                shape: "throwingSent",
                payload: { t: "string", v: "hi" },
                pipes: { t: "valid" },
                extras: [],
              },
            ],
          ]),
        );
      });
      if (STATS)
        console.log(
          [...tally]
            .sort()
            .map(([label, n]) => `        ${String(n).padStart(5)}  ${label}`)
            .join("\n"),
        );
      // Afterwards the same runtime still answers normally.
      resetRun();
      const conv = freshConversation();
      const alive = await watchingResult("replyWs", { payload: "still alive", pipes: conv }, conv);
      assert.equal(alive.output, 1, `after the property a normal reply failed: ${brief(alive.msg?.error)}`);
      scanSpiesAndForget();
      const grown = retainedBytes() - before;
      if (STATS) console.log(`        heap after GC grew by ${mb(grown)}`);
      assert.ok(grown < 48 * MB, `the heap after GC grew by ${mb(grown)} over the property's runs`);
    });

    /** One plain msg through a node, its output and msg. */
    async function watchingResult(
      node: NodeId,
      fields: Record<string, unknown>,
      conv: InboundMessage,
    ): Promise<{ output: 1 | 2 | undefined; msg: any; outcomes: string[]; crashes: string[] }> {
      let out: { outcomes: string[]; crashes: string[]; ms: number; described: string } | undefined;
      const id = `oracle-${++runs}`;
      await watchingCrashes(async (watch) => {
        out = await deliver(node, node, { _msgid: id, ...fields }, id, watch, conv);
      });
      const last = lastOut.get(id);
      return { output: last?.output, msg: last?.msg, outcomes: out!.outcomes, crashes: out!.crashes };
    }

    it("a number payload: finite ones are sent as their text, NaN and ±Infinity are refused with BAD_INPUT", async function () {
      this.timeout(propertyTimeout());
      await fc.assert(
        fc.asyncProperty(numberValue, fc.constantFrom<NodeId>("replyWs", "replyRest"), async (n, node) => {
          resetRun();
          const conv = freshConversation();
          const result = await watchingResult(node, { payload: n, pipes: conv }, conv);
          assert.deepEqual(result.crashes, []);
          assert.equal(result.outcomes.length, 1, result.outcomes.join("; "));
          const sent = emu.sent({ conversationId: conv.conversationId }).map((s) => s.text);
          if (Number.isFinite(n)) {
            assert.equal(result.output, 1, `a finite number failed: ${brief(result.msg?.error)}`);
            assert.deepEqual(sent, [String(n)]);
          } else {
            assert.deepEqual(sent, [], `${String(n)} was sent as the text ${JSON.stringify(sent)}`);
            assert.equal(result.output, 2);
            assert.equal(result.msg.error.code, "BAD_INPUT");
          }
          scanSpiesAndForget();
        }),
        params(25, [
          [NaN, "replyWs"],
          [Infinity, "replyRest"],
        ]),
      );
    });

    it("a data: URI: valid base64 is sent whole, a body with characters outside base64 is refused with BAD_INPUT", async function () {
      this.timeout(propertyTimeout());
      const junk = fc.constantFrom("!", "*", "$", "%", "&", "é", "?", "#", "~", "@", "^", "\u0000", "😀", ":", ",", ";", "\\", '"');
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            head: fc.constantFrom<Head>("png", "jpeg", "pdf"),
            tail: fc.uint8Array({ minLength: 0, maxLength: 300 }),
            junk: fc.array(fc.tuple(fc.nat(), junk), { maxLength: 3 }),
          }),
          async ({ head, tail, junk: inserts }) => {
            resetRun();
            const data = Buffer.concat([HEADS[head], Buffer.from(tail)]);
            let body = data.toString("base64");
            for (const [at, char] of inserts) {
              const cut = at % (body.length + 1);
              body = body.slice(0, cut) + char + body.slice(cut);
            }
            const conv = freshConversation();
            const mime = head === "pdf" ? "application/pdf" : `image/${head}`;
            const result = await watchingResult("media", { payload: `data:${mime};base64,${body}`, pipes: conv }, conv);
            assert.deepEqual(result.crashes, []);
            assert.equal(result.outcomes.length, 1, result.outcomes.join("; "));
            const sent = emu.sent({ conversationId: conv.conversationId });
            if (inserts.length === 0) {
              assert.equal(result.output, 1, `valid base64 failed: ${brief(result.msg?.error)}`);
              assert.equal(sent[0]?.media?.byteSize, data.length, "the bytes sent are not the bytes of the URI");
            } else {
              assert.equal(sent.length, 0, `sent ${String(sent[0]?.media?.byteSize)} bytes decoded from invalid base64`);
              assert.equal(result.output, 2);
              assert.equal(result.msg.error.code, "BAD_INPUT");
            }
            scanSpiesAndForget();
          },
        ),
        params(25, [[{ head: "png", tail: new Uint8Array([1, 2, 3]), junk: [[10, "!"]] }]]),
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  // splitText (pure): lossless, no broken emoji, no tiny parts, linear time
  // -------------------------------------------------------------------------------------------

  describe("splitText: texts with long whitespace runs", function () {
    const whitespace = fc.constantFrom(" ", "\n", "\t", "\r\n", "\u00a0", "\u2028", "\u3000", "\n\n", " \n");
    /** A text as a recipe (it prints short); built in the property. */
    type Segment =
      | { t: "text"; v: string }
      | { t: "run"; ws: string; n: number }
      | { t: "words"; word: string; n: number }
      /** Runs of `k`, each followed by `word`, about `total` characters: the shape that made the old /\s+$/ cut backtrack (seconds per MB). */
      | { t: "pattern"; ws: string; k: number; word: string; total: number };
    const segment: fc.Arbitrary<Segment> = fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).map((v): Segment => ({ t: "text", v })) },
      {
        weight: 2,
        arbitrary: fc
          .record({ ws: whitespace, n: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1000, max: 300_000 })) })
          .map((r): Segment => ({ t: "run", ...r })),
      },
      {
        weight: 1,
        arbitrary: fc
          .record({ word: fc.constantFrom("a", "word", "😀", "Sentence."), n: fc.integer({ min: 1, max: 3000 }) })
          .map((r): Segment => ({ t: "words", ...r })),
      },
      {
        weight: 2,
        arbitrary: fc
          .record({
            ws: whitespace,
            k: fc.integer({ min: 1, max: 5000 }),
            word: fc.constantFrom("b", "word.", "😀"),
            total: fc.integer({ min: 10_000, max: 1_000_000 }),
          })
          .map((r): Segment => ({ t: "pattern", ...r })),
      },
    );
    const buildText = (segments: Segment[]): string =>
      segments
        .map((seg) => {
          switch (seg.t) {
            case "text":
              return seg.v;
            case "run":
              return seg.ws.repeat(seg.n);
            case "words":
              return seg.word.repeat(seg.n);
            case "pattern":
              return (seg.ws.repeat(seg.k) + seg.word).repeat(Math.ceil(seg.total / (seg.k * seg.ws.length + seg.word.length)));
          }
        })
        .join("")
        .slice(0, 1_200_000);
    const text = fc.array(segment, { minLength: 1, maxLength: 25 });
    const stripped = (s: string): string => s.replace(/\s+/g, "");

    it("keeps every non-whitespace character in order, cuts no surrogate pair, makes parts of 1..4096 characters, and runs in linear time", function () {
      this.timeout(propertyTimeout());
      fc.assert(
        fc.property(text, (segments) => {
          const input = buildText(segments);
          const timed = (): { parts: string[]; ms: number } => {
            const started = process.hrtime.bigint();
            const result = splitText(input, 4096);
            return { parts: result, ms: Number(process.hrtime.bigint() - started) / 1e6 };
          };
          // Linear is under 50 ms per MB here; the backtracking cut took 0.3 to 1.3 s per MB. The bound
          // leaves room for a busy CPU, and a slow first measurement (a GC, a context switch) is retaken once.
          const bound = 100 + (150 * input.length) / MB;
          let { parts, ms } = timed();
          if (ms > bound) ({ parts, ms } = timed());
          assert.ok(ms < bound, `splitText took ${ms.toFixed(0)} ms (twice over ${bound.toFixed(0)} ms) for ${input.length} characters`);
          for (const part of parts) assert.ok(part.length >= 1 && part.length <= 4096, `a part of ${part.length} characters`);
          assert.equal(stripped(parts.join("")), stripped(input), "splitting lost, added or reordered non-whitespace characters");
          for (let i = 0; i + 1 < parts.length; i++) {
            const end = parts[i].charCodeAt(parts[i].length - 1);
            const start = parts[i + 1].charCodeAt(0);
            assert.ok(
              !(end >= 0xd800 && end <= 0xdbff) && !(start >= 0xdc00 && start <= 0xdfff),
              `part ${i + 1} and ${i + 2} split a surrogate pair`,
            );
          }
          assert.ok(
            parts.length <= Math.ceil(input.length / 2048) + 1,
            `${parts.length} parts for ${input.length} characters: some are tiny`,
          );
        }),
        params(30, [
          [
            [
              { t: "words", word: "a", n: 1 },
              { t: "run", ws: " ", n: 1_000_000 },
              { t: "words", word: "b", n: 1 },
            ],
          ],
          [[{ t: "pattern", ws: "\u2028", k: 3000, word: "b", total: 1_000_000 }]],
        ]),
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  // PipesClient against the hostile server: frames
  // -------------------------------------------------------------------------------------------

  describe("client: arbitrary frames from a hostile server", function () {
    let server: HostileServer;
    let runs = 0;

    before(async function () {
      server = new HostileServer({ apiKey: KEY });
      await server.start();
    });
    after(async function () {
      await server.stop();
    });

    it("the hostile server's frames reach a client as scripted (self-check)", async function () {
      server.onSocket = (ws) =>
        void server.sendAll(ws, [frames.connected(), "garbage", Buffer.from([1]), frames.message({ messageId: "self-check" })]);
      const client = new PipesClient({ baseUrl: server.url, apiKey: KEY, scope: "user", backoffBaseMs: 10, idleCloseMs: 50 });
      const got: string[] = [];
      const events = new EventEmitter();
      client.addReceiver((m) => events.emit("got", got.push(m.messageId)));
      client.acquireSocket({});
      try {
        await waitUntil("the message", () => got.includes("self-check"), events, ["got"]);
      } finally {
        await client.stop();
      }
    });

    const FIELDS: Record<"whatsapp_message" | "reply_status" | "connected", string[]> = {
      whatsapp_message: [
        "messageId",
        "conversationId",
        "poolNumberId",
        "fromNumber",
        "timestamp",
        "type",
        "text",
        "media",
        "location",
        "contacts",
        "reaction",
        "fromName",
        "data",
      ],
      reply_status: ["conversationId", "success", "messageId", "error", "code", "data"],
      connected: ["userId", "connectionId", "scope", "conversationId"],
    };
    type FrameKind = keyof typeof FIELDS;
    type FrameSpec =
      | { t: "json"; v: unknown }
      | { t: "text"; v: string }
      | { t: "binary"; bytes: number[] }
      | { t: "typed"; type: string; data: unknown }
      /** A frame of a known kind with one field (or its whole data) replaced by any JSON value. */
      | { t: "wrong"; kind: FrameKind; field: string; v: unknown }
      /** A frame of a known kind with one field a huge string (`bytes` of JSON, under the 4 MiB frame limit). */
      | { t: "huge"; kind: FrameKind | "unknown"; field: string; unit: string; bytes: number }
      | { t: "status"; conversationId: string; success: unknown; code?: string }
      | { t: "connected"; extra: Record<string, unknown> }
      | { t: "oversize" }
      | { t: "deep"; depth: number }
      | { t: "protoKeys" }
      | { t: "replay"; count: number };

    const json = fc.jsonValue({ maxDepth: 3 });
    const fieldOf = (kind: FrameKind) => fc.constantFrom(...FIELDS[kind]);
    const kindArb = fc.constantFrom<FrameKind>("whatsapp_message", "reply_status", "connected");
    const frameSpec: fc.Arbitrary<FrameSpec> = fc.oneof(
      { weight: 2, arbitrary: json.map((v): FrameSpec => ({ t: "json", v })) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map((v): FrameSpec => ({ t: "text", v })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b): FrameSpec => ({ t: "binary", bytes: [...b] })) },
      {
        weight: 2,
        arbitrary: fc
          .record({
            type: fc.oneof(
              fc.constantFrom(
                "connected",
                "whatsapp_message",
                "reply_status",
                "whatsapp_reply",
                "error",
                "ping",
                "",
                "__proto__",
                "constructor",
                "toString",
              ),
              fc.string({ maxLength: 12 }),
            ),
            data: json,
          })
          .map((r): FrameSpec => ({ t: "typed", ...r })),
      },
      {
        weight: 4,
        arbitrary: kindArb.chain((kind) =>
          fc.record({ field: fieldOf(kind), v: json }).map((r): FrameSpec => ({ t: "wrong", kind, ...r })),
        ),
      },
      {
        weight: 2,
        arbitrary: fc.oneof(kindArb, fc.constant("unknown" as const)).chain((kind) =>
          fc
            .record({
              field: kind === "unknown" ? fc.constantFrom("type", "data") : fieldOf(kind),
              unit: fc.constantFrom("x", " ", "é", "😀", "\u0000", '"'),
              bytes: fc.integer({ min: 1000, max: 3_900_000 }),
            })
            .map((r): FrameSpec => ({ t: "huge", kind, ...r })),
        ),
      },
      {
        weight: 2,
        arbitrary: fc
          .record({
            conversationId: fc.string({ maxLength: 20 }),
            success: fc.oneof(fc.boolean(), json),
            code: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
          })
          .map((r): FrameSpec => ({ t: "status", ...r })),
      },
      {
        weight: 1,
        arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 3 }).map((extra): FrameSpec => ({ t: "connected", extra })),
      },
      { weight: 1, arbitrary: fc.constant<FrameSpec>({ t: "oversize" }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 50_000 }).map((depth): FrameSpec => ({ t: "deep", depth })) },
      { weight: 1, arbitrary: fc.constant<FrameSpec>({ t: "protoKeys" }) },
      { weight: 1, arbitrary: fc.integer({ min: 2, max: 20 }).map((count): FrameSpec => ({ t: "replay", count })) },
    );
    interface FrameScript {
      /** Frames before the `connected` frame. */
      early: FrameSpec[];
      /** No `connected` frame on the first socket: the client has to give up on it and reconnect. */
      skipConnected: boolean;
      frames: FrameSpec[];
    }
    const frameScript: fc.Arbitrary<FrameScript> = fc.record({
      early: fc.oneof(
        { weight: 4, arbitrary: fc.constant<FrameSpec[]>([]) },
        { weight: 1, arbitrary: fc.array(frameSpec, { maxLength: 2 }) },
      ),
      skipConnected: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      frames: fc.array(frameSpec, { maxLength: 8 }),
    });

    const LIMIT_BYTES = 4 * 1024 * 1024 - 4096;
    /** The base of a frame of `kind` (valid unless changed). */
    function base(kind: FrameKind | "unknown", run: number, i: number): Record<string, any> {
      if (kind === "whatsapp_message") return frames.message({ messageId: `m-${run}-${i}`, conversationId: "conv_fuzz" });
      if (kind === "reply_status") return frames.replyStatus({ conversationId: `conv_nobody_${run}` });
      if (kind === "connected") return frames.connected();
      return { type: "mystery", data: {} };
    }
    function setField(frame: Record<string, any>, kind: FrameKind | "unknown", field: string, value: unknown): void {
      if (field === "data" || kind === "connected" || kind === "unknown") frame[field] = value;
      else frame.data[field] = value;
    }
    /** The frames of one spec, as the server sends them (built when sent: huge ones never pile up). */
    function* build(spec: FrameSpec, run: number, i: number): Generator<unknown> {
      switch (spec.t) {
        case "json":
          yield JSON.stringify(spec.v);
          return;
        case "text":
          yield spec.v;
          return;
        case "binary":
          yield Buffer.from(spec.bytes);
          return;
        case "typed":
          yield { type: spec.type, data: spec.data };
          return;
        case "wrong": {
          const frame = base(spec.kind, run, i);
          setField(frame, spec.kind, spec.field, spec.v);
          yield frame;
          return;
        }
        case "huge": {
          const frame = base(spec.kind, run, i);
          // Bytes of one unit once JSON-encoded and UTF-8 ("\u0000" is 6, "é" 2, "😀" 4).
          const unitBytes = Buffer.byteLength(JSON.stringify(spec.unit)) - 2;
          const count = Math.max(1, Math.floor(Math.min(spec.bytes, LIMIT_BYTES - 1000) / unitBytes));
          // Distinct per frame: ten equal huge ids would be one id and nine replays.
          setField(frame, spec.kind, spec.field, `${run}.${i}.${spec.unit.repeat(count)}`);
          yield frame;
          return;
        }
        case "status":
          yield {
            type: "reply_status",
            data: {
              conversationId: spec.conversationId,
              success: spec.success,
              ...(spec.code !== undefined ? { code: spec.code, error: spec.code } : {}),
            },
          };
          return;
        case "connected":
          yield { ...frames.connected(), ...spec.extra, type: "connected" };
          return;
        case "oversize":
          yield JSON.stringify({ type: "whatsapp_message", data: { messageId: `big-${run}`, text: "x".repeat(4 * 1024 * 1024 + 10) } });
          return;
        case "deep":
          yield `{"type":"whatsapp_message","data":{"messageId":"deep-${run}-${i}","conversationId":"c","poolNumberId":"p","fromNumber":"+1","timestamp":"t","type":"text","text":"deep","nested":${"[".repeat(spec.depth)}${"]".repeat(spec.depth)}}}`;
          return;
        case "protoKeys":
          yield `{"type":"whatsapp_message","__proto__":{"polluted":1},"data":{"__proto__":{"messageId":"inherited"},"constructor":{"prototype":{"polluted":1}},"messageId":"proto-${run}-${i}","conversationId":"c","poolNumberId":"p","fromNumber":"+1","timestamp":"t","type":"__proto__","text":"x"}}`;
          return;
        case "replay":
          for (let n = 0; n < spec.count; n++) yield frames.message({ messageId: `replayed-${run}`, conversationId: "conv_fuzz" });
          return;
      }
    }

    interface FrameRun {
      delivered: boolean;
      open: boolean;
      crashes: string[];
      /** Bytes still reachable after GC with the client alive, over the baseline before it started. */
      retained?: number;
      logs: { level: string; length: number; head: string }[];
      stopMs: number;
    }

    /** One fresh client, one scripted server conversation, then the sentinel message. */
    async function runScript(script: FrameScript, watch: CrashWatch, measureHeap: boolean): Promise<FrameRun> {
      const run = ++runs;
      const sentinel = `sentinel-${run}`;
      const mark = watch.crashes.length;
      const logs: FrameRun["logs"] = [];
      // Only a detached head of each line: a short line can be a view of a huge id (see detach).
      const log = (level: string) => (text: string) => void logs.push({ level, length: text.length, head: detach(text.slice(0, 160)) });
      const events = new EventEmitter();
      let delivered = false;
      let sockets = 0;
      server.onSocket = (ws) => {
        const first = ++sockets === 1;
        void (async () => {
          if (first) {
            for (const [i, spec] of script.early.entries()) for (const frame of build(spec, run, i)) await server.send(ws, frame);
            if (!script.skipConnected) await server.send(ws, frames.connected());
            for (const [i, spec] of script.frames.entries()) for (const frame of build(spec, run, i + 100)) await server.send(ws, frame);
          } else {
            await server.send(ws, frames.connected());
          }
          await server.send(
            ws,
            frames.message({ messageId: sentinel, conversationId: "conv_sentinel", text: "the valid message after the garbage" }),
          );
        })();
      };
      const baseline = measureHeap ? retainedBytes() : 0;
      const client = new PipesClient({
        baseUrl: server.url,
        apiKey: KEY,
        scope: "user",
        backoffBaseMs: 10,
        backoffMaxMs: 40,
        handshakeTimeoutMs: 400,
        idleCloseMs: 50,
        logger: { info: log("info"), warn: log("warn"), error: log("error"), debug: log("debug") },
      });
      const wake = () => events.emit("tick");
      watch.on("crash", wake);
      client.on("state", wake);
      try {
        // The receiver keeps nothing of what it gets (huge messages must be free to go).
        client.addReceiver((message) => {
          if (message.messageId === sentinel) {
            delivered = true;
            events.emit("tick");
          }
        });
        client.acquireSocket({});
        await waitUntil("the sentinel message", () => delivered || watch.crashes.length > mark, events, ["tick"], 6000).catch(
          () => undefined,
        );
        const open = await waitUntil(
          "state open",
          () => client.state.state === "open" || watch.crashes.length > mark,
          events,
          ["tick"],
          3000,
        ).then(
          () => client.state.state === "open",
          () => false,
        );
        const retained = measureHeap ? retainedBytes() - baseline : undefined;
        return { delivered, open, crashes: watch.since(mark), retained, logs, stopMs: 0 };
      } finally {
        const stopping = Date.now();
        const stopped = await settleWithin(client.stop(), 4000);
        if (stopped.state !== "resolved")
          logs.push({ level: "test", length: 0, head: `stop() ${stopped.state} after ${Date.now() - stopping} ms` });
        watch.off("crash", wake);
      }
    }

    it("nothing throws, the client keeps running and delivers the valid message sent after the garbage", async function () {
      this.timeout(propertyTimeout());
      await watchingCrashes(async (watch) => {
        await fc.assert(
          fc.asyncProperty(frameScript, async (script) => {
            const result = await runScript(script, watch, false);
            assert.deepEqual(result.crashes, [], `the process would crash:\n  ${result.crashes.join("\n  ")}`);
            assert.ok(result.delivered, "the valid message after the garbage was not delivered");
            assert.ok(result.open, "the client is not open after the garbage");
            const stuck = result.logs.filter((l) => l.level === "test");
            assert.deepEqual(stuck, [], "stop() did not finish");
          }),
          params(16, [
            [{ early: [], skipConnected: false, frames: [{ t: "oversize" }, { t: "protoKeys" }, { t: "deep", depth: 50_000 }] }],
          ]),
        );
      });
    });

    it("the heap after GC stays bounded, whatever the size of the fields and messageIds", async function () {
      this.timeout(propertyTimeout());
      const hugeIds = fc
        .record({ bytes: fc.integer({ min: 200_000, max: 3_900_000 }), unit: fc.constantFrom("x", "é") })
        .map(({ bytes, unit }): FrameSpec => ({ t: "huge", kind: "whatsapp_message", field: "messageId", unit, bytes }));
      const heavy = fc.record({
        early: fc.constant<FrameSpec[]>([]),
        skipConnected: fc.constant(false),
        frames: fc.array(fc.oneof({ weight: 3, arbitrary: hugeIds }, { weight: 1, arbitrary: frameSpec }), { minLength: 1, maxLength: 12 }),
      });
      const tenHugeIds: FrameSpec[] = Array.from({ length: 10 }, () => ({
        t: "huge",
        kind: "whatsapp_message",
        field: "messageId",
        unit: "x",
        bytes: 3_000_000,
      }));
      await watchingCrashes(async (watch) => {
        await fc.assert(
          fc.asyncProperty(heavy, async (script) => {
            const result = await runScript(script, watch, true);
            assert.deepEqual(result.crashes, [], `the process would crash:\n  ${result.crashes.join("\n  ")}`);
            assert.ok(result.delivered, "the valid message after the garbage was not delivered");
            assert.ok(result.retained! < 16 * MB, `${mb(result.retained!)} still reachable after GC with the client alive (bound 16 MB)`);
          }),
          params(6, [[{ early: [], skipConnected: false, frames: tenHugeIds }]]),
        );
      });
    });

    it("log lines stay short and few, whatever the server sends", async function () {
      this.timeout(propertyTimeout());
      await watchingCrashes(async (watch) => {
        await fc.assert(
          fc.asyncProperty(frameScript, async (script) => {
            const result = await runScript(script, watch, false);
            assert.deepEqual(result.crashes, []);
            const long = result.logs.filter((l) => l.length > 1000);
            assert.deepEqual(
              long.map((l) => `${l.level} (${l.length} chars): ${l.head}…`),
              [],
              "log lines over 1000 characters",
            );
            const loud = result.logs.filter((l) => l.level === "warn" || l.level === "error");
            assert.ok(
              loud.length <= 25,
              `${loud.length} warnings/errors for one connection: ${loud
                .map((l) => l.head)
                .join(" | ")
                .slice(0, 600)}`,
            );
          }),
          params(10, [
            [{ early: [], skipConnected: false, frames: [{ t: "huge", kind: "connected", field: "scope", unit: "x", bytes: 2_000_000 }] }],
            [
              {
                early: [],
                skipConnected: false,
                frames: [{ t: "huge", kind: "reply_status", field: "conversationId", unit: "x", bytes: 2_000_000 }],
              },
            ],
          ]),
        );
      });
    });
  });

  // -------------------------------------------------------------------------------------------
  // PipesClient against the hostile server: REST answers
  // -------------------------------------------------------------------------------------------

  describe("client: arbitrary REST answers from a hostile server", function () {
    let server: HostileServer;
    let client: PipesClient;
    const TIMEOUT_MS = 400;
    const MAX_DOWNLOAD = 64 * 1024;

    before(async function () {
      server = new HostileServer({ apiKey: KEY });
      await server.start();
      client = new PipesClient({ baseUrl: server.url, apiKey: KEY, scope: "user", restTimeoutMs: TIMEOUT_MS });
    });
    after(async function () {
      await client.stop();
      await server.stop();
    });

    type BodySpec =
      | { t: "none" }
      | { t: "json"; v: unknown }
      | { t: "text"; v: string }
      | { t: "errorShape"; code: unknown; message: unknown }
      | { t: "huge"; bytes: number; json: boolean };
    type AnswerSpec =
      | { t: "http"; status: number; headers: [string, string][]; body: BodySpec }
      | { t: "redirect"; status: number; location: string }
      | { t: "raw"; text: string }
      | { t: "reset" }
      | { t: "hang" };
    interface RestRecipe {
      op: "send" | "sendMedia" | "download";
      /** The answers to the 1st, 2nd, ... request of the run (the last one repeats). */
      answers: AnswerSpec[];
    }

    const RETRY_AFTER = [
      "soon",
      "-1",
      "NaN",
      "Infinity",
      "1e309",
      "99999999999",
      "0x10",
      "",
      " ",
      "0",
      "0.001",
      "1.5",
      "Wed, 21 Oct 2015 07:28:00 GMT",
      "Fri, 31 Dec 9999 23:59:59 GMT",
      "Thu, 01 Jan 1970 00:00:00 GMT",
    ];
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 });
    const header = fc.oneof(
      fc.tuple(fc.constant("retry-after"), fc.oneof(fc.constantFrom(...RETRY_AFTER), printable)),
      fc.tuple(fc.constantFrom("content-type", "content-encoding", "location", "connection", "set-cookie", "x-anything"), printable),
      fc.tuple(
        fc.constant("content-type"),
        fc.constantFrom("application/json", "text/html", "application/json; charset=utf-16", "image/png", "multipart/mixed; boundary=x"),
      ),
    );
    const body: fc.Arbitrary<BodySpec> = fc.oneof(
      fc.constant<BodySpec>({ t: "none" }),
      fc.jsonValue({ maxDepth: 3 }).map((v): BodySpec => ({ t: "json", v })),
      fc.string({ unit: "binary", maxLength: 60 }).map((v): BodySpec => ({ t: "text", v })),
      fc
        .record({ code: fc.jsonValue({ maxDepth: 1 }), message: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant("x".repeat(100_000))) })
        .map((r): BodySpec => ({ t: "errorShape", ...r })),
      fc.record({ bytes: fc.integer({ min: 10_000, max: 3_000_000 }), json: fc.boolean() }).map((r): BodySpec => ({ t: "huge", ...r })),
    );
    const status = fc.oneof(
      fc.constantFrom(200, 201, 204, 206, 299, 304, 400, 401, 403, 404, 408, 413, 418, 429, 500, 502, 503, 504, 599, 100, 101, 103, 999),
      fc.integer({ min: 100, max: 999 }),
    );
    const location = fc.oneof(
      fc.constantFrom(
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "ftp://127.0.0.1/x",
        "ws://127.0.0.1:1/",
        "about:blank",
        "http://127.0.0.1:1/x",
        "https://127.0.0.1:$PORT/x",
        "http://[::1]:1/",
        "http://user:pass@127.0.0.1:$PORT/x",
        "  ",
        "",
        "http://%zz",
        "http://127.0.0.1:99999/",
        "/v1/media/download/again",
        "http://127.0.0.1:$PORT/storage/ok",
        "//",
        "/\\",
        "?x=1",
        "#frag",
        "http:",
        "https:",
      ),
      printable.map((s) => `/storage/${s}`),
    );
    const answer: fc.Arbitrary<AnswerSpec> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({ status, headers: fc.array(header, { maxLength: 3 }), body }).map((r): AnswerSpec => ({ t: "http", ...r })),
      },
      {
        weight: 2,
        arbitrary: fc
          .record({ status: fc.constantFrom(301, 302, 303, 307, 308, 300, 399), location })
          .map((r): AnswerSpec => ({ t: "redirect", ...r })),
      },
      {
        weight: 2,
        arbitrary: fc
          .oneof(
            fc.constantFrom(
              "HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n{}",
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
              "HTTP/1.1 2000 Weird\r\n\r\n",
              "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:$PORT/\u00e9\u0000\r\nContent-Length: 0\r\n\r\n",
              "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
              "HTTP/1.1 429 Too Many\r\nRetry-After: \u00ff\u00fe\r\nContent-Length: 0\r\n\r\n",
              'HTTP/1.1 200 OK\r\n\r\n{"success":true}',
              "NOT HTTP AT ALL\r\n\r\n",
              "",
            ),
            fc.string({ unit: "binary", maxLength: 80 }),
          )
          .map((text): AnswerSpec => ({ t: "raw", text })),
      },
      { weight: 1, arbitrary: fc.constant<AnswerSpec>({ t: "reset" }) },
      { weight: 1, arbitrary: fc.constant<AnswerSpec>({ t: "hang" }) },
    );
    const restRecipe: fc.Arbitrary<RestRecipe> = fc.record({
      op: fc.constantFrom<RestRecipe["op"]>("send", "sendMedia", "download"),
      answers: fc.array(answer, { minLength: 1, maxLength: 3 }),
    });

    function buildAnswer(spec: AnswerSpec, port: number): HttpAnswer {
      const here = (text: string) => text.replaceAll("$PORT", String(port));
      switch (spec.t) {
        case "reset":
          return { reset: true };
        case "hang":
          return { hang: true };
        case "raw":
          return { raw: Buffer.from(here(spec.text), "latin1") };
        case "redirect": {
          // Odd places, but never off this machine: a Location that would resolve to another host is pointed back here.
          let target = here(spec.location);
          try {
            const resolved = new URL(target, `http://127.0.0.1:${port}/v1/media/download/x`);
            if (
              (resolved.protocol === "http:" || resolved.protocol === "https:") &&
              !["127.0.0.1", "[::1]", "localhost"].includes(resolved.hostname)
            )
              target = `/storage/was-${resolved.hostname}`;
          } catch {
            // unparsable: the client has to cope with it as it is
          }
          return { status: spec.status, headers: { location: target, "content-length": "0" } };
        }
        case "http": {
          const headers: Record<string, string> = {};
          for (const [name, value] of spec.headers) headers[name] = name === "location" ? `/storage/${value}` : value;
          return { status: spec.status, headers, body: buildBody(spec.body) };
        }
      }
    }
    function buildBody(spec: BodySpec): unknown {
      switch (spec.t) {
        case "none":
          return undefined;
        case "json":
          return JSON.stringify(spec.v);
        case "text":
          return spec.v;
        case "errorShape":
          return JSON.stringify({ success: false, error: { code: spec.code, message: spec.message } });
        case "huge":
          return spec.json
            ? JSON.stringify({ success: false, error: { code: "HUGE", message: "m".repeat(spec.bytes) } })
            : Buffer.alloc(spec.bytes, 0x61);
      }
    }

    interface RestRun {
      outcome: Awaited<ReturnType<typeof settleWithin<unknown>>>;
      ms: number;
      crashes: string[];
      /** Requests after the first that carried the key (only the first goes to the API). */
      keyFollowed: string[];
      lastStatus: number | undefined;
    }

    async function runRest(recipe: RestRecipe, watch: CrashWatch): Promise<RestRun> {
      const mark = watch.crashes.length;
      server.forget();
      let n = 0;
      let lastStatus: number | undefined;
      server.onRequest = () => {
        const spec = recipe.answers[Math.min(n++, recipe.answers.length - 1)];
        // The status the client will have seen last (a raw answer may be a well-formed HTTP response too).
        lastStatus =
          spec.t === "http" || spec.t === "redirect"
            ? spec.status
            : spec.t === "raw"
              ? Number(/^HTTP\/1\.[01] (\d{3}) /.exec(spec.text)?.[1] ?? NaN)
              : undefined;
        return buildAnswer(spec, server.port);
      };
      const started = Date.now();
      const op =
        recipe.op === "download"
          ? client.download("/v1/media/download/abcdefghijklmnopqrstu", MAX_DOWNLOAD, TIMEOUT_MS)
          : recipe.op === "sendMedia"
            ? client.send({ conversationId: "conv_rest", mimeType: "image/png" }, bytesWith("png", 2000), TIMEOUT_MS)
            : client.send({ conversationId: "conv_rest", text: "hello" }, undefined, TIMEOUT_MS);
      // The guard only stops a hang: every operation has its own deadline of TIMEOUT_MS.
      const outcome = await settleWithin(op as Promise<unknown>, TIMEOUT_MS + 3000);
      const ms = Date.now() - started;
      const keyFollowed =
        recipe.op === "download"
          ? server.requests
              .slice(1)
              .filter((r) => JSON.stringify(r.headers).includes(KEY))
              .map((r) => r.url)
          : [];
      return { outcome, ms, crashes: watch.since(mark), keyFollowed, lastStatus };
    }

    it("every send and download settles in time, fails only with a PipesError without the key, and the key never follows a redirect", async function () {
      this.timeout(propertyTimeout());
      await watchingCrashes(async (watch) => {
        await fc.assert(
          fc.asyncProperty(restRecipe, async (recipe) => {
            const run = await runRest(recipe, watch);
            assert.deepEqual(run.crashes, [], `the process would crash:\n  ${run.crashes.join("\n  ")}`);
            assert.notEqual(run.outcome.state, "pending", `no outcome ${run.ms} ms after a call with a ${TIMEOUT_MS} ms deadline`);
            assert.deepEqual(run.keyFollowed, [], "the API key was sent along a redirect");
            if (run.outcome.state === "rejected") {
              const err = run.outcome.error;
              assert.ok(
                err instanceof PipesError,
                `rejected with ${err instanceof Error ? err.constructor.name : typeof err}, not a PipesError: ${brief(String(err))}`,
              );
              assert.equal(typeof err.code, "string");
              assert.equal(keyPieceIn(`${err.message} ${String(err.stack)}`), undefined, "the error carries the key");
            } else if (run.outcome.state === "resolved" && recipe.op === "download") {
              const file = run.outcome.value as { data: unknown };
              assert.ok(Buffer.isBuffer(file.data) && file.data.length <= MAX_DOWNLOAD, `a download resolved with ${brief(file)}`);
            } else if (run.outcome.state === "resolved") {
              assert.ok(
                run.lastStatus !== undefined && run.lastStatus >= 200 && run.lastStatus < 300,
                `a send resolved after HTTP ${String(run.lastStatus)}: ${brief(run.outcome.value)}`,
              );
            }
          }),
          params(30, [
            [{ op: "download", answers: [{ t: "redirect", status: 302, location: "http://127.0.0.1:99999/" }] }],
            [{ op: "send", answers: [{ t: "http", status: 429, headers: [["retry-after", "1e309"]], body: { t: "none" } }] }],
            // Found by the long run (seed 280750488): the body ends before its Content-Length.
            [{ op: "download", answers: [{ t: "raw", text: "HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n{}" }] }],
          ]),
        );
      });
    });

    it("error messages stay short, whatever the body says", async function () {
      this.timeout(propertyTimeout());
      await watchingCrashes(async (watch) => {
        await fc.assert(
          fc.asyncProperty(restRecipe, async (recipe) => {
            const run = await runRest(recipe, watch);
            assert.deepEqual(run.crashes, []);
            if (run.outcome.state === "rejected" && run.outcome.error instanceof Error) {
              const message = run.outcome.error.message;
              assert.ok(message.length <= 1000, `an error message of ${message.length} characters: ${brief(message, 120)}`);
            }
          }),
          params(15, [
            [{ op: "send", answers: [{ t: "http", status: 400, headers: [], body: { t: "huge", bytes: 200_000, json: true } }] }],
          ]),
        );
      });
    });
  });

  // -------------------------------------------------------------------------------------------
  // pipes-in in a real runtime behind the hostile server
  // -------------------------------------------------------------------------------------------

  describe("pipes-in behind a hostile server (real Node-RED runtime)", function () {
    let server: HostileServer;
    let pending: string | undefined;
    const seen = new Set<string>();
    const bus = new EventEmitter();
    let runs = 0;

    before(async function () {
      this.timeout(20_000);
      server = new HostileServer({ apiKey: KEY });
      await server.start();
      // Every socket: `connected`, then the sentinel still waiting (a socket the garbage closed is replaced).
      server.onSocket = (ws) => {
        void (async () => {
          await server.send(ws, frames.connected());
          if (pending) await server.send(ws, frames.message({ messageId: pending, conversationId: "conv_sentinel" }));
        })();
      };
      await new Promise<void>((resolve, reject) => helper.startServer((err?: Error) => (err ? reject(err) : resolve())));
      const flow = [
        { id: "tab", type: "tab", label: "hostile" },
        configNode(server.url),
        { id: "in", type: "pipes-in", z: "tab", connection: "cfg", wires: [["inbox"]] },
        { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["caught"]] },
        { id: "inbox", type: "helper", z: "tab" },
        { id: "caught", type: "helper", z: "tab" },
      ];
      await helper.load([...PIPES_NODES, ...coreNodes("common/25-catch.js")] as never, flow as never, { cfg: { apiKey: KEY } });
      await waitForStatus("in", "connected (user)");
      helper.getNode("inbox").on("input", (msg: any) => {
        const id = attempt(() => String(msg.pipes?.messageId));
        if (id.startsWith("sentinel-")) seen.add(id);
        bus.emit("tick");
      });
    });
    after(async function () {
      await helper.unload();
      await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
      await server.stop();
    });

    const ECHO: unknown[] = [
      { type: KEY },
      { type: "connected", userId: "u", connectionId: "c", scope: KEY },
      { type: "reply_status", data: { conversationId: KEY, success: false, code: KEY, error: KEY } },
      { type: "whatsapp_message", data: { messageId: KEY } },
      `not json ${KEY}`,
    ];
    const echoFrames = fc.subarray(ECHO);
    const garbage = fc.array(
      fc.oneof(
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.record({ type: fc.constantFrom("whatsapp_message", "reply_status", "connected", "x"), data: fc.jsonValue({ maxDepth: 2 }) }),
        fc
          .record({
            field: fc.constantFrom("messageId", "conversationId", "type", "text", "media", "location", "contacts", "reaction", "timestamp"),
            v: fc.jsonValue({ maxDepth: 2 }),
          })
          .map(({ field, v }) => frames.message({ messageId: `g-${field}`, [field]: v })),
        fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
      ),
      { maxLength: 6 },
    );

    it("Node-RED keeps running, the valid message after the garbage comes out, and the key echoed back appears in no log line or status", async function () {
      this.timeout(propertyTimeout());
      await watchingCrashes(async (watch) => {
        await fc.assert(
          fc.asyncProperty(garbage, echoFrames, async (list, echoes) => {
            const mark = watch.crashes.length;
            const sentinel = `sentinel-${++runs}`;
            pending = sentinel;
            for (const frame of [...echoes, ...list, frames.message({ messageId: sentinel, conversationId: "conv_sentinel" })])
              await server.broadcast(frame);
            const wake = () => bus.emit("tick");
            watch.on("crash", wake);
            try {
              await waitUntil(
                "the sentinel message at pipes-in's output",
                () => seen.has(sentinel) || watch.crashes.length > mark,
                bus,
                ["tick"],
                6000,
              ).catch(() => undefined);
            } finally {
              watch.off("crash", wake);
            }
            pending = undefined;
            assert.deepEqual(watch.since(mark), [], "Node-RED would crash");
            assert.ok(seen.has(sentinel), "the valid message after the garbage did not come out of pipes-in");
            const logSpy = helper.log() as unknown as { args: unknown[][] };
            const readableLogs = [...logSpy.args.map((a) => readable(a)), ...statuses("in").map((s) => readable(s))];
            (helper as unknown as { _sandbox: { resetHistory(): void } })._sandbox.resetHistory();
            const leaked = readableLogs.map((text) => [keyPieceIn(text), text] as const).filter(([piece]) => piece);
            assert.deepEqual(
              leaked.map(([piece, text]) => `'${piece}' in ${brief(text, 200)}`),
              [],
              "the API key, echoed back by the server, reached a log line or status",
            );
          }),
          params(8, [[[], ECHO]]),
        );
      });
      assert.ok(seen.size >= Math.min(runs, 8), `only ${seen.size} of ${runs} sentinels came out`);
    });
  });
});
