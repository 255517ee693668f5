import { ERROR_CODES } from "./protocol";

/** Who decided the failure: the Pipes.bot server (its own code) or this package (our code). */
export type ErrorSource = "server" | "client";

/** The error every lib function rejects with: a stable machine `code` flows can switch on. */
export class PipesError extends Error {
  readonly code: string;
  readonly source: ErrorSource;
  /** HTTP status, when the failure came from a REST answer. */
  readonly status?: number;
  /** Server-requested pause before a retry (Retry-After), in milliseconds. */
  readonly retryAfterMs?: number;
  /** The request never reached the server (connection refused, DNS): safe to try again. */
  readonly retryable?: boolean;
  /** Part of the message went out before this failure (a long text split in parts): never safe to send again whole. */
  readonly partial?: boolean;

  constructor(
    code: string,
    message: string,
    source: ErrorSource = "client",
    extra: { status?: number; retryAfterMs?: number; retryable?: boolean; partial?: boolean } = {},
  ) {
    super(message);
    this.name = "PipesError";
    this.code = code;
    this.source = source;
    this.status = extra.status;
    this.retryAfterMs = extra.retryAfterMs;
    this.retryable = extra.retryable;
    this.partial = extra.partial;
  }

  /** The shape put on `msg.error`: plain data, JSON-serialisable. */
  toJSON(): { message: string; code: string; source: ErrorSource; status?: number } {
    return { message: this.message, code: this.code, source: this.source, ...(this.status ? { status: this.status } : {}) };
  }
}

/**
 * The failure of one part of a message that was split into `total` parts (a long text): says how
 * many parts went out before it. Other errors, and single-part messages, pass as they are.
 */
export function partFailure(err: unknown, sentBefore: number, total: number): unknown {
  if (total <= 1 || !(err instanceof PipesError)) return err;
  return new PipesError(
    err.code,
    `${err.message} (part ${sentBefore + 1} of ${total}; ${sentBefore} sent before it, the rest not sent)`,
    err.source,
    { status: err.status, partial: sentBefore > 0 },
  );
}

export function badInput(message: string): PipesError {
  return new PipesError(ERROR_CODES.BAD_INPUT, message);
}

/**
 * Turns anything thrown into a PipesError, keeping PipesErrors as they are. Network failures are
 * turned into PipesErrors where they happen (rest.ts), so anything else that arrives here was thrown
 * by code (ours, or a property of the msg that throws): INTERNAL_ERROR, never NETWORK_ERROR.
 */
export function toPipesError(err: unknown): PipesError {
  let message: string;
  try {
    if (err instanceof PipesError) return err;
    message = err instanceof Error ? err.message : String(err);
  } catch {
    // a Proxy or an object whose every property throws: it cannot even be looked at
    message = "an error that cannot be described";
  }
  return new PipesError(ERROR_CODES.INTERNAL_ERROR, `internal error: ${message}`);
}
