import { createServer } from "node:net";

/** A port on 127.0.0.1 that was free a moment ago (for servers that need a port number up front). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Resolves once 127.0.0.1:port can be listened on again (rejects if it cannot). */
export function portIsFree(port: number): Promise<void> {
  return new Promise<void>((resolveFree, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolveFree()));
  });
}
