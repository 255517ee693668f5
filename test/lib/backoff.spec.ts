import * as assert from "node:assert/strict";
import { fullJitterDelay } from "../../src/lib/backoff";

describe("lib/backoff", function () {
  it("full-jitter backoff stays within [0, min(cap, base*2^n)]", function () {
    assert.equal(
      fullJitterDelay(0, 1000, 60000, () => 0.999999),
      999,
    );
    assert.equal(
      fullJitterDelay(3, 1000, 60000, () => 0.5),
      4000,
    );
    assert.equal(
      fullJitterDelay(50, 1000, 60000, () => 0.5),
      30000,
    );
    assert.equal(
      fullJitterDelay(5, 1000, 60000, () => 0),
      0,
    );
  });
});
