/**
 * Checks a Meta Cloud API message body the way WhatsApp would, for POST /v1/messages/passthrough
 * (docs/decisions/0035-emulator-passthrough-validation.md). It exists to catch the bodies our client builds that WhatsApp
 * would refuse, so it shares no code with the client (src/lib/messages.ts): only the numbers, MESSAGE_LIMITS and
 * SOFT_MESSAGE_LIMITS. Lengths count code points. The first problem found is thrown as a MetaError naming the field,
 * its length or value, and the limit: code 100 for a wrong shape (missing, wrong type, unknown value), 131009 for a
 * value out of range (length, count, duplicate, coordinates, URL), 131026 for a reaction to a message it does not know.
 * A template is checked against its definition: 132001 for an unknown or unapproved one, 132000 for a missing or extra
 * parameter, 132012 for one of the wrong kind, 132005 for a filled-in body over its limit
 * (docs/decisions/0051-emulator-template-sends.md).
 */
import { LIMITS, MESSAGE_LIMITS, SOFT_MESSAGE_LIMITS } from "../lib/protocol";
import type { MediaKind } from "../lib/media";
import { fill, variablesOf } from "./template-text";
import type { SentKind, SentMedia, SentTemplate, TemplateButton, TemplateDefinition } from "./types";

export const META_ERROR_MESSAGES = {
  100: "(#100) Invalid parameter",
  131009: "(#131009) Parameter value is not valid",
  131026: "(#131026) Message Undeliverable",
  // Template sends (docs/decisions/0051-emulator-template-sends.md).
  132000: "(#132000) Number of parameters does not match the expected number of params",
  132001: "(#132001) Template name does not exist in the translation",
  132005: "(#132005) Translated text too long",
  132012: "(#132012) Parameter format does not match format in the created template",
} as const;
export type MetaErrorCode = keyof typeof META_ERROR_MESSAGES;

export class MetaError extends Error {
  override readonly name = "MetaError";
  constructor(
    readonly code: MetaErrorCode,
    readonly details: string,
  ) {
    super(`${META_ERROR_MESSAGES[code]}: ${details}`);
  }

  /** The error body Meta answers, which Pipes forwards. */
  body(): {
    error: { message: string; type: "OAuthException"; code: number; error_data: { messaging_product: "whatsapp"; details: string } };
  } {
    return {
      error: {
        message: META_ERROR_MESSAGES[this.code],
        type: "OAuthException",
        code: this.code,
        error_data: { messaging_product: "whatsapp", details: this.details },
      },
    };
  }
}

export interface MetaValidationOptions {
  softLimits: "enforce" | "ignore";
  /** Whether `messageId` is a wamid the emulator issued in this conversation (a reaction's target). */
  isSentMessage: (messageId: string) => boolean;
  /** The sending number's template of that name and language (an App's), with its status now; absent: templates refused. */
  findTemplate?: (name: string, language: string) => TemplateDefinition | undefined;
}

/** What a valid body is, for the sent log. */
export interface ValidMetaMessage {
  type: string;
  kind: SentKind;
  /** Text body, or an interactive message's body text. */
  text?: string;
  caption?: string;
  media?: SentMedia;
  reaction?: { messageId: string; emoji: string };
  template?: SentTemplate;
}

export const PASSTHROUGH_TYPES = [
  "interactive",
  "location",
  "contacts",
  "reaction",
  "text",
  "image",
  "audio",
  "video",
  "document",
  "sticker",
  // App keys only (docs/decisions/0051-emulator-template-sends.md).
  "template",
] as const;
const CAPTIONED: readonly string[] = ["image", "video", "document"];

type Obj = Record<string, unknown>;
type LimitKey = keyof typeof MESSAGE_LIMITS;

