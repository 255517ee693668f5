import type { Node, NodeAPI } from "node-red";
import { configFor } from "./shared/connection";
import { nodeStrings } from "./shared/i18n";
import { messageReceiver } from "./shared/receiver";
import { nodeNumbers } from "./shared/settings";
import { misconfiguredStatus, showConnectionStatus } from "./shared/status";
import type { PipesInDef } from "./shared/types";

/**
 * pipes-in: one msg per inbound WhatsApp message. msg.payload is the content, msg.topic the
 * conversation, msg.pipes the whole event. Media can be downloaded into a Buffer; messages stay in
 * order per conversation even while a download is in progress.
 */
const nodeInit = (RED: NodeAPI): void => {
  const { t, common } = nodeStrings(RED, "pipes-in");

  function PipesIn(this: Node, def: PipesInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const { values, problem: settingProblem } = nodeNumbers(common, def, ["maxMediaMB"]);
    const { config, problem } = configFor(RED, def.connection, common);
    const client = settingProblem ? undefined : config?.client;
    if (!client) {
      const why = settingProblem ?? problem ?? "no connection";
      node.status(misconfiguredStatus(why));
      if (def.connection) node.error(t("warnings.cannot-start", { why }));
      return;
    }
    const receive = messageReceiver(RED, node, client, {
      types: def.types,
      downloadMedia: def.downloadMedia,
      maxBytes: Math.max(1, Math.floor(values.maxMediaMB * 1024 * 1024)),
      t,
    });

    const stopStatus = showConnectionStatus(node, client, common);
    const removeReceiver = client.addReceiver((message) => void receive(message));
    client.acquireSocket(node);

    node.on("close", (removed: boolean, done: () => void) => {
      stopStatus();
      removeReceiver();
      client.releaseSocket(node, removed).then(done, () => done());
    });
  }

  RED.nodes.registerType("pipes-in", PipesIn);
};

export = nodeInit;
