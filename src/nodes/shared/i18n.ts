import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeAPI } from "node-red";

/** Our node sets; each has locales/<lang>/<set>.json next to its runtime file. */
export type NodeSet = "pipes-config" | "pipes-in" | "pipes-reply" | "pipes-send-media";
export type Translate = (key: string, params?: Record<string, string | number>) => string;

const MODULE = "@pipes.bot/node-red";
const fallbacks = new Map<NodeSet, Record<string, unknown>>();

/**
 * Runtime strings (status texts, configuration problems) from the node set's message catalogue, in
 * the runtime's language. Where the runtime has no catalogue loaded (a test harness), or a key is
 * missing in the language, the en-US file answers, so a status never shows a raw key.
 */
export function translator(RED: NodeAPI, set: NodeSet): Translate {
  return (key, params) => {
    const full = `${MODULE}/${set}:${set}.${key}`;
    const translated = (RED as unknown as { _: (k: string, p?: object) => string })._(full, params);
    if (typeof translated === "string" && translated && translated !== full && translated !== `${set}.${key}`) return translated;
    return interpolate(lookup(englishCatalog(set), `${set}.${key}`) ?? key, params);
  };
}

/** English only, straight from the en-US file (before a runtime translator is known). */
export function englishTranslator(set: NodeSet): Translate {
  return (key, params) => interpolate(lookup(englishCatalog(set), `${set}.${key}`) ?? key, params);
}

function englishCatalog(set: NodeSet): Record<string, unknown> {
  let catalog = fallbacks.get(set);
  if (!catalog) {
    catalog = JSON.parse(readFileSync(join(__dirname, "..", "locales", "en-US", `${set}.json`), "utf8")) as Record<string, unknown>;
    fallbacks.set(set, catalog);
  }
  return catalog;
}

function lookup(catalog: Record<string, unknown>, path: string): string | undefined {
  let value: unknown = catalog;
  for (const part of path.split(".")) value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  return typeof value === "string" ? value : undefined;
}

/** i18next's default interpolation: __name__. */
function interpolate(text: string, params?: Record<string, string | number>): string {
  return params ? text.replace(/__(\w+)__/g, (match, name: string) => (name in params ? String(params[name]) : match)) : text;
}
