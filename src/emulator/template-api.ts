/**
 * The Apps' template endpoints (docs/protocol.md#byon-apps, docs/decisions/0050-emulator-templates.md):
 * GET /v1/pool-numbers/:id/templates (Meta's list with `paging`; `status`, `name`, `language`, `category`, `limit`,
 * `after`, `before` as Meta reads them), GET …/templates/:name (every language of one) and POST …/templates (create,
 * PENDING until the review delay has passed on the emulator clock). App keys only; a pool key is 403.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ERROR_CODES } from "../lib/protocol";
import type { EmulatorContext } from "./context";
import { parseJsonObject, readBody, sendError, sendJson } from "./http-util";
import { MetaError } from "./meta-validator";
import type { Tenant } from "./tenants";
import type { TemplateDefinition } from "./types";

export const TEMPLATES_PATH = /^\/v1\/pool-numbers\/([^/]+)\/templates(?:\/([^/]+))?\/?$/;

/** Meta's default page size for this list. */
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;
const CREATE_BODY_LIMIT = 256 * 1024;

const cursorOf = (index: number): string => Buffer.from(String(index)).toString("base64url");
function indexOf(cursor: string | null): number | undefined {
  if (cursor === null) return undefined;
  const index = Number(Buffer.from(cursor, "base64url").toString("utf8"));
  return Number.isInteger(index) && index >= 0 ? index : undefined;
}

export class TemplateApi {
  constructor(private readonly ctx: EmulatorContext) {}

  /** `account` is the authenticated key's account; the route matched TEMPLATES_PATH. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, account: Tenant, match: RegExpExecArray): Promise<void> {
    let numberId: string;
    let name: string | undefined;
    try {
      numberId = decodeURIComponent(match[1]);
      name = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    } catch {
      sendError(res, 400, ERROR_CODES.INVALID_REQUEST, "bad path segment");
      return;
    }
    if (!account.app) {
      sendError(res, 403, ERROR_CODES.FORBIDDEN, "templates need an App key (ak_); a pool key has none");
      return;
    }
    if (!this.ctx.tenants().poolNumber(account, numberId)) {
      sendError(res, 403, ERROR_CODES.FORBIDDEN, `pool number ${numberId} is not this App's`);
      return;
    }
    const now = this.ctx.clock.now();
    if (req.method === "GET" && name !== undefined) {
      sendJson(res, 200, { data: this.ctx.store.templates.list(numberId, now).filter((t) => t.name === name) });
    } else if (req.method === "GET") {
      const answer = list(this.ctx.store.templates.list(numberId, now), url.searchParams);
      if ("error" in answer) sendJson(res, 400, answer.error.body());
      else sendJson(res, 200, answer);
    } else if (req.method === "POST" && name === undefined) {
      await this.create(req, res, numberId, now);
    } else {
      sendError(res, 405, ERROR_CODES.INVALID_REQUEST, `${req.method} not allowed on ${url.pathname}`, {
        Allow: name === undefined ? "GET, POST" : "GET",
      });
    }
  }

  private async create(req: IncomingMessage, res: ServerResponse, numberId: string, now: number): Promise<void> {
    const read = await readBody(req, CREATE_BODY_LIMIT);
    const body = read.ok ? parseJsonObject(read.body) : undefined;
    if (!body) {
      sendJson(res, 400, new MetaError(100, read.ok ? "the body must be a JSON object" : "the body is too large").body());
      return;
    }
    try {
      const created = this.ctx.store.templates.create(numberId, body, now);
      this.ctx.log(`templates: ${created.name} (${created.language}) created on ${numberId}, PENDING`);
      // Meta's create answer.
      sendJson(res, 200, { id: created.id, status: created.status, category: created.category });
    } catch (error) {
      if (!(error instanceof MetaError)) throw error;
      this.ctx.log(`templates: create on ${numberId} refused (#${error.code}): ${error.details}`);
      sendJson(res, 400, error.body());
    }
  }
}

/** Meta's list: filters, then a page after (or before) a cursor, with the cursors of its first and last items. */
function list(
  all: TemplateDefinition[],
  query: URLSearchParams,
): { data: TemplateDefinition[]; paging: { cursors: { before?: string; after?: string }; next?: string } } | { error: MetaError } {
  const filters: [string, (t: TemplateDefinition, v: string) => boolean][] = [
    ["status", (t, v) => v.toUpperCase().split(",").includes(t.status)],
    ["name", (t, v) => t.name.includes(v)],
    ["language", (t, v) => t.language === v],
    ["category", (t, v) => t.category === v.toUpperCase()],
  ];
  const indexed = all.map((template, index) => ({ template, index }));
  const matching = indexed.filter(({ template }) =>
    filters.every(([key, test]) => !query.has(key) || test(template, query.get(key) ?? "")),
  );
  const limitText = query.get("limit");
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return { error: new MetaError(100, `limit must be 1 to ${MAX_LIMIT}`) };
  const after = indexOf(query.get("after"));
  const before = indexOf(query.get("before"));
  if ((query.has("after") && after === undefined) || (query.has("before") && before === undefined)) {
    return { error: new MetaError(100, "after / before must be a cursor from paging.cursors") };
  }
  let page: typeof matching;
  if (after !== undefined) page = matching.filter((m) => m.index > after).slice(0, limit);
  else if (before !== undefined) page = matching.filter((m) => m.index < before).slice(-limit);
  else page = matching.slice(0, limit);
  const cursors: { before?: string; after?: string } = {};
  if (page.length > 0) {
    cursors.before = cursorOf(page[0].index);
    cursors.after = cursorOf(page[page.length - 1].index);
  }
  const paging: { cursors: typeof cursors; next?: string } = { cursors };
  const last = page[page.length - 1];
  if (last && matching.some((m) => m.index > last.index)) {
    const next = new URLSearchParams(query);
    next.delete("before");
    next.set("after", cursors.after ?? "");
    paging.next = `?${next.toString()}`;
  }
  return { data: page.map((m) => m.template), paging };
}
