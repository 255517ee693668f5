// Runs Node-RED for scripts/start.js, tied to it: start.js spawns this with an IPC channel, and when
// that channel closes (start.js exited, even by SIGKILL) Node-RED stops too, instead of living on as
// an orphan that holds the editor port.
// Usage: node node-red-child.js <path to node-red/red.js> [node-red arguments...]
"use strict";
const redJs = process.argv[2];
process.argv = [process.argv[0], redJs, ...process.argv.slice(3)];
if (process.send) {
  process.on("disconnect", () => {
    // A polite stop first (Node-RED closes its flows on SIGINT), then out regardless.
    process.kill(process.pid, "SIGINT");
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
require(redJs);
