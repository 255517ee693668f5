/**
 * Emulator options: the public option types, their defaults and their validation.
 *
 * Behaviours docs/protocol.md marks UNSTATED are options here (records in docs/decisions/) instead of hard-coded guesses; the
 * default is the reading we find most likely, and each one says why.
 */
import { LIMITS } from "../lib/protocol";
import { checkDeliverySetting, type DeliverySetting } from "./delivery";
import type { TemplateSeed } from "./types";

export const DEMO_API_KEY = "pk_demo_local_emulator_key_00000000";
/** The demo BYON App's key: published like DEMO_API_KEY, so it only ever works against this emulator. */
export const DEMO_APP_KEY = "ak_demo_local_emulator_key_0000000";

export interface PoolNumberSpec {
  id: string;
  phoneNumber: string;
  label?: string;
  /**
   * How this activation delivers inbound messages: `{ mode: "socket" }` (the default) or `{ mode: "webhook", url, secret? }`
   * (docs/decisions/0041-emulator-webhook-delivery.md). reset() comes back to this.
   */
  delivery?: DeliverySetting;
}

export interface TenantSpec {
  userId: string;
  apiKey: string;
  /** Default when absent or empty: one pool number, DEFAULT_POOL_NUMBER. */
  poolNumbers?: PoolNumberSpec[];
}

/** Pool number ids start with `pn_` (docs/protocol.md#identifiers, client:claude). */
export const DEFAULT_POOL_NUMBER: Readonly<PoolNumberSpec> = { id: "pn_demo1", phoneNumber: "+15550009999" };
export const DEFAULT_TENANT: Readonly<TenantSpec> = { userId: "user_demo", apiKey: DEMO_API_KEY };

/**
 * A BYON App (docs/decisions/0049-emulator-byon-apps.md): an `ak_` key and the business's own numbers, which any WhatsApp
 * user may write to. Its traffic is its own: conversations, sockets and queue are the App's, never a tenant's.
 */
export interface AppSpec {
  /** Unique, URL-safe (lowercase letters, digits, `-`); the App's id on the socket is `app_<slug>`. */
  slug: string;
  /** Display name. Default: the slug. */
  name?: string;
  /** Must start with `ak_` (a `pk_` key is a tenant's). */
  apiKey: string;
  /** The App's BYON numbers; ids like `pn_…`, unique across tenants and Apps. At least one. */
  numbers: AppNumberSpec[];
  /**
   * The App's webhook: `{ mode: "webhook", url, secret? }` delivers each message to it AND to the App's sockets, in parallel;
   * `{ mode: "socket" }` (the default) to the sockets only (docs/decisions/0055-emulator-app-webhooks.md). reset() comes back to this.
   */
  delivery?: DeliverySetting;
}

export interface AppNumberSpec {
  id: string;
  phoneNumber: string;
  label?: string;
  /** The templates this number starts with (and comes back to at reset()). Default DEMO_TEMPLATES. */
  templates?: TemplateSeed[];
}

/** DEFAULT_POOL_NUMBER's sibling: the demo App's one number. */
export const DEFAULT_APP_NUMBER: Readonly<AppNumberSpec> = { id: "pn_app_demo1", phoneNumber: "+15550100200" };
export const DEFAULT_APP: Readonly<AppSpec> = { slug: "demo", name: "Demo App", apiKey: DEMO_APP_KEY, numbers: [DEFAULT_APP_NUMBER] };