const shape = (details: string) => new MetaError(100, details);
const range = (details: string) => new MetaError(131009, details);
const slots = (details: string) => new MetaError(132000, details);
const kind = (details: string) => new MetaError(132012, details);
const length = (value: string) => [...value].length;
const show = (value: unknown) =>
  typeof value === "string" ? `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'` : (JSON.stringify(value) ?? String(value));

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Throws a MetaError for the first problem; returns what was sent. */
export function validateMetaBody(body: Obj, options: MetaValidationOptions): ValidMetaMessage {
  return new Validator(options).message(body);
}

class Validator {
  constructor(private readonly options: MetaValidationOptions) {}

  message(body: Obj): ValidMetaMessage {
    if (body.messaging_product !== undefined && body.messaging_product !== "whatsapp") {
      throw shape(`messaging_product must be 'whatsapp'; got ${show(body.messaging_product)}`);
    }
    const type = body.type;
    if (type === undefined) throw shape("type is required");
    if (typeof type !== "string" || !(PASSTHROUGH_TYPES as readonly string[]).includes(type)) {
      throw shape(`type must be one of ${PASSTHROUGH_TYPES.join(", ")}; got ${show(type)}`);
    }
    if (type === "contacts") {
      // The one type whose content is an array.
      this.contacts(body.contacts);
      return { type, kind: "contacts" };
    }
    const content = this.object(body[type], type);
    switch (type) {
      case "interactive":
        return this.interactive(content);
      case "location":
        this.location(content);
        return { type, kind: "location" };
      case "reaction":
        return this.reaction(content);
      case "text":
        return { type, kind: "text", text: this.text(content.body, "text.body", LIMITS.textMax) };
      case "template":
        return this.template(content);
      default:
        return this.media(type as MediaKind, content);
    }
  }

  private object(value: unknown, path: string): Obj {
    if (value === undefined || value === null) throw shape(`${path} is required`);
    if (!isObj(value)) throw shape(`${path} must be an object`);
    return value;
  }

  private optionalObject(value: unknown, path: string): Obj | undefined {
    return value === undefined ? undefined : this.object(value, path);
  }

  /** The limit from MESSAGE_LIMITS, or none when it is soft and soft limits are ignored. */
  private limit(key: LimitKey): number | undefined {
    if (this.options.softLimits === "ignore" && SOFT_MESSAGE_LIMITS.includes(key)) return undefined;
    return MESSAGE_LIMITS[key];
  }

  /** A required, non-empty string of at most `max` code points (no limit when max is undefined). */
  private text(value: unknown, path: string, max: number | undefined): string {
    if (value === undefined || value === null) throw shape(`${path} is required`);
    if (typeof value !== "string") throw shape(`${path} must be a string; got ${show(value)}`);
    if (value === "") throw range(max === undefined ? `${path} is empty` : `${path} is empty; 1 to ${max} characters allowed`);
    const count = length(value);
    if (max !== undefined && count > max) throw range(`${path} is ${count} characters; the limit is ${max}`);
    return value;
  }

  private optionalText(value: unknown, path: string, max: number | undefined): string | undefined {
    return value === undefined ? undefined : this.text(value, path, max);
  }

  private array(value: unknown, path: string, min: number, max: number): unknown[] {
    if (value === undefined || value === null) throw shape(`${path} is required`);
    if (!Array.isArray(value)) throw shape(`${path} must be an array`);
    if (value.length < min || value.length > max) throw range(`${path} has ${value.length} items; ${min} to ${max} allowed`);
    return value;
  }

  private interactive(i: Obj): ValidMetaMessage {
    const type = i.type;
    if (type === undefined) throw shape("interactive.type is required");
    if (type !== "button" && type !== "list" && type !== "cta_url") {
      throw shape(`interactive.type must be one of button, list, cta_url; got ${show(type)}`);
    }
    const body = this.object(i.body, "interactive.body");
    const text = this.text(body.text, "interactive.body.text", MESSAGE_LIMITS.bodyText);
    this.header(i.header, type);
    const footer = this.optionalObject(i.footer, "interactive.footer");
    if (footer) this.text(footer.text, "interactive.footer.text", MESSAGE_LIMITS.footerText);
    const action = this.object(i.action, "interactive.action");
    if (type === "button") this.buttons(action);
    else if (type === "list") this.list(action);
    else this.ctaUrl(action);
    return { type: "interactive", kind: "interactive", text };
  }

