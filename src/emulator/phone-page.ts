/**
 * The phone page: a WhatsApp-like chat in the browser, served by the emulator from the plain files in
 * ./phone (no build step). Also the two routes only the page needs: the live feed
 * (GET /_emulator/events, Server-Sent Events) and stored media by id (GET /_emulator/media/:mediaId).
 *
 * The files are read from `__dirname/phone`: src/emulator/phone under tsx, dist/emulator/phone once
 * built (scripts/copy-assets.js copies them).
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { ERROR_CODES } from "../lib/protocol";
import type { EmulatorContext } from "./context";
import type { EventFeed } from "./event-feed";
import { sendError } from "./http-util";

export const PHONE_PATH = "/phone";
export const EVENTS_PATH = "/_emulator/events";
export const MEDIA_PATH_PREFIX = "/_emulator/media/";
export const PHONE_DIR = join(__dirname, "phone");

const FILES: Record<string, { file: string; type: string }> = {
  [PHONE_PATH]: { file: "index.html", type: "text/html; charset=utf-8" },
  [`${PHONE_PATH}/`]: { file: "index.html", type: "text/html; charset=utf-8" },
  [`${PHONE_PATH}/phone.css`]: { file: "phone.css", type: "text/css; charset=utf-8" },
  [`${PHONE_PATH}/phone.js`]: { file: "phone.js", type: "text/javascript; charset=utf-8" },
};

/** Only our own files run; media and the feed come from this origin; nothing from the network. */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Stored media is whatever a user or bot uploaded: never let it run as a page of this origin. */
const MEDIA_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'";
const INLINE_TYPES = /^(image\/(png|jpeg|gif|webp)|audio\/[\w.+-]+|video\/[\w.+-]+)$/;
const SAFE_MIME = /^[\w.+-]+\/[\w.+-]+$/;

export class PhonePage {
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly feed: EventFeed,
  ) {}

  /** Handles the page, its feed and media routes; false for anything else. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    const isGet = req.method === "GET" || req.method === "HEAD";
    if (path === "/" && isGet) {
      res.writeHead(302, { Location: `${PHONE_PATH}/`, "Content-Length": "0" }).end();
      return true;
    }
    const asset = Object.hasOwn(FILES, path) ? FILES[path] : undefined;
    if (asset && isGet) {
      await this.serveFile(req, res, asset);
      return true;
    }
    if (path === EVENTS_PATH && req.method === "GET") {
      this.feed.handle(req, res);
      return true;
    }
    if (path.startsWith(MEDIA_PATH_PREFIX) && isGet) {
      this.serveMedia(req, res, path.slice(MEDIA_PATH_PREFIX.length));
      return true;
    }
    return false;
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, asset: { file: string; type: string }): Promise<void> {
    let body: Buffer;
    try {
      body = await readFile(join(PHONE_DIR, asset.file));
    } catch (error) {
      this.ctx.log(`phone: cannot read ${asset.file} in ${PHONE_DIR}: ${error instanceof Error ? error.message : String(error)}`);
      sendError(
        res,
        500,
        "PHONE_PAGE_MISSING",
        `phone page file ${asset.file} is missing next to the emulator (${PHONE_DIR}); rebuild the package`,
      );
      return;
    }
    res.writeHead(200, {
      "Content-Type": asset.type,
      "Content-Length": String(body.length),
      // Read from disk on every request, so an edited file shows on reload.
      "Cache-Control": "no-cache",
      "Content-Security-Policy": PAGE_CSP,
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private serveMedia(req: IncomingMessage, res: ServerResponse, encodedId: string): void {
    let mediaId: string;
    try {
      mediaId = decodeURIComponent(encodedId);
    } catch {
      mediaId = "";
    }
    const stored = mediaId ? this.ctx.store.media.get(mediaId, this.ctx.clock.now()) : undefined;
    if (!stored) {
      sendError(res, 404, ERROR_CODES.MEDIA_NOT_FOUND, "media not found or expired");
      return;
    }
    const type = SAFE_MIME.test(stored.mimeType) ? stored.mimeType.toLowerCase() : "application/octet-stream";
    const disposition = INLINE_TYPES.test(type) ? "inline" : "attachment";
    const name = stored.fileName ?? `${stored.mediaId}`;
    res.writeHead(200, {
      "Content-Type": type,
      "Content-Length": String(stored.bytes.length),
      "Content-Disposition": `${disposition}; filename*=UTF-8''${encodeURIComponent(name)}`,
      "Content-Security-Policy": MEDIA_CSP,
      "X-Content-Type-Options": "nosniff",
      // Media ids are random and never reused.
      "Cache-Control": "private, max-age=86400",
    });
    res.end(req.method === "HEAD" ? undefined : stored.bytes);
  }
}
