import * as assert from "node:assert/strict";
import { PipesError } from "../../src/lib/errors";
import { codePoints, prepareMessage } from "../../src/lib/messages";
import { MESSAGE_LIMITS } from "../../src/lib/protocol";

/** The INVALID_MESSAGE text prepareMessage throws for `input`; fails when it does not throw that. */
function refusal(input: unknown, options?: { softLimits?: boolean }): string {
  try {
    prepareMessage(input, options);
  } catch (err) {
    assert.ok(err instanceof PipesError, String(err));
    assert.equal(err.code, "INVALID_MESSAGE", err.message);
    return err.message;
  }
  assert.fail(`accepted: ${JSON.stringify(input)}`);
}

const text = (n: number, unit = "x") => unit.repeat(n);
const buttons = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `b${i}`, title: `Button ${i}` }));
const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `r${i}`, title: `Row ${i}` }));

describe("lib/messages: every message kind, checked before sending", function () {
  it("turns reply buttons into Meta's interactive body, with text or media header and footer", function () {
    const prepared = prepareMessage({
      type: "buttons",
      body: "Did it arrive?",
      header: "Order A-1",
      footer: "Tap one",
      buttons: [
        { id: "yes", title: "Yes" },
        { id: "no", title: "Not yet" },
      ],
    });
    assert.equal(prepared.type, "interactive");
    assert.deepEqual(prepared.content, {
      type: "button",
      header: { type: "text", text: "Order A-1" },
      body: { text: "Did it arrive?" },
      footer: { text: "Tap one" },
      action: {
        buttons: [
          { type: "reply", reply: { id: "yes", title: "Yes" } },
          { type: "reply", reply: { id: "no", title: "Not yet" } },
        ],
      },
    });
    const media = prepareMessage({
      type: "buttons",
      body: "b",
      header: { type: "image", url: "https://example.com/a.png" },
      buttons: buttons(1),
    });
    assert.deepEqual((media.content as Record<string, unknown>).header, { type: "image", image: { link: "https://example.com/a.png" } });
  });

  it("checks every button limit at its edge, naming the field, its length and the limit", function () {
    assert.ok(prepareMessage({ type: "buttons", body: text(MESSAGE_LIMITS.bodyText), buttons: buttons(3) }));
    assert.equal(refusal({ type: "buttons", body: "b", buttons: buttons(4) }), "buttons has 4; WhatsApp allows 3");
    assert.equal(refusal({ type: "buttons", body: "b", buttons: [] }), "buttons has 0; WhatsApp needs at least 1");
    const long = buttons(3);
    long[2].title = text(23);
    assert.equal(refusal({ type: "buttons", body: "b", buttons: long }), "buttons[2].title is 23 characters; WhatsApp allows 20");
    long[2].title = text(20);
    assert.ok(prepareMessage({ type: "buttons", body: "b", buttons: long }), "20 characters pass");
    // Characters as a person counts them: 20 emoji are 40 UTF-16 units, and allowed.
    long[2].title = text(20, "👍");
    assert.ok(prepareMessage({ type: "buttons", body: "b", buttons: long }));
    long[2].title = text(21, "👍");
    assert.equal(refusal({ type: "buttons", body: "b", buttons: long }), "buttons[2].title is 21 characters; WhatsApp allows 20");
    assert.match(
      refusal({
        type: "buttons",
        body: "b",
        buttons: [
          { id: "a", title: "Same" },
          { id: "b", title: "Same" },
        ],
      }),
      /buttons\[1\]\.title 'Same' appears twice/,
    );
    assert.match(
      refusal({ type: "buttons", body: "b", buttons: [{ id: text(257), title: "t" }] }),
      /buttons\[0\]\.id is 257 characters; WhatsApp allows 256/,
    );
    assert.match(refusal({ type: "buttons", body: text(1025), buttons: buttons(1) }), /body is 1025 characters; WhatsApp allows 1024/);
    assert.match(refusal({ type: "buttons", body: "", buttons: buttons(1) }), /body is required/);
    assert.match(
      refusal({ type: "buttons", body: "b", header: text(61), buttons: buttons(1) }),
      /header is 61 characters; WhatsApp allows 60/,
    );
    assert.match(
      refusal({ type: "buttons", body: "b", footer: text(61), buttons: buttons(1) }),
      /footer is 61 characters; WhatsApp allows 60/,
    );
    assert.match(refusal({ type: "buttons", body: "b", buttons: [{ title: "no id" }] }), /buttons\[0\]\.id is required/);
  });

  it("builds and checks lists: sections, rows across sections, titles and descriptions", function () {
    const prepared = prepareMessage({
      type: "list",
      body: "Menu",
      button: "Options",
      sections: [{ title: "Drinks", rows: [{ id: "tea", title: "Tea", description: "Hot" }] }],
    });
    assert.deepEqual(prepared.content, {
      type: "list",
      body: { text: "Menu" },
      action: { button: "Options", sections: [{ title: "Drinks", rows: [{ id: "tea", title: "Tea", description: "Hot" }] }] },
    });
    assert.ok(prepareMessage({ type: "list", body: "b", button: "Go", sections: [{ rows: rows(10) }] }), "10 rows pass");
    assert.match(
      refusal({ type: "list", body: "b", button: "Go", sections: [{ rows: rows(11) }] }),
      /sections\[0\]\.rows has 11; WhatsApp allows 10/,
    );
    assert.match(
      refusal({
        type: "list",
        body: "b",
        button: "Go",
        sections: [
          { title: "A", rows: rows(6) },
          { title: "B", rows: rows(5).map((r) => ({ ...r, id: `x${r.id}` })) },
        ],
      }),
      /11 rows in all; WhatsApp allows 10/,
    );
    assert.match(
      refusal({ type: "list", body: "b", button: "Go", sections: [{ rows: rows(1) }, { title: "B", rows: [{ id: "z", title: "z" }] }] }),
      /sections\[0\]\.title is required/,
    );
    assert.match(
      refusal({ type: "list", body: "b", button: "Go", sections: [{ rows: [{ id: "r", title: text(25) }] }] }),
      /sections\[0\]\.rows\[0\]\.title is 25 characters; WhatsApp allows 24/,
    );
    assert.match(
      refusal({ type: "list", body: "b", button: "Go", sections: [{ rows: [{ id: "r", title: "t", description: text(73) }] }] }),
      /description is 73 characters; WhatsApp allows 72/,
    );
    assert.match(
      refusal({ type: "list", body: "b", button: "Go", sections: [{ rows: [{ id: text(201), title: "t" }] }] }),
      /id is 201 characters; WhatsApp allows 200/,
    );
    assert.match(
      refusal({
        type: "list",
        body: "b",
        button: "Go",
        sections: [
          {
            rows: [
              { id: "r", title: "t" },
              { id: "r", title: "u" },
            ],
          },
        ],
      }),
      /'r' appears twice/,
    );
    assert.match(
      refusal({
        type: "list",
        body: "b",
        button: "Go",
        sections: Array.from({ length: 11 }, (_, i) => ({ title: `S${i}`, rows: [{ id: `r${i}`, title: "t" }] })),
      }),
      /sections has 11; WhatsApp allows 10/,
    );
    assert.match(
      refusal({ type: "list", body: "b", header: { type: "image", url: "https://x" }, button: "Go", sections: [{ rows: rows(1) }] }),
      /header must be text here/,
    );
  });

  it("makes the limits only SDK docs state an option (list button, section title, link text)", function () {
    const wide = { type: "list", body: "b", button: text(21), sections: [{ title: text(25), rows: rows(1) }] };
    assert.match(refusal(wide), /button is 21 characters; WhatsApp allows 20/);
    assert.ok(prepareMessage(wide, { softLimits: false }));
    const link = { type: "cta_url", body: "b", text: text(21), url: "https://example.com" };
    assert.match(refusal(link), /text is 21 characters; WhatsApp allows 20/);
    assert.ok(prepareMessage(link, { softLimits: false }));
    // Hard limits stay whatever the option says.
    assert.match(refusal({ type: "buttons", body: "b", buttons: buttons(4) }, { softLimits: false }), /WhatsApp allows 3/);
  });

  it("builds link buttons, locations and contact cards; refuses what WhatsApp would", function () {
    assert.deepEqual(prepareMessage({ type: "cta_url", body: "Track", text: "Open", url: "https://example.com/t/1" }).content, {
      type: "cta_url",
      body: { text: "Track" },
      action: { name: "cta_url", parameters: { display_text: "Open", url: "https://example.com/t/1" } },
    });
    assert.match(refusal({ type: "cta_url", body: "b", text: "Open", url: "ftp://x" }), /url must be an http/);
    assert.deepEqual(prepareMessage({ type: "location", latitude: -23.56, longitude: "-46.65", name: "Office" }).content, {
      latitude: -23.56,
      longitude: -46.65,
      name: "Office",
    });
    assert.ok(prepareMessage({ type: "location", latitude: 90, longitude: -180 }), "the edges pass");
    assert.match(refusal({ type: "location", latitude: 90.01, longitude: 0 }), /latitude is 90.01; it must be from -90 to 90/);
    assert.match(refusal({ type: "location", latitude: 0, longitude: 181 }), /longitude is 181/);
    assert.match(refusal({ type: "location", latitude: "north", longitude: 0 }), /latitude must be a number/);
    const card = prepareMessage({
      type: "contacts",
      contacts: [
        { name: "Ana Maria Silva", phones: ["+55 11 99999-0000"], emails: ["ana@example.com"], org: "ACME", birthday: "1990-01-31" },
      ],
    });
    assert.deepEqual(card.content, [
      {
        name: { formatted_name: "Ana Maria Silva", first_name: "Ana", last_name: "Maria Silva" },
        phones: [{ phone: "+55 11 99999-0000", type: "CELL", wa_id: "5511999990000" }],
        emails: [{ email: "ana@example.com", type: "WORK" }],
        org: { company: "ACME" },
        birthday: "1990-01-31",
      },
    ]);
    assert.match(refusal({ type: "contacts", contacts: [{ phones: ["+1"] }] }), /contacts\[0\]\.name is required/);
    assert.match(refusal({ type: "contacts", contacts: [] }), /contacts has 0; WhatsApp needs at least 1/);
    assert.match(refusal({ type: "contacts", contacts: [{ name: "A", birthday: "31/01/1990" }] }), /birthday must be YYYY-MM-DD/);
  });

  it("reactions carry the message reacted to and one emoji; an empty emoji removes it", function () {
    const thumbs = prepareMessage({ type: "reaction", messageId: "msg_77", emoji: "👍🏽" });
    assert.deepEqual(thumbs.reaction, { messageId: "msg_77", emoji: "👍🏽" });
    assert.deepEqual(thumbs.content, { message_id: "msg_77", emoji: "👍🏽" });
    assert.equal(prepareMessage({ type: "reaction", messageId: "wamid.1", emoji: "" }).reaction?.emoji, "");
    assert.equal(prepareMessage({ type: "reaction", messageId: "wamid.1" }).reaction?.emoji, "", "no emoji removes it");
    assert.match(refusal({ type: "reaction", messageId: "msg_1", emoji: "👍👍" }), /emoji must be one emoji/);
    assert.match(refusal({ type: "reaction", emoji: "👍" }), /messageId is required/);
  });

  it("passes a raw Meta body as it is, with only its shape checked", function () {
    const raw = prepareMessage({ type: "raw", message: { type: "interactive", interactive: { type: "product", body: { text: "x" } } } });
    assert.equal(raw.type, "interactive");
    assert.deepEqual(raw.content, { type: "product", body: { text: "x" } });
    assert.match(refusal({ type: "raw", message: { type: "interactive" } }), /message\.interactive must be an object/);
    assert.match(refusal({ type: "raw", message: { type: "Bad Type!", x: {} } }), /message\.type must be a Meta message type/);
  });

  it("refuses what is not a message at all, saying what would be accepted", function () {
    for (const input of [undefined, null, "hello", 42, [], Buffer.from("x"), { type: "carousel" }, { type: 7 }]) {
      const message = refusal(input);
      assert.ok(message.length > 10, message);
    }
    assert.match(refusal({ type: "carousel" }), /one of buttons, list, cta_url, location, contacts, reaction, raw/);
  });
});

describe("codePoints", () => {
  it("counts as [...text].length does, surrogate pairs as one and a lone surrogate as one", () => {
    for (const sample of ["", "abc", "👍", "a👍b", "\ud83d", "\udc4d", "x\ud83d", "\ud83d\ud83d\udc4d", "é", "👨‍👩‍👧"]) {
      assert.equal(codePoints(sample), [...sample].length, JSON.stringify(sample));
    }
  });
});
