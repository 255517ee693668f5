/**
 * Keeps API keys out of anything a person can read: logs, status text, error messages, printed URLs.
 * A key is shown as its 3-character prefix only (`pk_…`), which says which kind of key without
 * revealing any of its secret part.
 */

export function maskKey(key: string): string {
  return key.length <= 3 ? "…" : `${key.slice(0, 3)}…`;
}

/** A value from the network cut to a readable length for a log line (a hostile id can be megabytes). */
export function shortText(value: unknown, max = 80): string {
  const text = String(value);
  if (text.length <= max) return text;
  // A copy, not a slice: V8 keeps a slice's whole original alive (a 3 MB id behind an 80-character line).
  return `${Buffer.from(text.slice(0, max), "utf8").toString("utf8")}…`;
}

/** Masks the `apiKey` query parameter of a URL (the socket URL carries the key). */
export function maskUrl(url: string | URL): string {
  // The value ends at the next parameter, fragment, space or punctuation that follows a URL in prose.
  return String(url).replace(/([?&]apiKey=)[^&#\s:;,)"'<>]*/gi, "$1***");
}

/** Replaces every occurrence of each secret, and any apiKey query parameter, in a text. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = maskUrl(text);
  for (const secret of secrets) {
    // Very short strings would mask innocent text; real keys are 35+ characters.
    if (secret && secret.length >= 8) out = out.split(secret).join(maskKey(secret));
  }
  return out;
}
