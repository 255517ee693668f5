/** Every send the emulator refused, oldest first (reset() forgets them, like the sent log). */
import type { RefusedRecord } from "./types";

/** Refused text is kept for display only: an over-long text (TEXT_TOO_LONG) is cut to this length. */
export const REFUSED_TEXT_KEEP = 4100;

export class RefusedLog {
  private readonly records: RefusedRecord[] = [];

  add(record: RefusedRecord): RefusedRecord {
    const kept = { ...record };
    if (kept.text !== undefined && kept.text.length > REFUSED_TEXT_KEEP) kept.text = `${kept.text.slice(0, REFUSED_TEXT_KEEP)}…`;
    this.records.push(kept);
    return structuredClone(kept);
  }

  list(filter: { conversationId?: string } = {}): RefusedRecord[] {
    const matching = filter.conversationId ? this.records.filter((r) => r.conversationId === filter.conversationId) : this.records;
    return matching.map((r) => structuredClone(r));
  }

  clear(): void {
    this.records.length = 0;
  }
}
