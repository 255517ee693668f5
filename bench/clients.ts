/** The driver's side of a client process (bench/child.ts): start it, command it, wait for its reports. */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ChildReport, Counter, GcTally, MemorySample, ParentCommand } from "./ipc";

/** A phase that stops making progress for this long fails instead of hanging. */
export const STALL_MS = 15_000;
/** CPU profiles (BENCH_PROFILE) and latency series (BENCH_DUMP) go here (.run/ is not committed). */
export const SCRATCH = join(__dirname, "..", ".run", "bench");

export class Client {
  private readonly waiters: { match: (r: ChildReport) => boolean; resolve: (r: ChildReport) => void }[] = [];
  private exited = false;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (report: ChildReport) => {
      if (report.type === "error") console.error(`[${label}] ${report.message}`);
      const i = this.waiters.findIndex((w) => w.match(report));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(report);
    });
    child.on("exit", () => {
      this.exited = true;
    });
  }

  /** `profiling`: the client maps its CPU profiles to TypeScript lines (source maps on: a run apart, not measured). */
  static async start(label: string, args: string[], profiling = false): Promise<Client> {
    // BENCH_NODE_FLAGS: extra node flags for the clients (e.g. --trace-gc), for diagnosis.
    const extra = process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
    const child = fork(join(__dirname, "child.ts"), args, {
      execArgv: ["--expose-gc", "--import", "tsx", ...extra],
      stdio: "inherit",
      env: profiling ? { ...process.env, BENCH_CHILD_PROFILE: "1" } : process.env,
    });
    const client = new Client(label, child);
    const exit = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`${label} exited early (code ${code})`))));
    exit.catch(() => undefined);
    await Promise.race([client.next((r) => r.type === "ready" || r.type === "error", 30_000), exit]).then((r) => {
      if (r.type === "error") throw new Error(`${label}: ${r.message}`);
      if (r.type === "ready") client.port = r.port;
    });
    return client;
  }

  /** Where the client serves HTTP (webhook contenders). */
  port: number | undefined;

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(command: ParentCommand): void {
    this.child.send(command);
  }

  next<T extends ChildReport>(match: (r: ChildReport) => boolean, timeoutMs = STALL_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.label}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref(); // a wait abandoned after a failure must not keep the bench alive
      const waiter = {
        match,
        resolve: (r: ChildReport) => {
          clearTimeout(timer);
          resolve(r as T);
        },
      };
      this.waiters.push(waiter);
    });
  }

  async memory(gc: boolean): Promise<MemorySample> {
    const answer = this.next<Extract<ChildReport, { type: "mem" }>>((r) => r.type === "mem");
    this.send({ cmd: "mem", gc });
    return (await answer).mem;
  }

  async cpuMs(): Promise<number> {
    return (await this.usage()).cpuMs;
  }

  /** CPU time so far (user + system, all threads) and the GC tally. */
  async usage(): Promise<{ cpuMs: number; gc: GcTally }> {
    const answer = this.next<Extract<ChildReport, { type: "cpu" }>>((r) => r.type === "cpu");
    this.send({ cmd: "cpu" });
    const r = await answer;
    return { cpuMs: r.userMs + r.systemMs, gc: r.gc };
  }

  /**
   * Starts (on) or stops a CPU profile (or, `what` "heap", an allocation profile) of the child;
   * stopping with a name writes .run/bench/<name>-<time>.cpuprofile (.heapprofile).
   */
  async profile(on: boolean, name?: string, what: "cpu" | "heap" = "cpu"): Promise<string | undefined> {
    const file = name ? join(SCRATCH, `${name}-${Date.now()}.${what === "cpu" ? "cpuprofile" : "heapprofile"}`) : undefined;
    if (file) mkdirSync(dirname(file), { recursive: true });
    const answer = this.next((r) => r.type === "profiled", 60_000);
    this.send({ cmd: "profile", on, file, what });
    await answer;
    return file;
  }

  /** Resolves (with the child's wall-clock time and counters) when the counter reaches n. */
  reached(counter: Counter, n: number, timeoutMs: number): Promise<Extract<ChildReport, { type: "reached" }>> {
    const answer = this.next<Extract<ChildReport, { type: "reached" }>>((r) => r.type === "reached" && r.counter === counter, timeoutMs);
    this.send({ cmd: "notify", counter, n });
    return answer;
  }

  /** Asks the child to exit; kills it (by its own PID) if it has not within 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.send({ cmd: "exit" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

/** Polls every 5 ms (bounded): used only for start-up conditions, never inside a measurement. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function settle(ms = 300): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
