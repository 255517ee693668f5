import * as assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { PipesError } from "../../src/lib/errors";
import { CONNECTED_LIMIT_FACTOR, Outbox, type OutboxTransport } from "../../src/lib/outbox";
import type { ReplyStatus, WhatsAppReply } from "../../src/lib/protocol";
import { poll, waitUntil } from "../support/wait";

/** A transport that records written frames and can be opened and closed by the test. */
class FakeTransport extends EventEmitter implements OutboxTransport {
  isOpen = true;
  readonly written: WhatsAppReply[] = [];
  send(frame: string): boolean {
    if (!this.isOpen) return false;
    this.written.push((JSON.parse(frame) as { data: WhatsAppReply }).data);
    this.emit("written");
    return true;
  }
}

const reply = (conversationId: string, text: string): WhatsAppReply => ({ conversationId, poolNumberId: "pn", toNumber: "+1", text });
const ok = (conversationId: string, messageId: string): ReplyStatus => ({ conversationId, success: true, messageId });

async function rejection(promise: Promise<unknown>): Promise<PipesError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PipesError);
    return err;
  }
  assert.fail("expected a rejection");
}

describe("outbox: stop-and-wait per conversation", function () {
  let transport: FakeTransport;
  let outbox: Outbox;
  beforeEach(function () {
    transport = new FakeTransport();
    outbox = new Outbox(transport, { limit: 5, maxWaitMs: 60_000 });
  });
  afterEach(function () {
    outbox.stop();
  });

  it("sends one reply per conversation at a time, in order, and in parallel across conversations", async function () {
    const a1 = outbox.enqueue(reply("a", "a1"), { timeoutMs: 5000 });
    const a2 = outbox.enqueue(reply("a", "a2"), { timeoutMs: 5000 });
    const b1 = outbox.enqueue(reply("b", "b1"), { timeoutMs: 5000 });
    assert.deepEqual(
      transport.written.map((r) => r.text),
      ["a1", "b1"],
    );
    outbox.handleStatus(ok("a", "wamid.1"));
    assert.equal((await a1).messageId, "wamid.1");
    assert.deepEqual(
      transport.written.map((r) => r.text),
      ["a1", "b1", "a2"],
    );
    outbox.handleStatus({ conversationId: "a", success: false, code: "SERVICE_WINDOW_EXPIRED", error: "closed" });
    const failure = await rejection(a2);
    assert.equal(failure.code, "SERVICE_WINDOW_EXPIRED");
    assert.equal(failure.source, "server");
    outbox.handleStatus(ok("b", "wamid.2"));
    assert.equal((await b1).messageId, "wamid.2");
    assert.equal(outbox.size, 0);
  });

  it("forgets an idle conversation after a quiet sweep period, not at once, and keeps a busy one", async function () {
    const first = outbox.enqueue(reply("a", "1"), { timeoutMs: 5000 });
    outbox.handleStatus(ok("a", "wamid.1"));
    await first;
    // Kept a moment: a conversation that is answered again soon reuses its state.
    assert.equal(outbox.conversationsKnown, 1);
    const again = outbox.enqueue(reply("a", "2"), { timeoutMs: 5000 });
    assert.equal(outbox.conversationsKnown, 1);
    outbox.handleStatus(ok("a", "wamid.2"));
    await again;
    const busy = outbox.enqueue(reply("b", "1"), { timeoutMs: 5000 });
    // The sweeper runs every 400 ms at most; "a" goes within two periods, "b" (awaiting its status) stays.
    await poll("the idle conversation to be forgotten", () => outbox.conversationsKnown === 1, { everyMs: 50, timeoutMs: 3000 });
    outbox.handleStatus(ok("b", "wamid.3"));
    await busy;
    await poll("the last conversation to be forgotten", () => outbox.conversationsKnown === 0, { everyMs: 50, timeoutMs: 3000 });
  });

  it("holds replies while disconnected and sends them in order on flush", async function () {
    transport.isOpen = false;
    const first = outbox.enqueue(reply("a", "1"), { timeoutMs: 5000 });
    const second = outbox.enqueue(reply("a", "2"), { timeoutMs: 5000 });
    assert.equal(transport.written.length, 0);
    transport.isOpen = true;
    outbox.flush();
    outbox.handleStatus(ok("a", "w1"));
    await first;
    outbox.handleStatus(ok("a", "w2"));
    await second;
    assert.deepEqual(
      transport.written.map((r) => r.text),
      ["1", "2"],
    );
  });

  it("reports OUTCOME_UNKNOWN for a reply in flight when the connection drops, and never resends it", async function () {
    const inFlight = outbox.enqueue(reply("a", "1"), { timeoutMs: 5000 });
    const queued = outbox.enqueue(reply("a", "2"), { timeoutMs: 5000 });
    transport.isOpen = false;
    outbox.connectionLost();
    assert.equal((await rejection(inFlight)).code, "OUTCOME_UNKNOWN");
    transport.isOpen = true;
    outbox.flush();
    assert.deepEqual(
      transport.written.map((r) => r.text),
      ["1", "2"],
    );
    outbox.handleStatus(ok("a", "w2"));
    assert.equal((await queued).messageId, "w2");
  });

  it("refuses a reply past the limit with QUEUE_FULL and expires waiting ones with QUEUE_EXPIRED", async function () {
    transport.isOpen = false;
    const short = new Outbox(transport, { limit: 2, maxWaitMs: 60 });
    const waiting = [short.enqueue(reply("a", "1"), { timeoutMs: 5000 }), short.enqueue(reply("b", "2"), { timeoutMs: 5000 })];
    assert.equal((await rejection(short.enqueue(reply("c", "3"), { timeoutMs: 5000 }))).code, "QUEUE_FULL");
    for (const pending of waiting) assert.equal((await rejection(pending)).code, "QUEUE_EXPIRED");
    assert.equal(short.size, 0);
    short.stop();
  });

  it("limits replies waiting to be sent, not replies written and awaiting their status", async function () {
    const bounded = new Outbox(transport, { limit: 2, maxWaitMs: 60_000 });
    // Connected: three conversations, one reply each, all written at once: none is refused.
    const written = ["a", "b", "c"].map((c) => bounded.enqueue(reply(c, c), { timeoutMs: 5000 }));
    assert.equal(transport.written.length, 3);
    assert.equal(bounded.waiting, 0);
    // Behind them in their conversations, while connected, 20 x the limit may wait for their turn
    // (a burst is answered); one more is refused.
    const queued = Array.from({ length: 2 * CONNECTED_LIMIT_FACTOR }, (_, i) =>
      bounded.enqueue(reply("abc"[i % 3], `n${i}`), { timeoutMs: 5000 }),
    );
    const full = await rejection(bounded.enqueue(reply("c", "one too many"), { timeoutMs: 5000 }));
    assert.equal(full.code, "QUEUE_FULL");
    assert.match(full.message, /waiting for their turn \(limit 40 while connected\)/);
    // Disconnected, the limit is the configured one: nothing more is taken while 40 wait.
    transport.isOpen = false;
    assert.match(
      (await rejection(bounded.enqueue(reply("d", "d1"), { timeoutMs: 5000 }))).message,
      /waiting for the connection \(limit 2\)/,
    );
    transport.isOpen = true;
    for (const c of ["a", "b", "c"]) bounded.handleStatus(ok(c, `w-${c}`));
    await Promise.all(written);
    // Each status lets the next reply of its conversation out, in order.
    for (let round = 0; round < queued.length; round++) {
      const conversation = "abc"[round % 3];
      bounded.handleStatus(ok(conversation, `w-${round}`));
    }
    await Promise.all(queued);
    assert.equal(bounded.size, 0);
    assert.equal(bounded.waiting, 0);
    bounded.stop();
  });

  it("after a time-out, waits for the late status so it is never credited to the next reply", async function () {
    const late = new Outbox(transport, { limit: 5, maxWaitMs: 60_000, lateStatusGraceMs: 5000 });
    const first = late.enqueue(reply("a", "1"), { timeoutMs: 30 });
    const second = late.enqueue(reply("a", "2"), { timeoutMs: 5000 });
    assert.equal((await rejection(first)).code, "TIMEOUT");
    assert.equal(transport.written.length, 1, "the next reply waits during the grace period");
    late.handleStatus(ok("a", "w-late")); // the late answer to reply 1: discarded
    await waitUntil("reply 2 written", () => transport.written.length === 2, transport, ["written"]);
    late.handleStatus(ok("a", "w2"));
    assert.equal((await second).messageId, "w2");
    late.stop();
  });

  it("after the grace period, the first status in the late window is still taken as the late one", async function () {
    const late = new Outbox(transport, { limit: 5, maxWaitMs: 60_000, lateStatusGraceMs: 20, lateStatusWindowMs: 5000 });
    const first = late.enqueue(reply("a", "1"), { timeoutMs: 20 });
    assert.equal((await rejection(first)).code, "TIMEOUT");
    const second = late.enqueue(reply("a", "2"), { timeoutMs: 5000 });
    await waitUntil("reply 2 written after the grace", () => transport.written.length === 2, transport, ["written"]);
    late.handleStatus(ok("a", "w-late")); // reply 1's answer, arriving after reply 2 went out
    late.handleStatus(ok("a", "w2"));
    assert.equal((await second).messageId, "w2");
    late.stop();
  });

  it("when the late status never comes, the next reply reports TIMEOUT rather than a false success", async function () {
    const late = new Outbox(transport, { limit: 5, maxWaitMs: 60_000, lateStatusGraceMs: 10, lateStatusWindowMs: 5000 });
    assert.equal((await rejection(late.enqueue(reply("a", "1"), { timeoutMs: 20 }))).code, "TIMEOUT");
    const second = late.enqueue(reply("a", "2"), { timeoutMs: 50 });
    await waitUntil("reply 2 written", () => transport.written.length === 2, transport, ["written"]);
    late.handleStatus(ok("a", "w2")); // ambiguous: could be reply 1's; it is not credited to reply 2
    assert.equal((await rejection(second)).code, "TIMEOUT");
    late.stop();
  });

  it("queues the parts of a long message together, and a failed part cancels the rest", async function () {
    const parts = ["1", "2", "3"].map((t) => reply("a", t));
    const all = outbox.enqueueAll(parts, { timeoutMs: 5000 });
    outbox.handleStatus(ok("a", "w1"));
    await waitUntil("part 2 written", () => transport.written.length === 2, transport, ["written"]);
    outbox.handleStatus({ conversationId: "a", success: false, code: "SERVICE_WINDOW_EXPIRED" });
    const failure = await rejection(all);
    assert.equal(failure.code, "SERVICE_WINDOW_EXPIRED");
    assert.match(failure.message, /part 2 of 3; 1 sent before it, the rest not sent/);
    assert.equal(transport.written.length, 2, "part 3 was never written");
    assert.equal(outbox.size, 0);
    // All parts fit or none is queued (disconnected, the limit of 5 applies).
    transport.isOpen = false;
    assert.equal(
      (
        await rejection(
          outbox.enqueueAll(
            Array.from({ length: 6 }, (_, i) => reply("b", String(i))),
            { timeoutMs: 5000 },
          ),
        )
      ).code,
      "QUEUE_FULL",
    );
    assert.equal(outbox.size, 0);
  });

  it("tells about a status nobody waited for, and fails only the stopping node's queued replies on cancel", async function () {
    const unmatched: ReplyStatus[] = [];
    const owned = new Outbox(transport, { limit: 5, maxWaitMs: 60_000, onUnmatchedStatus: (s) => unmatched.push(s) });
    owned.handleStatus(ok("nobody", "w0"));
    assert.equal(unmatched.length, 1);
    const nodeA = {};
    const nodeB = {};
    transport.isOpen = false;
    const fromA = owned.enqueue(reply("x", "a"), { timeoutMs: 5000, owner: nodeA });
    const fromB = owned.enqueue(reply("x", "b"), { timeoutMs: 5000, owner: nodeB });
    owned.cancel(nodeA);
    assert.equal((await rejection(fromA)).code, "STOPPED");
    owned.stop();
    assert.equal((await rejection(fromB)).code, "STOPPED");
  });
});
