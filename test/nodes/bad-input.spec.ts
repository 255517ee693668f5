/**
 * Bad input from flows, table-driven, through the real nodes in a Node-RED runtime against the
 * emulator. One flow (every node variant the table needs) is loaded once; each row sends one msg
 * and asserts: which output it reaches, the exact msg.error.code, a human message, and, for
 * refusals made before sending, that nothing reached the emulator (no socket frame, no REST call).
 * After the table the same runtime still replies and sends normally. With output 2 unwired, a
 * failure reaches done(err) and a core Catch node.
 */
import * as assert from "node:assert/strict";
import type { EventEmitter } from "node:events";
import type { PipesEmulator, ReplyEvent } from "../../src/emulator";
import type { InboundMessage, ReplyStatus } from "../../src/lib/protocol";
import { useEmulator } from "../support/emulator-fixture";
import { coreNodes, FAST_TUNING, firstInput, helper, nextError, nextInput, PIPES_NODES, waitForStatus } from "../support/nodered";
import { waitUntil } from "../support/wait";

const [CATCH_NODE] = coreNodes("common/25-catch.js");

const KEY_A = "pk_test_bad_input_a_00000000000000000";
const KEY_B = "pk_test_bad_input_b_00000000000000000";
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), Buffer.alloc(64, 1)]);
const DAY = 24 * 60 * 60 * 1000;

type NodeId = "reply" | "replyShort" | "replyReject" | "replyScoped" | "replyRest" | "media";

interface Ctx {
  /** A fresh conversation of tenant A, its service window open. */
  conv: InboundMessage;
  /** Conversations of tenant B (one per row that replies into one, so no row depends on another). */
  foreign: InboundMessage;
  foreign2: InboundMessage;
  /** The conversation the conversation-scoped config node is bound to. */
  scoped: InboundMessage;
}

interface Case {
  name: string;
  node: NodeId;
  msg: (c: Ctx) => Record<string, unknown>;
  /** Expected msg.error.code on output 2; absent: success on output 1. */
  code?: string;
  /** "client": refused before anything reached the emulator; "server": the emulator decided. */
  decidedBy?: "client" | "server";
  status?: number;
  /** Runs before the msg is sent (after the fresh conversation exists); returns a cleanup. */
  setup?: (c: Ctx) => (() => void) | void;
  /** Extra checks of a success: the msg from output 1 and what the emulator recorded. */
  check?: (msg: any, c: Ctx) => void;
  /** A msg that refuses new properties, as a function node can make one (Node-RED used to exit on these). */
  locked?: "frozen" | "sealed" | "not extensible" | "throwing getter" | "throwing payload";
}

/** Makes a msg refuse new properties; it keeps its _msgid, which Node-RED itself would set. */
function lock(msg: Record<string, unknown>, how: NonNullable<Case["locked"]>): Record<string, unknown> {
  msg._msgid = `locked-${Math.random().toString(36).slice(2)}`;
  if (how === "frozen") return Object.freeze(msg);
  if (how === "sealed") return Object.seal(msg);
  if (how === "not extensible") return Object.preventExtensions(msg);
  if (how === "throwing payload")
    return Object.defineProperty(msg, "payload", {
      enumerable: true,
      get: () => {
        throw new Error("no payload for you");
      },
    });
  // A property whose getter throws, and no setter: setting it (or copying it) throws.
  Object.defineProperty(msg, "error", {
    enumerable: true,
    get: () => {
      throw new Error("this getter always throws");
    },
  });
  Object.defineProperty(msg, "sent", {
    enumerable: true,
    get: () => {
      throw new Error("this getter always throws");
    },
  });
  return msg;
}

let emu: PipesEmulator;

/** The emulator refuses media over 1000 bytes (our client's own limit is far higher); undoes itself. */
function smallServerMediaLimit(): () => void {
  emu.configure({ maxMediaBytes: 1000 });
  return () => emu.configure({ maxMediaBytes: 64 * 1024 * 1024 }); // the emulator's default
}
/** A node as the EventEmitter it is (the helper emits "input" and "call:*" on it). */
const emitterOf = (id: string) => helper.getNode(id) as unknown as EventEmitter;
const sentTexts = (c: Ctx) => emu.sent({ conversationId: c.conv.conversationId }).map((s) => s.text);
const lastSent = (c: Ctx) => emu.sent({ conversationId: c.conv.conversationId }).at(-1)!;
const routing = (c: Ctx) => ({ conversationId: c.conv.conversationId, poolNumberId: c.conv.poolNumberId, fromNumber: c.conv.fromNumber });

