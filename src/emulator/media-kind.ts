/**
 * Which WhatsApp message kind a MIME type becomes. How Pipes.bot chooses is UNSTATED (§5.1); we follow
 * the receive table of §4.2: image/webp is a sticker, then the top-level type decides, else document.
 */
export type MediaKind = "image" | "audio" | "video" | "document" | "sticker";

export function kindFromMime(mimeType: string | undefined): MediaKind {
  const mime = (mimeType ?? "").toLowerCase().split(";")[0].trim();
  if (mime === "image/webp") return "sticker";
  if (mime.startsWith("image/")) return "image";
  if (mime.startsWith("audio/")) return "audio";
  if (mime.startsWith("video/")) return "video";
  return "document";
}

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  mp4: "video/mp4",
  "3gp": "video/3gpp",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  pdf: "application/pdf",
  txt: "text/plain",
};

/** URL-mode sends may omit mimeType; the emulator never fetches the URL, so it guesses from the path. */
export function mimeFromUrl(url: string): string | undefined {
  try {
    const match = /\.([A-Za-z0-9]+)$/.exec(new URL(url).pathname);
    return match ? MIME_BY_EXTENSION[match[1].toLowerCase()] : undefined;
  } catch {
    return undefined;
  }
}
