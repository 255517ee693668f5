/** Strict base64 checks for media sent as raw base64 (docs/protocol.md#sending-messages). */

/** Standard alphabet; padding optional but, when present, only at the end of a full quantum. */
export function isBase64(value: string): boolean {
  if (value === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  return value.includes("=") ? value.length % 4 === 0 : value.length % 4 !== 1;
}

/** Decoded size without decoding (so an oversized upload is refused before allocating it). */
export function decodedLength(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

/** Line breaks and spaces (MIME-wrapped base64) are tolerated and removed. */
export function compactBase64(value: string): string {
  return value.replace(/\s+/g, "");
}

/** Room for JSON around base64 media in a request body (fields, caption, escapes). */
const JSON_OVERHEAD_BYTES = 64 * 1024;

/** Largest request body that can carry `maxMediaBytes` of base64 media. */
export function bodyLimitFor(maxMediaBytes: number): number {
  return Math.ceil(maxMediaBytes / 3) * 4 + JSON_OVERHEAD_BYTES;
}
