/**
 * Message templates of the Apps' numbers (docs/decisions/0050-emulator-templates.md): seeded per number (DEMO_TEMPLATES by
 * default), created through POST /v1/pool-numbers/:id/templates, and reviewed on the emulator clock: a created template
 * reads PENDING until `templateReviewMs` has passed, then APPROVED. A seed's status never changes, so the seeded PENDING
 * and REJECTED ones stay that way for tests. reset() comes back to the seeds.
 */
import { randomInt } from "node:crypto";
import { MetaError } from "./meta-validator";
import type { AppSpec } from "./options";
import { variablesOf } from "./template-text";
import type { TemplateButton, TemplateComponent, TemplateDefinition, TemplateHeaderFormat, TemplateSeed, TemplateStatus } from "./types";

/** What every App number starts with unless its spec says otherwise. */
export const DEMO_TEMPLATES: readonly TemplateSeed[] = [
  {
    name: "appointment_reminder",
    language: "en_US",
    category: "UTILITY",
    components: [
      { type: "BODY", text: "Hi {{1}}, your appointment is on {{2}}." },
      { type: "FOOTER", text: "Tap a button to answer" },
      {
        type: "BUTTONS",
        buttons: [
          { type: "QUICK_REPLY", text: "Confirm" },
          { type: "QUICK_REPLY", text: "Reschedule" },
        ],
      },
    ],
  },
  {
    name: "appointment_reminder",
    language: "pt_BR",
    category: "UTILITY",
    components: [
      { type: "BODY", text: "Olá {{1}}, sua consulta é em {{2}}." },
      { type: "FOOTER", text: "Toque num botão para responder" },
      {
        type: "BUTTONS",
        buttons: [
          { type: "QUICK_REPLY", text: "Confirmar" },
          { type: "QUICK_REPLY", text: "Remarcar" },
        ],
      },
    ],
  },
  {
    name: "order_update",
    language: "en_US",
    category: "UTILITY",
    components: [
      { type: "HEADER", format: "IMAGE" },
      { type: "BODY", text: "Order {{1}} shipped: {{2}}" },
      { type: "BUTTONS", buttons: [{ type: "URL", text: "Track order", url: "https://example.com/track/{{1}}" }] },
    ],
  },
  {
    name: "delivery_window",
    language: "en_US",
    category: "UTILITY",
    components: [
      { type: "HEADER", format: "TEXT", text: "Delivery {{1}}" },
      { type: "BODY", text: "Your parcel arrives between {{1}} and {{2}}." },
    ],
  },
  {
    name: "welcome",
    language: "en_US",
    category: "MARKETING",
    components: [{ type: "BODY", text: "Thanks for writing to us! Reply to this message to start a chat." }],
  },
  {
    name: "seasonal_promo",
    language: "en_US",
    category: "MARKETING",
    status: "PENDING",
    components: [{ type: "BODY", text: "Our {{1}} sale starts now!" }],
  },
  {
    name: "account_alert",
    language: "en_US",
    category: "UTILITY",
    status: "REJECTED",
    rejectedReason: "INVALID_FORMAT",
    components: [{ type: "BODY", text: "Your account {{1}} needs attention" }],
  },
];

/** Meta's limits for a template's parts (docs/protocol.md#byon-apps; the team's notes on WhatsApp messages). */
export const TEMPLATE_LIMITS = {
  name: 512,
  headerText: 60,
  bodyText: 1024,
  footerText: 60,
  buttons: 10,
  urlButtons: 2,
  phoneButtons: 1,
  copyCodeButtons: 1,
  buttonText: 25,
} as const;

const CATEGORIES = ["MARKETING", "UTILITY", "AUTHENTICATION", "TRANSACTIONAL"];
const HEADER_FORMATS = ["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"];
const BUTTON_TYPES = ["QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE"];

interface StoredTemplate {
  definition: TemplateDefinition;
  /** Created through the API: APPROVED from this emulator-clock time on. */
  reviewEndsAt?: number;
}

export class TemplateStore {
  private readonly byNumber = new Map<string, StoredTemplate[]>();

  constructor(private readonly reviewMs: () => number) {}

