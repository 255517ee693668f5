import { createHash } from "node:crypto";
import type { NodeAPI } from "node-red";
import { PipesClient } from "../lib/client";
import { API_KEY_PREFIXES, DEFAULT_BASE_URL } from "../lib/protocol";
import { redact } from "../lib/redact";
import type { TlsOptions } from "../lib/tls";
import { credentialValue } from "./shared/credentials";
import { translator, type Translate } from "./shared/i18n";
import { PLAIN_HTTP_HOSTS, readTuning } from "../lib/settings";
import { nodeNumbers, settingProblemText } from "./shared/settings";
import type { PipesConfigCredentials, PipesConfigDef, PipesConfigNode } from "./shared/types";

/**
 * The pipes-config node: one account/scope, one PipesClient (one socket, outbox, REST client).
 * Thin on purpose: it reads its settings and credentials, builds the client, and stops it on close.
 */

/** Config nodes per (base URL, key, user scope): two of them would steal each other's offline backlog. */
const userScopedOwners = new Map<string, Set<string>>();

/** A Redis URL we can use: redis:// or rediss://, with no password in it (it would sit in clear in flows.json). */
function redisProblem(t: (key: string) => string, url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return t("problems.redis-invalid");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") return t("problems.redis-invalid");
  if (parsed.password) return t("problems.redis-password-in-url");
  return undefined;
}

const nodeInit = (RED: NodeAPI): void => {
  const t = translator(RED, "pipes-config");

  function PipesConfig(this: PipesConfigNode, def: PipesConfigDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const apiKey = credentialValue(RED, node, node.credentials?.apiKey);
    const baseUrl = (def.baseUrl || DEFAULT_BASE_URL).trim();
    const scope = def.scope === "conversation" ? "conversation" : "user";
    const conversationId = def.conversationId?.trim() || undefined;
    const proxyUrl = proxyWithCredentials(def.proxyUrl, node.credentials?.proxyUsername, node.credentials?.proxyPassword);
    const secrets = [apiKey, node.credentials?.proxyPassword, proxyUrl];
    const tls = tlsOptions(RED, def.tls);
    const log = {
      info: (text: string) => node.log(redact(text, secrets)),
      warn: (text: string) => node.warn(redact(text, secrets)),
      error: (text: string) => node.error(redact(text, secrets)),
      debug: (text: string) => node.debug(redact(text, secrets)),
    };

    const numbers = nodeNumbers(t, def, [
      "backoffMaxSeconds",
      "outboxLimit",
      "outboxMaxWaitSeconds",
      "downloadConcurrency",
      "downloadBufferMB",
      "redisLeaseSeconds",
    ]);
    const redisUrl = def.redisUrl?.trim() || undefined;
    const redisPassword = credentialValue(RED, node, node.credentials?.redisPassword);
    secrets.push(redisPassword);
    const tuning = readTuning(def.tuning);
    node.configError =
      problemWith(t, apiKey, baseUrl, scope, conversationId) ??
      // A password typed into the URL would be stored in clear in flows.json: refuse it.
      (proxyHasCredentials(def.proxyUrl) ? t("problems.proxy-credentials") : undefined) ??
      (def.proxyUrl?.trim() && !proxyUrl ? t("problems.proxy-invalid") : undefined) ??
      (def.tls && !tls ? t("problems.tls-invalid") : undefined) ??
      (redisUrl ? redisProblem(t, redisUrl) : undefined) ??
      numbers.problem ??
      (tuning.problem && settingProblemText(t, tuning.problem));
    if (node.configError) {
      node.warn(node.configError);
    } else {
      const { values } = numbers;
      node.client = new PipesClient({
        baseUrl,
        apiKey: apiKey!,
        scope,
        conversationId,
        poolNumberId: def.poolNumberId?.trim() || undefined,
        backoffMaxMs: values.backoffMaxSeconds * 1000,
        outboxLimit: values.outboxLimit,
        outboxMaxWaitMs: values.outboxMaxWaitSeconds * 1000,
        downloadConcurrency: values.downloadConcurrency,
        downloadBufferBytes: values.downloadBufferMB * 1024 * 1024,
        ...tuning.values,
        tls,
        proxyUrl,
        logger: log,
        coordination: redisUrl
          ? {
              url: redisUrl,
              password: redisPassword,
              prefix: def.redisPrefix?.trim() || "pipes:",
              instance: def.redisInstance?.trim() || undefined,
              leaseMs: values.redisLeaseSeconds * 1000,
            }
          : undefined,
      });
    }

    if (tls?.rejectUnauthorized === false) node.warn(t("warnings.tls-unverified"));

    // Two user-scoped sockets filtered to different pool numbers do not share a backlog: the number is part of the owner.
    const ownerKey =
      scope === "user" && apiKey
        ? `${baseUrl}\n${createHash("sha256").update(apiKey).digest("hex")}\n${def.poolNumberId?.trim() ?? ""}`
        : undefined;
    if (ownerKey) {
      const owners = userScopedOwners.get(ownerKey) ?? new Set<string>();
      owners.add(node.id);
      userScopedOwners.set(ownerKey, owners);
      if (owners.size > 1) {
        node.warn(t("warnings.two-user-scoped"));
      }
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      if (ownerKey) {
        const owners = userScopedOwners.get(ownerKey);
        owners?.delete(node.id);
        if (owners?.size === 0) userScopedOwners.delete(ownerKey);
      }
      const client = node.client;
      node.client = undefined;
      if (!client) {
        done();
        return;
      }
      // client.stop() bounds itself (1.5 s for the socket); catch so close always completes.
      client.stop(1500).then(done, (err: unknown) => {
        node.warn(redact(t("warnings.close-failed", { reason: String(err) }), secrets));
        done();
      });
    });
  }

  RED.nodes.registerType<PipesConfigNode, PipesConfigDef, unknown, PipesConfigCredentials>("pipes-config", PipesConfig, {
    credentials: {
      redisPassword: { type: "password" },
      apiKey: { type: "password" },
      proxyUsername: { type: "text" },
      proxyPassword: { type: "password" },
    },
  });
};

