import { EventEmitter } from "node:events";
import { createServer, connect, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  upstream?: Socket;
  frozen: boolean;
}

/**
 * A TCP proxy on 127.0.0.1 between the nodes and the emulator, for network faults that keep the
 * emulator's state: kill every connection, stop listening (server down) and come back on the same
 * port, black-hole new connections (accept, never answer), or freeze live ones (half-open: the
 * sockets stay open but no byte gets through in either direction).
 */
export class TcpProxy extends EventEmitter {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private blackHole = false;
  port = 0;
  /** Connections accepted so far (each is one upgrade or HTTP connection attempt). */
  accepted = 0;

  constructor(private readonly targetPort: number) {
    super();
  }

  /** Listens (again) on the same port; the first call picks a free port. */
  async start(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  /** The server is gone: no listener, every connection cut. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.killAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Cuts every open connection abruptly. */
  killAll(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  /** New connections are accepted and then ignored (with true), or forwarded again (false). */
  setBlackHole(on: boolean): void {
    this.blackHole = on;
  }

  /** The connections open now stop carrying data without closing: a half-open network. */
  freezeOpenConnections(): void {
    for (const pair of this.pairs) pair.frozen = true;
  }

  get openConnections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    this.accepted++;
    const pair: Pair = { client, frozen: false };
    this.pairs.add(pair);
    client.on("error", () => undefined);
    client.on("close", () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    client.on("close", () => this.emit("closed"));
    this.emit("accepted");
    if (this.blackHole) {
      client.resume(); // read and discard, answer nothing (reading lets us see the client hang up)
      return;
    }
    const upstream = connect(this.targetPort, "127.0.0.1");
    pair.upstream = upstream;
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.on("data", (chunk) => {
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!pair.frozen) client.write(chunk);
    });
  }
}
