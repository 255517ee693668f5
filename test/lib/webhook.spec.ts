import * as assert from "node:assert/strict";
import { answerOf } from "../../src/lib/inbound";
import { inboundFromWebhook, signPayload, verifySignature } from "../../src/lib/webhook";
import { webhookBody } from "../support/webhook";

const converted = (message: Record<string, unknown>, pipes?: Record<string, unknown>) => {
  const result = inboundFromWebhook(webhookBody(message, pipes));
  assert.ok(result.ok && result.message, JSON.stringify(result));
  return result.message;
};

describe("lib/webhook: signature and the Meta-shaped payload", function () {
  it("verifies the hex HMAC-SHA256 of the exact bytes, and nothing else", function () {
    const raw = Buffer.from(JSON.stringify({ a: "Olá 🎉" }, null, 2));
    const signature = signPayload(raw, "s3cret-s3cret-s3cret");
    assert.ok(verifySignature(raw, signature, "s3cret-s3cret-s3cret"));
    assert.ok(verifySignature(raw, signature.toUpperCase(), "s3cret-s3cret-s3cret"), "hex in either case");
    assert.ok(
      !verifySignature(Buffer.from(JSON.stringify({ a: "Olá 🎉" })), signature, "s3cret-s3cret-s3cret"),
      "re-serialised JSON never matches",
    );
    assert.ok(!verifySignature(raw, signature, "another-secret-000"));
    for (const bad of [undefined, "", "sha256=" + signature, signature.slice(1), "zz".repeat(32), 42])
      assert.ok(!verifySignature(raw, bad, "s3cret-s3cret-s3cret"), String(bad));
  });

  it("turns a text delivery into the socket's message: + on the number, name, label, text and body", function () {
    assert.deepEqual(converted({ type: "text", text: { body: "hello" } }), {
      messageId: "msg_77",
      conversationId: "conv_a1",
      poolNumberId: "pn_9",
      poolNumberPhoneNumber: "+15550009999",
      fromNumber: "+15550001111",
      fromName: "Ana",
      timestamp: "2026-03-01T09:00:00.000Z",
      label: "home",
      type: "text",
      text: "hello",
      body: "hello",
    });
  });

  it("media takes pipes.media (Meta's own media id cannot be downloaded from Pipes) and the caption", function () {
    const media = {
      mediaId: "V1StGXR8_Z5jdHi6B-myT",
      downloadUrl: "/v1/media/download/V1StGXR8_Z5jdHi6B-myT",
      mimeType: "image/jpeg",
      byteSize: 245120,
    };
    const image = converted({ type: "image", image: { id: "meta-id", mime_type: "image/jpeg", caption: "look" } }, { media });
    assert.deepEqual(image.media, media);
    assert.equal(image.text, "look");
    assert.equal(image.image, undefined, "Meta's media object is not passed on");
    assert.equal(converted({ type: "audio", audio: { id: "x" } }, { media }).text, "", "no caption: empty text, as on the socket");
  });

  it("location, contacts, reaction and answers to buttons and lists come out as on the socket", function () {
    assert.deepEqual(converted({ type: "location", location: { latitude: 1, longitude: 2, name: "Office" } }).location, {
      latitude: 1,
      longitude: 2,
      name: "Office",
    });
    const cards = [{ name: { formatted_name: "Ana Silva" }, phones: [{ phone: "+55" }] }];
    assert.deepEqual(converted({ type: "contacts", contacts: cards }).contacts, cards);
    assert.deepEqual(converted({ type: "reaction", reaction: { message_id: "wamid.1", emoji: "👍" } }).reaction, {
      messageId: "wamid.1",
      emoji: "👍",
    });
    const tap = converted({
      type: "interactive",
      interactive: { type: "button_reply", button_reply: { id: "yes", title: "Yes" } },
      context: { id: "wamid.X" },
    });
    assert.deepEqual(answerOf(tap), { kind: "button", id: "yes", title: "Yes", toMessageId: "wamid.X" });
    const template = converted({ type: "button", button: { text: "Confirm", payload: "CONFIRM" } });
    assert.equal(answerOf(template)?.kind, "template_button");
    assert.deepEqual(converted({ type: "poll", poll: { q: 1 } }).poll, { q: 1 }, "an unknown type keeps its own object");
  });

  it("a delivery without a message is answered, not emitted; broken shapes are refused by kind", function () {
    const ping = inboundFromWebhook({
      object: "whatsapp_business_account",
      entry: [{ id: "pn_9", changes: [{ field: "messages", value: { messaging_product: "whatsapp" } }] }],
    });
    assert.deepEqual(ping, { ok: true, message: undefined });
    const refusals = [
      null,
      [],
      "x",
      {},
      { entry: [] },
      webhookBody({ type: "text" }, { conversationId: undefined }),
      webhookBody({ type: undefined }),
    ].map((body) => inboundFromWebhook(body));
    for (const refusal of refusals) assert.ok(!refusal.ok && refusal.kind && refusal.reason, JSON.stringify(refusal));
    const kinds = new Set(refusals.map((r) => (r.ok ? "" : r.kind)));
    assert.ok(kinds.size >= 4, [...kinds].join(", "));
  });
});
