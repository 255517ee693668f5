/**
 * The accounts the emulator knows, looked up by API key or id: tenants (`pk_`, pool numbers) and BYON Apps (`ak_`, their own
 * numbers; docs/decisions/0049-emulator-byon-apps.md). Both are a Tenant to the rest of the emulator, so conversations,
 * sockets, queues and media stay per account without a second code path; `app` tells an App apart.
 */
import { DEFAULT_POOL_NUMBER, type AppSpec, type PoolNumberSpec, type TenantSpec } from "./options";

export interface Tenant {
  /** A tenant's userId, or an App's id `app_<slug>` (what its sockets' `connected` frame says). */
  userId: string;
  apiKey: string;
  /** A tenant's pool numbers, or an App's BYON numbers. */
  poolNumbers: PoolNumberSpec[];
  /** Set for a BYON App. */
  app?: { slug: string; name: string };
}

function numberOnly({ id, phoneNumber, label }: PoolNumberSpec): PoolNumberSpec {
  return label === undefined ? { id, phoneNumber } : { id, phoneNumber, label };
}

export const appId = (slug: string): string => `app_${slug}`;

export class TenantRegistry {
  private readonly byKey = new Map<string, Tenant>();
  private readonly byUserId = new Map<string, Tenant>();
  private readonly ordered: Tenant[] = [];
  private readonly appList: Tenant[] = [];

  constructor(specs: TenantSpec[], apps: AppSpec[] = []) {
    for (const spec of specs) {
      // Only the number itself: its delivery setting (with a secret) lives in DeliverySettings and never reaches state().
      const poolNumbers = spec.poolNumbers?.length ? spec.poolNumbers.map(numberOnly) : [{ ...DEFAULT_POOL_NUMBER }];
      const tenant: Tenant = { userId: spec.userId, apiKey: spec.apiKey, poolNumbers };
      this.byKey.set(tenant.apiKey, tenant);
      this.byUserId.set(tenant.userId, tenant);
      this.ordered.push(tenant);
    }
    for (const spec of apps) {
      // Templates stay in the TemplateStore; the registry knows numbers only.
      const app: Tenant = {
        userId: appId(spec.slug),
        apiKey: spec.apiKey,
        poolNumbers: spec.numbers.map(numberOnly),
        app: { slug: spec.slug, name: spec.name ?? spec.slug },
      };
      this.byKey.set(app.apiKey, app);
      this.appList.push(app);
    }
  }

  /** A tenant or an App. Exact match only; the real service checks a bcrypt hash of the full key (docs/protocol.md#api-keys). */
  byApiKey(apiKey: string | null | undefined): Tenant | undefined {
    return apiKey ? this.byKey.get(apiKey) : undefined;
  }

  /** A tenant (never an App) by userId. */
  get(userId: string): Tenant | undefined {
    return this.byUserId.get(userId);
  }

  /** The first tenant: where a message goes that names no key and no number. */
  first(): Tenant {
    return this.ordered[0];
  }

  /** The tenants (pool numbers); Apps are apps(). */
  all(): readonly Tenant[] {
    return this.ordered;
  }

  apps(): readonly Tenant[] {
    return this.appList;
  }

  /** The App that has this BYON number. */
  appOfNumber(numberId: string): Tenant | undefined {
    return this.appList.find((app) => app.poolNumbers.some((p) => p.id === numberId));
  }

  poolNumber(tenant: Tenant, poolNumberId: string): PoolNumberSpec | undefined {
    return tenant.poolNumbers.find((p) => p.id === poolNumberId);
  }

  /** Bearer key from an Authorization header, or undefined. */
  static bearerKey(header: string | undefined): string | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    return match ? match[1] : undefined;
  }
}
