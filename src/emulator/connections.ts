/** Open WebSocket connections and the frame sending they share. */
import WebSocket from "ws";
import type { ServerFrame } from "../lib/protocol";
import type { OrderedDelayedSender } from "./ordered-delayed-sender";
import type { Tenant } from "./tenants";
import type { ConnectionInfo } from "./types";

export interface Connection {
  readonly info: ConnectionInfo;
  readonly ws: WebSocket;
  readonly tenant: Tenant;
  /** reply_status frames, delayed and in order. */
  readonly statuses: OrderedDelayedSender;
}

export function isOpen(connection: Connection): boolean {
  return connection.ws.readyState === WebSocket.OPEN;
}

export class ConnectionRegistry {
  /** Insertion order = opening order, which fanOut "first" relies on. */
  private readonly byId = new Map<string, Connection>();

  add(connection: Connection): void {
    this.byId.set(connection.info.connectionId, connection);
  }

  remove(connectionId: string): Connection | undefined {
    const connection = this.byId.get(connectionId);
    this.byId.delete(connectionId);
    return connection;
  }

  get(connectionId: string): Connection | undefined {
    return this.byId.get(connectionId);
  }

  all(): Connection[] {
    return [...this.byId.values()];
  }

  ofTenant(userId: string): Connection[] {
    return this.all().filter((c) => c.info.userId === userId);
  }
}

/** Sends one JSON frame if the socket is open; returns whether it was handed to the socket. */
export function sendFrame(connection: Connection, frame: ServerFrame, onError: (error: Error) => void): boolean {
  if (!isOpen(connection)) return false;
  connection.ws.send(JSON.stringify(frame), (error) => {
    if (error) onError(error);
  });
  return true;
}
