/** API keys never reach logs or error bodies in full: only the first characters survive. */
export function maskApiKey(key: string | null | undefined): string {
  if (!key) return "(none)";
  // "pk_demo…": enough to tell keys apart in a log, far too little to use one.
  return key.length >= 10 ? `${key.slice(0, 7)}…` : "***";
}
