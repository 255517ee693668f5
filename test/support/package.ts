import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeInitializer } from "node-red";

/**
 * The package's own description of its nodes. package.json `node-red.nodes` is the ONE list of
 * node types: each entry is a node set named after the one type it registers, and everything
 * else (the test helper's node list, npm start's check, the install and examples tests) derives
 * from it. Adding a node = its files + one line there.
 */
const root = join(__dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { "node-red": { nodes: Record<string, string> } };
const nodeFiles = pkg["node-red"].nodes;

/** The node types this package registers, sorted. */
export const NODE_TYPES: readonly string[] = Object.keys(nodeFiles).sort();

/** Each node set's runtime module from the TypeScript sources (dist/nodes/x.js -> src/nodes/x.ts). */
export function nodeModules(): NodeInitializer[] {
  return Object.values(nodeFiles).map((file) => {
    const source = join(root, file.replace(/^dist\//, "src/").replace(/\.js$/, ""));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(source) as NodeInitializer;
  });
}
