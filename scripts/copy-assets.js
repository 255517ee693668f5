// tsc emits only .js: copy each node's editor .html and its locale files next to the compiled runtime,
// where Node-RED looks for them (dist/nodes/<type>.html, dist/nodes/locales/<lang>/<type>.{json,html}).
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
function copyTree(from, to, keep) {
  if (!fs.existsSync(from)) return;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst, keep);
    else if (keep(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, dst);
    }
  }
}
copyTree(path.join(root, "src"), path.join(root, "dist"), (name) => /\.(html|json)$/.test(name));
// The emulator's phone page is plain files served as they are (no build step): copy all of them.
copyTree(path.join(root, "src", "emulator", "phone"), path.join(root, "dist", "emulator", "phone"), (name) => /\.(html|css|js)$/.test(name));
// Node-RED 4 looks for a node's icons in an icons/ folder beside its .js file; icons/ at the
// package root is their single source.
copyTree(path.join(root, "icons"), path.join(root, "dist", "nodes", "icons"), (name) => /\.(svg|png)$/.test(name));
