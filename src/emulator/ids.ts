/** Random identifiers in the shapes docs/protocol.md#identifiers shows. */
import { randomBytes, randomUUID } from "node:crypto";
import { LIMITS } from "../lib/protocol";

const NANOID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/** `length` characters of the 64-symbol nanoid alphabet (a byte & 63 is uniform over 64 symbols). */
function nanoid(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += NANOID_ALPHABET[byte & 63];
  return out;
}

function alphanumeric(length: number): string {
  return nanoid(length * 2)
    .replace(/[_-]/g, "")
    .padEnd(length, "0")
    .slice(0, length);
}

export const newConversationId = (): string => `conv_${alphanumeric(12)}`;
export const newInboundMessageId = (): string => `msg_${alphanumeric(16)}`;
/** Outbound ids are Meta's `wamid.…` (docs/protocol.md#identifiers). */
export const newWamid = (): string => `wamid.${alphanumeric(24)}`;
/** Matches MEDIA_ID_PATTERN: 21 nanoid characters. */
export const newMediaId = (): string => nanoid(LIMITS.mediaIdLength);
/** Unguessable token for a presigned storage URL. */
export const newStorageToken = (): string => randomBytes(24).toString("base64url");
export const newConnectionId = (): string => randomUUID();
/** The emulator's own id of a webhook delivery (not on the wire). */
export const newWebhookDeliveryId = (): string => `whd_${alphanumeric(16)}`;
