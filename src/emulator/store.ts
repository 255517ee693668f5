/** All emulator state that reset() forgets: conversations, media, offline queues, the sent and refused logs. */
import { ConversationStore } from "./conversations";
import { MediaStore } from "./media-store";
import { OfflineQueues } from "./offline-queue";
import type { ResolvedOptions } from "./options";
import { RefusedLog } from "./refused-log";
import { SentLog } from "./sent-log";

export class EmulatorStore {
  readonly conversations = new ConversationStore();
  readonly media: MediaStore;
  readonly queues: OfflineQueues;
  readonly sent = new SentLog();
  readonly refused = new RefusedLog();

  /** `options` is read on every use, so configure() takes effect at once. */
  constructor(options: () => ResolvedOptions) {
    this.media = new MediaStore(options);
    this.queues = new OfflineQueues(options);
  }

  reset(): void {
    this.conversations.clear();
    this.media.clear();
    this.queues.clear();
    this.sent.clear();
    this.refused.clear();
  }
}
