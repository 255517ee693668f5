import type { Node, NodeAPI, NodeMessageInFlow } from "node-red";
import type { ClaimResult } from "../lib/coordination";
import { answeredMessageId, type HandlingOutcome } from "../lib/handling";
import type { InboundMessage } from "../lib/protocol";
import { shortText } from "../lib/redact";
import { inboundFromWebhook, SIGNATURE_HEADER, verifySignature } from "../lib/webhook";
import { configFor } from "./shared/connection";
import { credentialValue } from "./shared/credentials";
import { RAW_BODY, addRawPostRoute, type RawRoute } from "./shared/http-route";
import { nodeStrings, type Translate } from "./shared/i18n";
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
  /** When Pipes gets its 200: "accepted" (default, at once) or "handled" (docs/decisions/0053). */
  answer?: "accepted" | "handled";
  /** "handled": longest wait for the flow, seconds (below Pipes' 10 s). */
  answerWithin?: number | string;
}

interface Credentials {
  /** The webhook secret set in the Pipes dashboard (`${ENV}` reads the environment). */
  secret?: string;
}

interface Request {
  [RAW_BODY]?: Buffer;
  headers: Record<string, string | string[] | undefined>;
}
/** What the node uses of a response: Node's own methods (see answerJson). */
interface Response {
  statusCode: number;
  setHeader(name: string, value: string | number): unknown;
  end(body: string): unknown;
}
type Outcome = HandlingOutcome;

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
    const { values, problem: settingProblem } = nodeNumbers(common, def, ["maxMediaMB", "answerWithin"]);
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
      answerJson(res, code, { error: message });
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
      // A delivery without a message: the dashboard's test call.
      if (!message) return answerOk(res);
      if (answerWhenHandled) return handleThenAnswer(message, res);
      withClaim(node, client.claimInbound(message), (claim) => {
        if (answeredWithoutRunning(claim, message.messageId, res)) return;
        receive(message);
        answerOk(res);
      });
    };

    /**
     * A delivery this node does not run, answered now: one already handled (a webhook retry, the
     * socket's fallback copy, or one another instance handled) gets 200; one another instance is
     * still working on "until handled" gets 503 (Pipes asks again later, and then hears how it went);
     * one that arrived while this node was closing (a redeploy) is given back with 503 for the new flow.
     */
    const answeredWithoutRunning = (claim: ClaimResult, messageId: string, res: Response): boolean => {
      if (closing) {
        if (claim === "mine") void client.settleClaim(messageId, false);
        answerJson(res, 503, { error: "this flow is being redeployed: deliver it again" });
      } else if (claim === "elsewhere") {
        answerJson(res, 503, { error: "another instance is handling this message: deliver it again later" });
      } else if (claim === "handled") {
        node.debug(`dropped a repeated delivery of ${shortText(messageId)}`);
        answerOk(res);
      } else {
        return false;
      }
      return true;
    };

    // "Answer when handled": 200 only once a send for the msg settled or the flow marked it handled
    // (src/lib/handling.ts has the rules), so a Node-RED that dies before never said 200.
    const answerWhenHandled = def.answer === "handled";
    const answerWithinMs = values.answerWithin * 1000;
    const handling = client.handling;
    const unhandled = new UnhandledLog(node, t, values.answerWithin);

    const answerAfter = (wait: Promise<Outcome>, messageId: string, res: Response) => {
      void wait.then((outcome) => {
        if (outcome === "retry" || outcome === "stopped") {
          // Pipes delivers it again; the flow (here or on another instance) must then see it as new.
          void client.settleClaim(messageId, false);
          answerJson(res, 503, { error: "not handled: deliver it again" });
          return;
        }
        void client.settleClaim(messageId, true);
        if (outcome === "timeout") unhandled.add(messageId);
        answerOk(res);
      });
    };

    const handleThenAnswer = (message: InboundMessage, res: Response) => {
      const messageId = message.messageId;
      // A second delivery while the first is still being handled gets the first's answer.
      const running = handling.pending(messageId);
      if (running) return answerAfter(running, messageId, res);
      // Held (with several instances: claimed in Redis) a little longer than the wait can last.
      withClaim(node, client.claimInbound(message, answerWithinMs + 1000), (claim) => {
        if (answeredWithoutRunning(claim, messageId, res)) return;
        const wait = handling.begin(messageId, node, answerWithinMs);
        if (!wait) {
          void client.settleClaim(messageId, false);
          return refuse(res, 503, "too many deliveries are waiting for the flow: deliver it again later");
        }
        const emitted = receive(message, (err) => {
          if (err) handling.settle(messageId, "retry");
        });
        // Left out by the type filter: nothing in the flow will handle it, and nothing has to.
        if (!emitted) handling.settle(messageId, "handled");
        answerAfter(wait, messageId, res);
      });
    };

    // A msg wired back into this node marks its message handled (a flow that does not reply: e.g.
    // a Complete node watching the flow's last node).
    node.on("input", (msg: NodeMessageInFlow, _send: unknown, done: (err?: Error) => void) => {
      const messageId = answeredMessageId(msg);
      if (!messageId) return done(new Error(t("errors.no-message-id")));
      handling.settle(messageId, "handled");
      done();
    });

    const route: RawRoute = addRawPostRoute(RED, path, handler);
    node.status({ fill: "grey", shape: "dot", text: t("status.listening", { path: route.fullPath }) });
    const onStarted = () => {
      if (route.shadowed()) node.warn(t("warnings.shadowed", { path }));
    };
    RED.events.on("flows:started", onStarted);

    // Set on close: a delivery claimed after it is given back (answeredWithoutRunning).
    let closing = false;

    // A full deploy stops every node: open waits are answered 503 at once (their msgs' flow is going).
    // A partial one may leave the send nodes running: their waits get a moment to end as usual.
    let deployType = "full";
    const onStopping = (event: { type?: string }) => (deployType = event?.type ?? "full");
    RED.events.on("flows:stopping", onStopping);

    node.on("close", (_removed: boolean, done: () => void) => {
      closing = true;
      RED.events.removeListener("flows:started", onStarted);
      RED.events.removeListener("flows:stopping", onStopping);
      // Bounded below the waits' own time-out, so what is still open is answered 503, not 200.
      const grace = deployType === "full" ? 0 : Math.max(0, answerWithinMs - 500);
      void handling.ownerIdle(node, grace).then(() => {
        handling.closeOwner(node);
        route.remove();
        done();
      });
    });
  }

  RED.nodes.registerType<Node<Credentials>, PipesWebhookInDef, unknown, Credentials>("pipes-webhook-in", PipesWebhookIn, {
    credentials: { secret: { type: "password" } },
  });
};

