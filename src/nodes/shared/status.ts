import type { NodeStatus } from "node-red";
import type { StateChange } from "../../lib/connection";
import type { PipesClient } from "../../lib/client";
import { isCertificateErrorCode, isProxyErrorCode, isTlsErrorCode } from "../../lib/tls";
import type { Translate } from "./i18n";

/**
 * Every status dot that shows the connection derives from the connection's state machine here,
 * so all nodes on one connection always agree. The texts are in the shared (pipes-config)
 * catalogue, "status" and "problems": `common` is its translator (see NodeStrings).
 */
export function connectionStatus(change: StateChange, client: PipesClient, common: Translate, sender = false): NodeStatus {
  const status = socketStatus(change, client, common, sender);
  // Several instances through Redis: say when Redis cannot be reached (the role stays, see coordination.ts).
  const coordination = client.coordination;
  return coordination && !coordination.redisUp ? { ...status, text: `${status.text ?? ""}${common("status.redis-down")}` } : status;
}

function socketStatus(change: StateChange, client: PipesClient, common: Translate, sender: boolean): NodeStatus {
  const t = common;
  // Another instance holds the account's socket (docs/high-availability.md): this one is standby.
  const coordination = client.coordination;
  if (
    coordination &&
    coordination.role !== "leader" &&
    (change.state === "idle" || change.state === "closed" || change.state === "closing")
  ) {
    return {
      fill: "grey",
      shape: "ring",
      text: coordination.leader ? t("status.standby", { leader: coordination.leader }) : t("status.standby-unknown"),
    };
  }
  // A socket pipes-reply on a connection that no pipes-in opens: its replies go over REST.
  if (sender && !client.repliesOverSocket && (change.state === "idle" || change.state === "closed")) {
    return { fill: "green", shape: "ring", text: t("status.replies-rest") };
  }
  switch (change.state) {
    case "idle":
      return { fill: "grey", shape: "ring", text: t("status.idle") };
    case "connecting":
      return { fill: "yellow", shape: "ring", text: t("status.connecting") };
    case "open":
      return client.scope === "conversation"
        ? { fill: "green", shape: "dot", text: t("status.connected-conversation", { conversation: client.conversationId ?? "" }) }
        : { fill: "green", shape: "dot", text: t(client.keyKind === "app" ? "status.connected-app" : "status.connected-user") };
    case "reconnecting":
      // Retrying will not fix a certificate or proxy problem by itself: show it in red.
      if (isCertificateErrorCode(change.errorCode))
        return { fill: "red", shape: "ring", text: t("status.tls-error", { code: change.errorCode! }) };
      if (change.errorCode === "ERR_SSL_WRONG_VERSION_NUMBER") return { fill: "red", shape: "ring", text: t("status.tls-not-tls") };
      if (isTlsErrorCode(change.errorCode))
        return { fill: "red", shape: "ring", text: t("status.tls-handshake", { code: change.errorCode! }) };
      if (isProxyErrorCode(change.errorCode))
        return { fill: "red", shape: "ring", text: t("status.proxy-error", { code: change.errorCode! }) };
      return { fill: "yellow", shape: "ring", text: t("status.reconnecting", { attempt: change.attempt ?? 1 }) };
    case "auth_failed":
      return { fill: "red", shape: "dot", text: t("status.auth-failed") };
    case "forbidden":
      return { fill: "red", shape: "dot", text: t("status.forbidden") };
    case "closing":
    case "closed":
      return { fill: "grey", shape: "ring", text: t("status.disconnected") };
  }
}

export function misconfiguredStatus(reason: string): NodeStatus {
  return { fill: "red", shape: "ring", text: reason };
}

/**
 * Mirrors the connection state on a node; returns the unsubscribe to call on close. A `sender`
 * (socket pipes-reply) shows that it replies over REST while no pipes-in keeps the socket open.
 */
export function showConnectionStatus(
  node: { status(status: NodeStatus): void },
  client: PipesClient,
  common: Translate,
  { sender = false } = {},
): () => void {
  const update = (change: StateChange) => node.status(connectionStatus(change, client, common, sender));
  update(client.state);
  client.on("state", update);
  return () => {
    client.off("state", update);
  };
}
