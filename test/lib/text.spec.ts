import * as assert from "node:assert/strict";
import { splitText } from "../../src/lib/text";

/** Best of three runs of `fn`, in milliseconds (the fastest run is the least disturbed by the machine). */
function fastestOf3(fn: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const started = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
  }
  return best;
}

describe("lib/text: splitting", function () {
  it("keeps short text whole", function () {
    assert.deepEqual(splitText("hello", 10), ["hello"]);
  });

  it("prefers paragraph, then line, then sentence, then word boundaries, and loses no words", function () {
    const text = `${"a".repeat(60)}\n\n${"b".repeat(30)}`;
    assert.deepEqual(splitText(text, 80), ["a".repeat(60), "b".repeat(30)]);
    assert.deepEqual(splitText("one two three four five", 10), ["one two", "three four", "five"]);
    assert.deepEqual(splitText("First sentence. Second one here.", 20), ["First sentence.", "Second one here."]);
  });

  it("every part respects the limit and the words survive in order", function () {
    const words = Array.from({ length: 3000 }, (_, i) => `w${i}`);
    const parts = splitText(words.join(" "), 4096);
    assert.ok(parts.length > 1);
    for (const part of parts) assert.ok(part.length <= 4096);
    assert.deepEqual(parts.join(" ").split(" "), words);
  });

  it("cuts hard only without boundaries and never splits an emoji", function () {
    const parts = splitText("😀".repeat(10), 5);
    for (const part of parts) {
      assert.ok(part.length <= 5);
      assert.ok(!/[\ud800-\udbff]$/.test(part), "ends in half a surrogate pair");
    }
    assert.equal(parts.join(""), "😀".repeat(10));
  });

  describe("hostile input", function () {
    it("splits text with long runs of spaces in linear time: 4x the text costs about 4x, not 16x", function () {
      this.timeout(60_000);
      // "a" + 4000 spaces + "b": the old trailing-whitespace regex backtracked over every run (seconds per MB).
      const unit = "a" + " ".repeat(4000) + "b";
      const small = unit.repeat(64); // 256 KB
      const large = unit.repeat(256); // 1 MB
      const parts = splitText(large);
      assert.ok(parts.every((p) => p.length <= 4096 && p.trim() === p));
      assert.equal(parts.join("").replace(/\s/g, ""), "ab".repeat(256), "no letter lost");
      const ratio =
        fastestOf3(() => splitText(large)) /
        Math.max(
          0.5,
          fastestOf3(() => splitText(small)),
        );
      // Linear: ~4. Quadratic (the old splitter): ~16. A generous line between the two.
      assert.ok(ratio < 9, `4x the text took ${ratio.toFixed(1)}x the time: splitting is not linear`);
    });
  });
});