/**
 * Deliveries answered 200 because nothing marked them handled in time: one warning at most every
 * 10 s, with how many since the last one (a flow that never replies must not flood the log).
 */
class UnhandledLog {
  private count = 0;
  private warnedAt = 0;

  constructor(
    private readonly node: Node,
    private readonly t: Translate,
    private readonly seconds: number,
  ) {}

  add(messageId: string): void {
    this.count++;
    const now = Date.now();
    if (now - this.warnedAt < 10_000) return;
    this.warnedAt = now;
    this.node.warn(this.t("warnings.not-handled", { count: this.count, seconds: this.seconds, id: shortText(messageId) }));
    this.count = 0;
  }
}

/** Runs `then` with the claim: at once when it is known at once (one instance), else once Redis answered. */
function withClaim(node: Node, claim: ClaimResult | Promise<ClaimResult>, then: (claim: ClaimResult) => void): void {
  if (typeof claim === "string") then(claim);
  else void claim.then(then).catch((err: unknown) => node.error(`webhook delivery not answered: ${String(err)}`));
}

/**
 * Answers a delivery with a small JSON body through Node's response itself, not express's
 * res.json: that parses and re-formats the content type, adds the charset and computes an ETag (a
 * SHA-1 of the body) on every answer, ~15 µs of a delivery's ~200 in the bench's profile, for
 * headers Pipes.bot never reads. Same status, body and content type.
 */
function answerJson(res: Response, status: number, body: object | string): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

const OK_BODY = JSON.stringify({ ok: true });
const answerOk = (res: Response): void => answerJson(res, 200, OK_BODY);

export = nodeInit;
