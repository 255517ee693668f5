/**
 * A BYON App's webhook (docs/protocol.md#byon-apps, docs/decisions/0055-emulator-app-webhooks.md): one setting per App (the
 * real service keeps it in the App's settings, not per number). An App always delivers to its `ak_` sockets; with
 * `{ mode: "webhook", url, secret? }` each message also goes, in parallel, to the webhook. Set by `apps[].delivery`,
 * emu.setAppDelivery() and PUT /_emulator/app-delivery/:slug; the secret is never read back.
 */
import { checkDeliverySetting, settingInfo, type DeliverySetting, type SettingInfo } from "./delivery";
import { EmulatorNotFoundError } from "./errors";
import type { AppSpec } from "./options";
import { appId, type Tenant, type TenantRegistry } from "./tenants";

/** An App's webhook as the control API and the phone page show it. `mode: "webhook"` means webhook AND sockets. */
export interface AppDeliveryInfo extends SettingInfo {
  /** `app_<slug>`: the userId of its sockets and of its webhook delivery records. */
  appId: string;
  slug: string;
  name: string;
}

const SOCKET: DeliverySetting = Object.freeze({ mode: "socket" });

export class AppDeliverySettings {
  /** By App id; an App without an entry delivers to its sockets only. */
  private readonly settings = new Map<string, DeliverySetting>();

  constructor(private readonly tenants: () => TenantRegistry) {}

  /** Back to what the apps option says: at construction, reset() and configure({ apps }). */
  restore(specs: readonly AppSpec[]): void {
    this.settings.clear();
    for (const spec of specs) if (spec.delivery) this.settings.set(appId(spec.slug), checkDeliverySetting(spec.delivery));
  }

  /** The App a control call names by its slug. */
  resolve(slug: string): Tenant {
    const app = this.tenants()
      .apps()
      .find((a) => a.app?.slug === slug);
    if (!app) throw new EmulatorNotFoundError(`no App ${slug}`);
    return app;
  }

  get(id: string): DeliverySetting {
    return this.settings.get(id) ?? SOCKET;
  }

  set(id: string, setting: DeliverySetting): void {
    if (setting.mode === "socket") this.settings.delete(id);
    else this.settings.set(id, setting);
  }

  info(app: Tenant): AppDeliveryInfo {
    const info: AppDeliveryInfo = {
      appId: app.userId,
      slug: app.app?.slug ?? "",
      name: app.app?.name ?? "",
      mode: "socket",
      secretSet: false,
    };
    return Object.assign(info, settingInfo(this.get(app.userId)));
  }

  /** Every App, in the apps option's order. */
  list(): AppDeliveryInfo[] {
    return this.tenants()
      .apps()
      .map((app) => this.info(app));
  }
}
