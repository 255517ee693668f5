// Mocha's spec reporter plus the plain closing line CI reads: "N passed, N failed, N skipped".
"use strict";
const Mocha = require("mocha");
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SpecWithSummary extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      const counts = { passed: s.passes || 0, failed: s.failures || 0, skipped: s.pending || 0 };
      process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
      // scripts/test.js runs mocha more than once (Node-RED 4 and 5) and adds the counts up.
      if (process.env.PIPES_TEST_SUMMARY) require("fs").writeFileSync(process.env.PIPES_TEST_SUMMARY, JSON.stringify(counts));
    });
  }
}
module.exports = SpecWithSummary;
