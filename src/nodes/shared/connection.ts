import type { NodeAPI } from "node-red";
import type { Translate } from "./i18n";
import type { PipesConfigNode } from "./types";

/** The config node behind a `connection` property, or the reason it cannot be used. */
export function configFor(RED: NodeAPI, id: string | undefined, common: Translate): { config?: PipesConfigNode; problem?: string } {
  const config = id ? (RED.nodes.getNode(id) as PipesConfigNode | null) : null;
  if (!config) return { problem: common("status.no-connection") };
  if (!config.client) return { config, problem: config.configError ?? common("status.unusable") };
  return { config };
}
