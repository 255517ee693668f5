// `npm test`: type-check, lint, then every mocha suite against a real Node-RED runtime.
// Stops at the first failing stage; mocha's reporter prints the closing "N passed, N failed" line.
"use strict";
const { spawnSync } = require("child_process");
const path = require("path");

const bin = (name) => path.join(__dirname, "..", "node_modules", ".bin", name);
const stages = [
  ["type-check", bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]],
  ["lint", bin("eslint"), ["."]],
  // The start and install tests run the compiled package: build it from the current sources.
  ["build", "npm", ["run", "--silent", "build"]],
  ["tests", bin("mocha"), process.argv.slice(2)],
];
for (const [label, cmd, args] of stages) {
  const started = Date.now();
  console.log(`\n== ${label}`);
  const result = spawnSync(cmd, args, { stdio: "inherit", cwd: path.join(__dirname, "..") });
  if (result.status !== 0) {
    console.error(`== ${label} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
  console.log(`== ${label} ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
