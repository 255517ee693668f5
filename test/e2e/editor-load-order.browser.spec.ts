/**
 * Node-RED 5's editor was seen running our two shared editor scripts out of order (pipes-editor.js
 * before pipes-constants.js): every node type then failed to register ("unknown setting ...") and
 * showed as "unknown" in the editor. In Chromium, with a stand-in for Node-RED's RED object, both
 * orders must register a node type, with the settings' rules in place.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, requireChromium, type BrowserSession } from "../support/browser";

const RESOURCES = join(__dirname, "..", "..", "resources");
const EDITOR = readFileSync(join(RESOURCES, "pipes-editor.js"), "utf8");
const CONSTANTS = readFileSync(join(RESOURCES, "pipes-constants.js"), "utf8");
const VENDOR = require.resolve("@node-red/editor-client/public/vendor/vendor.js", {
  paths: [process.env.NODE_RED_FROM ?? join(__dirname, "..", "..")],
});

/** Just enough of RED for register(): registerType records what it got; _ echoes the key. */
const FAKE_RED = `window.registered = {};
window.RED = { nodes: { registerType: (type, def) => { window.registered[type] = def.defaults.timeout.value; } }, _: (key) => key };`;
/** A node type like ours: a numeric setting, so its rule must be known when it registers. */
const NODE = `<script type="text/html" data-template-name="pipes-test"><div class="pipes-form"></div></script>`;
const REGISTER = `PipesEditor.register("pipes-test", function () { return { numbers: { timeout: "errors.timeout" }, outputs: 2 }; });`;

describe("editor scripts in either order (Chromium)", function () {
  this.timeout(60_000);
  let session: BrowserSession | undefined;
  before(async function () {
    requireChromium(this);
    session = await launchBrowser({ viewport: { width: 800, height: 600 } });
  });
  after(async function () {
    await session?.close();
  });

  for (const order of ["constants first", "editor first"] as const) {
    it(`registers a node type with its rules when ${order}`, async function () {
      const page = session!.page;
      const scripts = order === "constants first" ? [CONSTANTS, EDITOR] : [EDITOR, CONSTANTS];
      await page.setContent(`<html><body>${NODE}</body></html>`);
      // Node-RED's own jQuery (its editor's vendor bundle), as the editor has it.
      await page.addScriptTag({ path: VENDOR });
      await page.addScriptTag({ content: FAKE_RED });
      // The node's own script can run before both shared scripts have: it must then wait, not fail.
      await page.addScriptTag({ content: scripts[0] });
      await page.addScriptTag({ content: REGISTER });
      await page.addScriptTag({ content: scripts[1] });
      const registered = await page.evaluate(() => (window as any).registered as Record<string, unknown>);
      assert.deepEqual(registered, { "pipes-test": 30 }, "registered once, with the timeout's default from the constants");
    });
  }
});
