/**
 * Runs `node scripts/start.js` (what `npm start` runs) as a child process on free ports with its own
 * run dir, and waits on its output. Needs the built package (npm test builds it first).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { freePort, portIsFree } from "./ports";
import { waitUntil } from "./wait";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "..", "..");

export { freePort, portIsFree };

/**
 * The phone page runs from dist/emulator/phone once built. If the build did not copy every file of
 * src/emulator/phone (scripts/copy-assets.js), say so instead of failing later in a browser.
 */
export function assertPhoneBuilt(): void {
  const src = join(ROOT, "src", "emulator", "phone");
  const dist = join(ROOT, "dist", "emulator", "phone");
  const stale = readdirSync(src).filter(
    (file) => !existsSync(join(dist, file)) || !readFileSync(join(dist, file)).equals(readFileSync(join(src, file))),
  );
  if (stale.length) {
    throw new Error(
      `dist/emulator/phone lacks or has an old copy of ${stale.join(", ")}: \`npm run build\` must copy every file of src/emulator/phone (scripts/copy-assets.js)`,
    );
  }
}

export interface StartedApp {
  child: ChildProcess;
  emulatorPort: number;
  nodeRedPort: number;
  runDir: string;
  emulatorUrl: string;
  editorUrl: string;
  phoneUrl: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Waits until the output matches, re-checking on each chunk. */
  waitForOutput(what: string, pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Ctrl+C: SIGINT, then the exit code. */
  interrupt(): Promise<number | null>;
  /** The exit code once it exits by itself. */
  exited(): Promise<number | null>;
  /** SIGKILL if still running (test clean-up); removes the run dir unless kept. */
  dispose(options?: { keepRunDir?: boolean }): void;
}

export interface StartOptions {
  emulatorPort?: number;
  nodeRedPort?: number;
  runDir?: string;
  /** Resolve as soon as the process is spawned instead of waiting for the ready line. */
  noWait?: boolean;
  /** Extra environment for npm start (e.g. a proxy). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export async function startApp(options: StartOptions = {}): Promise<StartedApp> {
  const emulatorPort = options.emulatorPort ?? (await freePort());
  const nodeRedPort = options.nodeRedPort ?? (await freePort());
  const runDir = options.runDir ?? mkdtempSync(join(tmpdir(), "pipes-start-"));
  const child = spawn(process.execPath, [join(ROOT, "scripts", "start.js")], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...options.env,
      PIPES_EMULATOR_PORT: String(emulatorPort),
      NODE_RED_PORT: String(nodeRedPort),
      PIPES_RUN_DIR: runDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let closed = false;
  /** Emits "change" after each chunk of output (already in `output`) and when the process has closed. */
  const changes = new EventEmitter();
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    changes.emit("change");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    changes.emit("change");
  });
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  // "close" comes after the last output of an exited process.
  child.once("close", () => {
    closed = true;
    changes.emit("change");
  });

  const matches = (pattern: RegExp | string): boolean => (typeof pattern === "string" ? output.includes(pattern) : pattern.test(output));
  const app: StartedApp = {
    child,
    emulatorPort,
    nodeRedPort,
    runDir,
    emulatorUrl: `http://127.0.0.1:${emulatorPort}`,
    editorUrl: `http://127.0.0.1:${nodeRedPort}`,
    phoneUrl: `http://127.0.0.1:${emulatorPort}/phone`,
    output: () => output,
    async waitForOutput(what, pattern, timeoutMs = 10_000) {
      try {
        await waitUntil(
          what,
          () => {
            if (matches(pattern)) return true;
            if (closed) throw new Error(`start.js exited (${child.exitCode ?? child.signalCode}) before ${what}`);
            return undefined;
          },
          changes,
          ["change"],
          timeoutMs,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- start.js output ---\n${output}`, { cause: error });
      }
    },
    exited: () => exited,
    async interrupt() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      return exited;
    },
    dispose({ keepRunDir = false } = {}) {
      // SIGKILL is safe here: Node-RED is tied to start.js and stops when it goes (node-red-child.js).
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (!keepRunDir) rmSync(runDir, { recursive: true, force: true });
    },
  };
  if (!options.noWait) {
    try {
      await app.waitForOutput("the ready line", "ready:", options.timeoutMs ?? 25_000);
    } catch (error) {
      app.dispose();
      throw error;
    }
  }
  return app;
}
