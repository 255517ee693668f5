/** All emulator state that reset() forgets: conversations, media, offline queues, the sent and refused logs, message ids. */
import { ConversationStore } from "./conversations";
import { MediaStore } from "./media-store";
import { MessageIndex } from "./message-index";
import { OfflineQueues } from "./offline-queue";
import type { ResolvedOptions } from "./options";
import { RefusedLog } from "./refused-log";
import { SentLog } from "./sent-log";
import type { SentRecord } from "./types";

export class EmulatorStore {
  readonly conversations = new ConversationStore();
  readonly media: MediaStore;
  readonly queues: OfflineQueues;
  readonly sent = new SentLog();
  readonly refused = new RefusedLog();
  readonly messages = new MessageIndex();

  /** `options` is read on every use, so configure() takes effect at once. */
  constructor(options: () => ResolvedOptions) {
    this.media = new MediaStore(options);
    this.queues = new OfflineQueues(options);
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
  }
}
