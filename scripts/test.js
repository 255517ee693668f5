// `npm test`: everything, in order, stopping at the first failing stage:
//   type-check, lint (eslint and prettier), build, the mocha suites on Node 20 + Node-RED 4 (this machine's runtime),
//   the same suites on Node 22 + Node-RED 5 (installed from the npm registry into .run/nr5),
//   and the package checks of the Node-RED Flow Library (npm pack + node-red-dev validate).
// `npm test -- --quick` (or `npm run test:quick`) runs only the first four, for the edit loop.
// The last line is the total over both runtimes: "N passed, N failed, N skipped".
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const root = path.join(__dirname, "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const quick = process.argv.includes("--quick");
const mochaArgs = process.argv.slice(2).filter((a) => a !== "--quick");
const totals = { passed: 0, failed: 0, skipped: 0 };

function run(label, cmd, args, env = {}) {
  const started = Date.now();
  console.log(`\n== ${label}`);
  const result = spawnSync(cmd, args, { stdio: "inherit", cwd: root, env: { ...process.env, ...env } });
  if (result.status !== 0) {
    console.error(`== ${label} failed (exit ${result.status ?? result.signal})`);
    finish(result.status || 1);
  }
  console.log(`== ${label} ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function mocha(label, node, env = {}) {
  const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pipes-test-")), "summary.json");
  const started = Date.now();
  console.log(`\n== ${label}`);
  const result = spawnSync(node, [path.join(root, "node_modules", "mocha", "bin", "mocha.js"), ...mochaArgs], {
    stdio: "inherit",
    cwd: root,
    env: { ...process.env, ...env, PIPES_TEST_SUMMARY: summary },
  });
  try {
    const counts = JSON.parse(fs.readFileSync(summary, "utf8"));
    for (const key of Object.keys(totals)) totals[key] += counts[key];
  } catch {
    totals.failed += 1; // mocha died before reporting: count the run itself as a failure
  }
  if (result.status !== 0) {
    console.error(`== ${label} failed (exit ${result.status ?? result.signal})`);
    finish(result.status || 1);
  }
  console.log(`== ${label} ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function finish(code) {
  console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(code);
}

run("type-check", bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]);
run("lint", bin("eslint"), ["."]);
run("format check (prettier; npm run format fixes it)", bin("prettier"), ["--check", "--log-level", "warn", "."]);
// The start, install and packaging checks use the compiled package: build it from the current sources.
run("build", "npm", ["run", "--silent", "build"]);
mocha(`tests on Node ${process.version} + Node-RED ${require("node-red/package.json").version}`, process.execPath);
if (!quick) {
  const nr5 = require("./node-red-5");
  run("install Node 22 + Node-RED 5 (cached in .run/nr5)", process.execPath, [path.join(__dirname, "node-red-5.js")]);
  const nodeRed5 = JSON.parse(fs.readFileSync(path.join(nr5.dir, "node_modules", "node-red", "package.json"), "utf8")).version;
  mocha(`tests on Node 22 + Node-RED ${nodeRed5}`, nr5.ensure(), { NODE_RED_FROM: nr5.dir });
  run("package checks (npm pack + node-red-dev validate)", process.execPath, [path.join(__dirname, "validate-package.js")]);
}
finish(0);
