import * as assert from "node:assert/strict";
import { acceptsType, inboundPayload, parseTypeFilter } from "../../src/lib/inbound";
import type { InboundMessage } from "../../src/lib/protocol";

describe("lib/inbound: payloads", function () {
  const base: InboundMessage = {
    messageId: "m",
    conversationId: "c",
    poolNumberId: "p",
    fromNumber: "+1",
    timestamp: "t",
    type: "text",
    text: "hi",
  };

  it("filters by type; unknown types count as unsupported", function () {
    const filter = parseTypeFilter(["text", "unsupported"]);
    assert.ok(acceptsType(filter, "text"));
    assert.ok(!acceptsType(filter, "image"));
    assert.ok(acceptsType(filter, "poll"));
    assert.ok(acceptsType(parseTypeFilter([]), "image"));
    assert.ok(acceptsType(parseTypeFilter("image, text"), "image"));
  });

  it("maps each message type to its payload", async function () {
    assert.equal((await inboundPayload(base)).payload, "hi");
    const location = { latitude: 1, longitude: 2 };
    assert.deepEqual((await inboundPayload({ ...base, type: "location", location })).payload, location);
    const media = { mimeType: "image/jpeg", byteSize: 0, unavailable: true };
    const unavailable = await inboundPayload(
      { ...base, type: "image", media },
      { client: { download: () => Promise.reject(new Error("must not download")) }, maxBytes: 10 },
    );
    assert.deepEqual(unavailable.payload, media);
    assert.deepEqual((await inboundPayload({ ...base, type: "poll", poll: { q: 1 } })).payload, { q: 1 });
    // Inherited properties are not fields of the event.
    assert.equal((await inboundPayload({ ...base, type: "constructor" })).payload, "hi");
    assert.equal((await inboundPayload({ ...base, type: "__proto__", text: undefined })).payload, null);
  });
});
