import type { ConnectionOptions } from "node:tls";

/** The TLS settings we pass on (from a Node-RED tls-config node): CA, client certificate, verification. */
export type TlsOptions = Pick<ConnectionOptions, "ca" | "cert" | "key" | "passphrase" | "rejectUnauthorized" | "servername">;

/** Certificate problems that no retry will fix: the user must add a CA or fix the server. */
const CERTIFICATE_CODES = new Set([
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
]);

/** Any TLS failure: a certificate problem, or a handshake that failed for another reason. */
export function isTlsErrorCode(code: string | undefined): boolean {
  return code !== undefined && (CERTIFICATE_CODES.has(code) || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_"));
}

/** A TLS failure about the server's certificate (as opposed to, e.g., a server that does not speak TLS). */
export function isCertificateErrorCode(code: string | undefined): boolean {
  return code !== undefined && CERTIFICATE_CODES.has(code);
}

export function isProxyErrorCode(code: string | undefined): boolean {
  return code !== undefined && code.startsWith("PROXY_");
}

/** A system error's code (undici wraps it in `cause`) and a message that names TLS and proxy problems. */
export function describeNetworkError(err: unknown): { code?: string; message: string } {
  const e = err as { code?: unknown; cause?: { code?: unknown; message?: unknown }; message?: unknown } | undefined;
  const raw = e?.code ?? e?.cause?.code;
  const message = typeof e?.message === "string" ? e.message : String(err);
  // ws reports OpenSSL's record errors as a bare EPROTO; undici names them. Name them the same.
  const code =
    raw === "EPROTO" && /wrong version number/i.test(message) ? "ERR_SSL_WRONG_VERSION_NUMBER" : typeof raw === "string" ? raw : undefined;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return { code, message: `TLS: the server's certificate is for another name (${code})` };
  if (isCertificateErrorCode(code))
    return { code, message: `TLS: the server's certificate is not trusted (${code}); add its CA in a tls-config node` };
  // A plain-HTTP server on an https:// URL answers the TLS hello with text: OpenSSL reads that as a
  // "wrong version number". Nothing to do with certificates.
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER")
    return {
      code,
      message: `TLS: the server did not answer in TLS (${code}); is it a plain http:// server? check the base URL's scheme and port`,
    };
  if (isTlsErrorCode(code)) return { code, message: `TLS: the handshake failed (${code})` };
  // undici's proxy tunnel reports a refused CONNECT only in its message.
  const proxyStatus = /Proxy response \((\d{3})\)/i.exec(message)?.[1];
  if (proxyStatus) {
    return proxyStatus === "407"
      ? { code: "PROXY_AUTH_REQUIRED", message: "the proxy requires authentication (HTTP 407): set the proxy user and password" }
      : { code: "PROXY_REFUSED", message: `the proxy refused the tunnel (HTTP ${proxyStatus})` };
  }
  return { code, message };
}
