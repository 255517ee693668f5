// Installs Node 22 and Node-RED 5 from the npm registry into .run/nr5 (once; later runs reuse it)
// and prints the folder. Node 22 must not go into our own devDependencies: npm scripts would then
// run every command under it (npm puts node_modules/.bin first on PATH).
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const dir = path.resolve(__dirname, "..", ".run", "nr5");
const WANT = { node: "22", "node-red": "5" };

function installedMajor(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8")).version.split(".")[0];
  } catch {
    return undefined;
  }
}

function ensure() {
  const binary = path.join(dir, "node_modules", ".bin", "node");
  if (installedMajor("node") === WANT.node && installedMajor("node-red") === WANT["node-red"] && fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pipes-nr5-runtime", private: true }, null, 2));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", `node@${WANT.node}`, `node-red@${WANT["node-red"]}`], {
    cwd: dir,
    stdio: "inherit",
  });
  return binary;
}

module.exports = { dir, ensure };
if (require.main === module) console.log(ensure());
