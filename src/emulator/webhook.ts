/**
 * Webhook delivery (docs/protocol.md#webhooks): each inbound message of a pool number in webhook mode is one signed JSON
 * POST, tried immediately, 2 s after a failure and 8 s after a second one, 10 s per attempt (all times multiplied by the
 * webhookTimeScale option). A 2xx delivers it; after the last failure it is recorded as failed and handed to the socket
 * path (live socket or offline queue) exactly as a socket-mode message. Order: docs/decisions/0043-emulator-webhook-order.md;
 * timing details: docs/decisions/0042-emulator-webhook-retries.md.
 *
 * A BYON App's message (its sockets got it already, in parallel) follows the App's own schedule, immediately then 10 s,
 * 60 s and 5 min after each failure, and after the last failure is only recorded as failed: nothing is handed over
 * (docs/decisions/0055-emulator-app-webhooks.md).
 */
import type { ClientRequest, IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { InboundMessage } from "../lib/protocol";
import type { EmulatorContext } from "./context";
import type { WebhookSetting } from "./delivery";
import { newWebhookDeliveryId } from "./ids";
import type { Tenant } from "./tenants";
import type { InboundAnswer, WebhookAttempt, WebhookDeliveryRecord, WebhookTestResult } from "./types";
import { signPayload, SIGNATURE_HEADER } from "../lib/webhook";
import { webhookPayload, webhookTestPayload } from "./webhook-payload";

/** Documented (docs/protocol.md#webhooks): 3 attempts, the pause before each, and the time-out of one attempt. */
export const WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [0, 2_000, 8_000];
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 10_000;
/** A BYON App's schedule: documented "retries after 10 s, 60 s, 5 min", so 4 attempts; the time-out is the pool one (0055). */
export const APP_WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [0, 10_000, 60_000, 300_000];
/** The same header and signature the client checks (src/lib/webhook.ts): one definition of the scheme. */
export const WEBHOOK_SIGNATURE_HEADER = SIGNATURE_HEADER;

/** Deliveries kept for GET /_emulator/webhook-deliveries (oldest dropped), and failures for /webhook-failures. */
const MAX_RECORDS = 500;
const MAX_FAILURES = 1_000;

interface Job {
  record: WebhookDeliveryRecord;
  tenant: Tenant;
  message: InboundMessage;
  body: Buffer;
  headers: Record<string, string>;
  /** The pause before each attempt. */
  delays: readonly number[];
}

interface AttemptResult {
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
}

export class WebhookDispatcher {
  /** Aborted by reset() and stop(): every wait and request in flight ends, nothing is handed over. */
  private controller = unboundedController();
  /** webhookOrder "conversation": per conversation, the running delivery first, then those waiting behind it. */
  private lines = new Map<string, Job[]>();
  private readonly records: WebhookDeliveryRecord[] = [];
  private readonly failures: WebhookDeliveryRecord[] = [];

  constructor(
    private readonly ctx: EmulatorContext,
    /** The socket path: a live socket, else the offline queue. */
    private readonly fallback: (tenant: Tenant, message: InboundMessage) => "live" | "queued",
  ) {}

  /**
   * Starts (or, behind an earlier message of its conversation, lines up) the delivery of one message; returns its record.
   * An App's (`tenant.app`) is the dual kind: its own schedule, and no hand-over to the socket path after the last failure.
   */
  deliver(tenant: Tenant, message: InboundMessage, setting: WebhookSetting, answer?: InboundAnswer): WebhookDeliveryRecord {
    // Built once: every attempt sends the same bytes with the same signature, so a receiver sees exact duplicates.
    const { body, headers } = this.request(webhookPayload(message, answer), setting);
    const record: WebhookDeliveryRecord = {
      deliveryId: newWebhookDeliveryId(),
      messageId: message.messageId,
      conversationId: message.conversationId,
      userId: tenant.userId,
      poolNumberId: message.poolNumberId,
      url: setting.url,
      signed: setting.secret !== undefined,
      state: "pending",
      attempts: [],
      createdAt: this.ctx.clock.now(),
    };
    if (tenant.app) record.dual = true;
    this.keep(this.records, record, MAX_RECORDS);
    const delays = tenant.app ? APP_WEBHOOK_RETRY_DELAYS_MS : WEBHOOK_RETRY_DELAYS_MS;
    const job: Job = { record, tenant, message, body, headers, delays };
    const signal = this.controller.signal;
    if (this.ctx.options().webhookOrder === "parallel") {
      void this.run(job, signal);
      return copy(record);
    }
    const lines = this.lines;
    const line = lines.get(message.conversationId);
    if (line) {
      line.push(job);
      this.ctx.log(`webhook: ${message.messageId} waits behind ${line.length - 1} earlier message(s) of ${message.conversationId}`);
    } else {
      const fresh = [job];
      lines.set(message.conversationId, fresh);
      void this.runLine(lines, message.conversationId, fresh, signal);
    }
    return copy(record);
  }

  /** One test POST (docs/decisions/0046-emulator-webhook-test-call.md): never retried, never recorded as a delivery. */
  async test(tenant: Tenant, pool: Tenant["poolNumbers"][number], setting: WebhookSetting): Promise<WebhookTestResult> {
    const { body, headers } = this.request(webhookTestPayload(pool), setting);
    const at = this.ctx.clock.now();
    const result = await post(setting.url, body, headers, this.timeoutMs(), this.controller.signal);
    const outcome: WebhookTestResult = {
      userId: tenant.userId,
      poolNumberId: pool.id,
      url: setting.url,
      signed: setting.secret !== undefined,
      ok: result.ok,
      durationMs: result.durationMs,
      at,
    };
    if (result.status !== undefined) outcome.status = result.status;
    if (result.error !== undefined) outcome.error = result.error;
    this.ctx.log(`webhook: test ${pool.id} -> ${safeUrl(setting.url)}: ${describe(result)}`);
    this.ctx.emit("webhook-test", { ...outcome });
    return outcome;
  }

  /** Deliveries, oldest first (the last MAX_RECORDS). */
  deliveries(filter: { poolNumberId?: string; conversationId?: string } = {}): WebhookDeliveryRecord[] {
    return this.records.filter((r) => matches(r, filter)).map(copy);
  }

  /** Failed deliveries, oldest first (the last MAX_FAILURES). */
  failed(filter: { poolNumberId?: string; conversationId?: string } = {}): WebhookDeliveryRecord[] {
    return this.failures.filter((r) => matches(r, filter)).map(copy);
  }

  get failureCount(): number {
    return this.failures.length;
  }

  /** reset(): deliveries under way end without a fallback (the queues are forgotten too), and the records go. */
  reset(): void {
    this.abort();
    this.records.length = 0;
    this.failures.length = 0;
  }

  /** stop(): every wait and request in flight ends. */
  shutdown(): void {
    this.abort();
  }

  private abort(): void {
    this.controller.abort();
    this.controller = unboundedController();
    this.lines = new Map();
  }

  private request(payload: Record<string, unknown>, setting: WebhookSetting): { body: Buffer; headers: Record<string, string> } {
    const body = Buffer.from(JSON.stringify(payload), "utf8");
    const headers: Record<string, string> = { "Content-Type": "application/json", "User-Agent": "pipes-emulator" };
    if (setting.secret !== undefined) headers[WEBHOOK_SIGNATURE_HEADER] = signPayload(body, setting.secret);
    // Whether an unsigned POST carries the header at all is UNSTATED (docs/decisions/0044-emulator-webhook-unsigned.md).
    else if (this.ctx.options().webhookUnsignedHeader === "empty") headers[WEBHOOK_SIGNATURE_HEADER] = "";
    return { body, headers };
  }

  private async runLine(lines: Map<string, Job[]>, conversationId: string, line: Job[], signal: AbortSignal): Promise<void> {
    while (line.length > 0 && !signal.aborted) {
      await this.run(line[0], signal);
      line.shift();
    }
    if (lines.get(conversationId) === line) lines.delete(conversationId);
  }

  private async run(job: Job, signal: AbortSignal): Promise<void> {
    const { record } = job;
    const target = safeUrl(record.url);
    try {
      for (let index = 0; index < job.delays.length; index++) {
        // Each pause is read when it starts, so a configure() of webhookTimeScale applies to the next one.
        const pause = job.delays[index] * this.ctx.options().webhookTimeScale;
        if (pause > 0) await sleep(pause, undefined, { signal });
        if (signal.aborted) return;
        const at = this.ctx.clock.now();
        const result = await post(record.url, job.body, job.headers, this.timeoutMs(), signal);
        if (signal.aborted) return;
        const attempt: WebhookAttempt = { attempt: index + 1, at, durationMs: result.durationMs, ok: result.ok };
        if (result.status !== undefined) attempt.status = result.status;
        if (result.error !== undefined) attempt.error = result.error;
        record.attempts.push(attempt);
        this.ctx.log(`webhook: ${record.messageId} -> ${target} attempt ${attempt.attempt}/${job.delays.length}: ${describe(result)}`);
        this.ctx.emit("webhook-attempt", { delivery: copy(record), attempt: { ...attempt } });
        if (result.ok) {
          record.state = "delivered";
          record.finishedAt = this.ctx.clock.now();
          this.ctx.emit("webhook-delivered", copy(record));
          return;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      // Nothing above throws but an aborted pause; a bug must not lose the message, so it falls back like a failure.
      this.ctx.log(`webhook: ${record.messageId} delivery broke: ${error instanceof Error ? error.message : String(error)}`);
    }
    record.state = "failed";
    record.finishedAt = this.ctx.clock.now();
    this.keep(this.failures, record, MAX_FAILURES);
    const failed = `webhook: ${record.messageId} failed after ${record.attempts.length} attempt(s)`;
    if (record.dual) {
      // The App's sockets got it when it arrived: handing it over again would deliver it twice.
      this.ctx.log(`${failed}; the App's sockets had it already`);
    } else {
      record.fallback = this.fallback(job.tenant, job.message);
      this.ctx.log(`${failed}; handed to the socket path: ${record.fallback}`);
    }
    this.ctx.emit("webhook-failed", copy(record));
  }

  private timeoutMs(): number {
    return WEBHOOK_ATTEMPT_TIMEOUT_MS * this.ctx.options().webhookTimeScale;
  }

  private keep(list: WebhookDeliveryRecord[], record: WebhookDeliveryRecord, max: number): void {
    list.push(record);
    if (list.length > max) list.splice(0, list.length - max);
  }
}

/**
 * One POST. Resolves (never rejects) when the status line arrives (ok = 2xx), or with the error: a time-out (no status
 * within `timeoutMs`), a refused connection, a DNS failure, a TLS failure. Redirects are not followed. A fresh connection
 * each time (no keep-alive), so nothing stays open at a receiver between deliveries.
 */
function post(url: string, body: Buffer, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    let req: ClientRequest;
    try {
      const target = new URL(url);
      const send = target.protocol === "https:" ? httpsRequest : httpRequest;
      req = send(target, { method: "POST", headers: { ...headers, "Content-Length": String(body.length) }, agent: false, signal });
    } catch (error) {
      resolve({ ok: false, error: errorText(error), durationMs: elapsed() });
      return;
    }
    let settled = false;
    const finish = (result: Omit<AttemptResult, "durationMs">): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, durationMs: elapsed() });
    };
    const timer = setTimeout(() => {
      finish({ ok: false, error: `timed out after ${Math.round(timeoutMs)} ms` });
      req.destroy();
    }, timeoutMs);
    req.on("response", (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      // The answer's body is not used: read and dropped, and cut off if it does not end within the time-out.
      res.on("error", () => undefined);
      const cutoff = setTimeout(() => res.destroy(), timeoutMs);
      res.on("close", () => clearTimeout(cutoff));
      res.resume();
      finish({ ok: status >= 200 && status < 300, status });
    });
    req.on("error", (error) => finish({ ok: false, error: errorText(error) }));
    req.end(body);
  });
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

function describe(result: AttemptResult): string {
  if (result.status !== undefined) return `${result.status} in ${result.durationMs} ms`;
  return result.error ?? "failed";
}

/** For log lines: scheme, host and path; never the query (it may carry a token) or user info. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(bad URL)";
  }
}

function matches(record: WebhookDeliveryRecord, filter: { poolNumberId?: string; conversationId?: string }): boolean {
  return (
    (filter.poolNumberId === undefined || record.poolNumberId === filter.poolNumberId) &&
    (filter.conversationId === undefined || record.conversationId === filter.conversationId)
  );
}

function copy(record: WebhookDeliveryRecord): WebhookDeliveryRecord {
  return { ...record, attempts: record.attempts.map((a) => ({ ...a })) };
}

/** One signal is shared by every wait and request in flight (hundreds under traffic): no listener limit. */
function unboundedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
