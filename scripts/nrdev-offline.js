// Preloaded into `node-red-dev validate` (NODE_OPTIONS=--require ...): its catalogue lookups go to
// catalogue.nodered.org, which this machine and CI cannot reach. This answers only that URL, with an
// empty catalogue (or NRDEV_CATALOGUE=file.json); every other check still uses the npm registry.
// It does nothing in any other process that inherits NODE_OPTIONS (npm, npx).
"use strict";
const fs = require("fs");
const path = require("path");

let devDir = null;
try {
  const bin = fs.realpathSync(process.argv[1] || "");
  if (/node-red-dev[\\/]bin[\\/]run(\.js)?$/.test(bin)) devDir = path.resolve(path.dirname(bin), "..");
} catch {
  // not node-red-dev
}
if (devDir) {
  const axios = require(require.resolve("axios", { paths: [devDir] }));
  const file = process.env.NRDEV_CATALOGUE;
  const catalogue = file ? JSON.parse(fs.readFileSync(file, "utf8")) : { modules: [] };
  axios.interceptors.request.use((config) => {
    if (/catalogue\.nodered\.org/.test(config.url)) {
      config.adapter = () => Promise.resolve({ data: catalogue, status: 200, statusText: "OK", headers: {}, config, request: {} });
    }
    return config;
  });
}
