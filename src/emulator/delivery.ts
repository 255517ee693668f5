/**
 * How each pool number activation delivers inbound messages (docs/protocol.md#webhooks): over the socket (the default) or
 * by signed webhook POSTs. Set by the tenants option (`poolNumbers[].delivery`), emu.setDelivery() and
 * PUT /_emulator/delivery/:poolNumberId (docs/decisions/0041-emulator-webhook-delivery.md). The secret is never read back:
 * the info only says whether one is set.
 */
import { isIP } from "node:net";
import { EmulatorNotFoundError } from "./errors";
import type { TenantSpec } from "./options";
import type { Tenant, TenantRegistry } from "./tenants";

/** A webhook secret's length (docs/protocol.md#webhooks). */
export const WEBHOOK_SECRET_MIN = 16;
export const WEBHOOK_SECRET_MAX = 256;

export type DeliverySetting = { mode: "socket" } | WebhookSetting;

export interface WebhookSetting {
  mode: "webhook";
  /** http: or https:. Loopback and private addresses are allowed here; the real service refuses them. */
  url: string;
  /** 16 to 256 characters; without one the POSTs are unsigned (webhookUnsignedHeader). */
  secret?: string;
}

/** What setDelivery() takes: a setting, or a webhook that keeps the secret already set. */
export type DeliveryInput = DeliverySetting | { mode: "webhook"; url: string; keepSecret: true };

/** A delivery setting as the control API and the phone page show it: never the secret. */
export interface SettingInfo {
  mode: "socket" | "webhook";
  url?: string;
  secretSet: boolean;
  /** The URL names loopback or a private address: allowed by the emulator, refused by the real service. */
  privateTarget?: boolean;
}

/** A pool number's delivery as the control API and the phone page show it: never the secret. */
export interface DeliveryInfo extends SettingInfo {
  userId: string;
  poolNumberId: string;
  phoneNumber: string;
  label?: string;
}

const SOCKET: DeliverySetting = Object.freeze({ mode: "socket" });

/** Checks and copies a delivery setting; throws a RangeError naming what is wrong (never the secret). */
export function checkDeliverySetting(value: unknown, where = "delivery"): DeliverySetting {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new RangeError(`${where} must be an object`);
  const setting = value as Record<string, unknown>;
  if (setting.mode === "socket") return { mode: "socket" };
  if (setting.mode !== "webhook") throw new RangeError(`${where}.mode must be "socket" or "webhook"`);
  const url = checkWebhookUrl(setting.url, `${where}.url`);
  const secret = checkSecret(setting.secret, `${where}.secret`);
  return secret === undefined ? { mode: "webhook", url } : { mode: "webhook", url, secret };
}