export interface EmulatorOptions {
  /** Default: one demo tenant { userId: "user_demo", apiKey: DEMO_API_KEY }. */
  tenants?: TenantSpec[];
  /** BYON Apps. Default: one demo App (DEFAULT_APP, key DEMO_APP_KEY); `[]` for none. */
  apps?: AppSpec[];
  /**
   * How long a created template stays PENDING, on the emulator clock, before it reads APPROVED; UNSTATED
   * (docs/decisions/0050-emulator-templates.md). Default 10 minutes, so the phone page's "+25 h" approves it.
   */
  templateReviewMs?: number;
  /** Pause between drained queue messages (docs/protocol.md#offline-queue). Default 750 ms; tests use 0 or 1. */
  drainPacingMs?: number;
  /** Offline queue length per sender per tenant, oldest dropped (docs/protocol.md#offline-queue). Default 100. */
  queuePerSender?: number;
  /** Offline queue TTL on the emulator clock (docs/protocol.md#offline-queue). Default 24 h. */
  queueTtlMs?: number;
  /** Free-form sends allowed this long after the last inbound message (docs/protocol.md#service-window). Default 24 h. */
  serviceWindowMs?: number;
  /** Stored media lifetime (docs/protocol.md#media-object). Default 48 h. */
  mediaTtlMs?: number;
  /** Presigned download URL lifetime (docs/protocol.md#media-download). Default 5 min. */
  presignedTtlMs?: number;
  /** Largest decoded media for a REST send; the real limit is UNSTATED (docs/decisions/0028-emulator-size-limits.md). Default 64 MiB. */
  maxMediaBytes?: number;
  /** Real-time delay before the storage answers a presigned download (a slow object store). Default 0. */
  storageDelayMs?: number;
  /** Real-time delay before each reply_status frame. Default 0. */
  replyStatusDelayMs?: number;
  /**
   * Reply to a conversation that does not exist or is another tenant's. UNSTATED (docs/decisions/0023-emulator-foreign-conversation-reply.md).
   * Default "silent" (no reply_status at all) because that is the harder case for a client: it must
   * time out on its own. "error" answers reply_status CONVERSATION_NOT_FOUND.
   */
  foreignConversationReply?: "silent" | "error";
  /**
   * Conversation-scoped socket replying to another conversation. The docs say it is "rejected" but
   * not how (docs/decisions/0022-emulator-out-of-scope-reply.md). Default "error": reply_status { success: false, code: "OUT_OF_SCOPE" }.
   */
  outOfScopeReply?: "error" | "silent";
  /** whatsapp_reply without poolNumberId/toNumber -> reply_status INVALID_REQUEST (docs/decisions/0029-emulator-reply-routing-required.md). Default true. */
  requireReplyRouting?: boolean;
  /** Live message with several matching user-scoped sockets: all get it (INFERRED fan-out, docs/decisions/0024-emulator-fan-out.md) or only the oldest. Default "all". */
  fanOut?: "all" | "first";
  /** The draining socket closes mid-drain: UNSTATED (docs/decisions/0025-emulator-drain-on-disconnect.md). Default "requeue" the rest, so no message is lost. */
  drainOnDisconnect?: "requeue" | "drop";
  /**
   * POST /v1/messages/passthrough: check the limits only third-party SDK docs state (SOFT_MESSAGE_LIMITS: list button label,
   * section title, link button text) as Meta would refuse them, or let them through (docs/decisions/0035-emulator-passthrough-validation.md).
   * Default "enforce": a client that keeps to them works either way.
   */
  softLimits?: "enforce" | "ignore";
  /**
   * The first-party client's `whatsapp_reaction` socket frame, not in the public docs: "accept" (default) sends it and answers
   * reply_status like a reply; "refuse" answers reply_status UNSUPPORTED_FRAME (docs/decisions/0036-emulator-reaction-and-media-frames.md).
   */
  reactionFrame?: "accept" | "refuse";
  /** The same for the first-party client's `whatsapp_media_reply` socket frame. Default "accept". */
  mediaReplyFrame?: "accept" | "refuse";
  /**
   * Largest frame a client may send; a bigger one closes its socket (1009). UNSTATED; the first-party client sends media replies
   * of up to 50 MB as one frame (docs/decisions/0037-emulator-frame-size.md). Default 64 MiB. Applies to sockets opened after a change.
   */
  maxFrameBytes?: number;
  /**
   * How an injected answer to buttons or a list reaches the socket; UNSTATED (docs/decisions/0038-emulator-interactive-answers.md).
   * "meta" (default): Meta's webhook shape (`type: "interactive"` with `button_reply`/`list_reply`, or `type: "button"` for a
   * template button, and `context.id`); "flat": `type: "button_reply" | "list_reply" | "template_button"`, `answer`, `replyTo`.
   */
  answerShape?: "meta" | "flat";
  /**
   * Multiplies the documented webhook timing (attempts immediately, 2 s and 8 s after a failure; 10 s per attempt) so tests
   * need not wait 30 s (docs/decisions/0042-emulator-webhook-retries.md). Default 1; tests use e.g. 0.01.
   */
  webhookTimeScale?: number;
  /**
   * Webhook deliveries of one conversation: "conversation" (default) one at a time in order, a message's attempts all
   * ending before the next message starts; "parallel" every message on its own, so a retried one may arrive after later
   * ones. UNSTATED (docs/decisions/0043-emulator-webhook-order.md).
   */
  webhookOrder?: "conversation" | "parallel";
  /**
   * A webhook POST without a secret: "omit" (default) sends no X-Pipes-Signature header, "empty" sends it empty. UNSTATED
   * (docs/decisions/0044-emulator-webhook-unsigned.md).
   */
  webhookUnsignedHeader?: "omit" | "empty";
  /** Receives one human-readable line per notable event. Default: no logging. */
  log?: (line: string) => void;
}

