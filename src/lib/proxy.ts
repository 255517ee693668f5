import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from "node:tls";
import type { Duplex } from "node:stream";

/**
 * Which proxy a request goes through, and a CONNECT tunnel for the WebSocket.
 *
 * Environment rules are Node-RED's own (core network nodes, lib/proxyHelper.js "strict" mode,
 * after Rob Wu's proxy-from-env, MIT): `<proto>_proxy` (npm_config_ variants first), then
 * `all_proxy`, lower case before upper case; NO_PROXY is a comma or space separated list of host
 * names (exact), `.suffix` or `*.suffix` domains, optional `:port`, or `*` for everything. A
 * socket URL counts as its HTTP twin: wss uses the https proxy, ws the http one.
 */

export type Env = Record<string, string | undefined>;

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

function getEnv(env: Env, key: string): string {
  return env[key.toLowerCase()] || env[key.toUpperCase()] || "";
}

/** False when NO_PROXY says this host (and port) is reached directly. */
export function shouldProxy(hostname: string, port: number, env: Env = process.env): boolean {
  const noProxy = (getEnv(env, "npm_config_no_proxy") || getEnv(env, "no_proxy")).toLowerCase();
  if (!noProxy) return true;
  if (noProxy === "*") return false;
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return noProxy.split(/[,\s]/).every((entry) => {
    if (!entry) return true;
    const withPort = /^(.+):(\d+)$/.exec(entry);
    let name = (withPort ? withPort[1] : entry).replace(/^\[|\]$/g, "");
    const entryPort = withPort ? Number(withPort[2]) : 0;
    if (entryPort && entryPort !== port) return true;
    if (!/^[.*]/.test(name)) return host !== name;
    if (name.startsWith("*")) name = name.slice(1);
    return !host.endsWith(name);
  });
}

/**
 * The proxy for a target URL: the explicit one when configured, else the environment's (unless
 * NO_PROXY matches). Undefined means a direct connection.
 */
export function proxyFor(target: URL, explicit?: string, env: Env = process.env): URL | undefined {
  const proto = target.protocol === "https:" || target.protocol === "wss:" ? "https" : "http";
  const port = Number(target.port) || DEFAULT_PORTS[proto];
  if (explicit) return new URL(explicit);
  if (!shouldProxy(target.hostname, port, env)) return undefined;
  let proxy =
    getEnv(env, `npm_config_${proto}_proxy`) ||
    getEnv(env, `${proto}_proxy`) ||
    getEnv(env, "npm_config_proxy") ||
    getEnv(env, "all_proxy");
  if (!proxy) return undefined;
  if (!proxy.includes("://")) proxy = `http://${proxy}`;
  return new URL(proxy);
}

/** `Basic …` for a proxy URL with user info, for Proxy-Authorization. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(credentials).toString("base64")}`;
}

/** A proxy URL fit for a log line: no user info. */
export function displayProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/** Opens a raw tunnel to host:port through an HTTP or HTTPS proxy with CONNECT. */
export function connectTunnel(
  proxy: URL,
  host: string,
  port: number,
  timeoutMs: number,
  proxyTls: TlsConnectionOptions = {},
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const authority = `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
    const headers: Record<string, string> = { host: authority };
    const auth = proxyAuthorization(proxy);
    if (auth) headers["proxy-authorization"] = auth;
    // An https:// proxy is spoken to over TLS (verified with the system CAs, or the given ones).
    const secureProxy = proxy.protocol === "https:";
    const options = {
      host: proxy.hostname.replace(/^\[|\]$/g, ""),
      port: Number(proxy.port) || (secureProxy ? 443 : 80),
      method: "CONNECT",
      path: authority,
      headers,
      agent: false as const,
      timeout: timeoutMs,
    };
    const req: ClientRequest = secureProxy ? httpsRequest({ ...options, ...proxyTls }) : httpRequest(options);
    req.once("connect", (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode === 200) {
        resolve(socket);
        return;
      }
      socket.destroy();
      const error = new Error(
        res.statusCode === 407
          ? "the proxy requires authentication (HTTP 407): set the proxy user and password"
          : `the proxy ${displayProxy(proxy)} refused the tunnel (HTTP ${res.statusCode})`,
      );
      Object.assign(error, { code: res.statusCode === 407 ? "PROXY_AUTH_REQUIRED" : "PROXY_REFUSED" });
      reject(error);
    });
    req.once("timeout", () =>
      req.destroy(Object.assign(new Error(`proxy ${displayProxy(proxy)} did not answer CONNECT`), { code: "PROXY_TIMEOUT" })),
    );
    req.once("error", reject);
    req.end();
  });
}

type AgentCallback = (err: Error | null, socket?: Duplex) => void;
interface AgentConnectOptions {
  host?: string | null;
  hostname?: string | null;
  port?: number | string | null;
  servername?: string;
}

/**
 * An http(s) Agent whose every connection is a CONNECT tunnel through the proxy; for https the
 * TLS session (with our CA, client certificate, verification setting) runs inside the tunnel.
 */
export function tunnelAgent(proxy: URL, secure: boolean, tls: TlsConnectionOptions, timeoutMs: number): HttpAgent {
  const open = (options: AgentConnectOptions, callback: AgentCallback): void => {
    const host = String(options.hostname ?? options.host ?? "localhost").replace(/^\[|\]$/g, "");
    const port = Number(options.port) || (secure ? 443 : 80);
    const started = Date.now();
    connectTunnel(proxy, host, port, timeoutMs).then(
      (socket) => {
        if (!secure) {
          callback(null, socket);
          return;
        }
        // The certificate is checked against the target: `host` for the name check, SNI only for
        // names (never an IP), and a servername from the tls-config node wins.
        const servername = tls.servername || (isIP(host) ? undefined : host);
        const secured = tlsConnect({ ...tls, socket, host, servername });
        // The TLS handshake inside the tunnel gets what is left of the time limit; on any failure
        // both the TLS socket and the tunnel are destroyed, so no attempt leaves a connection open.
        const timer = setTimeout(
          () => secured.destroy(Object.assign(new Error("TLS handshake through the proxy timed out"), { code: "PROXY_TIMEOUT" })),
          Math.max(1, timeoutMs - (Date.now() - started)),
        );
        secured.once("secureConnect", () => {
          clearTimeout(timer);
          callback(null, secured);
        });
        secured.once("error", (err: Error) => {
          clearTimeout(timer);
          secured.destroy();
          socket.destroy();
          callback(err);
        });
      },
      (err: Error) => callback(err),
    );
  };
  const AgentClass = secure ? HttpsAgent : HttpAgent;
  const agent = new AgentClass({ keepAlive: false });
  (agent as unknown as { createConnection: (o: AgentConnectOptions, cb: AgentCallback) => undefined }).createConnection = (
    options,
    callback,
  ) => {
    open(options, callback);
    return undefined;
  };
  return agent;
}
