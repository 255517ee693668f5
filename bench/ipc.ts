/** Messages between the bench driver (bench/run.ts) and the client processes (bench/child.ts). */

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Garbage collections of the client's main heap so far: minor (scavenges) and major (mark-compact), count and pause time. */
export interface GcTally {
  minor: number;
  minorMs: number;
  major: number;
  majorMs: number;
}

/** received: messages the bot got; replied / failed: reply outcomes seen by the client; outcomes: both. */
export type Counter = "received" | "replied" | "failed" | "outcomes";

export type ParentCommand =
  | { cmd: "mem"; gc: boolean }
  /** Counters back to zero (start of a phase). */
  | { cmd: "reset" }
  /** Report once `received` (messages seen by the bot) or `replied` (reply_status received) reaches n. */
  | { cmd: "notify"; counter: Counter; n: number }
  | { cmd: "cpu" }
  /** Start or stop a V8 CPU profile, or an allocation-sampling heap profile (written to `file` on stop). */
  | { cmd: "profile"; on: boolean; file?: string; what?: "cpu" | "heap" }
  /** Media child: send a Buffer of `bytes` through pipes-send-media (or the naive client) into `conversationId`. */
  | { cmd: "send-media"; bytes: number; conversationId: string }
  | { cmd: "exit" };

export type ChildReport =
  /** `port`: where the client's Node-RED serves HTTP (webhook contenders only). */
  | { type: "ready"; pid: number; port?: number }
  | { type: "mem"; mem: MemorySample }
  | { type: "reached"; counter: Counter; n: number; at: number; counters: Record<Counter, number>; failures: Record<string, number> }
  | { type: "profiled"; file?: string }
  | { type: "cpu"; userMs: number; systemMs: number; at: number; gc: GcTally }
  | {
      type: "media";
      ok: boolean;
      error?: string;
      ms: number;
      bytes: number;
      rssBefore: number;
      peakRssSampled: number;
      maxRssBefore: number;
      maxRssAfter: number;
      samples: number;
    }
  | { type: "error"; message: string };

/** Wall clock with sub-millisecond resolution, comparable across processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}
