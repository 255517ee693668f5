/**
 * The bot the process-level tests deploy into real Node-RED processes: pipes-webhook-in (path
 * /pipes/hook) -> a function that "works" for WORK_MS (an environment variable of the process)
 * before it replies -> pipes-reply. HOLD=1 makes the function keep the msg forever (a process killed
 * between receiving and replying). Used by the kill-and-retry and the cluster tests.
 */

export const WEBHOOK_BOT_PATH = "/pipes/hook";

export interface WebhookBotOptions {
  emulatorUrl: string;
  apiKey: string;
  secret: string;
  answer: "handled" | "accepted";
  /** Extra settings of the pipes-config node (e.g. Redis coordination). */
  config?: Record<string, unknown>;
  /** Also a pipes-in on the connection: what the socket brings reaches the same flow. */
  withSocket?: boolean;
}

export function webhookBotFlow(options: WebhookBotOptions): Record<string, unknown>[] {
  return [
    { id: "tab", type: "tab", label: "bot" },
    {
      id: "cfg",
      type: "pipes-config",
      name: "bot",
      baseUrl: options.emulatorUrl,
      scope: "user",
      ...options.config,
      credentials: { apiKey: options.apiKey },
    },
    {
      id: "hook",
      type: "pipes-webhook-in",
      z: "tab",
      connection: "cfg",
      path: WEBHOOK_BOT_PATH,
      answer: options.answer,
      credentials: { secret: options.secret },
      wires: [["work"]],
    },
    ...(options.withSocket ? [{ id: "in", type: "pipes-in", z: "tab", connection: "cfg", wires: [["work"]] }] : []),
    {
      id: "work",
      type: "function",
      z: "tab",
      // The reply says which instance (INSTANCE) answered what: "ok <text> (nr2)".
      func: [
        'if (env.get("HOLD") === "1") { node.warn("holding " + msg.pipes.messageId); return null; }',
        'msg.payload = "ok " + msg.payload + (env.get("INSTANCE") ? " (" + env.get("INSTANCE") + ")" : "");',
        'setTimeout(() => { node.send(msg); node.done(); }, Number(env.get("WORK_MS") || 0));',
        "return null;",
      ].join("\n"),
      outputs: 1,
      wires: [["reply"]],
    },
    { id: "reply", type: "pipes-reply", z: "tab", connection: "cfg", wires: [[], []] },
  ];
}