export function checkWebhookUrl(value: unknown, where = "url"): string {
  if (typeof value !== "string" || value === "") throw new RangeError(`${where} must be an http or https URL`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(`${where} must be an http or https URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError(`${where} must be an http or https URL`);
  return url.toString();
}

export function checkSecret(value: unknown, where = "secret"): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length < WEBHOOK_SECRET_MIN || value.length > WEBHOOK_SECRET_MAX) {
    throw new RangeError(`${where} must be a string of ${WEBHOOK_SECRET_MIN} to ${WEBHOOK_SECRET_MAX} characters`);
  }
  return value;
}

/** What a setting shows from outside: the mode, the URL and whether it is private, whether a secret is set; never the secret. */
export function settingInfo(setting: DeliverySetting): SettingInfo {
  const info: SettingInfo = { mode: setting.mode, secretSet: setting.mode === "webhook" && setting.secret !== undefined };
  if (setting.mode === "webhook") {
    info.url = setting.url;
    if (isPrivateTarget(setting.url)) info.privateTarget = true;
  }
  return info;
}

/**
 * Checks a setDelivery-style input against the setting in force: `keepSecret: true` takes the current secret (the phone
 * page cannot read it back), and is refused when there is none. `name` says whose setting it is, for the error.
 */
export function resolveDeliveryInput(input: DeliveryInput, current: DeliverySetting, name: string): DeliverySetting {
  let value: unknown = input;
  if (typeof input === "object" && input !== null && "keepSecret" in input && input.keepSecret === true) {
    if (current.mode !== "webhook" || current.secret === undefined) throw new RangeError(`keepSecret: ${name} has no secret to keep`);
    const { keepSecret: _keep, ...rest } = input;
    value = { ...rest, secret: current.secret };
  }
  return checkDeliverySetting(value);
}

/** A one-line description of a setting for the log: the URL's origin only (its path or query may carry a token). */
export function describeSetting(info: SettingInfo): string {
  return info.url ? `${info.mode} ${new URL(info.url).origin} ${info.secretSet ? "signed" : "unsigned"}` : info.mode;
}

/**
 * Whether a URL's host is loopback, private, link-local or unspecified, judged from the name or literal address alone (no
 * DNS): the real service refuses such targets, the emulator only says so.
 */
export function isPrivateTarget(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const version = isIP(host);
  if (version === 4) {
    const [a, b] = host.split(".").map(Number);
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  if (version === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped) return isPrivateTarget(`http://${mapped[1]}/`);
    return host === "::" || host === "::1" || /^f[cd]/.test(host) || /^fe[89ab]/.test(host);
  }
  return false;
}

/** The delivery setting of every pool number activation, keyed by tenant and pool number. */
export class DeliverySettings {
  private readonly settings = new Map<string, DeliverySetting>();

  constructor(private readonly tenants: () => TenantRegistry) {}

  /** Back to what the tenants option says: at construction, reset() and configure({ tenants }). */
  restore(specs: readonly TenantSpec[]): void {
    this.settings.clear();
    for (const spec of specs) {
      for (const pool of spec.poolNumbers ?? []) {
        if (pool.delivery) this.settings.set(key(spec.userId, pool.id), checkDeliverySetting(pool.delivery));
      }
    }
  }

  /**
   * The tenant and pool number a control call names: the tenant `userId` when given, else the first tenant that has the
   * pool number (a pool number is a shared number: several tenants may have activated it).
   */
  resolve(poolNumberId: string, userId?: string): { tenant: Tenant; pool: Tenant["poolNumbers"][number] } {
    const registry = this.tenants();
    const candidates = userId === undefined ? registry.all() : [registry.get(userId)].filter((t): t is Tenant => t !== undefined);
    if (userId !== undefined && candidates.length === 0) throw new EmulatorNotFoundError(`no tenant ${userId}`);
    for (const tenant of candidates) {
      const pool = registry.poolNumber(tenant, poolNumberId);
      if (pool) return { tenant, pool };
    }
    throw new EmulatorNotFoundError(`no pool number ${poolNumberId}${userId === undefined ? "" : ` for ${userId}`}`);
  }

  get(userId: string, poolNumberId: string): DeliverySetting {
    return this.settings.get(key(userId, poolNumberId)) ?? SOCKET;
  }

  set(userId: string, poolNumberId: string, setting: DeliverySetting): void {
    if (setting.mode === "socket") this.settings.delete(key(userId, poolNumberId));
    else this.settings.set(key(userId, poolNumberId), setting);
  }

  info(tenant: Tenant, pool: Tenant["poolNumbers"][number]): DeliveryInfo {
    const info: DeliveryInfo = {
      userId: tenant.userId,
      poolNumberId: pool.id,
      phoneNumber: pool.phoneNumber,
      mode: "socket",
      secretSet: false,
    };
    if (pool.label !== undefined) info.label = pool.label;
    return Object.assign(info, settingInfo(this.get(tenant.userId, pool.id)));
  }

  /** Every pool number of every tenant, in the tenants' order. */
  list(): DeliveryInfo[] {
    return this.tenants()
      .all()
      .flatMap((tenant) => tenant.poolNumbers.map((pool) => this.info(tenant, pool)));
  }
}

function key(userId: string, poolNumberId: string): string {
  return `${userId}\u0000${poolNumberId}`;
}
