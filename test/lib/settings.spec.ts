import * as assert from "node:assert/strict";
import { MAX_TIMER_MS, NUMBER_SETTINGS, readNumberSetting, readTuning } from "../../src/lib/settings";

describe("lib/settings", function () {
  it("reads numeric settings: empty takes the default, anything outside the range is a problem that names it", function () {
    assert.deepEqual(readNumberSetting("timeout", "", NUMBER_SETTINGS.timeout), { ok: true, value: 30 });
    assert.deepEqual(readNumberSetting("timeout", " 0.25 ", NUMBER_SETTINGS.timeout), { ok: true, value: 0.25 });
    for (const bad of [0, -1, "abc", Number.NaN, 86_401, 2_147_484, "1e10", {}, true]) {
      const result = readNumberSetting("timeout", bad, NUMBER_SETTINGS.timeout);
      assert.ok(!result.ok, `timeout ${JSON.stringify(bad)} was accepted`);
    }
    assert.ok(!readNumberSetting("outboxLimit", "0.5", NUMBER_SETTINGS.outboxLimit).ok);
    assert.ok(readNumberSetting("outboxLimit", "10", NUMBER_SETTINGS.outboxLimit).ok);
    assert.equal(readTuning({ handshakeTimeoutMs: "abc" }).problem?.setting, "tuning.handshakeTimeoutMs");
    assert.equal(readTuning({ pingIntervalMs: MAX_TIMER_MS + 1 }).problem?.setting, "tuning.pingIntervalMs");
    assert.deepEqual(readTuning({ backoffBaseMs: 20, unknown: "ignored" }), { values: { backoffBaseMs: 20 } });
    assert.equal(readTuning([1]).problem?.setting, "tuning");
  });
});