  /** Text on every kind; image, video or document on buttons and cta_url (a list's header is text only). */
  private header(value: unknown, type: "button" | "list" | "cta_url"): void {
    const header = this.optionalObject(value, "interactive.header");
    if (!header) return;
    const allowed = type === "list" ? ["text"] : ["text", "image", "video", "document"];
    if (header.type === undefined) throw shape("interactive.header.type is required");
    if (typeof header.type !== "string" || !allowed.includes(header.type)) {
      throw shape(`interactive.header.type must be ${allowed.join(" or ")} on a ${type} message; got ${show(header.type)}`);
    }
    if (header.type === "text") this.text(header.text, "interactive.header.text", MESSAGE_LIMITS.headerText);
    else this.mediaObject(this.object(header[header.type], `interactive.header.${header.type}`), `interactive.header.${header.type}`);
  }

  private buttons(action: Obj): void {
    const buttons = this.array(action.buttons, "interactive.action.buttons", MESSAGE_LIMITS.buttonsMin, MESSAGE_LIMITS.buttonsMax);
    const titles = new Map<string, number>();
    buttons.forEach((value, i) => {
      const path = `interactive.action.buttons[${i}]`;
      const button = this.object(value, path);
      if (button.type !== "reply") throw shape(`${path}.type must be 'reply'; got ${show(button.type)}`);
      const reply = this.object(button.reply, `${path}.reply`);
      this.text(reply.id, `${path}.reply.id`, MESSAGE_LIMITS.buttonId);
      const title = this.text(reply.title, `${path}.reply.title`, MESSAGE_LIMITS.buttonTitle);
      const first = titles.get(title);
      if (first !== undefined) throw range(`${path}.reply.title ${show(title)} repeats buttons[${first}]'s; button titles must be unique`);
      titles.set(title, i);
    });
  }

  private list(action: Obj): void {
    this.text(action.button, "interactive.action.button", this.limit("listButton"));
    const sections = this.array(action.sections, "interactive.action.sections", 1, MESSAGE_LIMITS.sectionsMax);
    const ids = new Map<string, string>();
    let rows = 0;
    sections.forEach((value, i) => {
      const path = `interactive.action.sections[${i}]`;
      const section = this.object(value, path);
      // One section may go untitled; with several, each needs a title.
      if (sections.length > 1 || section.title !== undefined) this.text(section.title, `${path}.title`, this.limit("sectionTitle"));
      if (section.rows === undefined || section.rows === null) throw shape(`${path}.rows is required`);
      if (!Array.isArray(section.rows)) throw shape(`${path}.rows must be an array`);
      section.rows.forEach((rowValue: unknown, j) => {
        const rowPath = `${path}.rows[${j}]`;
        const row = this.object(rowValue, rowPath);
        const id = this.text(row.id, `${rowPath}.id`, MESSAGE_LIMITS.rowId);
        const first = ids.get(id);
        if (first !== undefined) throw range(`${rowPath}.id ${show(id)} repeats ${first}.id; row ids must be unique`);
        ids.set(id, rowPath);
        this.text(row.title, `${rowPath}.title`, MESSAGE_LIMITS.rowTitle);
        this.optionalText(row.description, `${rowPath}.description`, MESSAGE_LIMITS.rowDescription);
      });
      rows += section.rows.length;
    });
    if (rows < 1 || rows > MESSAGE_LIMITS.rowsMax) {
      throw range(`interactive.action.sections has ${rows} rows in all; 1 to ${MESSAGE_LIMITS.rowsMax} allowed`);
    }
  }

