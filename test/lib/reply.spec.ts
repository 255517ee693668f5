import * as assert from "node:assert/strict";
import { prepareReplyParts, resolveRoute } from "../../src/lib/reply";
import { code } from "../support/pipes-error";

describe("lib/reply: reply preparation", function () {
  it("accepts strings and numbers, rejects everything else with BAD_INPUT", function () {
    assert.deepEqual(prepareReplyParts("hi", "split"), ["hi"]);
    assert.deepEqual(prepareReplyParts(42, "split"), ["42"]);
    for (const bad of [undefined, null, "", "   ", {}, [], Buffer.from("x")]) {
      assert.equal(
        code(() => prepareReplyParts(bad, "split")),
        "BAD_INPUT",
        `value ${JSON.stringify(bad)}`,
      );
    }
  });

  it("splits or rejects text over 4096 characters, never truncates", function () {
    const long = "word ".repeat(1000).trim(); // 4999 characters
    const parts = prepareReplyParts(long, "split");
    assert.equal(parts.length, 2);
    assert.equal(parts.join(" "), long);
    assert.equal(
      code(() => prepareReplyParts("x".repeat(4097), "reject")),
      "TEXT_TOO_LONG",
    );
    assert.deepEqual(prepareReplyParts("x".repeat(4096), "reject"), ["x".repeat(4096)]);
  });

  it("routes from the node first, then msg.pipes", function () {
    const pipes = { conversationId: "conv_1", poolNumberId: "pn_1", fromNumber: "+1555" };
    assert.deepEqual(resolveRoute({}, pipes, true), { conversationId: "conv_1", poolNumberId: "pn_1", toNumber: "+1555" });
    assert.deepEqual(resolveRoute({ conversationId: "conv_2", toNumber: 1666 }, pipes, true), {
      conversationId: "conv_2",
      poolNumberId: "pn_1",
      toNumber: "1666",
    });
    assert.equal(
      code(() => resolveRoute({}, undefined, false)),
      "MISSING_ROUTING",
    );
    assert.equal(
      code(() => resolveRoute({}, { conversationId: "c" }, true)),
      "MISSING_ROUTING",
    );
    assert.deepEqual(resolveRoute({}, { conversationId: "c" }, false), {
      conversationId: "c",
      poolNumberId: undefined,
      toNumber: undefined,
    });
    assert.equal(
      code(() => resolveRoute({ conversationId: {} }, pipes, false)),
      "BAD_INPUT",
    );
  });

  describe("hostile input", function () {
    it("refuses NaN and Infinity as reply text and as routing", function () {
      assert.equal(
        code(() => prepareReplyParts(Number.NaN, "split")),
        "BAD_INPUT",
      );
      assert.equal(
        code(() => prepareReplyParts(Number.NEGATIVE_INFINITY, "split")),
        "BAD_INPUT",
      );
      assert.equal(
        code(() => resolveRoute({ conversationId: Number.NaN }, undefined, false)),
        "BAD_INPUT",
      );
      assert.deepEqual(prepareReplyParts(42, "split"), ["42"]);
    });
  });
});
