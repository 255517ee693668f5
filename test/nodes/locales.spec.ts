/**
 * Every user-facing string exists in en-US and pt-BR: the same keys in both catalogues of every node
 * set, a help page in both, the same __placeholders__ in both translations of a string, and every
 * key the runtime code asks for literally (t("…") for the node's own set, common("…") for the
 * shared pipes-config set) is in the catalogue.
 */
import * as assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const NODES = join(__dirname, "..", "..", "src", "nodes");
const LOCALES = join(NODES, "locales");
const LANGS = ["en-US", "pt-BR"];

type Catalog = { [key: string]: string | Catalog };
const catalog = (lang: string, set: string) => JSON.parse(readFileSync(join(LOCALES, lang, `${set}.json`), "utf8")) as Catalog;

/** "set.label.path" -> text, for every string leaf. */
function leaves(value: Catalog, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof child === "string") out.set(path, child);
    else for (const [p, text] of leaves(child, path)) out.set(p, text);
  }
  return out;
}
const placeholders = (text: string) => [...text.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();

describe("locales: en-US and pt-BR", function () {
  const sets = readdirSync(join(LOCALES, "en-US"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.replace(/\.json$/, ""));

  it("every node set has both catalogues and both help pages, with the same keys and placeholders", function () {
    assert.ok(sets.length >= 6, sets.join());
    for (const set of sets) {
      const [en, pt] = LANGS.map((lang) => leaves(catalog(lang, set)));
      assert.deepEqual([...pt.keys()].sort(), [...en.keys()].sort(), `${set}: keys of pt-BR vs en-US`);
      for (const [key, text] of en) assert.deepEqual(placeholders(pt.get(key)!), placeholders(text), `${set}: placeholders of ${key}`);
      for (const lang of LANGS) assert.ok(existsSync(join(LOCALES, lang, `${set}.html`)), `${lang}/${set}.html`);
    }
  });

  it("every key the runtime code asks for literally is in its catalogue", function () {
    const shared = leaves(catalog("en-US", "pipes-config"));
    const sources = readdirSync(NODES).filter((f) => f.endsWith(".ts"));
    const missing: string[] = [];
    for (const file of sources) {
      const set = file.replace(/\.ts$/, "");
      const own = sets.includes(set) ? leaves(catalog("en-US", set)) : new Map<string, string>();
      const code = readFileSync(join(NODES, file), "utf8");
      for (const [, fn, key] of code.matchAll(/\b(t|common)\("([\w.-]+)"/g)) {
        const found = fn === "common" ? shared.has(`pipes-config.${key}`) : own.has(`${set}.${key}`);
        if (!found) missing.push(`${file}: ${fn}("${key}")`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
