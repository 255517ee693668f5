import { PipesError } from "./errors";
import { ERROR_CODES, MESSAGE_LIMITS, type TemplateButtonDefinition, type TemplateDefinition, type TemplateMessage } from "./protocol";

/**
 * WhatsApp templates: what a template asks each send to fill (its slots, read from its definition),
 * and the friendly shape a flow writes turned into Meta's `template` object, checked against the
 * definition when it is known (docs/decisions/0054-template-sends.md). Every mismatch names its slot:
 * "body {{2}} is missing: the template 'appointment_reminder' (en_US) has 2 variables".
 */

export type HeaderSlot =
  | { kind: "none" }
  /** A text header; `variables` is 0 or 1 (WhatsApp allows one). */
  | { kind: "text"; text: string; variables: string[] }
  | { kind: "media"; format: "image" | "video" | "document" }
  | { kind: "location" };

export interface ButtonSlot {
  index: number;
  /** quick_reply: an optional payload; url: a suffix when the URL ends in a variable; other: nothing to fill. */
  type: "quick_reply" | "url" | "other";
  text: string;
  /** True when each send must give a value (a URL button with a variable). */
  needsValue: boolean;
}

export interface TemplateSlots {
  name: string;
  language: string;
  status: string;
  header: HeaderSlot;
  body: { text: string; variables: string[] };
  footer?: string;
  buttons: ButtonSlot[];
}

/** The friendly template message of a flow (msg.payload, or the node's form). */
export interface TemplateInput {
  name?: unknown;
  language?: unknown;
  /** Values of the body variables in order ({{1}}, {{2}}, ...), or by name for named variables. */
  body?: unknown;
  /** A text value, or media: an https URL, a media id, or {type, link | id}; a location {latitude, longitude}. */
  header?: unknown;
  /** Per template button (by index): a quick reply's payload, or a URL button's suffix; empty skips it. */
  buttons?: unknown;
}

const VARIABLE = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
/** Longest definition text read (WhatsApp's own limits are 1,024 for a body, 60 for a header). */
const MAX_DEFINITION_TEXT = 4096;
const MEDIA_FORMATS = ["image", "video", "document"] as const;
/** Meta: lowercase letters, digits and underscores, up to 512 characters. */
const NAME_PATTERN = /^[a-z0-9_]{1,512}$/;
/** en, en_US, pt_BR, zh_CN, es_419... */
const LANGUAGE_PATTERN = /^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?$/;

/** The variables of a text, in order of first appearance ("1", "2", or names). */
export function variablesOf(text: string): string[] {
  // A definition comes from the server: bounded work whatever its size (a body is 1,024 at most).
  const seen = new Set<string>();
  for (const [, name] of text.slice(0, MAX_DEFINITION_TEXT).matchAll(VARIABLE)) seen.add(name);
  return [...seen];
}

/**
 * What a send of this template must fill. The definition comes from the server: anything malformed
 * in it (a component that is not an object, a text that is not text) is read as absent, never thrown.
 */
export function templateSlots(definition: TemplateDefinition): TemplateSlots {
  const components = (Array.isArray(definition.components) ? definition.components : []).filter(isObject);
  const find = (type: string) => components.find((c) => String(c.type).toUpperCase() === type);
  const textOf = (value: unknown) => (typeof value === "string" ? value.slice(0, MAX_DEFINITION_TEXT) : undefined);
  const header = find("HEADER");
  const bodyText = textOf(find("BODY")?.text) ?? "";
  const footer = textOf(find("FOOTER")?.text);
  const buttonList: unknown = find("BUTTONS")?.buttons;
  const buttons = (Array.isArray(buttonList) ? buttonList : []).filter(isObject) as unknown as TemplateButtonDefinition[];
  return {
    name: String(definition.name),
    language: String(definition.language),
    status: String(definition.status),
    header: headerSlot(typeof header?.format === "string" ? header.format : undefined, textOf(header?.text)),
    body: { text: bodyText, variables: variablesOf(bodyText) },
    ...(footer ? { footer } : {}),
    buttons: buttons.map(buttonSlot),
  };
}

