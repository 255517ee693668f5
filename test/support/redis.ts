/**
 * Debian's redis-server on 127.0.0.1 for the coordination tests: a free port, no persistence, the
 * PID kept (stop() signals that PID only), and restart() on the same port (the "Redis restarts"
 * scenario). Missing redis-server: skipped locally, a failure in CI (.ci/run installs it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { inCi } from "./browser";
import { freePort } from "./ports";
import { poll, waitFor } from "./wait";

const CANDIDATES = ["/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"];

export function requireRedis(context: Mocha.Context): string {
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  const how = "install it with `apt-get install -y redis-server` (Debian)";
  if (inCi()) throw new Error(`redis-server is required in CI but was not found: ${how}`);
  console.log(`      (skipped: no redis-server; ${how})`);
  context.skip();
}

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export async function startRedis(binary: string, password?: string): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"];
    if (password) args.push("--requirepass", password);
    child = spawn(binary, args, { stdio: "ignore" });
    await poll(`redis-server on ${port}`, () => canConnect(port), { everyMs: 25, timeoutMs: 10_000 });
  };
  await launch();
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = waitFor(child, "exit", { what: "redis-server to exit", timeoutMs: 10_000 });
    child.kill("SIGKILL");
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