  /** Back to the seeds of every App number (construction, reset(), configure({ apps })). */
  restore(apps: readonly AppSpec[]): void {
    this.byNumber.clear();
    for (const app of apps) {
      for (const number of app.numbers) {
        const seeds = number.templates ?? DEMO_TEMPLATES;
        this.byNumber.set(
          number.id,
          seeds.map((seed) => ({ definition: definitionOf(seed, seed.status ?? "APPROVED") })),
        );
      }
    }
  }

  /** Every template of the number, its status as of `now`; copies. */
  list(numberId: string, now: number): TemplateDefinition[] {
    return (this.byNumber.get(numberId) ?? []).map((stored) => this.current(stored, now));
  }

  find(numberId: string, name: string, language: string, now: number): TemplateDefinition | undefined {
    const stored = (this.byNumber.get(numberId) ?? []).find((t) => t.definition.name === name && t.definition.language === language);
    return stored && this.current(stored, now);
  }

  /** Checks a create body as Meta would (throws a MetaError) and stores it PENDING. */
  create(numberId: string, body: Record<string, unknown>, now: number): TemplateDefinition {
    const seed = checkCreate(body);
    const templates = this.byNumber.get(numberId);
    if (!templates) throw new MetaError(100, `number ${numberId} has no templates`);
    if (templates.some((t) => t.definition.name === seed.name && t.definition.language === seed.language)) {
      throw new MetaError(100, `a template named '${seed.name}' already exists in ${seed.language}`);
    }
    const stored: StoredTemplate = { definition: definitionOf(seed, "PENDING"), reviewEndsAt: now + this.reviewMs() };
    templates.push(stored);
    return this.current(stored, now);
  }

  private current(stored: StoredTemplate, now: number): TemplateDefinition {
    const definition = structuredClone(stored.definition);
    if (stored.reviewEndsAt !== undefined && now >= stored.reviewEndsAt) definition.status = "APPROVED";
    return definition;
  }
}

function definitionOf(seed: TemplateSeed, status: TemplateStatus): TemplateDefinition {
  const definition: TemplateDefinition = {
    // Meta's template ids are long numeric strings.
    id: `${randomInt(100_000, 1_000_000)}${String(randomInt(0, 1_000_000_000)).padStart(9, "0")}`,
    name: seed.name,
    language: seed.language,
    status,
    category: seed.category,
    components: structuredClone(seed.components),
  };
  if (status === "REJECTED" && seed.rejectedReason) definition.rejected_reason = seed.rejectedReason;
  return definition;
}

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value);
const bad = (details: string) => new MetaError(100, details);

function text(value: unknown, path: string, max: number): string {
  if (typeof value !== "string" || value === "") throw bad(`${path} must be a non-empty string`);
  if ([...value].length > max) throw new MetaError(131009, `${path} is ${[...value].length} characters; the limit is ${max}`);
  return value;
}

/** Variables must be {{1}}…{{n}} with none skipped. */
function checkVariables(value: string, path: string, max = Infinity): void {
  const found = variablesOf(value);
  if (found.length > max) throw bad(`${path} has ${found.length} variables; at most ${max} allowed`);
  const sorted = [...found].sort((a, b) => a - b);
  if (sorted.some((n, i) => n !== i + 1)) throw bad(`${path} variables must be {{1}} to {{${found.length}}}; got ${sorted.join(", ")}`);
}