function headerSlot(format: string | undefined, text: string | undefined): HeaderSlot {
  const kind = String(format ?? "").toLowerCase();
  if (kind === "text") return { kind: "text", text: text ?? "", variables: variablesOf(text ?? "") };
  if ((MEDIA_FORMATS as readonly string[]).includes(kind)) return { kind: "media", format: kind as (typeof MEDIA_FORMATS)[number] };
  if (kind === "location") return { kind: "location" };
  return { kind: "none" };
}

function buttonSlot(button: TemplateButtonDefinition, index: number): ButtonSlot {
  const type = String(button.type).toUpperCase();
  const text = typeof button.text === "string" ? button.text.slice(0, 200) : "";
  if (type === "QUICK_REPLY") return { index, type: "quick_reply", text, needsValue: false };
  if (type === "URL") return { index, type: "url", text, needsValue: typeof button.url === "string" && variablesOf(button.url).length > 0 };
  return { index, type: "other", text, needsValue: false };
}

/** The definition of `name` in `language` among a number's templates, or why it cannot be sent. */
export function findTemplate(definitions: readonly TemplateDefinition[], name: string, language: string): TemplateDefinition {
  const named = definitions.filter((d) => d.name === name);
  const match = named.find((d) => d.language === language);
  if (!match) {
    const languages = named.map((d) => d.language);
    throw new PipesError(
      ERROR_CODES.TEMPLATE_NOT_USABLE,
      languages.length
        ? `the template '${name}' has no ${language} version (it has ${languages.join(", ")})`
        : `no template named '${name}' on this number`,
    );
  }
  if (String(match.status).toUpperCase() !== "APPROVED") {
    throw new PipesError(
      ERROR_CODES.TEMPLATE_NOT_USABLE,
      `the template '${name}' (${language}) is ${match.status}: only APPROVED templates can be sent`,
    );
  }
  return match;
}

/**
 * Meta's `template` object from the friendly input. With the template's definition every slot is
 * checked (count, kind, lengths once filled in); without it, only the shapes are.
 */
export function prepareTemplate(input: unknown, definition?: TemplateDefinition): TemplateMessage {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw invalid("the template message must be an object");
  const t = input as TemplateInput;
  const name = requiredText(t.name, "name");
  if (!NAME_PATTERN.test(name)) throw invalid(`name '${clip(name)}' is not a template name (lowercase letters, digits and _)`);
  const language = requiredText(t.language, "language");
  if (!LANGUAGE_PATTERN.test(language)) throw invalid(`language '${clip(language)}' is not a language code like en_US or pt_BR`);
  const slots = definition ? templateSlots(definition) : undefined;
  const where = `the template '${name}' (${language})`;

  const components: Record<string, unknown>[] = [];
  const header = headerComponent(t.header, slots, where);
  if (header) components.push(header);
  const body = bodyComponent(t.body, slots, where);
  if (body) components.push(body);
  components.push(...buttonComponents(t.buttons, slots, where));
  return { name, language: { code: language }, ...(components.length ? { components } : {}) };
}

function headerComponent(value: unknown, slots: TemplateSlots | undefined, where: string): Record<string, unknown> | undefined {
  const given = !isEmpty(value);
  if (!slots) return given ? { type: "header", parameters: [headerParameter(value, undefined)] } : undefined;
  const slot = slots.header;
  const needed = slot.kind === "media" || slot.kind === "location" || (slot.kind === "text" && slot.variables.length > 0);
  if (!needed) {
    if (given) throw invalid(`header: ${where} has no header to fill`);
    return undefined;
  }
  if (!given) throw invalid(`header is missing: ${where} needs ${describeHeader(slot)}`);
  const parameter = headerParameter(value, slot);
  if (slot.kind === "text") {
    // A function, not a string: a "$&" in the value is text, not a replacement pattern.
    const filled = slot.text.replace(VARIABLE, () => String(parameter.text));
    if (filled.length > MESSAGE_LIMITS.headerText)
      throw invalid(`header is ${filled.length} characters once filled in; WhatsApp allows ${MESSAGE_LIMITS.headerText}`);
  }
  return { type: "header", parameters: [parameter] };
}

function describeHeader(slot: HeaderSlot): string {
  return slot.kind === "media"
    ? `an ${slot.format} (an https URL or a media id)`
    : slot.kind === "location"
      ? "a location"
      : "a text value";
}

