import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeAPI } from "node-red";

/**
 * A node set (one entry of package.json node-red.nodes); each has locales/<lang>/<set>.json next to
 * its runtime file. Strings shared by every node (connection status, configuration problems) live
 * in the pipes-config catalogue.
 */
export type NodeSet = string;
export type Translate = (key: string, params?: Record<string, string | number>) => string;

/** The two catalogues a node reads: its own, and the shared one of pipes-config. */
export interface NodeStrings {
  /** This node set's strings. */
  t: Translate;
  /** Strings every node shares: connection status, configuration problems, common warnings. */
  common: Translate;
}

export function nodeStrings(RED: NodeAPI, set: NodeSet): NodeStrings {
  return { t: translator(RED, set), common: translator(RED, "pipes-config") };
}

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
  for (const part of path.split("."))
    value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  return typeof value === "string" ? value : undefined;
}

/** i18next's default interpolation: __name__. */
function interpolate(text: string, params?: Record<string, string | number>): string {
  return params ? text.replace(/__(\w+)__/g, (match, name: string) => (name in params ? String(params[name]) : match)) : text;
}