  private ctaUrl(action: Obj): void {
    if (action.name !== "cta_url") throw shape(`interactive.action.name must be 'cta_url'; got ${show(action.name)}`);
    const parameters = this.object(action.parameters, "interactive.action.parameters");
    this.text(parameters.display_text, "interactive.action.parameters.display_text", this.limit("ctaText"));
    this.url(parameters.url, "interactive.action.parameters.url");
  }

  private url(value: unknown, path: string): string {
    const url = this.text(value, path, undefined);
    let protocol = "";
    try {
      protocol = new URL(url).protocol;
    } catch {
      // not a URL
    }
    if (protocol !== "http:" && protocol !== "https:") throw range(`${path} must be an http:// or https:// URL; got ${show(url)}`);
    return url;
  }

  private location(location: Obj): void {
    this.coordinate(location.latitude, "location.latitude", 90);
    this.coordinate(location.longitude, "location.longitude", 180);
    for (const field of ["name", "address"]) {
      if (location[field] !== undefined && typeof location[field] !== "string") throw shape(`location.${field} must be a string`);
    }
  }

  private coordinate(value: unknown, path: string, bound: number): void {
    if (value === undefined || value === null) throw shape(`${path} is required`);
    if (typeof value !== "number" || !Number.isFinite(value)) throw shape(`${path} must be a number; got ${show(value)}`);
    if (value < -bound || value > bound) throw range(`${path} is ${value}; -${bound} to ${bound} allowed`);
  }

  private contacts(value: unknown): void {
    if (value === undefined || value === null) throw shape("contacts is required");
    if (!Array.isArray(value)) throw shape("contacts must be an array");
    const contacts: unknown[] = value;
    if (contacts.length === 0) throw range("contacts has 0 items; at least 1 required");
    contacts.forEach((value, i) => {
      const contact = this.object(value, `contacts[${i}]`);
      const name = this.object(contact.name, `contacts[${i}].name`);
      this.text(name.formatted_name, `contacts[${i}].name.formatted_name`, undefined);
    });
  }

  private reaction(reaction: Obj): ValidMetaMessage {
    const messageId = reaction.message_id;
    if (messageId === undefined || messageId === null) throw shape("reaction.message_id is required");
    if (typeof messageId !== "string" || messageId === "") throw shape(`reaction.message_id must be a message id; got ${show(messageId)}`);
    if (reaction.emoji === undefined || reaction.emoji === null) throw shape("reaction.emoji is required ('' removes the reaction)");
    if (typeof reaction.emoji !== "string") throw shape(`reaction.emoji must be a string; got ${show(reaction.emoji)}`);
    if (!this.options.isSentMessage(messageId)) {
      throw new MetaError(131026, `reaction.message_id ${show(messageId)} is not a message sent in this conversation`);
    }
    return { type: "reaction", kind: "reaction", reaction: { messageId, emoji: reaction.emoji } };
  }

