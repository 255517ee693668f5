/** The local Pipes.bot API emulator: programmatic API. The CLI lives in cli.ts. */
export { PipesEmulator } from "./server";
export { DEMO_API_KEY, DEFAULT_POOL_NUMBER, DEFAULT_TENANT } from "./options";
export type { EmulatorOptions, PoolNumberSpec, TenantSpec } from "./options";
export type {
  ClientFrameType,
  ConnectionInfo,
  EmulatorEvents,
  FrameReplyEvent,
  InboundAnswer,
  InjectInput,
  RefusedRecord,
  ReplyEvent,
  SentKind,
  SentMedia,
  SentRecord,
} from "./types";
export type { FeedEvent, FeedStatus } from "./event-feed";
export type { EmulatorState } from "./control-api";
export type { InjectedSendFailure } from "./rest-api";
export { EmulatorInputError } from "./errors";
