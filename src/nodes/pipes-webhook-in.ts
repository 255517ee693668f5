import type { Node, NodeAPI } from "node-red";
import { shortText } from "../lib/redact";
import { inboundFromWebhook, SIGNATURE_HEADER, verifySignature } from "../lib/webhook";
import { configFor } from "./shared/connection";
import { credentialValue } from "./shared/credentials";
import { RAW_BODY, addRawPostRoute, type RawRoute } from "./shared/http-route";
import { nodeStrings } from "./shared/i18n";
import { messageReceiver } from "./shared/receiver";
import { nodeNumbers } from "./shared/settings";
import { misconfiguredStatus } from "./shared/status";
import type { UsesConnection } from "./shared/types";

interface PipesWebhookInDef extends UsesConnection {
  /** The route under Node-RED's httpNodeRoot, e.g. /pipes/webhook. */
  path?: string;
  types?: string[] | string;
  downloadMedia?: boolean;
  maxMediaMB?: number | string;
}

interface Credentials {
  /** The webhook secret set in the Pipes dashboard (`${ENV}` reads the environment). */
  secret?: string;
}

interface Request {
  [RAW_BODY]?: Buffer;
  headers: Record<string, string | string[] | undefined>;
}
interface Response {
  status(code: number): { json(body: unknown): void };
}

const PATH_PATTERN = /^\/?[A-Za-z0-9._~\-/]+$/;

/**
 * pipes-webhook-in: Pipes.bot's webhook delivery (the at-least-once path: Pipes retries until it
 * gets a 2xx). Verifies X-Pipes-Signature on the exact request bytes before anything else, turns
 * the Meta-shaped payload into the socket's message (src/lib/webhook.ts), drops a message the
 * connection has already delivered (by webhook or socket), and emits exactly the msg pipes-in
 * emits (shared/receiver.ts). Answers 200 once the message is accepted.
 */
const nodeInit = (RED: NodeAPI): void => {
  const { t, common } = nodeStrings(RED, "pipes-webhook-in");

  function PipesWebhookIn(this: Node<Credentials>, def: PipesWebhookInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const { values, problem: settingProblem } = nodeNumbers(common, def, ["maxMediaMB"]);
    const { config, problem } = configFor(RED, def.connection, common);
    const client = settingProblem ? undefined : config?.client;
    const rawPath = String(def.path ?? "").trim();
    const routesDisabled = RED.settings.httpNodeRoot === false;
    const why =
      settingProblem ??
      (client ? undefined : (problem ?? common("status.no-connection"))) ??
      (routesDisabled ? t("problems.routes-disabled") : undefined) ??
      (PATH_PATTERN.test(rawPath) ? undefined : t("problems.path"));
    if (why || !client) {
      node.status(misconfiguredStatus(why ?? common("status.no-connection")));
      if (def.connection) node.error(t("problems.cannot-start", { why: why ?? "" }));
      return;
    }
    const path = rawPath.startsWith("/") ? rawPath : `/${rawPath}`;
    const secret = credentialValue(RED, node, node.credentials?.secret);
    if (!secret) node.warn(t("warnings.no-secret", { path }));
    if ((RED.settings as { httpNodeAuth?: unknown }).httpNodeAuth) node.warn(t("warnings.node-auth"));

    const receive = messageReceiver(RED, node, client, {
      types: def.types,
      downloadMedia: def.downloadMedia,
      maxBytes: Math.max(1, Math.floor(values.maxMediaMB * 1024 * 1024)),
      t,
    });

    const counts = { received: 0, refused: 0 };
    const loggedKinds = new Set<string>();
    // A refusal shows at once; the count of deliveries at most every 250 ms (a status and its
    // translation per request would cost more than the request at thousands a second).
    let countShownAt = 0;
    const show = (refusedCode?: number) => {
      if (refusedCode) {
        node.status({
          fill: "red",
          shape: "ring",
          text: t("status.refused", { code: refusedCode, received: counts.received, refused: counts.refused }),
        });
        countShownAt = 0;
        return;
      }
      const now = Date.now();
      if (now - countShownAt < 250) return;
      countShownAt = now;
      node.status({ fill: "green", shape: "dot", text: t("status.received", { received: counts.received }) });
    };
    const refuse = (res: Response, code: number, message: string) => {
      counts.refused++;
      show(code);
      res.status(code).json({ error: message });
    };

    const handler = (req: Request, res: Response) => {
      const raw = req[RAW_BODY];
      // Fail closed: without the exact bytes no signature can be checked.
      if (!Buffer.isBuffer(raw)) return refuse(res, 500, "the request body could not be read");
      if (secret && !verifySignature(raw, req.headers[SIGNATURE_HEADER], secret))
        return refuse(res, 401, "missing or wrong X-Pipes-Signature");
      let payload: unknown;
      try {
        payload = JSON.parse(raw.toString("utf8"));
      } catch {
        return refuse(res, 400, "the body is not JSON");
      }
      const parsed = inboundFromWebhook(payload);
      if (!parsed.ok) {
        // Once per kind: a misconfigured sender must not flood the log.
        if (!loggedKinds.has(parsed.kind) && loggedKinds.size < 20) {
          loggedKinds.add(parsed.kind);
          node.warn(t("warnings.bad-payload", { reason: parsed.reason }));
        }
        return refuse(res, 400, parsed.reason);
      }
      counts.received++;
      show();
      const message = parsed.message;
      // A delivery without a message (the dashboard's test call) and a message already delivered
      // (a webhook retry, or the socket's fallback copy) are answered, not emitted again.
      if (message && client.acceptInbound(message)) receive(message);
      else if (message) node.debug(`dropped a repeated delivery of ${shortText(message.messageId)}`);
      res.status(200).json({ ok: true });
    };

    const route: RawRoute = addRawPostRoute(RED, path, handler);
    node.status({ fill: "grey", shape: "dot", text: t("status.listening", { path: route.fullPath }) });
    const onStarted = () => {
      if (route.shadowed()) node.warn(t("warnings.shadowed", { path }));
    };
    RED.events.on("flows:started", onStarted);

    node.on("close", (_removed: boolean, done: () => void) => {
      RED.events.removeListener("flows:started", onStarted);
      route.remove();
      done();
    });
  }

  RED.nodes.registerType<Node<Credentials>, PipesWebhookInDef, unknown, Credentials>("pipes-webhook-in", PipesWebhookIn, {
    credentials: { secret: { type: "password" } },
  });
};

export = nodeInit;
