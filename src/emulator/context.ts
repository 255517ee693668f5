/** What the emulator's parts share: current options, the clock, the state, tenants, logging, events. */
import type { EmulatorClock } from "./clock";
import type { ResolvedOptions } from "./options";
import type { EmulatorStore } from "./store";
import type { TenantRegistry } from "./tenants";
import type { EmulatorEvents } from "./types";

export interface EmulatorContext {
  /** Current options; read on every use so configure() applies at once. */
  options(): ResolvedOptions;
  readonly clock: EmulatorClock;
  readonly store: EmulatorStore;
  tenants(): TenantRegistry;
  log(line: string): void;
  /** Emits on the PipesEmulator; a throwing listener is logged, never allowed to break a socket. */
  emit<K extends keyof EmulatorEvents>(event: K, ...args: EmulatorEvents[K]): void;
  /** "http://127.0.0.1:PORT" once started. */
  baseUrl(): string;
}
