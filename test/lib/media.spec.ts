import * as assert from "node:assert/strict";
import { classifyMediaPayload, mediaKindFor, prepareMedia, sniffMimeType } from "../../src/lib/media";
import { code } from "../support/pipes-error";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");

describe("lib/media", function () {
  it("classifies Buffers, https URLs, media ids and data URIs", function () {
    assert.equal(classifyMediaPayload(PNG).mode, "base64");
    assert.equal(classifyMediaPayload({ type: "Buffer", data: [1, 2, 3] }).mode, "base64");
    assert.equal(classifyMediaPayload("https://example.com/a.png").mode, "url");
    assert.equal(classifyMediaPayload("V1StGXR8_Z5jdHi6B-myT").mode, "id");
    const uri = classifyMediaPayload(`data:image/png;base64,${PNG.toString("base64")}`);
    assert.equal(uri.mode, "base64");
    assert.equal(uri.mimeType, "image/png");
    for (const bad of ["http://example.com/a.png", "ftp://x/y", "hello", 12, null, undefined, {}]) {
      assert.equal(
        code(() => classifyMediaPayload(bad)),
        "BAD_INPUT",
        `value ${JSON.stringify(bad)}`,
      );
    }
  });

  it("sniffs common formats and maps MIME types to WhatsApp kinds", function () {
    assert.equal(sniffMimeType(PNG), "image/png");
    assert.equal(sniffMimeType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg");
    assert.equal(sniffMimeType(Buffer.from("%PDF-1.7")), "application/pdf");
    assert.equal(sniffMimeType(Buffer.from("OggS\0\0")), "audio/ogg");
    assert.equal(sniffMimeType(Buffer.from("RIFF\0\0\0\0WEBPVP8 ")), "image/webp");
    assert.equal(sniffMimeType(Buffer.from("\0\0\0\x18ftypmp42")), "video/mp4");
    assert.equal(sniffMimeType(Buffer.from("plain text")), undefined);
    assert.equal(mediaKindFor("image/webp"), "sticker");
    assert.equal(mediaKindFor("image/png"), "image");
    assert.equal(mediaKindFor("audio/ogg"), "audio");
    assert.equal(mediaKindFor("video/mp4"), "video");
    assert.equal(mediaKindFor("application/pdf"), "document");
  });

  it("checks caption, size and type before sending", function () {
    assert.equal(
      code(() => prepareMedia({ payload: PNG, caption: "x".repeat(1025) })),
      "CAPTION_TOO_LONG",
    );
    assert.equal(prepareMedia({ payload: PNG, caption: "x".repeat(1024) }).caption?.length, 1024);
    assert.equal(
      code(() => prepareMedia({ payload: Buffer.alloc(11, 1), maxUploadBytes: 10 })),
      "MEDIA_TOO_LARGE",
    );
    assert.equal(
      code(() => prepareMedia({ payload: Buffer.from("no magic here") })),
      "UNKNOWN_MIME_TYPE",
    );
    assert.equal(prepareMedia({ payload: Buffer.from("no magic here"), fileName: "notes.txt" }).mimeType, "text/plain");
    assert.equal(
      code(() => prepareMedia({ payload: PNG, mimeType: "not a mime" })),
      "BAD_INPUT",
    );
    assert.equal(
      code(() => prepareMedia({ payload: Buffer.alloc(0) })),
      "BAD_INPUT",
    );
    assert.equal(
      code(() => prepareMedia({ payload: PNG, caption: 5 })),
      "BAD_INPUT",
    );
    const prepared = prepareMedia({ payload: PNG });
    assert.equal(prepared.mimeType, "image/png");
    assert.equal(prepared.kind, "image");
  });

  describe("hostile input", function () {
    it("refuses data: URIs whose data is not base64 (Node's decoder would skip the bad characters)", function () {
      assert.equal(
        code(() => classifyMediaPayload("data:image/png;base64,this is not base64 at all")),
        "BAD_INPUT",
      );
      assert.equal(
        code(() => classifyMediaPayload("data:image/png;base64,")),
        "BAD_INPUT",
      );
      assert.equal(
        code(() => classifyMediaPayload("data:image/png;base64,a")),
        "BAD_INPUT",
      );
      assert.equal(
        code(() => classifyMediaPayload("data:image/png;base64,ab=c")),
        "BAD_INPUT",
      );
      const good = classifyMediaPayload(`data:image/png;base64,${PNG.toString("base64")}`);
      assert.ok(good.mode === "base64" && good.data.equals(PNG));
      const wrapped = classifyMediaPayload(`data:image/png;base64,${PNG.toString("base64").replace(/(.{8})/g, "$1\r\n")}`);
      assert.ok(wrapped.mode === "base64" && wrapped.data.equals(PNG), "MIME-style line breaks are allowed");
      const unpadded = classifyMediaPayload(`data:image/png;base64,${PNG.toString("base64url")}`);
      assert.ok(unpadded.mode === "base64" && unpadded.data.equals(PNG), "the URL-safe alphabet without padding is allowed");
    });
  });
});
