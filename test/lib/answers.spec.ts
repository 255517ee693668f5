import * as assert from "node:assert/strict";
import { acceptsType, answerOf, immediatePayload, messageKind, parseTypeFilter } from "../../src/lib/inbound";
import type { InboundMessage } from "../../src/lib/protocol";

const base = {
  messageId: "msg_1",
  conversationId: "conv_1",
  poolNumberId: "pn_1",
  fromNumber: "+1555",
  timestamp: "2026-12-01T00:00:00.000Z",
  text: "Yes",
  body: "Yes",
};
const inbound = (extra: Record<string, unknown>): InboundMessage => ({ ...base, ...extra }) as InboundMessage;

describe("lib/inbound: answers to buttons and lists, in either shape", function () {
  const shapes: [string, InboundMessage, ReturnType<typeof answerOf>][] = [
    [
      "Meta button_reply",
      inbound({
        type: "interactive",
        interactive: { type: "button_reply", button_reply: { id: "yes", title: "Yes" } },
        context: { id: "wamid.A" },
      }),
      { kind: "button", id: "yes", title: "Yes", toMessageId: "wamid.A" },
    ],
    [
      "Meta list_reply",
      inbound({ type: "interactive", interactive: { type: "list_reply", list_reply: { id: "tea", title: "Tea", description: "Hot" } } }),
      { kind: "list", id: "tea", title: "Tea", description: "Hot" },
    ],
    [
      "Meta template quick reply",
      inbound({ type: "button", button: { text: "Confirm", payload: "CONFIRM" }, context: { id: "wamid.T" } }),
      { kind: "template_button", id: "CONFIRM", title: "Confirm", toMessageId: "wamid.T" },
    ],
    [
      "flat button_reply",
      inbound({ type: "button_reply", answer: { id: "no", title: "Not yet" }, replyTo: "wamid.B" }),
      { kind: "button", id: "no", title: "Not yet", toMessageId: "wamid.B" },
    ],
    [
      "flat list_reply",
      inbound({ type: "list_reply", answer: { id: "r1", title: "Row", description: "d" } }),
      { kind: "list", id: "r1", title: "Row", description: "d" },
    ],
    [
      "flat template_button",
      inbound({ type: "template_button", answer: { id: "P", title: "T" } }),
      { kind: "template_button", id: "P", title: "T" },
    ],
  ];

  for (const [name, message, expected] of shapes) {
    it(`reads ${name}: payload {id, title}, filtered as ${expected!.kind === "list" ? "list_reply" : "button_reply"}`, function () {
      assert.deepEqual(answerOf(message), expected);
      const payload = immediatePayload(message)!.payload as Record<string, unknown>;
      assert.equal(payload.id, expected!.id);
      assert.equal(payload.title, expected!.title);
      const kind = messageKind(message);
      assert.equal(kind, expected!.kind === "list" ? "list_reply" : "button_reply");
      assert.ok(acceptsType(parseTypeFilter([kind]), kind));
      assert.ok(!acceptsType(parseTypeFilter(["text"]), kind), "a text-only pipes-in does not get answers");
    });
  }

  it("anything else is not an answer: other interactive types and broken shapes pass as unsupported", function () {
    for (const message of [
      inbound({ type: "interactive", interactive: { type: "nfm_reply", nfm_reply: {} } }),
      inbound({ type: "interactive", interactive: "nope" }),
      inbound({ type: "button_reply", answer: { id: 7, title: "x" } }),
      inbound({ type: "text" }),
    ]) {
      assert.equal(answerOf(message), undefined, JSON.stringify(message));
    }
    const odd = inbound({ type: "interactive", interactive: { type: "nfm_reply" } });
    assert.equal(messageKind(odd), "interactive");
    assert.ok(acceptsType(parseTypeFilter(["unsupported"]), messageKind(odd)));
  });
});
