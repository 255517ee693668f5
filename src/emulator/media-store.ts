/** Stored media (received or uploaded) and the presigned tokens that hand out their bytes (docs/protocol.md#media-object, #media-download). */
import { newMediaId, newStorageToken } from "./ids";

export interface StoredMedia {
  mediaId: string;
  userId: string;
  bytes: Buffer;
  mimeType: string;
  fileName?: string;
  createdAt: number;
}

interface PresignedToken {
  mediaId: string;
  expiresAt: number;
}

export class MediaStore {
  private readonly media = new Map<string, StoredMedia>();
  private readonly tokens = new Map<string, PresignedToken>();

  constructor(private readonly ttl: () => { mediaTtlMs: number; presignedTtlMs: number }) {}

  put(userId: string, bytes: Buffer, mimeType: string, now: number, fileName?: string): StoredMedia {
    const stored: StoredMedia = { mediaId: newMediaId(), userId, bytes, mimeType, createdAt: now };
    if (fileName !== undefined) stored.fileName = fileName;
    this.media.set(stored.mediaId, stored);
    return stored;
  }

  /** Unknown, expired and foreign media all read as missing (the caller answers 404 for each). */
  getOwned(mediaId: string, userId: string, now: number): StoredMedia | undefined {
    const stored = this.getLive(mediaId, now);
    return stored && stored.userId === userId ? stored : undefined;
  }

  /** Any tenant's live media: for the control API (the operator's view), never for the tenant API. */
  get(mediaId: string, now: number): StoredMedia | undefined {
    return this.getLive(mediaId, now);
  }

  presign(mediaId: string, now: number): string {
    const token = newStorageToken();
    this.tokens.set(token, { mediaId, expiresAt: now + this.ttl().presignedTtlMs });
    return token;
  }

  /** The media behind a presigned token, if both the token and the media are still valid. */
  redeem(token: string, now: number): StoredMedia | undefined {
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    if (now > entry.expiresAt) {
      this.tokens.delete(token);
      return undefined;
    }
    return this.getLive(entry.mediaId, now);
  }

  clear(): void {
    this.media.clear();
    this.tokens.clear();
  }

  private getLive(mediaId: string, now: number): StoredMedia | undefined {
    const stored = this.media.get(mediaId);
    if (!stored) return undefined;
    if (now - stored.createdAt > this.ttl().mediaTtlMs) {
      this.media.delete(mediaId);
      return undefined;
    }
    return stored;
  }
}
