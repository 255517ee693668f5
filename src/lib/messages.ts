import { PipesError } from "./errors";
import { ERROR_CODES, MESSAGE_LIMITS, SOFT_MESSAGE_LIMITS } from "./protocol";

/**
 * Every WhatsApp message kind beyond text and media, from the friendly shape a flow writes to the
 * Meta Cloud API body that POST /v1/messages/passthrough forwards (docs/protocol.md#message-kinds).
 * Everything WhatsApp would refuse is refused here, before sending, with the field named:
 * "buttons[2].title is 23 characters; WhatsApp allows 20" (code INVALID_MESSAGE).
 */

export const RICH_KINDS = ["buttons", "list", "cta_url", "location", "contacts", "reaction", "raw"] as const;
export type RichKind = (typeof RICH_KINDS)[number];

export interface PrepareOptions {
  /** Check the limits only third-party SDK docs state (list button, section title, link text). Default true. */
  softLimits?: boolean;
}

/** A message ready to send: Meta's `type` and its type object, or a reaction (which may go by socket). */
export interface PreparedMessage {
  kind: RichKind;
  /** Meta's message type: interactive, location, contacts, reaction, or a raw body's own type. */
  type: string;
  /** What goes under `type` in Meta's body: an object (interactive, location, ...), or the cards of contacts. */
  content: Record<string, unknown> | Record<string, unknown>[];
  /** For reactions: the message reacted to (a Pipes `msg_` id or a WhatsApp `wamid.` id) and the emoji ("" removes). */
  reaction?: { messageId: string; emoji: string };
}

type Obj = Record<string, unknown>;

/** Turns a friendly message (`{type: "buttons", body, buttons: [...]}`, ...) into a checked Meta body. */
export function prepareMessage(input: unknown, options: PrepareOptions = {}): PreparedMessage {
  const check = new Checker(options.softLimits !== false);
  const message = check.object(input, "the message");
  const kind = message.type;
  if (typeof kind !== "string" || !(RICH_KINDS as readonly string[]).includes(kind)) {
    throw invalid(`the message type must be one of ${RICH_KINDS.join(", ")}; got ${describe(kind)}`);
  }
  switch (kind as RichKind) {
    case "buttons":
      return { kind: "buttons", type: "interactive", content: buttons(check, message) };
    case "list":
      return { kind: "list", type: "interactive", content: list(check, message) };
    case "cta_url":
      return { kind: "cta_url", type: "interactive", content: ctaUrl(check, message) };
    case "location":
      return { kind: "location", type: "location", content: location(check, message) };
    case "contacts":
      // Meta's contacts body is the list of cards itself: {type: "contacts", contacts: [...]}.
      return { kind: "contacts", type: "contacts", content: contacts(check, message) };
    case "reaction":
      return reaction(check, message);
    case "raw":
      return raw(check, message);
  }
}

function buttons(check: Checker, m: Obj): Obj {
  const list = check.array(m.buttons, "buttons", MESSAGE_LIMITS.buttonsMin, MESSAGE_LIMITS.buttonsMax, "buttons");
  const ids = new Set<string>();
  const titles = new Set<string>();
  const replies = list.map((value, i) => {
    const button = check.object(value, `buttons[${i}]`);
    const id = check.text(button.id, `buttons[${i}].id`, MESSAGE_LIMITS.buttonId, "buttonId");
    const title = check.text(button.title, `buttons[${i}].title`, MESSAGE_LIMITS.buttonTitle, "buttonTitle");
    check.unique(ids, id, `buttons[${i}].id`);
    check.unique(titles, title, `buttons[${i}].title`);
    return { type: "reply", reply: { id, title } };
  });
  const content = interactive("button", check, m, true);
  content.action = { buttons: replies };
  return content;
}

function list(check: Checker, m: Obj): Obj {
  const button = check.text(m.button, "button", MESSAGE_LIMITS.listButton, "listButton");
  const sections = check.array(m.sections, "sections", 1, MESSAGE_LIMITS.sectionsMax, "sections");
  const ids = new Set<string>();
  let rows = 0;
  const built = sections.map((value, i) => {
    const section = check.object(value, `sections[${i}]`);
    const title =
      sections.length > 1
        ? check.text(section.title, `sections[${i}].title`, MESSAGE_LIMITS.sectionTitle, "sectionTitle")
        : check.optionalText(section.title, `sections[${i}].title`, MESSAGE_LIMITS.sectionTitle, "sectionTitle");
    const sectionRows = check.array(section.rows, `sections[${i}].rows`, 1, MESSAGE_LIMITS.rowsMax, "rows").map((rowValue, j) => {
      const path = `sections[${i}].rows[${j}]`;
      const row = check.object(rowValue, path);
      const id = check.text(row.id, `${path}.id`, MESSAGE_LIMITS.rowId, "rowId");
      check.unique(ids, id, `${path}.id`);
      const description = check.optionalText(row.description, `${path}.description`, MESSAGE_LIMITS.rowDescription, "rowDescription");
      return {
        id,
        title: check.text(row.title, `${path}.title`, MESSAGE_LIMITS.rowTitle, "rowTitle"),
        ...(description ? { description } : {}),
      };
    });
    rows += sectionRows.length;
    return { ...(title ? { title } : {}), rows: sectionRows };
  });
  if (rows > MESSAGE_LIMITS.rowsMax)
    throw invalid(`the list has ${rows} rows in all; WhatsApp allows ${MESSAGE_LIMITS.rowsMax} across its sections`);
  // A list's header can only be text.
  const content = interactive("list", check, m, false);
  content.action = { button, sections: built };
  return content;
}