function headerParameter(value: unknown, slot: HeaderSlot | undefined): Record<string, unknown> {
  if (Buffer.isBuffer(value)) {
    throw invalid("header is a Buffer: a template header takes an https URL or a media id (Pipes has no upload endpoint)");
  }
  const kind = slot?.kind;
  if (kind === "location" || (!slot && isObject(value) && "latitude" in value)) {
    const place = isObject(value) ? value : {};
    const latitude = Number(place.latitude);
    const longitude = Number(place.longitude);
    if (!(Math.abs(latitude) <= 90) || !(Math.abs(longitude) <= 180)) throw invalid("header: a location needs latitude and longitude");
    return { type: "location", location: { latitude, longitude, ...pickText(place, ["name", "address"]) } };
  }
  if (kind === "media" || (!slot && isObject(value) && typeof value.type === "string")) {
    const format = slot?.kind === "media" ? slot.format : String((value as Record<string, unknown>).type);
    if (!(MEDIA_FORMATS as readonly string[]).includes(format))
      throw invalid(`header type '${clip(format)}' must be image, video or document`);
    return { type: format, [format]: mediaReference(value, format) };
  }
  if (isObject(value) && value.type === "text") return { type: "text", text: parameterText(value.text, "header") };
  return { type: "text", text: parameterText(value, "header") };
}

