import type { NodeAPI } from "node-red";
import { toPipesError } from "../../lib/errors";
import { templateSlots } from "../../lib/templates";
import type { PipesConfigNode } from "./types";

/**
 * The editor's template picker asks this admin endpoint, never Pipes itself: the runtime asks Pipes
 * with the DEPLOYED config node's key, so the key never reaches the browser.
 *
 *   GET <httpAdminRoot>/pipes-bot/templates/<config node id>?poolNumberId=<the App's number>
 *
 * Guarded by the config node type's read permission (adminAuth). Answers
 * `{templates: [{name, language, status, category, slots}]}`, or `{error: code, message}`:
 * 404 not-deployed (the config node is new or changed since the last deploy: deploy first),
 * 409 unusable / APP_KEY_REQUIRED, 400 no poolNumberId, 502 what Pipes answered.
 */

interface Request {
  params: { config?: string };
  query: Record<string, unknown>;
}
interface Response {
  status(code: number): { json(body: unknown): void };
}

const registered = new WeakSet<object>();

export function registerTemplateRoutes(RED: NodeAPI): void {
  // Node-RED loads a node module once per runtime; a test harness may load it again.
  if (registered.has(RED.httpAdmin)) return;
  registered.add(RED.httpAdmin);
  RED.httpAdmin.get("/pipes-bot/templates/:config", RED.auth.needsPermission("pipes-config.read"), (req: Request, res: Response) => {
    void answer(RED, req, res);
  });
}

async function answer(RED: NodeAPI, req: Request, res: Response): Promise<void> {
  const config = RED.nodes.getNode(String(req.params.config ?? "")) as PipesConfigNode | null;
  if (!config || config.type !== "pipes-config") {
    res.status(404).json({ error: "not-deployed", message: "this connection is not deployed yet: deploy, then choose a template" });
    return;
  }
  const client = config.client;
  if (!client) {
    res.status(409).json({ error: "unusable", message: config.configError ?? "the connection cannot be used" });
    return;
  }
  const poolNumberId = typeof req.query.poolNumberId === "string" ? req.query.poolNumberId.trim() : "";
  if (!poolNumberId) {
    res.status(400).json({ error: "no-number", message: "which number's templates? set poolNumberId (the App's number id)" });
    return;
  }
  try {
    // Fresh: the person opening the picker may just have created or had a template approved.
    const templates = await client.templates(poolNumberId, { maxAgeMs: 0, timeoutMs: 10_000 });
    res.status(200).json({
      templates: templates.map((t) => ({
        name: t.name,
        language: t.language,
        status: t.status,
        category: t.category,
        slots: templateSlots(t),
      })),
    });
  } catch (err) {
    const error = toPipesError(err);
    // Our errors never carry the key (rest.ts redacts it); the code and message are safe to show.
    res.status(error.code === "APP_KEY_REQUIRED" ? 409 : 502).json({ error: error.code, message: error.message });
  }
}
