import { EventEmitter } from "node:events";
import { createServer, connect, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  upstream?: Socket;
  frozen: boolean;
  /** With a delay: the two directions' queues, so killAll() can drop what is still in flight. */
  lanes?: Lane[];
}

export interface TcpProxyOptions {
  /**
   * Every byte is held this long in each direction before it is passed on (one-way latency; a
   * round trip costs twice this). Order is kept, and so is the order of data and hang-ups: a FIN or
   * a reset reaches the other side after the bytes sent before it. 0 (the default) forwards at once.
   */
  delayMs?: number;
}

/** What travels one way through a delayed connection, in order: bytes, a half-close (FIN), a hang-up. */
type Item = { chunk: Buffer } | { end: true } | { close: true };

/**
 * One direction of a delayed connection (from -> to): a FIFO of items, each released `delayMs`
 * after it arrived, by one timer armed for the head of the queue.
 */
class Lane {
  private readonly items: { at: number; item: Item }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly to: Socket,
    private readonly delayMs: number,
    private readonly frozen: () => boolean,
  ) {}

  push(item: Item): void {
    if (this.done) return;
    this.items.push({ at: Date.now() + this.delayMs, item });
    this.arm();
  }

  /** Drops whatever is still in flight (the connection was cut). */
  drop(): void {
    this.done = true;
    this.items.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer || this.items.length === 0) return;
    this.timer = setTimeout(() => this.release(), Math.max(0, this.items[0].at - Date.now()));
  }

  private release(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.items.length && this.items[0].at <= now) {
      const { item } = this.items.shift()!;
      const to = this.to;
      if ("chunk" in item) {
        if (!this.frozen() && !to.destroyed) to.write(item.chunk);
      } else if ("end" in item) {
        // The sender half-closed: so does the other side, once the bytes sent before it are written.
        if (!to.destroyed && !to.writableEnded) to.end();
      } else {
        // The sender's socket is gone: close the other side once what it was sent is flushed.
        this.drop();
        if (to.destroyed) return;
        if (to.writableFinished) {
          to.destroy();
          return;
        }
        to.once("finish", () => to.destroy());
        if (!to.writableEnded) to.end();
        return;
      }
    }
    this.arm();
  }
}

/**
 * A TCP proxy on 127.0.0.1 between the nodes and the emulator, for network faults that keep the
 * emulator's state: kill every connection, stop listening (server down) and come back on the same
 * port, black-hole new connections (accept, never answer), or freeze live ones (half-open: the
 * sockets stay open but no byte gets through in either direction). With `delayMs` it is also a
 * slower link: every byte arrives that much later in each direction (see TcpProxyOptions).
 */
export class TcpProxy extends EventEmitter {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private blackHole = false;
  private delayMs: number;
  port = 0;
  /** Connections accepted so far (each is one upgrade or HTTP connection attempt). */
  accepted = 0;

  constructor(
    private readonly targetPort: number,
    options: TcpProxyOptions = {},
  ) {
    super();
    this.delayMs = checkedDelay(options.delayMs ?? 0);
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

  /** Cuts every open connection abruptly (bytes still delayed in the proxy are lost with it). */
  killAll(): void {
    for (const pair of this.pairs) {
      for (const lane of pair.lanes ?? []) lane.drop();
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  /** New connections are accepted and then ignored (with true), or forwarded again (false). */
  setBlackHole(on: boolean): void {
    this.blackHole = on;
  }

  /** The one-way delay for connections accepted from now on (see TcpProxyOptions). */
  setDelay(delayMs: number): void {
    this.delayMs = checkedDelay(delayMs);
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
    if (this.delayMs > 0 && !this.blackHole) {
      this.forwardDelayed(pair, this.delayMs);
      this.emit("accepted");
      return;
    }
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

  /**
   * Both directions go through a Lane: data, a half-close (FIN) and a hang-up each reach the other
   * side `delayMs` after they happened, in the order they happened. The pair counts as open until
   * both of its sockets have closed.
   */
  private forwardDelayed(pair: Pair, delayMs: number): void {
    const { client } = pair;
    // The upstream connection is made at once (its handshake is not delayed; the bytes are).
    const upstream = connect({ port: this.targetPort, host: "127.0.0.1", allowHalfOpen: true });
    pair.upstream = upstream;
    upstream.on("error", () => undefined);
    const frozen = () => pair.frozen;
    const toUpstream = new Lane(upstream, delayMs, frozen);
    const toClient = new Lane(client, delayMs, frozen);
    pair.lanes = [toUpstream, toClient];
    let open = 2;
    const closed = () => {
      if (--open > 0) return;
      if (this.pairs.delete(pair)) this.emit("closed");
    };
    for (const [from, lane] of [
      [client, toUpstream],
      [upstream, toClient],
    ] as const) {
      from.on("data", (chunk: Buffer) => lane.push({ chunk }));
      from.on("end", () => lane.push({ end: true }));
      from.on("close", () => {
        lane.push({ close: true });
        closed();
      });
    }
    // A FIN from the client must not end our socket to it before the delayed bytes are out: the
    // Lane passes the FIN on in its turn (the upstream socket is made half-open above).
    client.allowHalfOpen = true;
  }
}

function checkedDelay(delayMs: number): number {
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`delayMs must be a finite number >= 0, got ${delayMs}`);
  return delayMs;
}