/** A create body (name, language, category, components) as a seed; the first problem is a MetaError. */
function checkCreate(body: Obj): TemplateSeed {
  const name = text(body.name, "name", TEMPLATE_LIMITS.name);
  if (!/^[a-z0-9_]+$/.test(name)) throw bad(`name must be lowercase letters, digits and _; got '${name.slice(0, 40)}'`);
  const language = text(body.language, "language", 16);
  if (!/^[a-z]{2,3}(_[A-Z]{2})?$/.test(language)) throw bad(`language must be a code like en_US; got '${language}'`);
  const category = typeof body.category === "string" ? body.category.toUpperCase() : "";
  if (!CATEGORIES.includes(category)) throw bad(`category must be one of ${CATEGORIES.join(", ")}`);
  if (!Array.isArray(body.components) || body.components.length === 0) throw bad("components must be a non-empty array");
  const components: TemplateComponent[] = [];
  const seen = new Set<string>();
  body.components.forEach((value: unknown, i) => {
    const path = `components[${i}]`;
    if (!isObj(value)) throw bad(`${path} must be an object`);
    const type = typeof value.type === "string" ? value.type.toUpperCase() : "";
    if (!["HEADER", "BODY", "FOOTER", "BUTTONS"].includes(type)) throw bad(`${path}.type must be HEADER, BODY, FOOTER or BUTTONS`);
    if (seen.has(type)) throw bad(`${path}: only one ${type} allowed`);
    seen.add(type);
    if (type === "HEADER") {
      const format = typeof value.format === "string" ? value.format.toUpperCase() : "";
      if (!HEADER_FORMATS.includes(format)) throw bad(`${path}.format must be one of ${HEADER_FORMATS.join(", ")}`);
      if (format === "TEXT") {
        const headerText = text(value.text, `${path}.text`, TEMPLATE_LIMITS.headerText);
        checkVariables(headerText, `${path}.text`, 1);
        components.push({ type: "HEADER", format: "TEXT", text: headerText });
      } else components.push({ type: "HEADER", format: format as TemplateHeaderFormat });
    } else if (type === "BODY") {
      const bodyText = text(value.text, `${path}.text`, TEMPLATE_LIMITS.bodyText);
      checkVariables(bodyText, `${path}.text`);
      components.push({ type: "BODY", text: bodyText });
    } else if (type === "FOOTER") {
      const footer = text(value.text, `${path}.text`, TEMPLATE_LIMITS.footerText);
      if (variablesOf(footer).length > 0) throw bad(`${path}.text may not have variables`);
      components.push({ type: "FOOTER", text: footer });
    } else {
      components.push({ type: "BUTTONS", buttons: checkButtons(value.buttons, `${path}.buttons`) });
    }
  });
  if (!seen.has("BODY")) throw bad("components need a BODY");
  return { name, language, category, components };
}

function checkButtons(value: unknown, path: string): TemplateButton[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > TEMPLATE_LIMITS.buttons) {
    throw bad(`${path} must have 1 to ${TEMPLATE_LIMITS.buttons} buttons`);
  }
  const buttons = value.map((raw: unknown, i): TemplateButton => {
    const at = `${path}[${i}]`;
    if (!isObj(raw)) throw bad(`${at} must be an object`);
    const type = typeof raw.type === "string" ? raw.type.toUpperCase() : "";
    if (!BUTTON_TYPES.includes(type)) throw bad(`${at}.type must be one of ${BUTTON_TYPES.join(", ")}`);
    if (type === "COPY_CODE") return { type: "COPY_CODE", ...(typeof raw.example === "string" ? { example: raw.example } : {}) };
    const label = text(raw.text, `${at}.text`, TEMPLATE_LIMITS.buttonText);
    if (type === "QUICK_REPLY") return { type: "QUICK_REPLY", text: label };
    if (type === "PHONE_NUMBER")
      return { type: "PHONE_NUMBER", text: label, phone_number: text(raw.phone_number, `${at}.phone_number`, 20) };
    const url = text(raw.url, `${at}.url`, 2000);
    if (!/^https?:\/\//.test(url)) throw bad(`${at}.url must be an http(s) URL`);
    checkVariables(url, `${at}.url`, 1);
    if (variablesOf(url).length === 1 && !/\{\{\s*1\s*\}\}$/.test(url)) throw bad(`${at}.url: the variable must end the URL`);
    return { type: "URL", text: label, url };
  });
  const count = (type: string) => buttons.filter((b) => b.type === type).length;
  if (count("URL") > TEMPLATE_LIMITS.urlButtons) throw bad(`${path}: at most ${TEMPLATE_LIMITS.urlButtons} URL buttons`);
  if (count("PHONE_NUMBER") > TEMPLATE_LIMITS.phoneButtons)
    throw bad(`${path}: at most ${TEMPLATE_LIMITS.phoneButtons} PHONE_NUMBER button`);
  if (count("COPY_CODE") > TEMPLATE_LIMITS.copyCodeButtons)
    throw bad(`${path}: at most ${TEMPLATE_LIMITS.copyCodeButtons} COPY_CODE button`);
  // Quick replies must sit together, not between other buttons.
  const kinds = buttons.map((b) => (b.type === "QUICK_REPLY" ? "q" : "o")).join("");
  if (/q+o+q/.test(kinds)) throw bad(`${path}: quick-reply buttons must be grouped together`);
  return buttons;
}
