/** All emulator state that reset() forgets: conversations, media, offline queues and the sent log. */
import { ConversationStore } from "./conversations";
import { MediaStore } from "./media-store";
import { OfflineQueues } from "./offline-queue";
import type { ResolvedOptions } from "./options";
import { SentLog } from "./sent-log";

export class EmulatorStore {
  readonly conversations = new ConversationStore();
  readonly media: MediaStore;
  readonly queues: OfflineQueues;
  readonly sent = new SentLog();

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
  }
}
