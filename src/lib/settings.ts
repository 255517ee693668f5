/**
 * The numeric settings of our nodes and the ranges the runtime accepts, checked once when a node
 * starts: a value outside its range is a configuration problem shown on the node, never a silent
 * default. Empty (or missing) takes the default. The editor's own checks may be stricter (it keeps
 * people from typing 0.3 s of reconnect wait); these bounds keep the runtime safe.
 */

/** Node's timers fire AT ONCE for delays above this (a signed 32-bit millisecond count). */
export const MAX_TIMER_MS = 2_147_483_647;

export interface NumberRule {
  /** Smallest value allowed (excluded when `minExclusive`). */
  min: number;
  minExclusive?: boolean;
  max: number;
  integer?: boolean;
  /** Used when the setting is empty or missing. */
  fallback: number;
  /** Stricter bounds the editor asks of a person (the runtime accepts the wider rule, e.g. for tests). */
  editor?: { min?: number; max?: number; integer?: boolean };
}

/** Plain http:// is allowed only to these hosts (a local emulator): anywhere else the key would travel in clear. */
export const PLAIN_HTTP_HOSTS = ["127.0.0.1", "localhost", "[::1]"] as const;

export const NUMBER_SETTINGS = {
  /** pipes-reply, pipes-send-media: seconds to wait for the answer. One day at most. */
  timeout: { min: 0, minExclusive: true, max: 86_400, fallback: 30 },
  /** pipes-config: longest wait between reconnect attempts, seconds. */
  backoffMaxSeconds: { min: 0, minExclusive: true, max: 3_600, fallback: 60, editor: { min: 5, max: 600, integer: true } },
  /** pipes-config: replies waiting to be sent at once. */
  outboxLimit: { min: 1, max: 1_000_000, integer: true, fallback: 1000 },
  /** pipes-config: longest a reply waits for the connection, seconds. */
  outboxMaxWaitSeconds: { min: 0, minExclusive: true, max: 86_400, fallback: 300, editor: { min: 1, integer: true } },
  /** pipes-config: media downloads running at once (per connection). */
  downloadConcurrency: { min: 1, max: 64, integer: true, fallback: 4 },
  /** pipes-config: megabytes of media being downloaded at once (per connection). */
  downloadBufferMB: { min: 1, max: 4096, fallback: 32, editor: { integer: true } },
  /**
   * pipes-webhook-in, "answer when handled": longest wait for the flow, seconds. Below Pipes' 10 s
   * per attempt, so Pipes hears our answer rather than timing out and retrying.
   */
  answerWithin: { min: 0, minExclusive: true, max: 9, fallback: 8, editor: { min: 1 } },
  /** pipes-config with Redis: seconds a dead leader blocks the standbys (renewed every third of it). */
  redisLeaseSeconds: { min: 0.1, max: 300, fallback: 5, editor: { min: 1 } },
  /** pipes-in: largest media downloaded into a Buffer, megabytes. */
  maxMediaMB: { min: 0, minExclusive: true, max: 4096, fallback: 16 },
} satisfies Record<string, NumberRule>;

export type NumberSettingName = keyof typeof NUMBER_SETTINGS;

/** The hidden timing knobs of pipes-config (tests shorten them), milliseconds. */
export const TUNING_KEYS = [
  "handshakeTimeoutMs",
  "pingIntervalMs",
  "pongTimeoutMs",
  "backoffBaseMs",
  "stableAfterMs",
  "idleCloseMs",
  "lateStatusGraceMs",
  "lateStatusWindowMs",
] as const;
export type TuningKey = (typeof TUNING_KEYS)[number];
const TUNING_RULE: NumberRule = { min: 1, max: MAX_TIMER_MS, fallback: 0 };

/** Why a setting was refused, for a message in the runtime's language. */
export interface SettingProblem {
  setting: string;
  value: string;
  /** "1 to 86400", "a whole number from 1 to 64", ... in words the caller translates. */
  rule: NumberRule;
}

export type SettingResult = { ok: true; value: number } | { ok: false; problem: SettingProblem };

/** Reads one numeric setting: empty takes the fallback; anything else must be a number in range. */
export function readNumberSetting(setting: string, raw: unknown, rule: NumberRule): SettingResult {
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return { ok: true, value: rule.fallback };
  const value = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : Number.NaN;
  const inRange =
    Number.isFinite(value) &&
    (rule.minExclusive ? value > rule.min : value >= rule.min) &&
    value <= rule.max &&
    (!rule.integer || Number.isInteger(value));
  if (inRange) return { ok: true, value };
  return { ok: false, problem: { setting, value: describeValue(raw), rule } };
}

/** Reads several settings of a node definition; the first problem, if any. */
export function readNumberSettings<K extends NumberSettingName>(
  def: Partial<Record<K, unknown>>,
  names: readonly K[],
): { values: Record<K, number>; problem?: SettingProblem } {
  const values = {} as Record<K, number>;
  for (const name of names) {
    const result = readNumberSetting(name, def[name], NUMBER_SETTINGS[name]);
    if (!result.ok) return { values, problem: result.problem };
    values[name] = result.value;
  }
  return { values };
}

/** The `tuning` object of pipes-config: only known keys, each a positive millisecond count a timer can hold. */
export function readTuning(raw: unknown): { values: Partial<Record<TuningKey, number>>; problem?: SettingProblem } {
  const values: Partial<Record<TuningKey, number>> = {};
  if (raw === undefined || raw === null || raw === "") return { values };
  if (typeof raw !== "object" || Array.isArray(raw))
    return { values, problem: { setting: "tuning", value: describeValue(raw), rule: TUNING_RULE } };
  for (const key of TUNING_KEYS) {
    const given = (raw as Record<string, unknown>)[key];
    if (given === undefined) continue;
    const result = readNumberSetting(`tuning.${key}`, given, TUNING_RULE);
    if (!result.ok) return { values, problem: result.problem };
    values[key] = result.value;
  }
  return { values };
}

function describeValue(raw: unknown): string {
  const text = typeof raw === "string" ? raw : typeof raw === "number" ? String(raw) : (JSON.stringify(raw) ?? typeof raw);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
