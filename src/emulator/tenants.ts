/** The tenants the emulator knows, looked up by API key or userId. */
import { DEFAULT_POOL_NUMBER, type PoolNumberSpec, type TenantSpec } from "./options";

export interface Tenant {
  userId: string;
  apiKey: string;
  poolNumbers: PoolNumberSpec[];
}

function numberOnly({ id, phoneNumber, label }: PoolNumberSpec): PoolNumberSpec {
  return label === undefined ? { id, phoneNumber } : { id, phoneNumber, label };
}

export class TenantRegistry {
  private readonly byKey = new Map<string, Tenant>();
  private readonly byUserId = new Map<string, Tenant>();
  private readonly ordered: Tenant[] = [];

  constructor(specs: TenantSpec[]) {
    for (const spec of specs) {
      // Only the number itself: its delivery setting (with a secret) lives in DeliverySettings and never reaches state().
      const poolNumbers = spec.poolNumbers?.length ? spec.poolNumbers.map(numberOnly) : [{ ...DEFAULT_POOL_NUMBER }];
      const tenant: Tenant = { userId: spec.userId, apiKey: spec.apiKey, poolNumbers };
      this.byKey.set(tenant.apiKey, tenant);
      this.byUserId.set(tenant.userId, tenant);
      this.ordered.push(tenant);
    }
  }

  /** Exact match only; the real service checks a bcrypt hash of the full key (docs/protocol.md#api-keys). */
  byApiKey(apiKey: string | null | undefined): Tenant | undefined {
    return apiKey ? this.byKey.get(apiKey) : undefined;
  }

  get(userId: string): Tenant | undefined {
    return this.byUserId.get(userId);
  }

  first(): Tenant {
    return this.ordered[0];
  }

  all(): readonly Tenant[] {
    return this.ordered;
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