export type ResolvedOptions = Required<Omit<EmulatorOptions, "log" | "tenants" | "apps">> & {
  tenants: TenantSpec[];
  apps: AppSpec[];
  log: (line: string) => void;
};

function defaults(): ResolvedOptions {
  return {
    tenants: [{ ...DEFAULT_TENANT }],
    apps: [{ ...DEFAULT_APP }],
    templateReviewMs: 10 * 60 * 1000,
    drainPacingMs: LIMITS.offlineDrainPacingMs,
    queuePerSender: LIMITS.offlineQueuePerSender,
    queueTtlMs: LIMITS.offlineQueueTtlMs,
    serviceWindowMs: LIMITS.serviceWindowMs,
    mediaTtlMs: LIMITS.mediaTtlMs,
    presignedTtlMs: LIMITS.presignedUrlTtlMs,
    maxMediaBytes: 64 * 1024 * 1024,
    replyStatusDelayMs: 0,
    storageDelayMs: 0,
    foreignConversationReply: "silent",
    outOfScopeReply: "error",
    requireReplyRouting: true,
    fanOut: "all",
    drainOnDisconnect: "requeue",
    softLimits: "enforce",
    reactionFrame: "accept",
    mediaReplyFrame: "accept",
    maxFrameBytes: 64 * 1024 * 1024,
    answerShape: "meta",
    webhookTimeScale: 1,
    webhookOrder: "conversation",
    webhookUnsignedHeader: "omit",
    log: () => undefined,
  };
}

const NON_NEGATIVE_NUMBERS = [
  "drainPacingMs",
  "queueTtlMs",
  "serviceWindowMs",
  "mediaTtlMs",
  "presignedTtlMs",
  "replyStatusDelayMs",
  "storageDelayMs",
  "templateReviewMs",
] as const;
const POSITIVE_INTEGERS = ["queuePerSender", "maxMediaBytes", "maxFrameBytes"] as const;
const POSITIVE_NUMBERS = ["webhookTimeScale"] as const;

const CHOICES: { [K in keyof EmulatorOptions]?: readonly string[] } = {
  foreignConversationReply: ["silent", "error"],
  outOfScopeReply: ["error", "silent"],
  fanOut: ["all", "first"],
  drainOnDisconnect: ["requeue", "drop"],
  softLimits: ["enforce", "ignore"],
  reactionFrame: ["accept", "refuse"],
  mediaReplyFrame: ["accept", "refuse"],
  answerShape: ["meta", "flat"],
  webhookOrder: ["conversation", "parallel"],
  webhookUnsignedHeader: ["omit", "empty"],
};

/** Throws a RangeError naming the first bad option; unknown keys are ignored like any options bag. */
function validate(partial: Partial<EmulatorOptions>): void {
  for (const key of NON_NEGATIVE_NUMBERS) {
    const value = partial[key];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`option ${key} must be a finite number >= 0`);
    }
  }
  for (const key of POSITIVE_INTEGERS) {
    const value = partial[key];
    if (value !== undefined && !(typeof value === "number" && Number.isInteger(value) && value > 0)) {
      throw new RangeError(`option ${key} must be an integer > 0`);
    }
  }
  for (const key of POSITIVE_NUMBERS) {
    const value = partial[key];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value > 0)) {
      throw new RangeError(`option ${key} must be a finite number > 0`);
    }
  }
  for (const [key, allowed] of Object.entries(CHOICES)) {
    const value = partial[key as keyof EmulatorOptions];
    if (value !== undefined && !allowed.includes(value as string)) {
      throw new RangeError(`option ${key} must be one of ${allowed.join(", ")}`);
    }
  }
  if (partial.requireReplyRouting !== undefined && typeof partial.requireReplyRouting !== "boolean") {
    throw new RangeError("option requireReplyRouting must be a boolean");
  }
  if (partial.log !== undefined && typeof partial.log !== "function") {
    throw new RangeError("option log must be a function");
  }
  if (partial.tenants !== undefined) validateTenants(partial.tenants);
  if (partial.apps !== undefined) validateApps(partial.apps);
}

const SLUG = /^[a-z0-9][a-z0-9-]*$/;

