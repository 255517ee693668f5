import * as assert from "node:assert/strict";
import * as v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { ReplayFilter } from "../../src/lib/replay-filter";

describe("lib/replay-filter", function () {
  it("remembers huge message ids by their hash: bounded memory, replays still caught", function () {
    const filter = new ReplayFilter(1000);
    const before = heapAfterGc();
    const huge = (n: number) => Buffer.alloc(256 * 1024, 97 + (n % 26)).toString("latin1") + n; // 256 KB, flat
    for (let i = 0; i < 300; i++) assert.equal(filter.isReplay(huge(i)), false);
    assert.equal(filter.isReplay(huge(7)), true, "a replayed huge id is still caught");
    const grown = heapAfterGc() - before;
    // 300 ids of 256 KB kept as they are: 75 MB. As hashes: a few tens of KB.
    assert.ok(grown < 8 * 1024 * 1024, `the filter grew the heap by ${(grown / 1024 / 1024).toFixed(1)} MB`);
    assert.equal(filter.isReplay("short-id"), false);
    assert.equal(filter.isReplay("short-id"), true);
  });
});

function heapAfterGc(): number {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("ReplayFilter.forget", function () {
  it("makes an id new again, also for a filter that adopts this one (a full deploy)", function () {
    const filter = new ReplayFilter(3);
    for (const id of ["a", "b", "c"]) assert.equal(filter.isReplay(id), false);
    filter.forget("b");
    const next = new ReplayFilter(3);
    next.adopt(filter);
    assert.deepEqual(
      ["a", "b", "c"].map((id) => next.isReplay(id)),
      [true, false, true],
    );
    assert.equal(filter.isReplay("b"), false, "new again in the filter itself");
    assert.equal(filter.isReplay("b"), true);
  });
});

describe("ReplayFilter window", function () {
  it("catches a replay within the last `window` ids, forgets the oldest first, and a window of 0 catches none", function () {
    const filter = new ReplayFilter(3);
    for (const id of ["a", "b", "c"]) assert.equal(filter.isReplay(id), false);
    assert.equal(filter.isReplay("a"), true, "a replay is caught and not remembered twice");
    assert.equal(filter.isReplay("d"), false, "a new id evicts the oldest, a");
    assert.equal(filter.size, 3);
    assert.deepEqual(
      ["b", "c", "d"].map((id) => filter.isReplay(id)),
      [true, true, true],
    );
    assert.equal(filter.isReplay("a"), false, "a was evicted: new again (and its arrival evicts b)");

    const next = new ReplayFilter(2);
    next.adopt(filter); // c, d, a, oldest first: c is evicted by a
    assert.deepEqual(
      ["d", "a", "c"].map((id) => next.isReplay(id)),
      [true, true, false],
    );
    assert.equal(filter.isReplay("b"), false, "b was evicted by a");

    const off = new ReplayFilter(0);
    assert.equal(off.isReplay("x"), false);
    assert.equal(off.isReplay("x"), false);
    assert.equal(off.size, 0);
  });
});
