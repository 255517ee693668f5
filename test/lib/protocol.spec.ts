import * as assert from "node:assert/strict";
import { parseServerFrame, readRestError, restUrl, socketUrl } from "../../src/lib/protocol";

describe("lib/protocol", function () {
  it("derives the socket URL from the REST base", function () {
    assert.equal(socketUrl("https://api.pipes.bot", { apiKey: "pk_x" }).toString(), "wss://api.pipes.bot/ws?apiKey=pk_x");
    assert.equal(
      socketUrl("http://127.0.0.1:3977/base/", { apiKey: "k", conversationId: "c 1" }).toString(),
      "ws://127.0.0.1:3977/base/ws?apiKey=k&conversationId=c+1",
    );
    assert.equal(restUrl("http://h:1/base/", "/v1/messages/send").toString(), "http://h:1/base/v1/messages/send");
    assert.throws(() => socketUrl("ftp://x", { apiKey: "k" }));
  });

  it("parses server frames without ever throwing", function () {
    for (const raw of [
      "",
      "nope",
      "[]",
      "null",
      "{}",
      '{"type":1}',
      '{"type":"mystery"}',
      '{"type":"whatsapp_message"}',
      '{"type":"whatsapp_message","data":{"messageId":"m"}}',
      '{"type":"reply_status","data":{}}',
    ]) {
      const result = parseServerFrame(raw);
      assert.equal(result.ok, false, raw);
    }
    const ok = parseServerFrame('{"type":"reply_status","data":{"conversationId":"c","success":true,"messageId":"wamid.1","extra":1}}');
    assert.ok(ok.ok && ok.value.type === "reply_status");
  });

  it("accepts any 'connected' frame: the welcome of App keys and filtered sockets is unstated", function () {
    for (const raw of [
      '{"type":"connected"}',
      '{"type":"connected","userId":"u","connectionId":"c","scope":"team","appId":"a1"}',
      '{"type":"connected","userId":7}',
    ]) {
      const result = parseServerFrame(raw);
      assert.ok(result.ok && result.value.type === "connected", raw);
      assert.equal(typeof result.value.userId, "string");
      assert.ok(result.value.scope === "user" || result.value.scope === "conversation");
    }
  });

  it("reads REST error bodies in every shape", function () {
    assert.deepEqual(readRestError({ error: { code: "X", message: "m" } }), { code: "X", message: "m" });
    assert.deepEqual(readRestError({ code: "Y", message: "n" }), { code: "Y", message: "n" });
    assert.deepEqual(readRestError({ error: "plain" }), { code: undefined, message: "plain" });
    assert.deepEqual(readRestError({ code: "TOP", error: { message: "nested" } }), { code: "TOP", message: "nested" });
    assert.deepEqual(readRestError("text"), {});
  });
});
