import type { Node, NodeAPI } from "node-red";

/**
 * A secret typed into a credential field: `${NAME}` reads the environment variable NAME, so flows
 * can be committed without secrets (an unset variable reads as no value).
 */
export function credentialValue(RED: NodeAPI, node: Node, raw: string | undefined): string | undefined {
  const value = raw?.trim();
  const reference = value?.match(/^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/);
  if (!reference) return value || undefined;
  const resolved = RED.util.evaluateNodeProperty(reference[1], "env", node, {}) as unknown;
  return typeof resolved === "string" && resolved.trim() ? resolved.trim() : undefined;
}