function validateApps(apps: AppSpec[]): void {
  if (!Array.isArray(apps)) throw new RangeError("option apps must be an array");
  const slugs = new Set<string>();
  const keys = new Set<string>();
  for (const app of apps) {
    if (!app || typeof app.slug !== "string" || !SLUG.test(app.slug)) {
      throw new RangeError("every app needs a slug of lowercase letters, digits and -");
    }
    if (slugs.has(app.slug)) throw new RangeError(`app slug ${app.slug} is used twice`);
    slugs.add(app.slug);
    if (app.name !== undefined && typeof app.name !== "string") throw new RangeError(`app ${app.slug}: name must be a string`);
    // Names the App, never the key (keys must not reach logs or error text).
    if (typeof app.apiKey !== "string" || !app.apiKey.startsWith("ak_"))
      throw new RangeError(`app ${app.slug} needs an apiKey starting with ak_`);
    if (keys.has(app.apiKey)) throw new RangeError(`app ${app.slug} reuses another app's apiKey`);
    keys.add(app.apiKey);
    if (!Array.isArray(app.numbers) || app.numbers.length === 0) throw new RangeError(`app ${app.slug} needs at least one number`);
    for (const number of app.numbers) {
      if (!number || typeof number.id !== "string" || number.id === "" || typeof number.phoneNumber !== "string") {
        throw new RangeError(`app ${app.slug} has a number without id or phoneNumber`);
      }
      if (number.templates !== undefined && !Array.isArray(number.templates)) {
        throw new RangeError(`app ${app.slug} number ${number.id}: templates must be an array`);
      }
    }
    if (app.delivery !== undefined) checkDeliverySetting(app.delivery, `app ${app.slug} delivery`);
  }
}

/** Keys and number ids are looked up across tenants and Apps, so neither may repeat between them. */
function validateAcross(tenants: TenantSpec[], apps: AppSpec[]): void {
  const tenantKeys = new Set(tenants.map((t) => t.apiKey));
  const tenantNumbers = new Set(tenants.flatMap((t) => (t.poolNumbers?.length ? t.poolNumbers : [DEFAULT_POOL_NUMBER]).map((p) => p.id)));
  const appNumbers = new Set<string>();
  for (const app of apps) {
    if (tenantKeys.has(app.apiKey)) throw new RangeError(`app ${app.slug} reuses a tenant's apiKey`);
    for (const number of app.numbers) {
      if (tenantNumbers.has(number.id) || appNumbers.has(number.id))
        throw new RangeError(`app ${app.slug} number id ${number.id} is used twice`);
      appNumbers.add(number.id);
    }
  }
}

function validateTenants(tenants: TenantSpec[]): void {
  if (!Array.isArray(tenants) || tenants.length === 0) throw new RangeError("option tenants must be a non-empty array");
  const keys = new Set<string>();
  const userIds = new Set<string>();
  for (const tenant of tenants) {
    if (!tenant || typeof tenant.userId !== "string" || tenant.userId === "") {
      throw new RangeError("every tenant needs a non-empty userId");
    }
    if (typeof tenant.apiKey !== "string" || tenant.apiKey === "") {
      throw new RangeError(`tenant ${tenant.userId} needs a non-empty apiKey`);
    }
    // Names the tenant, never the key (keys must not reach logs or error text).
    if (keys.has(tenant.apiKey)) throw new RangeError(`tenant ${tenant.userId} reuses another tenant's apiKey`);
    if (userIds.has(tenant.userId)) throw new RangeError(`tenant userId ${tenant.userId} is used twice`);
    keys.add(tenant.apiKey);
    userIds.add(tenant.userId);
    for (const pool of tenant.poolNumbers ?? []) {
      if (!pool || typeof pool.id !== "string" || pool.id === "" || typeof pool.phoneNumber !== "string") {
        throw new RangeError(`tenant ${tenant.userId} has a pool number without id or phoneNumber`);
      }
      if (pool.delivery !== undefined) checkDeliverySetting(pool.delivery, `tenant ${tenant.userId} pool number ${pool.id} delivery`);
    }
  }
}

/** Merges options onto a base (the defaults at construction, the current options on configure). */
export function resolveOptions(partial: Partial<EmulatorOptions> = {}, base: ResolvedOptions = defaults()): ResolvedOptions {
  validate(partial);
  const merged: ResolvedOptions = { ...base };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  if (partial.tenants !== undefined || partial.apps !== undefined) validateAcross(merged.tenants, merged.apps);
  return merged;
}