function ctaUrl(check: Checker, m: Obj): Obj {
  const text = check.text(m.text, "text", MESSAGE_LIMITS.ctaText, "ctaText");
  const url = check.text(m.url, "url", 2000, "url");
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "https:" && parsed.protocol !== "http:"))
    throw invalid(`url must be an http:// or https:// address; got ${describe(url)}`);
  const content = interactive("cta_url", check, m, false);
  content.action = { name: "cta_url", parameters: { display_text: text, url } };
  return content;
}

/**
 * An interactive message's type, body, header and footer (its action is the caller's);
 * `mediaHeader` allows an image/video/document header. Filled in place rather than spread into
 * the caller's literal: a spread copies through V8's slower clone path on every send.
 */
function interactive(type: string, check: Checker, m: Obj, mediaHeader: boolean): Obj {
  const out: Obj = { type, body: { text: check.text(m.body, "body", MESSAGE_LIMITS.bodyText, "bodyText") } };
  const header = m.header;
  if (header !== undefined && header !== null && header !== "") {
    if (typeof header === "string")
      out.header = { type: "text", text: check.text(header, "header", MESSAGE_LIMITS.headerText, "headerText") };
    else if (mediaHeader) out.header = mediaHeaderOf(check, check.object(header, "header"));
    else throw invalid("header must be text here (a list or link button message has a text header only)");
  }
  const footer = check.optionalText(m.footer, "footer", MESSAGE_LIMITS.footerText, "footerText");
  if (footer) out.footer = { text: footer };
  return out;
}