/** The settings of the selected tls-config node (CA, client certificate, verification), if any. */
function tlsOptions(RED: NodeAPI, id: string | undefined): TlsOptions | undefined {
  if (!id) return undefined;
  const tlsNode = RED.nodes.getNode(id) as unknown as {
    valid?: boolean;
    addTLSOptions?: (opts: Record<string, unknown>) => Record<string, unknown>;
  } | null;
  // Missing, or its files could not be read (it logs why): refuse rather than connect without them.
  if (!tlsNode?.addTLSOptions || tlsNode.valid === false) return undefined;
  return tlsNode.addTLSOptions({});
}

/** True when the proxy URL field itself carries a user or password (they belong in the credentials). */
function proxyHasCredentials(raw: string | undefined): boolean {
  const value = raw?.trim();
  if (!value) return false;
  try {
    const url = new URL(value.includes("://") ? value : `http://${value}`);
    return url.username !== "" || url.password !== "";
  } catch {
    return /@/.test(value); // unparseable, but shaped like user:password@host: refuse to use it
  }
}

/** The explicit proxy URL with the user and password from the credentials; undefined when unset or invalid. */
function proxyWithCredentials(raw: string | undefined, username: string | undefined, password: string | undefined): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  try {
    const url = new URL(value.includes("://") ? value : `http://${value}`);
    if (url.protocol !== "http:") return undefined; // CONNECT tunnels over plain HTTP to the proxy only
    if (username) url.username = encodeURIComponent(username);
    if (password) url.password = encodeURIComponent(password);
    return url.href;
  } catch {
    return undefined;
  }
}

function problemWith(
  t: Translate,
  apiKey: string | undefined,
  baseUrl: string,
  scope: string,
  conversationId: string | undefined,
): string | undefined {
  if (!apiKey) return t("problems.missing-key");
  if (!API_KEY_PREFIXES.some((prefix) => apiKey.startsWith(prefix))) return t("problems.key-prefix");
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return t("problems.url-invalid");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return t("problems.url-scheme");
  // Plain http would send the key in clear: only for a local emulator.
  if (url.protocol === "http:" && !(PLAIN_HTTP_HOSTS as readonly string[]).includes(url.hostname)) return t("problems.url-http");
  if (scope === "conversation" && !conversationId) return t("problems.conversation-missing");
  return undefined;
}

export = nodeInit;