  private template(t: Obj): ValidMetaMessage {
    const name = this.text(t.name, "template.name", undefined);
    const code = this.text(this.object(t.language, "template.language").code, "template.language.code", undefined);
    if (!this.options.findTemplate) throw shape("template messages need an App number");
    const definition = this.options.findTemplate(name, code);
    if (!definition) throw new MetaError(132001, `template '${name}' does not exist in ${code}`);
    if (definition.status !== "APPROVED") {
      throw new MetaError(132001, `template '${name}' in ${code} is ${definition.status}; only APPROVED templates can be sent`);
    }
    const given = this.templateComponents(t.components);
    const parameters: SentTemplate["parameters"] = { body: [], buttons: [] };
    const rendered: SentTemplate["rendered"] = { body: "", buttons: [] };

    const header = definition.components.find((c) => c.type === "HEADER");
    const headerParams = given.header ? this.array(given.header.parameters, "template.header.parameters", 0, 10) : [];
    if (!header || (header.format === "TEXT" && variablesOf(header.text).length === 0)) {
      if (headerParams.length > 0) throw slots(`header has ${headerParams.length} parameters; '${name}' expects 0`);
      if (header?.text !== undefined) rendered.header = { format: "TEXT", text: header.text };
    } else {
      if (headerParams.length !== 1) throw slots(`header has ${headerParams.length} parameters; '${name}' expects 1 (${header.format})`);
      const param = this.object(headerParams[0], "template.header.parameters[0]");
      const want = header.format.toLowerCase();
      if (param.type !== want) throw kind(`header parameter is ${show(param.type)}; '${name}' expects ${want}`);
      if (header.format === "TEXT") {
        const value = this.text(param.text, "template.header.parameters[0].text", MESSAGE_LIMITS.headerText);
        parameters.header = { text: value };
        rendered.header = { format: "TEXT", text: fill(header.text ?? "", [value]) };
      } else if (header.format === "LOCATION") {
        const location = this.object(param.location, "template.header.parameters[0].location");
        this.location(location);
        parameters.header = { location };
        rendered.header = { format: "LOCATION", location };
      } else {
        const media = this.mediaObject(
          this.object(param[want], `template.header.parameters[0].${want}`),
          `template.header.parameters[0].${want}`,
        );
        parameters.header = { media };
        rendered.header = { format: header.format, media };
      }
    }

    const bodyText = definition.components.find((c) => c.type === "BODY")?.text ?? "";
    const expected = variablesOf(bodyText).length;
    const bodyParams = given.body ? this.array(given.body.parameters, "template.body.parameters", 0, 100) : [];
    if (bodyParams.length !== expected) throw slots(`body has ${bodyParams.length} parameters; '${name}' expects ${expected}`);
    parameters.body = bodyParams.map((value, i) => this.bodyParameter(value, `template.body.parameters[${i}]`));
    rendered.body = fill(bodyText, parameters.body);
    if ([...rendered.body].length > MESSAGE_LIMITS.bodyText) {
      throw new MetaError(132005, `the filled-in body is ${[...rendered.body].length} characters; the limit is ${MESSAGE_LIMITS.bodyText}`);
    }
    const footer = definition.components.find((c) => c.type === "FOOTER")?.text;
    if (footer !== undefined) rendered.footer = footer;

    const defined = definition.components.find((c) => c.type === "BUTTONS")?.buttons ?? [];
    for (const [index, component] of given.buttons) {
      const button = defined[index];
      if (!button) throw slots(`button index ${index}: '${name}' has ${defined.length} buttons`);
      parameters.buttons.push({ index, subType: String(component.sub_type), value: this.buttonParameter(button, component, index) });
    }
    defined.forEach((button, index) => {
      const value = parameters.buttons.find((b) => b.index === index)?.value;
      if (button.type === "URL" && variablesOf(button.url).length > 0 && value === undefined) {
        throw slots(`button ${index} (URL '${button.text}') needs its URL suffix parameter`);
      }
      if (button.type === "QUICK_REPLY") rendered.buttons.push({ type: button.type, text: button.text, payload: value ?? button.text });
      else if (button.type === "URL")
        rendered.buttons.push({ type: button.type, text: button.text, url: fill(button.url, value === undefined ? [] : [value]) });
      else rendered.buttons.push({ type: button.type, text: button.text ?? (button.type === "COPY_CODE" ? "Copy code" : "") });
    });
    return { type: "template", kind: "template", text: rendered.body, template: { name, language: code, parameters, rendered } };
  }

