import type { NodeAPI } from "node-red";

/**
 * An HTTP route for a node that must see the EXACT request bytes (a signature is computed over
 * them), on Node-RED 4.0 to 5.0 (express 4). docs/research/webhook-raw-body.md has the findings:
 * - the editor's JSON parser runs on every request under httpAdminRoot ("/" by default) before any
 *   node route, so a route on RED.httpNode never sees the raw body. A middleware at the top of the
 *   outermost app (just below Node-RED's own rawBodyCapture, 4.1+) reads it first, only for POSTs
 *   to paths a live node of ours listens on, and leaves the bytes on the request;
 * - Node-RED's `http in` removes routes BY PATH when it closes: our route is registered with an
 *   array path so theirs never matches it, and we remove ours by handler identity.
 */

export const RAW_BODY = Symbol.for("@pipes.bot/node-red.rawBody");
/** Largest body read; over it the answer is 413 (and the connection closed: the rest is not read). */
export const MAX_BODY_BYTES = 1024 * 1024;

interface Req {
  method?: string;
  url?: string;
  body?: unknown;
  _body?: boolean;
  readableEnded?: boolean;
  skipRawBodyParser?: boolean;
  [RAW_BODY]?: Buffer;
  on(event: "data" | "end" | "error", listener: (arg: never) => void): void;
  resume(): void;
}
interface Res {
  statusCode: number;
  setHeader(name: string, value: string): void;
  end(body?: string): void;
}
type Next = (err?: unknown) => void;
// express's own request and response types are not a dependency of ours: the handler takes what it needs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (req: any, res: any, next: Next) => void;
interface Layer {
  handle: unknown;
  name?: string;
  route?: { path: unknown; methods: Record<string, boolean>; stack: { handle: unknown }[] };
}
interface ExpressApp {
  parent?: ExpressApp;
  use(handler: Handler): void;
  path(): string;
  post(path: string[], handler: Handler): void;
  all(path: string[], handler: Handler): void;
  lazyrouter?: () => void;
  _router?: { stack: Layer[] };
  router?: { stack: Layer[] };
}

/** Normalised full paths a live node listens on, with how many nodes (a redeploy overlaps). */
const live = new Map<string, number>();

export const normalisePath = (path: string): string => (path.replace(/\/{2,}/g, "/").replace(/\/$/, "") || "/").toLowerCase();

function rootOf(app: ExpressApp): ExpressApp {
  let current = app;
  while (current.parent) current = current.parent;
  return current;
}

function stackOf(app: ExpressApp): Layer[] | undefined {
  // express 4: the router is lazy, and the `app.router` getter throws ("deprecated").
  if (typeof app.lazyrouter === "function") {
    app.lazyrouter();
    return app._router?.stack;
  }
  return app.router?.stack;
}

/** Reads the body of POSTs to our paths before any parser of Node-RED's can. */
function captureRawBody(req: Req, res: Res, next: Next): void {
  if (req.method !== "POST" || live.size === 0) return next();
  const pathname = (req.url ?? "").split("?")[0]; // not req.path: this runs before express's own init
  if (!live.has(normalisePath(pathname))) return next();
  if (req._body || req.readableEnded) {
    // Node-RED 4.1+'s rawBodyCapture (a user's http in with "skip body parsing" on this path) read it.
    if (Buffer.isBuffer(req.body) && req.skipRawBodyParser) req[RAW_BODY] = req.body;
    return next();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on("data", (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      finished = true;
      chunks.length = 0;
      res.statusCode = 413;
      res.setHeader("Connection", "close");
      res.end();
      req.resume();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (finished) return;
    finished = true;
    const raw = Buffer.concat(chunks, size);
    req[RAW_BODY] = raw;
    req.body = raw;
    req._body = true; // every body parser after us skips the request
    next();
  });
  req.on("error", (err: unknown) => {
    if (finished) return;
    finished = true;
    next(err);
  });
}

function ensureCapture(RED: NodeAPI): void {
  const root = rootOf(RED.httpNode as unknown as ExpressApp);
  const stack = stackOf(root);
  if (!stack) return;
  let index = stack.findIndex((layer) => layer.handle === captureRawBody);
  if (index === -1) {
    root.use(captureRawBody as Handler);
    index = stack.findIndex((layer) => layer.handle === captureRawBody);
  }
  const [layer] = stack.splice(index, 1);
  // Just below Node-RED's own raw body capture when there is one (4.1+), else at the very top.
  stack.splice(stack.findIndex((l) => l.name === "rawBodyCapture") + 1, 0, layer);
}

export interface RawRoute {
  /** The full path, with httpNodeRoot. */
  fullPath: string;
  /** True when another POST route on the same path was registered before ours (it answers first). */
  shadowed(): boolean;
  remove(): void;
}

/** Adds a POST route whose handler finds the exact body in `req[RAW_BODY]`. */
export function addRawPostRoute(RED: NodeAPI, path: string, handler: Handler): RawRoute {
  const app = RED.httpNode as unknown as ExpressApp;
  const fullPath = normalisePath(app.path() + path);
  live.set(fullPath, (live.get(fullPath) ?? 0) + 1);
  ensureCapture(RED);
  app.post([path], handler);
  // Any other method on our path is 405, unless a route registered after ours handles it (a
  // user's GET http in on the same path keeps working).
  const otherMethods: Handler = (
    req: { method?: string },
    res: { status(code: number): { json(body: unknown): void }; setHeader(n: string, v: string): void },
    next: Next,
  ) => {
    const method = (req.method ?? "").toLowerCase();
    const stack = stackOf(app) ?? [];
    const mine = stack.findIndex((layer) => layer.route?.stack.some((entry) => entry.handle === otherMethods));
    const later = stack
      .slice(mine + 1)
      .some(
        (layer) =>
          layer.route?.methods[method] &&
          [layer.route.path].flat().some((p) => typeof p === "string" && normalisePath(app.path() + p) === fullPath),
      );
    if (later) return next();
    res.setHeader("Allow", "POST");
    res.status(405).json({ error: "only POST is accepted here" });
  };
  app.all([path], otherMethods);
  const ours = (layer: Layer) => layer.route?.stack.some((entry) => entry.handle === handler || entry.handle === otherMethods) ?? false;
  return {
    fullPath,
    shadowed: () => {
      const stack = stackOf(app) ?? [];
      const mine = stack.findIndex(ours);
      return stack
        .slice(0, Math.max(0, mine))
        .some(
          (layer) =>
            layer.route?.methods.post &&
            [layer.route.path].flat().some((p) => typeof p === "string" && normalisePath(app.path() + p) === fullPath),
        );
    },
    remove: () => {
      const stack = stackOf(app) ?? [];
      for (let i = stack.length - 1; i >= 0; i--) if (ours(stack[i])) stack.splice(i, 1);
      const left = (live.get(fullPath) ?? 1) - 1;
      if (left > 0) live.set(fullPath, left);
      else live.delete(fullPath);
    },
  };
}
