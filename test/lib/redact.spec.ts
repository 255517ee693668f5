import * as assert from "node:assert/strict";
import { maskUrl, redact } from "../../src/lib/redact";

describe("lib/redact", function () {
  it("masks keys in text and URLs", function () {
    const key = "pk_secretsecretsecretsecretsecret0";
    assert.equal(maskUrl(`ws://h/ws?apiKey=${key}&conversationId=c`), "ws://h/ws?apiKey=***&conversationId=c");
    assert.equal(maskUrl(`lost ws://h/ws?apiKey=${key}: reason`), "lost ws://h/ws?apiKey=***: reason");
    const masked = redact(`failed for ${key} at ws://h/ws?apiKey=${key}`, [key]);
    assert.ok(!masked.includes("secret"), masked);
  });
});