  /** The send's components by kind: one header, one body, buttons by index; anything else is a shape error. */
  private templateComponents(value: unknown): { header?: Obj; body?: Obj; buttons: Map<number, Obj> } {
    const result: { header?: Obj; body?: Obj; buttons: Map<number, Obj> } = { buttons: new Map() };
    if (value === undefined) return result;
    if (!Array.isArray(value)) throw shape("template.components must be an array");
    (value as unknown[]).forEach((raw, i) => {
      const path = `template.components[${i}]`;
      const component = this.object(raw, path);
      const type = typeof component.type === "string" ? component.type.toLowerCase() : "";
      if (type === "header" || type === "body") {
        if (result[type]) throw shape(`${path}: a second ${type} component`);
        result[type] = component;
      } else if (type === "button") {
        const index = Number(component.index);
        if (!Number.isInteger(index) || index < 0)
          throw shape(`${path}.index must be a button index (0, 1, …); got ${show(component.index)}`);
        if (result.buttons.has(index)) throw shape(`${path}: a second component for button ${index}`);
        result.buttons.set(index, component);
      } else throw shape(`${path}.type must be header, body or button; got ${show(component.type)}`);
    });
    return result;
  }

  /** A body parameter's value: text, or a currency's or date's fallback_value. */
  private bodyParameter(value: unknown, path: string): string {
    const param = this.object(value, path);
    if (param.type === "text") return this.text(param.text, `${path}.text`, MESSAGE_LIMITS.bodyText);
    if (param.type === "currency" || param.type === "date_time") {
      const inner = this.object(param[param.type], `${path}.${param.type}`);
      return this.text(inner.fallback_value, `${path}.${param.type}.fallback_value`, undefined);
    }
    throw kind(`${path} is ${show(param.type)}; body parameters are text, currency or date_time`);
  }

  /** A button component's one parameter, of the kind its button takes: a quick reply's payload, a URL's suffix, a code. */
  private buttonParameter(button: TemplateButton, component: Obj, index: number): string {
    const path = `template.components[button ${index}]`;
    const want = { QUICK_REPLY: "quick_reply", URL: "url", COPY_CODE: "copy_code", PHONE_NUMBER: undefined }[button.type];
    if (component.sub_type !== want) throw kind(`${path}.sub_type is ${show(component.sub_type)}; button ${index} is ${button.type}`);
    if (button.type === "URL" && variablesOf(button.url).length === 0)
      throw slots(`button ${index} has a fixed URL; it takes no parameter`);
    const params = this.array(component.parameters, `${path}.parameters`, 0, 10);
    if (params.length !== 1) throw slots(`button ${index} has ${params.length} parameters; it takes 1`);
    const param = this.object(params[0], `${path}.parameters[0]`);
    const type = button.type === "QUICK_REPLY" ? "payload" : button.type === "URL" ? "text" : "coupon_code";
    if (param.type !== type) throw kind(`${path}.parameters[0] is ${show(param.type)}; button ${index} (${button.type}) takes ${type}`);
    return this.text(param[type], `${path}.parameters[0].${type}`, type === "payload" ? MESSAGE_LIMITS.buttonId : undefined);
  }

  private media(type: MediaKind, content: Obj): ValidMetaMessage {
    const media = this.mediaObject(content, type);
    const result: ValidMetaMessage = { type, kind: type, media };
    if (content.caption !== undefined) {
      if (!CAPTIONED.includes(type)) throw shape(`${type}.caption is not allowed on ${type} messages`);
      result.caption = this.text(content.caption, `${type}.caption`, LIMITS.captionMax);
    }
    if (content.filename !== undefined) {
      if (type !== "document") throw shape(`${type}.filename is only for documents`);
      media.fileName = this.text(content.filename, "document.filename", undefined);
    }
    return result;
  }

  /** `{ id }` (a media id) or `{ link }` (an http(s) URL), exactly one of them. */
  private mediaObject(content: Obj, path: string): SentMedia {
    const hasId = content.id !== undefined;
    const hasLink = content.link !== undefined;
    if (hasId === hasLink) throw shape(`${path} needs exactly one of id and link`);
    if (hasId) return { mode: "id", mediaId: this.text(content.id, `${path}.id`, undefined) };
    return { mode: "url", url: this.url(content.link, `${path}.link`) };
  }
}
