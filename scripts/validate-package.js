// Packs the package as npm would publish it and runs the Node-RED Flow Library's checker
// (`node-red-dev validate`) on the tarball's contents, offline-shimmed (scripts/nrdev-offline.js).
// Fails on any failed check except D03 ("dependencies at their latest version"): undici is pinned
// to 7.x on purpose, because undici 8 needs Node 22.19 and we support Node 20.
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const work = path.join(root, ".run", "validate");
const ADVISORY = new Set(["D03"]);
const NODE_RED_DEV = "node-red-dev@0.1.6";

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const [packed] = JSON.parse(
  execFileSync(npm, ["pack", "--json", "--pack-destination", work], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
);
const tarball = path.join(work, packed.filename);
execFileSync("tar", ["-xzf", tarball, "-C", work]);
const files = packed.files.map((f) => f.path);
console.log(
  `packed ${packed.filename}: ${files.length} files, ${(packed.size / 1024).toFixed(1)} kB (unpacked ${(packed.unpackedSize / 1024).toFixed(1)} kB)`,
);
const unwanted = files.filter((f) => /^(src|test|bench|scripts|\.run|\.ci)\//.test(f) || /\.map$/.test(f));
if (unwanted.length) throw new Error(`the tarball ships files that do not run: ${unwanted.join(", ")}`);

const scorecard = path.join(work, "scorecard.json");
execFileSync("npx", ["-y", NODE_RED_DEV, "validate", "-p", path.join(work, "package"), "-o", scorecard], {
  cwd: work,
  stdio: "inherit",
  env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${path.join(__dirname, "nrdev-offline.js")}`.trim() },
});
const result = JSON.parse(fs.readFileSync(scorecard, "utf8"));
let failed = 0;
console.log("\nnode-red-dev scorecard:");
for (const [id, check] of Object.entries(result)) {
  if (id === "package") continue;
  const ok = check.test === true;
  const advisory = !ok && ADVISORY.has(id);
  if (!ok && !advisory) failed++;
  console.log(`  ${ok ? "pass" : advisory ? "advisory" : "FAIL"}  ${id}  ${JSON.stringify(check)}`);
}
fs.writeFileSync(path.join(work, "summary.json"), JSON.stringify({ failed, scorecard: result }, null, 2));
if (failed) {
  console.error(`${failed} scorecard check(s) failed`);
  process.exit(1);
}
console.log("scorecard: every check passes (D03 is advisory for the undici 7 pin)");
