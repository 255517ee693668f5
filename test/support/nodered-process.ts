/**
 * A real Node-RED process (the runtime under test: NODE_RED_FROM selects Node-RED 5) with this
 * package linked into its user dir, for tests that kill or restart Node-RED itself. Needs the
 * built package (npm test builds it first). The process is ours by PID; `kill()` sends a signal to
 * that PID only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { poll, waitFor, waitUntil } from "./wait";

const ROOT = resolve(__dirname, "..", "..");

/** Node-RED's red.js of the runtime under test. */
export function redJsPath(): string {
  return require.resolve("node-red/red.js", process.env.NODE_RED_FROM ? { paths: [process.env.NODE_RED_FROM] } : { paths: [ROOT] });
}

/** A user dir with this package linked in and a settings file on `port` (127.0.0.1 only). */
export function prepareUserDir(userDir: string, port: number, extraSettings: Record<string, unknown> = {}): void {
  // Node-RED loads our nodes from dist/: say so clearly when it is not built.
  for (const file of ["pipes-in.js", "pipes-in.html", "pipes-config.html"]) {
    if (!existsSync(join(ROOT, "dist", "nodes", file)))
      throw new Error(`dist/nodes/${file} is missing: run \`npm run build\` (npm test does)`);
  }
  mkdirSync(join(userDir, "node_modules", "@pipes.bot"), { recursive: true });
  const link = join(userDir, "node_modules", "@pipes.bot", "node-red");
  rmSync(link, { recursive: true, force: true });
  symlinkSync(ROOT, link, "dir");
  writeFileSync(join(userDir, "package.json"), JSON.stringify({ name: "pipes-test-node-red", private: true }));
  const settings = {
    uiHost: "127.0.0.1",
    uiPort: port,
    flowFile: "flows.json",
    credentialSecret: "pipes-test-secret",
    logging: { console: { level: "info", metrics: false, audit: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    // No palette catalogue: it lives on the internet, which tests never reach.
    editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
  };
  writeFileSync(join(userDir, "settings.js"), `module.exports = ${JSON.stringify({ ...settings, ...extraSettings })};\n`);
}

export interface NodeRedProcess {
  child: ChildProcess;
  url: string;
  /** Everything it printed so far. */
  log(): string;
  /** Waits until its output matches. */
  waitForLog(what: string, pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Deploys a full flow (with credentials inline) through the admin API (with a token when adminAuth is on). */
  deploy(flow: Record<string, unknown>[], token?: string): Promise<void>;
  /** Waits until a pipes-webhook-in answers on `path` (its 405 to a GET; 404 before its flow started). */
  waitForWebhookRoute(path: string): Promise<void>;
  /** Sends `signal` to this process and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts Node-RED on `userDir` (see prepareUserDir) and waits until it serves on `port`. */
export async function startNodeRed(userDir: string, port: number, env: Record<string, string> = {}): Promise<NodeRedProcess> {
  const version = (JSON.parse(readFileSync(join(redJsPath(), "..", "package.json"), "utf8")) as { version: string }).version;
  const child = spawn(process.execPath, [redJsPath(), "-u", userDir, "-s", join(userDir, "settings.js")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const changes = new EventEmitter();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    changes.emit("change");
  };
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  child.once("exit", () => changes.emit("change"));
  const url = `http://127.0.0.1:${port}`;

  const waitForLog = async (what: string, pattern: RegExp, timeoutMs = 10_000) => {
    try {
      await waitUntil(
        what,
        () => {
          if (pattern.test(output)) return true;
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Node-RED exited before ${what}`);
          return undefined;
        },
        changes,
        ["change"],
        timeoutMs,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- Node-RED ${version} output ---\n${output}`, { cause: error });
    }
  };

  const started: NodeRedProcess = {
    child,
    url,
    log: () => output,
    waitForLog,
    async deploy(flow, token) {
      const response = await fetch(`${url}/flows`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "node-red-deployment-type": "full",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(flow),
      });
      if (response.status !== 204) throw new Error(`deploy answered ${response.status}: ${await response.text()}`);
    },
    async waitForWebhookRoute(path) {
      // The admin API answers a deploy before the new flows have started.
      await poll(`a webhook route on ${path}`, async () => (await fetch(url + path)).status === 405, { everyMs: 50, timeoutMs: 10_000 });
    },
    async kill(signal = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = waitFor(child, "exit", { what: `Node-RED to exit on ${signal}`, timeoutMs: 30_000 });
      child.kill(signal);
      await exited;
    },
  };
  // "Server now running at http://127.0.0.1:<port>/" in any language.
  await waitForLog(`Node-RED ${version} to serve on ${port}`, new RegExp(`http://127\\.0\\.0\\.1:${port}/`), 30_000).catch(
    async (error: unknown) => {
      await started.kill();
      throw error;
    },
  );
  return started;
}