function mediaHeaderOf(check: Checker, header: Obj): Obj {
  const kind = header.type;
  if (kind !== "image" && kind !== "video" && kind !== "document")
    throw invalid(`header.type must be image, video or document for a media header; got ${describe(kind)}`);
  const url = check.optionalText(header.url, "header.url", 2000, "url");
  const id = check.optionalText(header.id, "header.id", 200, "id");
  if (!url === !id) throw invalid("a media header needs exactly one of header.url (https) or header.id (a media id)");
  if (url && !/^https:\/\//i.test(url)) throw invalid("header.url must be an https:// address");
  return { type: kind, [kind]: url ? { link: url } : { id } };
}

function location(check: Checker, m: Obj): Obj {
  const latitude = check.number(m.latitude, "latitude", -90, 90);
  const longitude = check.number(m.longitude, "longitude", -180, 180);
  const name = check.optionalText(m.name, "name", 1000, "name");
  const address = check.optionalText(m.address, "address", 1000, "address");
  return { latitude, longitude, ...(name ? { name } : {}), ...(address ? { address } : {}) };
}

/** Friendly cards (`{name: "Ana Silva", phones: ["+5511..."]}`) to Meta's; Meta's own cards pass as they are. */
function contacts(check: Checker, m: Obj): Obj[] {
  return check.array(m.contacts, "contacts", 1, 100, "contacts").map((value, i) => {
    const path = `contacts[${i}]`;
    const card = check.object(value, path);
    const name = card.name;
    let nameObject: Obj;
    if (typeof name === "object" && name !== null) {
      nameObject = { ...(name as Obj) };
      check.text(nameObject.formatted_name, `${path}.name.formatted_name`, 1000, "name");
    } else {
      const formatted = check.text(name, `${path}.name`, 1000, "name");
      // Meta wants a first (or last) name besides the formatted one.
      const [first, ...rest] = formatted.split(/\s+/);
      nameObject = { formatted_name: formatted, first_name: first, ...(rest.length ? { last_name: rest.join(" ") } : {}) };
    }
    const out: Obj = { name: nameObject };
    const phones = optionalList(check, card.phones, `${path}.phones`).map((phone, j) =>
      typeof phone === "string"
        ? { phone: check.text(phone, `${path}.phones[${j}]`, 64, "phone"), type: "CELL", ...waId(phone) }
        : check.object(phone, `${path}.phones[${j}]`),
    );
    if (phones.length) out.phones = phones;
    const emails = optionalList(check, card.emails, `${path}.emails`).map((email, j) =>
      typeof email === "string"
        ? { email: check.text(email, `${path}.emails[${j}]`, 320, "email"), type: "WORK" }
        : check.object(email, `${path}.emails[${j}]`),
    );
    if (emails.length) out.emails = emails;
    const urls = optionalList(check, card.urls, `${path}.urls`).map((url, j) =>
      typeof url === "string"
        ? { url: check.text(url, `${path}.urls[${j}]`, 2000, "url"), type: "WORK" }
        : check.object(url, `${path}.urls[${j}]`),
    );
    if (urls.length) out.urls = urls;
    if (card.org !== undefined) out.org = typeof card.org === "string" ? { company: card.org } : check.object(card.org, `${path}.org`);
    if (card.birthday !== undefined) {
      const birthday = check.text(card.birthday, `${path}.birthday`, 10, "birthday");
      if (!/^\d{4}-\d{2}-\d{2}$/.test(birthday)) throw invalid(`${path}.birthday must be YYYY-MM-DD; got ${describe(birthday)}`);
      out.birthday = birthday;
    }
    if (card.addresses !== undefined) out.addresses = optionalList(check, card.addresses, `${path}.addresses`);
    return out;
  });
}

/** A phone shown with a "Message" button needs its WhatsApp id: the number's digits. */
function waId(phone: string): Obj {
  const digits = phone.replace(/\D/g, "");
  return digits.length >= 6 ? { wa_id: digits } : {};
}

function optionalList(check: Checker, value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  return check.array(value, what, 0, 100, what);
}

function reaction(check: Checker, m: Obj): PreparedMessage {
  const messageId = check.text(m.messageId, "messageId", 400, "messageId");
  const emoji = m.emoji === undefined || m.emoji === null ? "" : m.emoji;
  if (typeof emoji !== "string") throw invalid(`emoji must be a string (empty removes the reaction); got ${describe(emoji)}`);
  if (emoji !== "" && graphemes(emoji) !== 1)
    throw invalid(`emoji must be one emoji (or empty to remove the reaction); got ${describe(emoji)}`);
  return { kind: "reaction", type: "reaction", content: { message_id: messageId, emoji }, reaction: { messageId, emoji } };
}

/** Any Meta Cloud API message body, for what the forms do not cover: `{type: "raw", message: {type, [type]: {...}}}`. */
function raw(check: Checker, m: Obj): PreparedMessage {
  const body = check.object(m.message, "message");
  const type = body.type;
  if (typeof type !== "string" || !/^[a-z_]{1,40}$/.test(type))
    throw invalid(`message.type must be a Meta message type such as "interactive"; got ${describe(type)}`);
  const content = check.object(body[type], `message.${type}`);
  if (JSON.stringify(body).length > 64 * 1024) throw invalid("message is over 64 KB as JSON");
  return { kind: "raw", type, content };
}

/** The checks, with paths and limits in their messages; knows whether soft limits apply. */
class Checker {
  constructor(private readonly soft: boolean) {}

  object(value: unknown, what: string): Obj {
    if (typeof value !== "object" || value === null || Array.isArray(value) || Buffer.isBuffer(value))
      throw invalid(`${what} must be an object; got ${describe(value)}`);
    return value as Obj;
  }

  array(value: unknown, what: string, min: number, max: number, limit: string): unknown[] {
    if (!Array.isArray(value)) throw invalid(`${what} must be a list; got ${describe(value)}`);
    if (value.length < min) throw invalid(`${what} has ${value.length}; WhatsApp needs at least ${min}`);
    if (value.length > max && this.applies(limit)) throw invalid(`${what} has ${value.length}; WhatsApp allows ${max}`);
    return value;
  }

  /** A required text: a non-empty string within its limit (numbers are taken as text). */
  text(value: unknown, what: string, max: number, limit: string): string {
    const text = typeof value === "number" && Number.isFinite(value) ? String(value) : value;
    if (typeof text !== "string" || text.trim() === "") throw invalid(`${what} is required (a non-empty text); got ${describe(value)}`);
    // WhatsApp counts characters (code points); .length counts UTF-16 units, never fewer, so only a
    // text longer than the limit in units needs counting.
    if (text.length > max) {
      const length = codePoints(text);
      if (length > max && this.applies(limit)) throw invalid(`${what} is ${length} characters; WhatsApp allows ${max}`);
    }
    return text;
  }

  optionalText(value: unknown, what: string, max: number, limit: string): string | undefined {
    if (value === undefined || value === null || value === "") return undefined;
    return this.text(value, what, max, limit);
  }

  number(value: unknown, what: string, min: number, max: number): number {
    const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isFinite(n)) throw invalid(`${what} must be a number; got ${describe(value)}`);
    if (n < min || n > max) throw invalid(`${what} is ${n}; it must be from ${min} to ${max}`);
    return n;
  }

  unique(seen: Set<string>, value: string, what: string): void {
    if (seen.has(value)) throw invalid(`${what} '${value}' appears twice; each must be different`);
    seen.add(value);
  }

  private applies(limit: string): boolean {
    return this.soft || !(SOFT_MESSAGE_LIMITS as readonly string[]).includes(limit);
  }
}

function invalid(message: string): PipesError {
  return new PipesError(ERROR_CODES.INVALID_MESSAGE, message);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") return value.length > 40 ? `'${value.slice(0, 40)}…'` : `'${value}'`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return `${typeof value} ${value}`;
  return typeof value === "object" ? "an object" : typeof value;
}

/** Code points in `text`, as `[...text].length` counts them (a lone surrogate is one), without making the array. */
export function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++, count++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return count;
}

function graphemes(text: string): number {
  return [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)].length;
}
