import * as assert from "node:assert/strict";
import { PipesError } from "../../src/lib/errors";
import { answeredMessageId, HandlingWaits, mayPassOnRetry } from "../../src/lib/handling";

describe("HandlingWaits (answer a webhook delivery when its msg is handled)", function () {
  const owner = {};

  it("ends a wait by the send's outcome: handled, or retry when the failure may pass", async function () {
    const waits = new HandlingWaits();
    const ok = waits.begin("m1", owner, 60_000)!;
    const passing = waits.begin("m2", owner, 60_000)!;
    const refused = waits.begin("m3", owner, 60_000)!;
    assert.equal(waits.size, 3);
    waits.sendEnded("m1");
    waits.sendEnded("m2", new PipesError("NOT_CONNECTED", "x"));
    waits.sendEnded("m3", new PipesError("CONVERSATION_NOT_FOUND", "x", "server", { status: 404 }));
    assert.deepEqual(await Promise.all([ok, passing, refused]), ["handled", "retry", "handled"]);
    assert.equal(waits.size, 0);
    waits.sendEnded("m1", new PipesError("NOT_CONNECTED", "x")); // a second send for a settled msg changes nothing
  });

  it("a second wait for the same message joins the first; the first outcome wins", async function () {
    const waits = new HandlingWaits();
    const first = waits.begin("m", owner, 60_000)!;
    assert.equal(waits.begin("m", owner, 60_000), first);
    assert.equal(waits.pending("m"), first);
    waits.settle("m", "handled");
    waits.settle("m", "retry");
    assert.equal(await first, "handled");
    assert.equal(waits.pending("m"), undefined);
  });

  it("times out, ends its owner's waits as stopped, and refuses past its limit", async function () {
    const waits = new HandlingWaits(2);
    const other = {};
    const timed = waits.begin("t", other, 5)!;
    const mine = waits.begin("o", owner, 60_000)!;
    assert.equal(waits.begin("x", owner, 60_000), undefined, "full");
    waits.closeOwner(owner);
    assert.equal(await mine, "stopped");
    assert.equal(await timed, "timeout");
    assert.ok(waits.begin("x", owner, 60_000), "room again");
    waits.closeOwner(owner);
  });

  it("only failures after which nothing was sent may pass on a retry", function () {
    const passing = ["NOT_CONNECTED", "QUEUE_FULL", "QUEUE_EXPIRED", "RATE_LIMITED", "STOPPED"];
    for (const code of passing) assert.equal(mayPassOnRetry(new PipesError(code, "x")), true, code);
    assert.equal(mayPassOnRetry(new PipesError("NETWORK_ERROR", "refused", "client", { retryable: true })), true);
    assert.equal(mayPassOnRetry(new PipesError("HTTP_ERROR", "busy", "server", { status: 503 })), true);
    assert.equal(
      mayPassOnRetry(new PipesError("RATE_LIMITED", "part 2 of 2", "server", { status: 429, partial: true })),
      false,
      "part 1 went out",
    );
    for (const code of ["TIMEOUT", "OUTCOME_UNKNOWN", "BAD_INPUT", "SERVICE_WINDOW_EXPIRED", "NETWORK_ERROR", "INTERNAL_ERROR"])
      assert.equal(mayPassOnRetry(new PipesError(code, "x")), false, code);
  });

  it("reads msg.pipes.messageId from any msg without throwing", function () {
    assert.equal(answeredMessageId({ pipes: { messageId: "msg_1" } }), "msg_1");
    const hostile = Object.defineProperty({}, "pipes", {
      get() {
        throw new Error("no");
      },
    });
    for (const msg of [null, undefined, {}, { pipes: "x" }, { pipes: { messageId: 5 } }, { pipes: { messageId: "" } }, hostile])
      assert.equal(answeredMessageId(msg), undefined);
  });
});
