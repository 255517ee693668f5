/**
 * All emulator state that reset() forgets: conversations, media, offline queues, the sent and refused logs, message ids;
 * the Apps' templates go back to their seeds.
 */
import { ConversationStore } from "./conversations";
import { MediaStore } from "./media-store";
import { MessageIndex } from "./message-index";
import { OfflineQueues } from "./offline-queue";
import type { ResolvedOptions } from "./options";
import { RefusedLog } from "./refused-log";
import { SentLog } from "./sent-log";
import { TemplateStore } from "./templates";
import type { SentRecord } from "./types";

export class EmulatorStore {
  readonly conversations = new ConversationStore();
  readonly media: MediaStore;
  readonly queues: OfflineQueues;
  readonly sent = new SentLog();
  readonly refused = new RefusedLog();
  readonly messages = new MessageIndex();
  readonly templates: TemplateStore;

  /** `options` is read on every use, so configure() takes effect at once. */
  constructor(private readonly options: () => ResolvedOptions) {
    this.media = new MediaStore(options);
    this.queues = new OfflineQueues(options);
    this.templates = new TemplateStore(() => options().templateReviewMs);
    this.templates.restore(options().apps);
  }

  /** Every successful send goes through here: the sent log, and its wamid for reactions. */
  recordSent(record: SentRecord): void {
    this.sent.add(record);
    this.messages.addOutbound(record.conversationId, record.messageId);
  }

  reset(): void {
    this.conversations.clear();
    this.media.clear();
    this.queues.clear();
    this.sent.clear();
    this.refused.clear();
    this.messages.clear();
    this.templates.restore(this.options().apps);
  }
}