/** An https link or a media id; from a string, or an object with `link` / `id` (and a document's filename). */
function mediaReference(value: unknown, format: string): Record<string, unknown> {
  const object = isObject(value) ? value : undefined;
  const ref = object ? (object.link ?? object.id ?? object.url) : value;
  if (typeof ref !== "string" || ref.trim() === "") throw invalid(`header: the ${format} needs an https URL or a media id`);
  const text = ref.trim();
  const filename = object && typeof object.filename === "string" ? { filename: object.filename } : {};
  if (/^https:\/\//i.test(text)) return { link: text, ...filename };
  if (/^http:\/\//i.test(text)) throw invalid(`header: the ${format} URL must be https (WhatsApp fetches it)`);
  if (/^[A-Za-z0-9_.-]{1,256}$/.test(text)) return { id: text, ...filename };
  throw invalid(`header: '${clip(text)}' is neither an https URL nor a media id`);
}

function bodyComponent(value: unknown, slots: TemplateSlots | undefined, where: string): Record<string, unknown> | undefined {
  const variables = slots?.body.variables;
  const named = variables !== undefined && variables.length > 0 && variables.some((v) => !/^\d+$/.test(v));
  let parameters: Record<string, unknown>[];
  if (isEmpty(value)) {
    parameters = [];
  } else if (Array.isArray(value)) {
    parameters = value.map((v, i) => bodyParameter(v, `body {{${variables?.[i] ?? i + 1}}}`));
  } else if (isObject(value) && !("type" in value)) {
    // Named variables: {customer: "Ana"} -> {type: "text", parameter_name: "customer", text: "Ana"}.
    parameters = Object.entries(value).map(([key, v]) => ({ ...bodyParameter(v, `body {{${key}}}`), parameter_name: key }));
  } else {
    parameters = [bodyParameter(value, "body {{1}}")];
  }
  if (variables) {
    if (named) {
      const givenNames = parameters.map((p) => String(p.parameter_name));
      const missing = variables.filter((v) => !givenNames.includes(v));
      if (missing.length) throw invalid(`body {{${missing[0]}}} is missing: ${where} has the variables ${list(variables)}`);
      const extra = givenNames.find((n) => !variables.includes(n));
      if (extra !== undefined) throw invalid(`body {{${extra}}}: ${where} has no such variable (it has ${list(variables)})`);
    } else if (parameters.length !== variables.length) {
      const problem =
        parameters.length < variables.length ? `body {{${parameters.length + 1}}} is missing` : `body has ${parameters.length} values`;
      throw invalid(`${problem}: ${where} has ${variables.length} variable${variables.length === 1 ? "" : "s"}`);
    }
    const filled = fill(slots.body.text, variables, parameters);
    if (filled.length > MESSAGE_LIMITS.bodyText)
      throw invalid(`body is ${filled.length} characters once filled in; WhatsApp allows ${MESSAGE_LIMITS.bodyText}`);
  }
  return parameters.length ? { type: "body", parameters } : undefined;
}

/** A body value: text (strings, numbers, booleans) or one of Meta's own parameter objects as it is. */
function bodyParameter(value: unknown, slot: string): Record<string, unknown> {
  if (isObject(value) && typeof value.type === "string") {
    if (value.type === "text") return { type: "text", text: parameterText(value.text, slot) };
    if (value.type === "currency" || value.type === "date_time") return { ...value };
    throw invalid(`${slot}: a body value of type '${clip(value.type)}' is not text, currency or date_time`);
  }
  return { type: "text", text: parameterText(value, slot) };
}

function buttonComponents(value: unknown, slots: TemplateSlots | undefined, where: string): Record<string, unknown>[] {
  if (!isEmpty(value) && !Array.isArray(value)) throw invalid("buttons must be a list, one value per template button (empty to skip one)");
  const values = (value as unknown[] | undefined) ?? [];
  const definitions = slots?.buttons;
  if (definitions && values.length > definitions.length) {
    throw invalid(`buttons[${definitions.length}]: ${where} has ${definitions.length} button${definitions.length === 1 ? "" : "s"}`);
  }
  const components: Record<string, unknown>[] = [];
  const count = definitions ? definitions.length : values.length;
  for (let index = 0; index < count; index++) {
    const given = values[index];
    const slot = definitions?.[index];
    const label = `buttons[${index}]${slot?.text ? ` ("${slot.text}")` : ""}`;
    if (isEmpty(given)) {
      if (slot?.needsValue) throw invalid(`${label} is missing: its URL ends in a variable that each send fills`);
      continue;
    }
    const asObject = isObject(given) ? given : undefined;
    const type = slot ? slot.type : asObject && "url" in asObject ? "url" : "quick_reply";
    if (type === "other" || (type === "url" && slot && !slot.needsValue)) throw invalid(`${label} takes no value in ${where}`);
    if (type === "url") {
      const suffix = parameterText(asObject ? (asObject.url ?? asObject.text) : given, label);
      components.push({ type: "button", sub_type: "url", index: String(index), parameters: [{ type: "text", text: suffix }] });
    } else {
      const payload = parameterText(asObject ? asObject.payload : given, label);
      if (payload.length > MESSAGE_LIMITS.buttonId)
        throw invalid(`${label} payload is ${payload.length} characters; at most ${MESSAGE_LIMITS.buttonId}`);
      components.push({ type: "button", sub_type: "quick_reply", index: String(index), parameters: [{ type: "payload", payload }] });
    }
  }
  return components;
}

/** The body text with its variables filled in (for the length check and previews). */
export function fill(text: string, variables: readonly string[], parameters: readonly Record<string, unknown>[]): string {
  return text.replace(VARIABLE, (match, name: string) => {
    const byName = parameters.find((p) => p.parameter_name === name);
    const parameter = byName ?? parameters[variables.indexOf(name)];
    if (!parameter) return match;
    return typeof parameter.text === "string" ? parameter.text : JSON.stringify(parameter[String(parameter.type)] ?? "");
  });
}

function parameterText(value: unknown, slot: string): string {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value !== "string")
    throw invalid(`${slot} must be text, got ${value === null ? "null" : Array.isArray(value) ? "a list" : typeof value}`);
  if (value.trim() === "") throw invalid(`${slot} is empty (WhatsApp refuses empty template values)`);
  // WhatsApp refuses newlines, tabs and more than 4 spaces in a row inside a variable (error 132018).
  if (/[\n\t]| {5}/.test(value))
    throw invalid(`${slot} has a newline, a tab or more than 4 spaces in a row: WhatsApp refuses them in a template value`);
  return value;
}

function requiredText(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") throw invalid(`${what} is missing: a template is sent by its name and language`);
  return value.trim();
}

function pickText(object: Record<string, unknown>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) if (typeof object[key] === "string" && object[key]) out[key] = object[key];
  return out;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const isEmpty = (value: unknown) => value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);
const list = (names: readonly string[]) => names.map((n) => `{{${n}}}`).join(", ");

function invalid(message: string): PipesError {
  return new PipesError(ERROR_CODES.INVALID_MESSAGE, message);
}
