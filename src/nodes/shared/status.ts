import type { NodeStatus } from "node-red";
import type { StateChange } from "../../lib/connection";
import type { PipesClient } from "../../lib/client";

/**
 * Every status dot that shows the connection derives from the connection's state machine here,
 * so all nodes on one connection always agree.
 */
export function connectionStatus(change: StateChange, client: PipesClient): NodeStatus {
  switch (change.state) {
    case "idle":
      return { fill: "grey", shape: "ring", text: "idle" };
    case "connecting":
      return { fill: "yellow", shape: "ring", text: "connecting" };
    case "open":
      return { fill: "green", shape: "dot", text: client.scope === "conversation" ? `connected (${client.conversationId ?? "conversation"})` : "connected (user)" };
    case "reconnecting":
      return { fill: "yellow", shape: "ring", text: `reconnecting (attempt ${change.attempt ?? 1})` };
    case "auth_failed":
      return { fill: "red", shape: "dot", text: "invalid API key (401)" };
    case "forbidden":
      return { fill: "red", shape: "dot", text: "forbidden (403)" };
    case "closing":
    case "closed":
      return { fill: "grey", shape: "ring", text: "disconnected" };
  }
}

export function misconfiguredStatus(reason: string): NodeStatus {
  return { fill: "red", shape: "ring", text: reason };
}

/** Mirrors the connection state on a node; returns the unsubscribe to call on close. */
export function showConnectionStatus(node: { status(status: NodeStatus): void }, client: PipesClient): () => void {
  const update = (change: StateChange) => node.status(connectionStatus(change, client));
  update(client.state);
  client.on("state", update);
  return () => {
    client.off("state", update);
  };
}
