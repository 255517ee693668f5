/** Which open sockets receive a live inbound message (docs/protocol.md#scopes). */
import type { InboundMessage } from "../lib/protocol";
import { isOpen, type Connection } from "./connections";

/**
 * User-scoped sockets of the tenant (minus those filtered to another pool number) plus the
 * conversation-scoped sockets of the message's conversation. A conversation match also reaches
 * user-scoped sockets (INFERRED yes, docs/decisions/0024-emulator-fan-out.md). fanOut "first" keeps only the oldest user-scoped socket;
 * conversation-scoped sockets always all get it, since each asked for exactly this conversation.
 */
export function liveTargets(tenantConnections: Connection[], message: InboundMessage, fanOut: "all" | "first"): Connection[] {
  const open = tenantConnections.filter(isOpen);
  const userScoped = open.filter(
    (c) => c.info.scope === "user" && (c.info.poolNumberId === undefined || c.info.poolNumberId === message.poolNumberId),
  );
  const conversationScoped = open.filter((c) => c.info.scope === "conversation" && c.info.conversationId === message.conversationId);
  return [...(fanOut === "first" ? userScoped.slice(0, 1) : userScoped), ...conversationScoped];
}
