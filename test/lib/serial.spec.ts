import * as assert from "node:assert/strict";
import { KeyedSerialQueue } from "../../src/lib/serial";

describe("lib/serial: ordering per key", function () {
  it("runs tasks in order per key and isolates failures", async function () {
    const queue = new KeyedSerialQueue();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = queue.run("a", async () => {
      await gate;
      log.push("a1");
      throw new Error("a1 failed");
    });
    const second = queue.run("a", () => Promise.resolve(log.push("a2")));
    const other = queue.run("b", () => Promise.resolve(log.push("b1")));
    await other;
    assert.deepEqual(log, ["b1"]);
    release();
    await assert.rejects(first, /a1 failed/);
    await second;
    assert.deepEqual(log, ["b1", "a1", "a2"]);
    await new Promise(setImmediate); // the bookkeeping runs one microtask turn after the task
    assert.equal(queue.activeKeys, 0);
  });
});
