import { EventEmitter } from "node:events";
import { get, type ClientRequest, type IncomingMessage } from "node:http";
import { waitUntil } from "./wait";

export interface SseEvent {
  event: string;
  data: any;
}

/**
 * A minimal EventSource for the emulator's live feed (GET /_emulator/events): collects the parsed
 * events and the raw text; `next` takes the first event not yet taken that matches.
 */
export class SseClient extends EventEmitter {
  readonly events: SseEvent[] = [];
  /** Everything received, as text (to check what never appears in it). */
  text = "";
  ended = false;
  private taken = 0;

  private constructor(
    private readonly request: ClientRequest,
    readonly response: IncomingMessage,
  ) {
    super();
    let buffer = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      this.text += chunk;
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data !== undefined) this.events.push({ event, data: JSON.parse(data) });
        this.emit("change");
      }
    });
    response.on("end", () => {
      this.ended = true;
      this.emit("change");
    });
  }

  static open(url: string): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const request = get(`${url}/_emulator/events`, (response) => resolve(new SseClient(request, response)));
      request.on("error", reject);
    });
  }

  /** The next event named `event` (after those already taken) for which `match` holds. */
  next(event: string, match: (data: any) => boolean = () => true, timeoutMs = 3000): Promise<any> {
    return waitUntil(
      `SSE '${event}'`,
      () => {
        for (let i = this.taken; i < this.events.length; i++) {
          if (this.events[i].event === event && match(this.events[i].data)) {
            this.taken = i + 1;
            return this.events[i].data as unknown;
          }
        }
        return undefined;
      },
      this,
      ["change"],
      timeoutMs,
    );
  }

  close(): void {
    this.request.destroy();
  }
}
