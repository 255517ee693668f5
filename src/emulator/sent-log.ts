/** Everything the bot sent successfully, oldest first. */
import type { SentRecord } from "./types";

export class SentLog {
  private readonly records: SentRecord[] = [];

  add(record: SentRecord): void {
    this.records.push(record);
  }

  list(filter: { conversationId?: string } = {}): SentRecord[] {
    const matching = filter.conversationId ? this.records.filter((r) => r.conversationId === filter.conversationId) : this.records;
    // Copies, so a caller cannot edit the log.
    return matching.map((r) => structuredClone(r));
  }

  clear(): void {
    this.records.length = 0;
  }
}
