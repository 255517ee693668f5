/** The local Pipes.bot API emulator: programmatic API. The CLI lives in cli.ts. */
export { PipesEmulator } from "./server";
export { DEMO_API_KEY, DEMO_APP_KEY, DEFAULT_APP, DEFAULT_APP_NUMBER, DEFAULT_POOL_NUMBER, DEFAULT_TENANT } from "./options";
export type { AppNumberSpec, AppSpec, EmulatorOptions, PoolNumberSpec, TenantSpec } from "./options";
export type {
  ClientFrameType,
  ConnectionInfo,
  EmulatorEvents,
  FrameReplyEvent,
  InboundAnswer,
  InboundOutcome,
  InjectInput,
  RefusedRecord,
  ReplyEvent,
  SentKind,
  SentMedia,
  SentRecord,
  WebhookAttempt,
  WebhookDeliveryRecord,
  WebhookTestResult,
} from "./types";
export type { DeliveryInfo, DeliveryInput, DeliverySetting, SettingInfo, WebhookSetting } from "./delivery";
export type { AppDeliveryInfo } from "./app-delivery";
export type { WebhookTestTarget } from "./server";
export { APP_WEBHOOK_RETRY_DELAYS_MS, WEBHOOK_ATTEMPT_TIMEOUT_MS, WEBHOOK_RETRY_DELAYS_MS, WEBHOOK_SIGNATURE_HEADER } from "./webhook";
export type { FeedEvent, FeedStatus } from "./event-feed";
export type { EmulatorState } from "./control-api";
export type { InjectedSendFailure } from "./rest-api";
export { EmulatorInputError, EmulatorNotFoundError } from "./errors";