const REPLY_CASES: Case[] = [
  { name: "payload undefined", node: "reply", msg: (c) => ({ pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  { name: "payload null", node: "reply", msg: (c) => ({ payload: null, pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  {
    name: "payload an object",
    node: "reply",
    msg: (c) => ({ payload: { text: "hi" }, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "payload an array",
    node: "reply",
    msg: (c) => ({ payload: ["hi", "there"], pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "payload a Buffer",
    node: "reply",
    msg: (c) => ({ payload: Buffer.from("hi"), pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "payload a function",
    node: "reply",
    msg: (c) => ({ payload: () => "hi", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  { name: "payload a Date", node: "reply", msg: (c) => ({ payload: new Date(0), pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  { name: "payload NaN", node: "reply", msg: (c) => ({ payload: Number.NaN, pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  {
    name: "payload Infinity",
    node: "reply",
    msg: (c) => ({ payload: Number.POSITIVE_INFINITY, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a frozen msg (sent; output 1 carries a copy)",
    node: "reply",
    locked: "frozen",
    msg: (c) => ({ payload: "frozen", pipes: c.conv }),
    check: (msg) => assert.match(msg.sent.messageId, /^wamid\./),
  },
  {
    name: "a sealed msg that cannot be sent",
    node: "reply",
    locked: "sealed",
    msg: (c) => ({ payload: { not: "text" }, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a non-extensible msg over REST",
    node: "replyRest",
    locked: "not extensible",
    msg: (c) => ({ payload: "locked", pipes: c.conv }),
    check: (msg) => assert.equal(msg.sent.transport, "rest"),
  },
  {
    name: "a msg whose error getter throws, failing over REST",
    node: "replyRest",
    locked: "throwing getter",
    msg: () => ({ payload: "hi" }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  {
    name: "a msg whose payload getter throws",
    node: "reply",
    locked: "throwing payload",
    msg: (c) => ({ pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  { name: "payload an empty string", node: "reply", msg: (c) => ({ payload: "", pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  {
    name: "payload only whitespace",
    node: "reply",
    msg: (c) => ({ payload: "  \n\t  ", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "payload a number (sent as text)",
    node: "reply",
    msg: (c) => ({ payload: 42, pipes: c.conv }),
    check: (msg, c) => {
      assert.match(msg.sent.messageId, /^wamid\./);
      assert.deepEqual(sentTexts(c), ["42"]);
    },
  },
  {
    name: "payload 0 (sent as text)",
    node: "reply",
    msg: (c) => ({ payload: 0, pipes: c.conv }),
    check: (_m, c) => assert.deepEqual(sentTexts(c), ["0"]),
  },
  {
    name: "payload a boolean (sent as text)",
    node: "reply",
    msg: (c) => ({ payload: true, pipes: c.conv }),
    check: (_m, c) => assert.deepEqual(sentTexts(c), ["true"]),
  },
  {
    name: "4097 characters with longText reject",
    node: "replyReject",
    msg: (c) => ({ payload: "x".repeat(4097), pipes: c.conv }),
    code: "TEXT_TOO_LONG",
    decidedBy: "client",
  },
  {
    name: "exactly 4096 characters with longText reject (sent whole)",
    node: "replyReject",
    msg: (c) => ({ payload: "y".repeat(4096), pipes: c.conv }),
    check: (msg, c) => {
      assert.equal(msg.sent.parts, 1);
      assert.deepEqual(sentTexts(c), ["y".repeat(4096)]);
    },
  },
  {
    name: "4097 characters with splitting (2 parts, in order)",
    node: "reply",
    msg: (c) => ({ payload: "z".repeat(4097), pipes: c.conv }),
    check: (msg, c) => {
      assert.equal(msg.sent.parts, 2);
      assert.equal(msg.sent.messageIds.length, 2);
      assert.deepEqual(sentTexts(c), ["z".repeat(4096), "z"]);
    },
  },
  { name: "no msg.pipes", node: "reply", msg: () => ({ payload: "hi" }), code: "MISSING_ROUTING", decidedBy: "client" },
  { name: "msg.pipes null", node: "reply", msg: () => ({ payload: "hi", pipes: null }), code: "MISSING_ROUTING", decidedBy: "client" },
  {
    name: "msg.pipes a string",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: c.conv.conversationId }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  { name: "msg.pipes a number", node: "reply", msg: () => ({ payload: "hi", pipes: 12345 }), code: "MISSING_ROUTING", decidedBy: "client" },
  {
    name: "msg.pipes without conversationId",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: { ...routing(c), conversationId: undefined } }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  {
    name: "msg.pipes without poolNumberId",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: { ...routing(c), poolNumberId: undefined } }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  {
    name: "msg.pipes without fromNumber",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: { ...routing(c), fromNumber: undefined } }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  {
    name: "msg.pipes with an empty conversationId",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: { ...routing(c), conversationId: "  " } }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  {
    name: "conversationId an object",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: { ...routing(c), conversationId: { id: c.conv.conversationId } } }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "poolNumberId a boolean",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: { ...routing(c), poolNumberId: true } }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a conversation that does not exist (the emulator stays silent)",
    node: "replyShort",
    msg: (c) => ({ payload: "hi", pipes: { ...routing(c), conversationId: "conv_does_not_exist_1" } }),
    code: "TIMEOUT",
    decidedBy: "server",
  },
  {
    name: "another tenant's conversation (silent)",
    node: "replyShort",
    msg: (c) => ({ payload: "hi", pipes: c.foreign }),
    code: "TIMEOUT",
    decidedBy: "server",
  },
  {
    name: "another tenant's conversation (the server answers an error)",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: c.foreign2 }),
    setup: () => {
      emu.configure({ foreignConversationReply: "error" });
      return () => emu.configure({ foreignConversationReply: "silent" });
    },
    code: "CONVERSATION_NOT_FOUND",
    decidedBy: "server",
  },
  {
    name: "a conversation whose service window expired",
    node: "reply",
    msg: (c) => ({ payload: "hi", pipes: c.conv }),
    setup: () => void emu.advanceClock(DAY + 60_000),
    code: "SERVICE_WINDOW_EXPIRED",
    decidedBy: "server",
  },
  {
    name: "a conversation-scoped connection replying to another conversation",
    node: "replyScoped",
    msg: (c) => ({ payload: "hi", pipes: c.conv }),
    code: "OUT_OF_SCOPE",
    decidedBy: "client",
  },
  {
    name: "a conversation-scoped connection replying to its own conversation",
    node: "replyScoped",
    msg: (c) => ({ payload: "in scope", pipes: c.scoped }),
    setup: (c) => void emu.inject({ fromNumber: c.scoped.fromNumber, text: "reopen the window" }),
    check: (msg, c) => assert.equal(msg.sent.conversationId, c.scoped.conversationId),
  },
  {
    name: "REST transport: no conversation",
    node: "replyRest",
    msg: (c) => ({ payload: "hi", pipes: { poolNumberId: c.conv.poolNumberId } }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  {
    name: "REST transport: a conversation that does not exist",
    node: "replyRest",
    msg: () => ({ payload: "hi", pipes: { conversationId: "conv_does_not_exist_2" } }),
    code: "CONVERSATION_NOT_FOUND",
    decidedBy: "server",
    status: 404,
  },
  {
    name: "REST transport: only the conversationId is needed",
    node: "replyRest",
    msg: (c) => ({ payload: "over rest", pipes: { conversationId: c.conv.conversationId } }),
    check: (msg, c) => {
      assert.equal(msg.sent.transport, "rest");
      assert.equal(lastSent(c).via, "rest");
    },
  },
];

const MEDIA_CASES: Case[] = [
  {
    name: "caption of 1025 characters",
    node: "media",
    msg: (c) => ({ payload: PNG, caption: "c".repeat(1025), pipes: c.conv }),
    code: "CAPTION_TOO_LONG",
    decidedBy: "client",
  },
  {
    name: "caption of 1024 characters",
    node: "media",
    msg: (c) => ({ payload: PNG, caption: "c".repeat(1024), pipes: c.conv }),
    check: (_m, c) => assert.equal(lastSent(c).caption, "c".repeat(1024)),
  },
  {
    name: "caption a number",
    node: "media",
    msg: (c) => ({ payload: PNG, caption: 7, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "an http: URL",
    node: "media",
    msg: (c) => ({ payload: "http://example.com/a.png", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "an ftp: URL",
    node: "media",
    msg: (c) => ({ payload: "ftp://example.com/a.png", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "an https URL that does not parse",
    node: "media",
    msg: (c) => ({ payload: "https://exa mple.com/a.png", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  { name: 'the string "hello"', node: "media", msg: (c) => ({ payload: "hello", pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  { name: "a whitespace string", node: "media", msg: (c) => ({ payload: "   ", pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  {
    name: "a 20-character id-like string",
    node: "media",
    msg: (c) => ({ payload: "A".repeat(20), pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a 22-character id-like string",
    node: "media",
    msg: (c) => ({ payload: "A".repeat(22), pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a data: URI whose data is not base64",
    node: "media",
    msg: (c) => ({ payload: "data:image/png;base64,this is not base64 at all", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a data: URI with nothing after base64,",
    node: "media",
    msg: (c) => ({ payload: "data:image/png;base64,", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a frozen msg with a PNG",
    node: "media",
    locked: "frozen",
    msg: (c) => ({ payload: PNG, pipes: c.conv }),
    check: (msg) => assert.equal(msg.sent.kind, "image"),
  },
  {
    name: "a msg whose sent getter throws, failing",
    node: "media",
    locked: "throwing getter",
    msg: (c) => ({ payload: 42, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a data: URI without ;base64",
    node: "media",
    msg: (c) => ({ payload: "data:text/plain,hello", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a well-formed media id that does not exist",
    node: "media",
    msg: (c) => ({ payload: "Zz0_-Zz0_-Zz0_-Zz0_-Z", pipes: c.conv }),
    code: "MEDIA_NOT_FOUND",
    decidedBy: "server",
    status: 404,
  },
  {
    name: "an empty Buffer",
    node: "media",
    msg: (c) => ({ payload: Buffer.alloc(0), pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "unknown bytes without a mimetype",
    node: "media",
    msg: (c) => ({ payload: Buffer.from("mystery bytes"), pipes: c.conv }),
    code: "UNKNOWN_MIME_TYPE",
    decidedBy: "client",
  },
  {
    name: "unknown bytes with msg.filename x.pdf (a document)",
    node: "media",
    msg: (c) => ({ payload: Buffer.from("mystery bytes"), filename: "x.pdf", pipes: c.conv }),
    check: (msg, c) => {
      assert.equal(msg.sent.kind, "document");
      assert.equal(lastSent(c).kind, "document");
      assert.equal(lastSent(c).media?.mimeType, "application/pdf");
      assert.equal(lastSent(c).media?.fileName, "x.pdf");
    },
  },
  {
    name: 'mimetype "nope"',
    node: "media",
    msg: (c) => ({ payload: PNG, mimetype: "nope", pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "mimetype a number",
    node: "media",
    msg: (c) => ({ payload: PNG, mimetype: 5, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "filename an object",
    node: "media",
    msg: (c) => ({ payload: PNG, filename: { name: "a.png" }, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  {
    name: "a Buffer just over the server's size limit (413)",
    node: "media",
    msg: (c) => ({ payload: Buffer.concat([PNG, Buffer.alloc(2000)]), pipes: c.conv }),
    setup: smallServerMediaLimit,
    code: "MEDIA_TOO_LARGE",
    decidedBy: "server",
    status: 413,
  },
  {
    name: "a Buffer far over the server's size limit (413 before the body is read)",
    node: "media",
    msg: (c) => ({ payload: Buffer.concat([PNG, Buffer.alloc(300 * 1024)]), pipes: c.conv }),
    setup: smallServerMediaLimit,
    code: "MEDIA_TOO_LARGE",
    decidedBy: "server",
    status: 413,
  },
  {
    name: "a serialized Buffer {type:'Buffer',data:[...]} of a PNG",
    node: "media",
    msg: (c) => ({ payload: JSON.parse(JSON.stringify(PNG)), pipes: c.conv }),
    check: (msg, c) => {
      assert.equal(msg.sent.kind, "image");
      assert.equal(lastSent(c).media?.byteSize, PNG.length);
      assert.equal(lastSent(c).media?.mimeType, "image/png");
    },
  },
  {
    name: "a Uint8Array of a PNG",
    node: "media",
    msg: (c) => ({ payload: new Uint8Array(PNG), pipes: c.conv }),
    check: (_m, c) => assert.equal(lastSent(c).media?.byteSize, PNG.length),
  },
  {
    name: "a data: URI",
    node: "media",
    msg: (c) => ({ payload: `data:image/png;base64,${PNG.toString("base64")}`, pipes: c.conv }),
    check: (msg, c) => {
      assert.equal(msg.sent.kind, "image");
      assert.equal(lastSent(c).media?.mode, "base64");
      assert.equal(lastSent(c).media?.byteSize, PNG.length);
    },
  },
  {
    name: "an https URL",
    node: "media",
    msg: (c) => ({ payload: "https://example.com/cat.jpg", pipes: c.conv }),
    check: (_m, c) => assert.equal(lastSent(c).media?.url, "https://example.com/cat.jpg"),
  },
  { name: "payload undefined", node: "media", msg: (c) => ({ pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  {
    name: "payload an object",
    node: "media",
    msg: (c) => ({ payload: { file: "a.png" }, pipes: c.conv }),
    code: "BAD_INPUT",
    decidedBy: "client",
  },
  { name: "payload a number", node: "media", msg: (c) => ({ payload: 123, pipes: c.conv }), code: "BAD_INPUT", decidedBy: "client" },
  { name: "no conversation (no msg.pipes)", node: "media", msg: () => ({ payload: PNG }), code: "MISSING_ROUTING", decidedBy: "client" },
  {
    name: "msg.pipes without conversationId",
    node: "media",
    msg: (c) => ({ payload: PNG, pipes: { poolNumberId: c.conv.poolNumberId } }),
    code: "MISSING_ROUTING",
    decidedBy: "client",
  },
  {
    name: "a conversation that does not exist",
    node: "media",
    msg: () => ({ payload: PNG, pipes: { conversationId: "conv_does_not_exist_3" } }),
    code: "CONVERSATION_NOT_FOUND",
    decidedBy: "server",
    status: 404,
  },
  {
    name: "another tenant's conversation",
    node: "media",
    msg: (c) => ({ payload: PNG, pipes: c.foreign }),
    code: "CONVERSATION_NOT_FOUND",
    decidedBy: "server",
    status: 404,
  },
  {
    name: "a conversation whose service window expired",
    node: "media",
    msg: (c) => ({ payload: PNG, pipes: c.conv }),
    setup: () => void emu.advanceClock(DAY + 60_000),
    code: "SERVICE_WINDOW_EXPIRED",
    decidedBy: "server",
    status: 403,
  },
];

describe("bad input from flows (table-driven, real nodes against the emulator)", function () {
  const emuLog: string[] = [];
  let frames = 0;
  let restCalls = 0;
  let numbers = 0;
  let ctxBase: Omit<Ctx, "conv">;
  let foreign3: InboundMessage;
  const outputs = { ok: 0, failed: 0, caught: 0 };
  /** How many times each msg (by its caseName) came out of output 1 or 2. */
  const arrivals = new Map<string, number>();
  const wiredErrors: string[] = [];
  const inboxSeen = new Set<string>();

  const fresh = (): InboundMessage => emu.inject({ fromNumber: `+1555${String(2_000_000 + ++numbers)}`, text: "hello" });

  const fixture = useEmulator({
    // One runtime and one flow for the whole table; the conversations made below stay for every row.
    nodeRed: "suite",
    reset: false,
    log: (line) => {
      emuLog.push(line);
      if (line.startsWith("[pipes-emulator] rest:")) restCalls++;
    },
    tenants: [
      { userId: "user_a", apiKey: KEY_A, poolNumbers: [{ id: "pn_a1", phoneNumber: "+15550000001" }] },
      { userId: "user_b", apiKey: KEY_B, poolNumbers: [{ id: "pn_b1", phoneNumber: "+15550000002" }] },
    ],
  });
  emu = fixture.emu;

  before(async function () {
    emu.on("client-frame", () => frames++);
    const scoped = emu.inject({ fromNumber: "+15557770000", text: "scoped" });
    const foreign = emu.inject({ apiKey: KEY_B, fromNumber: "+15558880000", text: "not yours" });
    const foreign2 = emu.inject({ apiKey: KEY_B, fromNumber: "+15558880002", text: "not yours either" });
    foreign3 = emu.inject({ apiKey: KEY_B, fromNumber: "+15558880003", text: "nor this one" });
    ctxBase = { scoped, foreign, foreign2 };

    const config = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      type: "pipes-config",
      name: `test ${id.length}`,
      baseUrl: emu.url,
      scope: "user",
      tuning: FAST_TUNING,
      ...extra,
    });
    const flow = [
      { id: "tab", type: "tab", label: "bad input" },
      config("cfg"),
      config("cfgScoped", { scope: "conversation", conversationId: scoped.conversationId }),
      { id: "in", type: "pipes-in", z: "tab", connection: "cfg", wires: [["inbox"]] },
      { id: "inbox", type: "helper", z: "tab" },
      { id: "reply", type: "pipes-reply", z: "tab", connection: "cfg", timeout: 3, wires: [["ok"], ["failed"]] },
      { id: "replyShort", type: "pipes-reply", z: "tab", connection: "cfg", timeout: 0.3, wires: [["ok"], ["failed"]] },
      { id: "replyReject", type: "pipes-reply", z: "tab", connection: "cfg", timeout: 3, longText: "reject", wires: [["ok"], ["failed"]] },
      { id: "replyScoped", type: "pipes-reply", z: "tab", connection: "cfgScoped", timeout: 3, wires: [["ok"], ["failed"]] },
      { id: "replyRest", type: "pipes-reply", z: "tab", connection: "cfg", transport: "rest", timeout: 3, wires: [["ok"], ["failed"]] },
      { id: "media", type: "pipes-send-media", z: "tab", connection: "cfg", timeout: 5, wires: [["ok"], ["failed"]] },
      { id: "replyUnwired", type: "pipes-reply", z: "tab", connection: "cfg", timeout: 3, wires: [["ok"]] },
      { id: "mediaUnwired", type: "pipes-send-media", z: "tab", connection: "cfg", timeout: 5, wires: [["ok"]] },
      { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["caught"]] },
      { id: "ok", type: "helper", z: "tab" },
      { id: "failed", type: "helper", z: "tab" },
      { id: "caught", type: "helper", z: "tab" },
    ];
    await helper.load([...PIPES_NODES, CATCH_NODE] as never, flow, { cfg: { apiKey: KEY_A }, cfgScoped: { apiKey: KEY_A } });
    await fixture.sockets(2);
    await waitForStatus("reply", "connected (user)");
    await waitForStatus("replyScoped", `connected (${scoped.conversationId})`);
    for (const id of ["ok", "failed", "caught"] as const) {
      emitterOf(id).on("input", (msg: { caseName?: string }) => {
        outputs[id]++;
        if (id !== "caught") arrivals.set(String(msg.caseName), (arrivals.get(String(msg.caseName)) ?? 0) + 1);
      });
    }
    emitterOf("inbox").on("input", (msg: { pipes: InboundMessage }) => inboxSeen.add(msg.pipes.messageId));
    for (const id of ["reply", "replyShort", "replyReject", "replyScoped", "replyRest", "media"]) {
      emitterOf(id).on("call:error", (call: { args: unknown[] }) => wiredErrors.push(`${id}: ${String(call.args[0])}`));
    }
  });

  /** The first msg to reach output 1 ("ok") or output 2 ("failed"). */
  async function nextOutcome(timeoutMs = 6000): Promise<{ output: 1 | 2; msg: any }> {
    const { id, msg } = await firstInput(["ok", "failed"], timeoutMs);
    return { output: id === "ok" ? 1 : 2, msg };
  }

  const tableNames: string[] = [];

  for (const [group, cases] of [
    ["pipes-reply", REPLY_CASES],
    ["pipes-send-media", MEDIA_CASES],
  ] as const) {
    describe(group, function () {
      for (const row of cases) {
        const wanted = row.code ? `output 2 with ${row.code}` : "output 1";
        it(`${row.name} -> ${wanted}`, async function () {
          const ctx: Ctx = { ...ctxBase, conv: fresh() };
          // The fresh conversation's inbound message reaches pipes-in before the case starts.
          await waitUntil(
            "the fresh conversation delivered",
            () => inboxSeen.has(ctx.conv.messageId),
            helper.getNode("inbox"),
            ["input"],
            3000,
          );
          const logStart = emuLog.length;
          const cleanup = row.setup?.(ctx);
          try {
            const before = { frames, restCalls, sent: emu.sent().length };
            const outcome = nextOutcome();
            const caseName = `${group}: ${row.name}`;
            const plain = { ...row.msg(ctx), caseName };
            const msg = row.locked ? lock(plain, row.locked) : plain;
            tableNames.push(caseName);
            helper.getNode(row.node).receive(msg);
            const { output, msg: result } = await outcome;
            assert.equal(result.caseName, caseName, "a different msg came out");
            if (row.code) {
              assert.equal(output, 2, `expected output 2, got output ${output}: ${JSON.stringify(result.sent)}`);
              assert.equal(result.error?.code, row.code, `msg.error: ${JSON.stringify(result.error)}`);
              assert.equal(typeof result.error.message, "string");
              assert.ok(
                result.error.message.trim().length > 5 && result.error.message !== row.code,
                `no human message: ${JSON.stringify(result.error)}`,
              );
              assert.equal(result.sent, undefined);
              if (row.status !== undefined) assert.equal(result.error.status, row.status);
              if (row.decidedBy === "client") {
                assert.equal(result.error.source, "client");
                assert.equal(frames - before.frames, 0, "a socket frame reached the emulator");
                assert.equal(restCalls - before.restCalls, 0, "a REST call reached the emulator");
              }
              if (row.decidedBy === "server")
                assert.ok(frames + restCalls > before.frames + before.restCalls, "the emulator never saw the request");
              assert.equal(emu.sent().length, before.sent, "the emulator recorded a sent message");
            } else {
              assert.equal(output, 1, `expected output 1, got output 2 with ${JSON.stringify(result.error)}`);
              assert.equal(result.error, undefined);
              assert.ok(result.sent, "msg.sent is set");
              assert.ok(emu.sent().length > before.sent, "nothing was recorded as sent");
              row.check?.(result, ctx);
            }
          } catch (err) {
            // The emulator's side of the story makes a failing row easy to read.
            if (err instanceof Error) {
              const story = `\n    emulator log of this case:\n      ${emuLog.slice(logStart).join("\n      ")}`;
              err.stack = err.stack?.replace(err.message, err.message + story);
              err.message += story;
            }
            throw err;
          } finally {
            if (typeof cleanup === "function") cleanup();
          }
        });
      }
    });
  }

  describe("after a reply that never got a reply_status", function () {
    it("at most the one reply right after it times out too; the replies after that get their own reply_status", async function () {
      // The emulator drops the first reply silently (another tenant's conversation), then answers
      // every later one with CONVERSATION_NOT_FOUND. Documented in lib/outbox.ts: the first status
      // after a time-out is taken as the late one, so the second reply may time out as well; but
      // from the third on each reply must report its own answer.
      const replyOnce = async (caseName: string): Promise<{ output: 1 | 2; msg: any }> => {
        const outcome = nextOutcome();
        helper.getNode("replyShort").receive({ payload: caseName, pipes: foreign3, caseName });
        return outcome;
      };
      const answers: (ReplyStatus | null)[] = [];
      const onReply = (event: ReplyEvent) => answers.push(event.status);
      emu.on("reply", onReply);
      try {
        assert.equal((await replyOnce("silent first")).msg.error?.code, "TIMEOUT");
        emu.configure({ foreignConversationReply: "error" });
        const second = await replyOnce("answered second");
        assert.equal(second.output, 2);
        assert.ok(["TIMEOUT", "CONVERSATION_NOT_FOUND"].includes(second.msg.error?.code), JSON.stringify(second.msg.error));
        const third = await replyOnce("answered third");
        const fourth = await replyOnce("answered fourth");
        assert.deepEqual(
          answers.map((a) => a?.code ?? "silent"),
          ["silent", "CONVERSATION_NOT_FOUND", "CONVERSATION_NOT_FOUND", "CONVERSATION_NOT_FOUND"],
          "what the emulator answered",
        );
        const reported = [second, third, fourth].map((r) => r.msg.error?.code);
        assert.deepEqual(
          reported.slice(1),
          ["CONVERSATION_NOT_FOUND", "CONVERSATION_NOT_FOUND"],
          `the emulator answered each reply CONVERSATION_NOT_FOUND; the node reported ${reported.join(", ")}`,
        );
      } finally {
        emu.off("reply", onReply);
        emu.configure({ foreignConversationReply: "silent" });
      }
    });
  });

  describe("with output 2 unwired", function () {
    for (const [node, msgFor, code] of [
      ["replyUnwired", (c: Ctx) => ({ payload: { not: "text" }, pipes: c.conv }), "BAD_INPUT"],
      ["replyUnwired", (c: Ctx) => ({ payload: "late", pipes: c.conv, advance: true }), "SERVICE_WINDOW_EXPIRED"],
      ["mediaUnwired", (c: Ctx) => ({ payload: "http://example.com/a.png", pipes: c.conv }), "BAD_INPUT"],
      ["mediaUnwired", () => ({ payload: PNG, pipes: { conversationId: "conv_does_not_exist_4" } }), "CONVERSATION_NOT_FOUND"],
    ] as const) {
      it(`${node}: ${code} reaches done(err) and a core Catch node`, async function () {
        const ctx: Ctx = { ...ctxBase, conv: fresh() };
        const msg: Record<string, unknown> = { ...msgFor(ctx), caseName: `${node} ${code}` };
        if (msg.advance) emu.advanceClock(DAY + 60_000);
        const failedBefore = outputs.failed;
        const reported = nextError(node, 6000);
        const caught = nextInput("caught", 6000);
        helper.getNode(node).receive(msg);
        const { err, msg: reportedMsg } = await reported;
        assert.equal((err as { code?: string }).code, code);
        assert.ok(String((err as Error).message).length > 5);
        assert.equal(reportedMsg.error.code, code);
        const fromCatch = await caught;
        assert.equal(fromCatch.caseName, msg.caseName);
        assert.equal(fromCatch.error.source.id, node);
        assert.equal(fromCatch.error.code, code);
        assert.equal(fromCatch._error.code, code, "the msg.error our node set survives as msg._error");
        assert.equal(outputs.failed, failedBefore, "nothing went to a failure output");
      });
    }
  });

  describe("afterwards", function () {
    it("the runtime still runs: a normal reply and a normal media send succeed, and every msg came out exactly once", async function () {
      const conv = fresh();
      let outcome = nextOutcome();
      helper.getNode("reply").receive({ payload: "still alive", pipes: conv, caseName: "alive reply" });
      let result = await outcome;
      assert.equal(result.output, 1, JSON.stringify(result.msg.error));
      assert.match(result.msg.sent.messageId, /^wamid\./);
      outcome = nextOutcome();
      helper.getNode("media").receive({ payload: PNG, pipes: conv, caseName: "alive media" });
      result = await outcome;
      assert.equal(result.output, 1, JSON.stringify(result.msg.error));
      assert.equal(result.msg.sent.kind, "image");
      assert.deepEqual(
        emu.sent({ conversationId: conv.conversationId }).map((s) => s.kind),
        ["text", "image"],
      );
      // Each table row's msg came out exactly once, on one output; nothing else came out.
      const twice = [...arrivals].filter(([, n]) => n !== 1).map(([name, n]) => `${name}: ${n}`);
      assert.deepEqual(twice, [], "msgs that came out more than once");
      assert.deepEqual(
        [...arrivals.keys()].sort(),
        [...tableNames, "silent first", "answered second", "answered third", "answered fourth", "alive reply", "alive media"].sort(),
      );
      assert.equal(outputs.caught, 4);
      assert.deepEqual(wiredErrors, [], "a node with output 2 wired also reported the failure with done(err)/node.error");
      assert.equal(emu.connections().length, 2, "both sockets are still up");
    });
  });

  it("has at least 35 table cases", function () {
    assert.ok(REPLY_CASES.length + MEDIA_CASES.length >= 35, String(REPLY_CASES.length + MEDIA_CASES.length));
  });
});
