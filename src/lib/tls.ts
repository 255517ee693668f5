import type { ConnectionOptions } from "node:tls";

/** The TLS settings we pass on (from a Node-RED tls-config node): CA, client certificate, verification. */
export type TlsOptions = Pick<ConnectionOptions, "ca" | "cert" | "key" | "passphrase" | "rejectUnauthorized" | "servername">;

/** Certificate problems that no retry will fix: the user must add a CA or fix the server. */
const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REVOKED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

export function isTlsErrorCode(code: string | undefined): boolean {
  return code !== undefined && (TLS_CODES.has(code) || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_"));
}

export function isProxyErrorCode(code: string | undefined): boolean {
  return code !== undefined && code.startsWith("PROXY_");
}

/** A system error's code (undici wraps it in `cause`) and a message that names TLS and proxy problems. */
export function describeNetworkError(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; cause?: { code?: unknown; message?: unknown }; message?: unknown } | undefined;
  const raw = e?.code ?? e?.cause?.code;
  const code = typeof raw === "string" ? raw : undefined;
  const message = typeof e?.message === "string" ? e.message : String(err);
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return { code, message: `TLS: the server's certificate is for another name (${code})` };
  if (isTlsErrorCode(code)) return { code, message: `TLS: the server's certificate is not trusted (${code}); add its CA in a tls-config node` };
  // undici's proxy tunnel reports a refused CONNECT only in its message.
  const proxyStatus = /Proxy response \((\d{3})\)/i.exec(message)?.[1];
  if (proxyStatus) {
    return proxyStatus === "407"
      ? { code: "PROXY_AUTH_REQUIRED", message: "the proxy requires authentication (HTTP 407): set the proxy user and password" }
      : { code: "PROXY_REFUSED", message: `the proxy refused the tunnel (HTTP ${proxyStatus})` };
  }
  return { code, message };
}
