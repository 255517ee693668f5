import * as assert from "node:assert/strict";
import { DownloadGate } from "../../src/lib/download-gate";
import type { PipesError } from "../../src/lib/errors";

describe("lib/download-gate", function () {
  /** A task that finishes when `release()` is called; counts how many run at once. */
  function harness() {
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const task = () => {
      running++;
      peak = Math.max(peak, running);
      return new Promise<void>((resolve) =>
        releases.push(() => {
          running--;
          resolve();
        }),
      );
    };
    const releaseAll = async () => {
      while (releases.length) {
        releases.shift()!();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    return { task, releaseAll, peak: () => peak };
  }

  it("runs at most `concurrency` at once and starts the rest in arrival order", async function () {
    const gate = new DownloadGate({ concurrency: 2, maxBytes: 1000, maxWaiting: 100 });
    const h = harness();
    const order: number[] = [];
    const all = Array.from({ length: 6 }, (_, i) => gate.run(10, () => (order.push(i), h.task())));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(gate.active, 2);
    assert.equal(gate.queued, 4);
    await h.releaseAll();
    await Promise.all(all);
    assert.equal(h.peak(), 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  });

  it("keeps the reserved bytes within the budget; one download larger than the budget runs alone", async function () {
    const gate = new DownloadGate({ concurrency: 10, maxBytes: 100, maxWaiting: 100 });
    const h = harness();
    const all = [gate.run(60, h.task), gate.run(60, h.task), gate.run(500, h.task), gate.run(10, h.task)];
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(gate.active, 1, "the second 60 would exceed 100");
    await h.releaseAll();
    await Promise.all(all);
    assert.equal(h.peak(), 1);
  });

  it("refuses at once (QUEUE_FULL) past its waiting limit", async function () {
    const gate = new DownloadGate({ concurrency: 1, maxBytes: 100, maxWaiting: 2 });
    const h = harness();
    const accepted = [gate.run(1, h.task), gate.run(1, h.task), gate.run(1, h.task)];
    await assert.rejects(gate.run(1, h.task), (err: PipesError) => err.code === "QUEUE_FULL");
    await h.releaseAll();
    await Promise.all(accepted);
  });
});
