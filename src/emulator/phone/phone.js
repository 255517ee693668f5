/* The phone page: you are a WhatsApp user writing to the bot behind the local Pipes emulator.
 * Sends go through the control API (POST /_emulator/inbound); everything shown comes from the live
 * feed (GET /_emulator/events), so the page shows exactly what the emulator saw. All text is set with
 * textContent: nothing from a message is ever parsed as HTML.
 *
 * The bot's messages are drawn by kind from the sent record the feed carries (`kind`, and for what
 * came through POST /v1/messages/passthrough the Meta body in `message`): reply buttons under the
 * bubble (one tap per message), a list whose button opens a sheet of rows, a link button, a location
 * card, contact cards, reactions as a badge on the bubble reacted to. A tap or a chosen row goes
 * back as an `answer` naming the bot message (docs/decisions/0038-emulator-interactive-answers.md).
 *
 * "Writing to" picks the bot number: the pool number, or a BYON App's number (docs/decisions/0049-emulator-byon-apps.md);
 * a chat is one (bot number, your number) pair. A template the App sent is drawn from the sent record's `template.rendered`
 * (header, filled-in body, footer, buttons); its quick replies answer as `template_button`
 * (docs/decisions/0051-emulator-template-sends.md).
 *
 * The Delivery panel switches how the bot's number hands your messages to the bot (its socket, or a webhook URL with an
 * optional secret), sends a test call, and lists the recent webhook deliveries; a message delivered by webhook says so
 * under its bubble (docs/decisions/0047-emulator-webhook-phone-page.md). A BYON App is in the same panel: it always delivers to
 * its sockets, and with a webhook set to that webhook too (docs/decisions/0055-emulator-app-webhooks.md). The secret is never
 * shown: the emulator only says whether one is set. */
/* global document, window, EventSource, FileReader, URL */
"use strict";
(function () {
    const HOUR = 3600 * 1000;
    const SKIP_MS = 25 * HOUR;
    const MAX_FILE_BYTES = 16 * 1024 * 1024;
    const MEDIA_KINDS = ["image", "audio", "video", "document", "sticker"];
    /** WhatsApp's quick reactions. */
    const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
    const $ = (id) => document.getElementById(id);
    const ui = {
        feed: $("feed"),
        numberForm: $("number-form"),
        number: $("number"),
        bot: $("bot"),
        chats: $("chats"),
        connections: $("connections"),
        queue: $("queue"),
        clock: $("clock"),
        skip: $("skip"),
        title: $("chat-title"),
        sub: $("chat-sub"),
        window: $("window"),
        notice: $("notice"),
        messages: $("messages"),
        composer: $("composer"),
        text: $("text"),
        file: $("file"),
        send: $("send"),
        attach: $("attach"),
        attachMenu: $("attach-menu"),
        shareLocation: $("share-location"),
        shareContact: $("share-contact"),
        sheet: $("sheet"),
        sheetTitle: $("sheet-title"),
        sheetBody: $("sheet-body"),
        sheetClose: $("sheet-close"),
        locationDialog: $("location-dialog"),
        locationForm: $("location-form"),
        locLat: $("loc-lat"),
        locLon: $("loc-lon"),
        locName: $("loc-name"),
        locAddress: $("loc-address"),
        locSend: $("loc-send"),
        contactDialog: $("contact-dialog"),
        contactForm: $("contact-form"),
        contactName: $("contact-name"),
        contactPhone: $("contact-phone"),
        contactSend: $("contact-send"),
        reactBar: $("react-bar"),
        delivery: $("delivery"),
        deliveryMode: $("delivery-mode"),
        deliveryForm: $("delivery-form"),
        deliveryPoolRow: $("delivery-pool-row"),
        deliveryPool: $("delivery-pool"),
        deliverySocket: $("delivery-socket"),
        deliveryWebhook: $("delivery-webhook"),
        deliverySocketLabel: $("delivery-socket-label"),
        deliveryWebhookLabel: $("delivery-webhook-label"),
        deliveryAppNote: $("delivery-app-note"),
        deliveryUrl: $("delivery-url"),
        deliverySecret: $("delivery-secret"),
        deliveryNote: $("delivery-note"),
        deliverySave: $("delivery-save"),
        deliveryTest: $("delivery-test"),
        deliveryUnsign: $("delivery-unsign"),
        deliveryResult: $("delivery-result"),
        webhooks: $("webhooks"),
        webhookFailures: $("webhook-failures"),
    };
    /** Under a bubble while its webhook delivery runs (an App's: beside the socket); replaced when it ends. */
    const WEBHOOK_PENDING = " · → webhook…";
    const DUAL_PENDING = " · + webhook…";
    const SECRET_PLACEHOLDER = "optional, 16 to 256 characters";

    let events = [];
    let status = null;
    let current = ui.number.value;
    /** The bot number written to (a pool number's or an App number's id); "" until the first status names one. */
    let bot = "";
    /** messageId -> { bot, me }: the emoji each side put on a message ("" or absent: none). */
    const reactions = new Map();
    /** Bot messages (wamids) whose reply buttons were tapped, as the feed tells. */
    const answered = new Set();
    /** Taps sent and not yet seen in the feed. */
    const pending = new Set();
    /** wamid -> the bot's sent record, to quote it above an answer. */
    const botMessages = new Map();

    function el(tag, className, text) {
        const node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined && text !== null) node.textContent = String(text);
        return node;
    }

    const obj = (value) => (typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined);
    const str = (value) => (typeof value === "string" ? value : "");
    const list = (value) => (Array.isArray(value) ? value : []);

    /** The URL when it is http(s), else "": nothing else becomes a link. */
    function webUrl(value, httpsOnly) {
        try {
            const protocol = new URL(str(value)).protocol;
            return protocol === "https:" || (!httpsOnly && protocol === "http:") ? str(value) : "";
        } catch {
            return "";
        }
    }

    /** A link that opens in a new tab without handing this page to it. */
    function externalLink(className, text, url) {
        const link = el("a", className, text);
        if (url) {
            link.href = url;
            link.target = "_blank";
            link.rel = "noopener noreferrer";
        }
        return link;
    }

    const timeFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
    function when(ms) {
        return Number.isFinite(ms) ? timeFormat.format(new Date(ms)) : "";
    }

    function notice(text) {
        ui.notice.textContent = text || "";
        ui.notice.hidden = !text;
    }

    // --- which chat an event belongs to, and what it changes besides its own bubble -----------
    function numberOf(event) {
        if (event.type === "inbound") return event.message.fromNumber;
        if (event.type === "sent" || event.type === "refused") {
            if (event.record.toNumber) return event.record.toNumber;
            const conversation = status && status.conversations.find((c) => c.conversationId === event.record.conversationId);
            return conversation ? conversation.fromNumber : undefined;
        }
        return undefined;
    }

    /** The bot number an event belongs to, when it says; undefined for one that names none (shown in every chat of its user). */
    function botOf(event) {
        if (event.type === "inbound") return event.message.poolNumberId;
        if (event.type === "sent") return event.record.poolNumberId;
        if (event.type === "refused") {
            const conversation = status && status.conversations.find((c) => c.conversationId === event.record.conversationId);
            return conversation ? conversation.poolNumberId : undefined;
        }
        return undefined;
    }

    /** Whether an event is in the open chat: its user, and its bot number when it names one. */
    function inChat(event) {
        const number = botOf(event);
        return numberOf(event) === current && (number === undefined || number === bot);
    }

    /** Every number the user may write to: the pool numbers, then each App's. */
    function botNumbers() {
        if (!status) return [];
        const pool = status.poolNumbers.map((p) => ({ id: p.id, phoneNumber: p.phoneNumber, label: "Pool " + p.phoneNumber }));
        const apps = list(status.apps).flatMap((app) =>
            list(app.numbers).map((n) => ({ id: n.id, phoneNumber: n.phoneNumber, label: "App " + app.name + " · " + n.phoneNumber })),
        );
        return pool.concat(apps);
    }

    /** A reaction event as { by, messageId, emoji }; it has no bubble of its own. */
    function reactionOf(event) {
        if (event.type === "sent" && event.record.kind === "reaction") {
            const reaction = obj(event.record.reaction);
            if (reaction && str(reaction.messageId)) return { by: "bot", messageId: reaction.messageId, emoji: str(reaction.emoji) };
        }
        if (event.type === "inbound" && event.message.type === "reaction") {
            const reaction = obj(event.message.reaction);
            if (reaction && str(reaction.messageId)) return { by: "me", messageId: reaction.messageId, emoji: str(reaction.emoji) };
        }
        return undefined;
    }

    /** The bot message an inbound answer replies to (Meta's `context.id`, or the flat shape's `replyTo`). */
    function repliesTo(message) {
        const context = obj(message.context);
        return str(context && context.id) || str(message.replyTo);
    }

    /** Remembers what an event changes elsewhere: reactions, answered buttons, quotable bot messages. */
    function track(event) {
        const reaction = reactionOf(event);
        if (reaction) {
            const both = reactions.get(reaction.messageId) || {};
            both[reaction.by] = reaction.emoji;
            reactions.set(reaction.messageId, both);
            return reaction;
        }
        if (event.type === "sent") botMessages.set(event.record.messageId, event.record);
        if (event.type === "inbound") {
            const target = repliesTo(event.message);
            if (target) {
                answered.add(target);
                pending.delete(target);
            }
        }
        return undefined;
    }

    function resetTracking() {
        reactions.clear();
        answered.clear();
        botMessages.clear();
    }

    // --- pieces of a bubble ------------------------------------------------------------------
    function mediaUrl(mediaId) {
        return "/_emulator/media/" + encodeURIComponent(mediaId);
    }

    /** An image inline, anything else as a download link; https URLs (never fetched here) as a link. */
    function mediaNode(media, fallbackKind) {
        const mime = str(media.mimeType);
        const name = str(media.fileName) || fallbackKind || "file";
        const pictureKind = fallbackKind === "image" || fallbackKind === "sticker";
        if (str(media.mediaId)) {
            if (mime.startsWith("image/") || (!mime && pictureKind)) {
                const img = el("img");
                img.src = mediaUrl(media.mediaId);
                img.alt = name;
                // An id the emulator does not hold (a passthrough send by id): say so rather than show a broken picture.
                img.addEventListener(
                    "error",
                    () => img.replaceWith(el("span", "file", "[" + (fallbackKind || "image") + " not in the emulator]")),
                    { once: true },
                );
                img.addEventListener("load", keepAtBottom, { once: true });
                return img;
            }
            const link = el("a", "file", "↓ " + name);
            link.href = mediaUrl(media.mediaId);
            link.download = name;
            return link;
        }
        if (str(media.url)) return externalLink("file", "↗ " + (str(media.fileName) || media.url), webUrl(media.url, true));
        return el(
            "span",
            "file",
            media.unavailable ? "[" + (fallbackKind || "media") + " unavailable]" : "[" + (fallbackKind || "media") + "]",
        );
    }

    /** A location as WhatsApp shows it, minus the map tiles (no network): a drawn map, name, address, coordinates. */
    function locationCard(location) {
        const card = el("div", "location");
        const lat = Number(location.latitude);
        const lon = Number(location.longitude);
        const map = el("div", "map");
        map.append(el("span", "pin"));
        card.append(map);
        if (str(location.name)) card.append(el("strong", "place", location.name));
        if (str(location.address)) card.append(el("span", "address", location.address));
        const coords = Number.isFinite(lat) && Number.isFinite(lon) ? lat.toFixed(5) + ", " + lon.toFixed(5) : "no coordinates";
        card.append(el("span", "coords", coords));
        if (Number.isFinite(lat) && Number.isFinite(lon)) {
            const osm = "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lon + "#map=17/" + lat + "/" + lon;
            card.append(externalLink("map-link", "Open in OpenStreetMap ↗", osm));
        }
        return card;
    }

    /** Contact cards: name, phones, emails (Meta's contacts array). */
    function contactCards(contacts) {
        const wrap = el("div", "contacts");
        for (const contact of list(contacts)) {
            const card = obj(contact);
            if (!card) continue;
            const name = str(obj(card.name) && card.name.formatted_name) || "Contact";
            const box = el("div", "contact");
            const head = el("div", "contact-head");
            head.append(el("span", "avatar", [...name.trim()][0] || "?"), el("strong", "contact-name", name));
            box.append(head);
            for (const phone of list(card.phones)) {
                const p = obj(phone);
                if (p && str(p.phone))
                    box.append(el("span", "contact-line phone", p.phone + (str(p.type) ? " · " + p.type.toLowerCase() : "")));
            }
            for (const email of list(card.emails)) {
                const e = obj(email);
                if (e && str(e.email)) box.append(el("span", "contact-line email", e.email));
            }
            wrap.append(box);
        }
        if (!wrap.firstChild) wrap.append(el("span", "unsupported", "Contact card without a name"));
        return wrap;
    }

    function unsupported(kind) {
        return el("span", "unsupported", "Unsupported message" + (kind ? ": " + kind : ""));
    }

    /** Interactive messages (button, list, cta_url) from the Meta body the bot sent. */
    function interactive(li, bubble, record) {
        const message = obj(record.message);
        const body = obj(message && message.interactive);
        if (!body) {
            bubble.append(record.text ? el("span", "text", record.text) : unsupported("interactive"));
            return;
        }
        const header = obj(body.header);
        if (header) {
            if (header.type === "text") bubble.append(el("strong", "header", str(header.text)));
            else {
                const media = obj(header[str(header.type)]);
                if (media)
                    bubble.append(
                        mediaNode({ mediaId: str(media.id), url: str(media.link), fileName: str(media.filename) }, str(header.type)),
                    );
            }
        }
        const text = str(obj(body.body) && body.body.text);
        if (text) bubble.append(el("span", "text", text));
        const footer = str(obj(body.footer) && body.footer.text);
        if (footer) bubble.append(el("span", "footer", footer));
        const action = obj(body.action) || {};
        if (body.type === "button") li.append(replyButtons(record, action));
        else if (body.type === "list") bubble.append(listButton(record, action));
        else if (body.type === "cta_url") bubble.append(linkButton(action));
        else bubble.append(unsupported("interactive " + str(body.type)));
    }

    /** A template as the user sees it: header (text, media or location), the body filled in, footer, then its buttons. */
    function template(li, bubble, record) {
        const t = obj(record.template);
        const rendered = obj(t && t.rendered);
        if (!rendered) {
            bubble.append(record.text ? el("span", "text", record.text) : unsupported("template"));
            return;
        }
        const header = obj(rendered.header);
        if (header) {
            if (header.format === "TEXT") bubble.append(el("strong", "header", str(header.text)));
            else if (header.format === "LOCATION" && obj(header.location)) bubble.append(locationCard(header.location));
            else if (obj(header.media)) bubble.append(mediaNode(header.media, str(header.format).toLowerCase()));
        }
        bubble.append(el("span", "text", str(rendered.body)));
        if (str(rendered.footer)) bubble.append(el("span", "footer", rendered.footer));
        bubble.append(el("span", "template-name", "template " + str(t.name) + " · " + str(t.language)));
        const buttons = list(rendered.buttons).map(obj).filter(Boolean);
        const quick = buttons.filter((b) => b.type === "QUICK_REPLY");
        if (quick.length > 0) {
            // Same row as reply buttons: one tap per message, answered as a template button (its payload is the id).
            li.append(
                replyButtons(
                    record,
                    {
                        buttons: quick.map((b) => ({ reply: { id: str(b.payload) || str(b.text), title: str(b.text) } })),
                    },
                    "template_button",
                ),
            );
        }
        for (const button of buttons) {
            if (button.type === "URL") bubble.append(linkButton({ parameters: { url: button.url, display_text: button.text } }));
            else if (button.type !== "QUICK_REPLY") bubble.append(el("span", "action-button dead", str(button.text) || button.type));
        }
    }

    /** Reply buttons under the bubble; tapping one answers, once per message (as WhatsApp does). */
    function replyButtons(record, action, kind) {
        const row = el("div", "buttons");
        row.dataset.for = record.messageId;
        for (const button of list(action.buttons)) {
            const reply = obj(obj(button) && button.reply);
            if (!reply || !str(reply.title)) continue;
            const tap = el("button", "reply-button");
            tap.type = "button";
            tap.append(el("span", "icon", "↩"), el("span", "", reply.title));
            tap.addEventListener("click", () => void answer(record, { kind: kind || "button", id: str(reply.id), title: reply.title }));
            row.append(tap);
        }
        paintButtons(row);
        return row;
    }

    function paintButtons(row) {
        const done = answered.has(row.dataset.for) || pending.has(row.dataset.for);
        for (const button of row.querySelectorAll("button")) button.disabled = done;
        row.title = done ? "Already answered" : "";
    }

    function refreshButtons(messageId) {
        for (const row of ui.messages.querySelectorAll(".buttons")) if (row.dataset.for === messageId) paintButtons(row);
    }

    /** A list: its button opens the sheet of sections and rows. */
    function listButton(record, action) {
        const open = el("button", "action-button list-open");
        open.type = "button";
        open.append(el("span", "icon", "☰"), el("span", "", str(action.button) || "Options"));
        open.addEventListener("click", () => openSheet(record, action));
        return open;
    }

    /** A link button: only http(s) URLs become links, opened in a new tab. */
    function linkButton(action) {
        const parameters = obj(action.parameters) || {};
        const url = webUrl(parameters.url, false);
        const link = externalLink("action-button cta", "", url);
        link.append(el("span", "icon", "↗"), el("span", "", str(parameters.display_text) || "Open"));
        if (!url) {
            link.classList.add("dead");
            link.title = "Not an http(s) link";
        } else link.title = url;
        return link;
    }

    /** The quoted bot message above an answer, as WhatsApp shows a reply. */
    function quote(messageId) {
        const record = botMessages.get(messageId);
        if (!record) return undefined;
        const box = el("div", "quote");
        box.append(el("span", "quote-author", "Bot"), el("span", "quote-text", previewOfRecord(record)));
        return box;
    }

    function reactionBadge(li) {
        let badge = li.querySelector(":scope > .bubble > .reactions");
        const both = reactions.get(li.dataset.messageId);
        const emoji = both ? [...new Set([both.bot, both.me].filter(Boolean))].join("") : "";
        if (!emoji) {
            if (badge) badge.remove();
            li.classList.remove("reacted");
            return;
        }
        if (!badge) {
            badge = el("span", "reactions");
            li.querySelector(":scope > .bubble").append(badge);
        }
        badge.textContent = emoji;
        badge.title = [both.bot ? "bot: " + both.bot : "", both.me ? "you: " + both.me : ""].filter(Boolean).join(" · ");
        li.classList.add("reacted");
    }

    function paintReaction(messageId) {
        for (const li of ui.messages.querySelectorAll("li.msg")) if (li.dataset.messageId === messageId) reactionBadge(li);
    }

    // --- a bubble per event ------------------------------------------------------------------
    function bubble(event) {
        const li = el("li", "msg");
        const box = el("div", "bubble");
        li.append(box);
        const meta = el("span", "meta");
        if (event.type === "inbound") {
            const m = event.message;
            li.classList.add("me");
            li.dataset.messageId = m.messageId;
            li.dataset.kind = m.type;
            const target = repliesTo(m);
            const quoted = target ? quote(target) : undefined;
            if (quoted) box.append(quoted);
            const location = obj(m.location);
            if (m.media) box.append(mediaNode(m.media, m.type));
            if (location) box.append(locationCard(location));
            if (Array.isArray(m.contacts)) box.append(contactCards(m.contacts));
            if (m.text) box.append(el("span", "text", m.text));
            else if (!m.media && !location && !Array.isArray(m.contacts)) box.append(unsupported(m.type));
            meta.textContent =
                when(Date.parse(m.timestamp)) +
                (event.outcome === "queued" ? " · waiting: bot offline" : event.outcome === "webhook" ? WEBHOOK_PENDING : " · ✓✓") +
                (event.dual ? DUAL_PENDING : "");
        } else if (event.type === "sent") {
            const r = event.record;
            li.classList.add("bot");
            li.dataset.messageId = r.messageId;
            li.dataset.kind = r.kind;
            if (MEDIA_KINDS.includes(r.kind)) {
                if (r.media) box.append(mediaNode(r.media, r.kind));
                if (r.caption) box.append(el("span", "text", r.caption));
            } else if (r.kind === "text") {
                box.append(r.text ? el("span", "text", r.text) : unsupported("text"));
            } else if (r.kind === "interactive") {
                interactive(li, box, r);
            } else if (r.kind === "template") {
                template(li, box, r);
            } else if (r.kind === "location") {
                const location = obj(obj(r.message) && r.message.location);
                box.append(location ? locationCard(location) : unsupported("location"));
            } else if (r.kind === "contacts") {
                box.append(contactCards(obj(r.message) && r.message.contacts));
            } else {
                box.append(unsupported(r.kind));
            }
            meta.textContent = when(r.at) + " · " + r.via;
            const react = el("button", "react-open", "☺");
            react.type = "button";
            react.title = "React";
            react.setAttribute("aria-label", "React to this message");
            react.addEventListener("click", (e) => {
                e.stopPropagation();
                openReactBar(li, react);
            });
            li.addEventListener("contextmenu", (e) => {
                e.preventDefault();
                openReactBar(li, react);
            });
            li.append(react);
        } else if (event.type === "refused") {
            const r = event.record;
            li.classList.add("bot", "failed");
            li.title = r.message || "";
            box.append(el("span", "why", "not delivered: " + r.code));
            box.append(el("span", "text", r.text || "[" + r.kind + "]"));
            meta.textContent = when(r.at) + " · " + r.via + (r.silent ? " · no reply_status" : "");
        }
        // The time goes after the content, above any action of the bubble (as WhatsApp lays it out).
        const action = box.querySelector(":scope > .action-button");
        box.insertBefore(meta, action);
        if (li.dataset.messageId) reactionBadge(li);
        return li;
    }

    function previewOfRecord(r) {
        if (r.kind === "template") return r.text || "[template]";
        if (r.kind === "interactive") {
            const body = obj(obj(r.message) && r.message.interactive);
            return str(body && obj(body.body) && body.body.text) || r.text || "[interactive]";
        }
        if (r.kind === "location") {
            const location = obj(obj(r.message) && r.message.location);
            return "Location" + (str(location && location.name) ? ": " + location.name : "");
        }
        if (r.kind === "contacts") {
            const first = obj(list(obj(r.message) && r.message.contacts)[0]);
            return "Contact" + (str(first && obj(first.name) && first.name.formatted_name) ? ": " + first.name.formatted_name : "");
        }
        if (r.kind === "reaction") return "reacted " + (str(obj(r.reaction) && r.reaction.emoji) || "(removed)");
        return (MEDIA_KINDS.includes(r.kind) ? r.caption : r.text) || "[" + r.kind + "]";
    }

    function preview(event) {
        if (event.type === "inbound") {
            const m = event.message;
            if (m.type === "reaction") return "you reacted " + (str(obj(m.reaction) && m.reaction.emoji) || "(removed)");
            if (obj(m.location)) return "Location" + (str(m.location.name) ? ": " + m.location.name : "");
            if (Array.isArray(m.contacts)) {
                const name = str(obj(m.contacts[0]) && obj(m.contacts[0].name) && m.contacts[0].name.formatted_name);
                return "Contact" + (name ? ": " + name : "");
            }
            return m.text || "[" + m.type + "]";
        }
        if (event.type === "sent") return "bot: " + previewOfRecord(event.record);
        return "✗ " + event.record.code;
    }

    // --- rendering ---------------------------------------------------------------------------
    const nearBottom = () => ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;

    function scrollToEnd() {
        ui.messages.scrollTop = ui.messages.scrollHeight;
    }

    /** A picture that just loaded grew the chat: if the chat was at its end before that, keep it there. */
    function keepAtBottom(event) {
        const grown = event.target.offsetHeight;
        if (ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight - grown < 80) scrollToEnd();
    }

    function renderChat() {
        // The chosen bot number decides which events are this chat's: settle it before drawing.
        if (status) renderBots();
        closeReactBar();
        resetTracking();
        ui.messages.replaceChildren();
        // Everything the history tells (answered buttons, reactions, quotable messages) before any bubble is drawn.
        const drawn = events.filter((event) => !track(event) && event.type !== "delivered" && inChat(event));
        for (const event of drawn) ui.messages.append(bubble(event));
        // In feed order: a webhook that failed hands the message to the queue, whose drain is told later.
        for (const event of events) {
            if (event.type === "webhook") markWebhook(event);
            if (event.type === "delivered") markDelivered(event.messageId);
        }
        if (drawn.length === 0) ui.messages.append(el("li", "empty", "Say hello to the bot."));
        ui.title.textContent = current;
        scrollToEnd();
        renderChats();
        renderStatus();
    }

    function append(event) {
        if (event.type === "delivered") {
            markDelivered(event.messageId);
            return;
        }
        if (event.type === "webhook") {
            markWebhook(event);
            return;
        }
        const reaction = track(event);
        if (reaction) {
            paintReaction(reaction.messageId);
            renderChats();
            return;
        }
        if (event.type === "inbound" && repliesTo(event.message)) refreshButtons(repliesTo(event.message));
        if (inChat(event)) {
            const empty = ui.messages.querySelector(".empty");
            if (empty) empty.remove();
            const stick = nearBottom();
            ui.messages.append(bubble(event));
            if (stick || event.type === "inbound") scrollToEnd();
        }
        renderChats();
    }

    function markDelivered(messageId) {
        for (const li of ui.messages.querySelectorAll("li.msg.me")) {
            if (li.dataset.messageId !== messageId) continue;
            const meta = li.querySelector(".meta");
            if (meta) meta.textContent = meta.textContent.replace(" · waiting: bot offline", " · ✓✓ (from the queue)");
        }
    }

    /** A webhook delivery ended: delivered, or failed and handed to the socket (live, or the queue); an App's only failed. */
    function markWebhook(event) {
        let text = event.dual ? " · + webhook ✓✓" : " · ✓✓ webhook";
        if (event.result !== "delivered") {
            text = event.dual
                ? " · + webhook failed"
                : " · webhook failed · " + (event.fallback === "queued" ? "waiting: bot offline" : "✓✓ socket");
        }
        for (const li of ui.messages.querySelectorAll("li.msg.me")) {
            if (li.dataset.messageId !== event.messageId) continue;
            const meta = li.querySelector(".meta");
            if (meta) meta.textContent = meta.textContent.replace(event.dual ? DUAL_PENDING : WEBHOOK_PENDING, text);
            li.title = "webhook: " + event.result + " after " + event.attempts + " attempt" + (event.attempts === 1 ? "" : "s");
        }
    }

    /** One entry per (bot number, your number); an App number's chats say which number they are with. */
    function renderChats() {
        const last = new Map();
        const key = (botNumber, number) => (botNumber || bot) + " " + number;
        if (status) for (const c of status.conversations) last.set(key(c.poolNumberId, c.fromNumber), "");
        for (const event of events) {
            const number = numberOf(event);
            if (number) last.set(key(botOf(event), number), preview(event));
        }
        if (!last.has(key(bot, current))) last.set(key(bot, current), "");
        const numbers = botNumbers();
        const firstPool = status && status.poolNumbers[0] ? status.poolNumbers[0].id : "";
        ui.chats.replaceChildren();
        for (const [chat, text] of last) {
            const [botNumber, number] = chat.split(" ");
            const button = el("button");
            button.type = "button";
            const withBot = numbers.find((b) => b.id === botNumber);
            const name = botNumber === firstPool || !withBot ? number : number + " → " + withBot.label;
            button.append(el("span", "", name), el("span", "preview", text || " "));
            if (number === current && botNumber === bot) button.setAttribute("aria-current", "true");
            button.addEventListener("click", () => openChat(number, botNumber));
            const li = el("li");
            li.append(button);
            ui.chats.append(li);
        }
    }

    function renderStatus() {
        if (!status) return;
        ui.connections.replaceChildren();
        for (const c of status.connections) {
            const scope = c.scope === "user" ? "user scope" : "conversation " + (c.conversationId || "");
            ui.connections.append(
                el(
                    "li",
                    "",
                    // Whose socket: the pool tenant's (user_…) or an App's (app_…), both live under npm start.
                    c.userId +
                        " · " +
                        scope +
                        (c.poolNumberId ? " · " + c.poolNumberId : "") +
                        " · port " +
                        c.remotePort +
                        " · since " +
                        when(c.openedAt),
                ),
            );
        }
        if (status.connections.length === 0) ui.connections.append(el("li", "none", "none: the bot is offline"));
        renderDelivery();
        ui.queue.textContent = String(status.queueSize);
        const ahead = status.now - Date.now();
        ui.clock.textContent = when(status.now) + (ahead > 60 * 1000 ? " · " + Math.round(ahead / HOUR) + " h ahead" : "");

        renderBots();
        const pool = botNumbers().find((b) => b.id === bot);
        const online = status.connections.length > 0;
        const byWebhook = list(status.delivery).some((d) => pool && d.poolNumberId === pool.id && d.mode === "webhook");
        const app = list(status.apps).find((a) => list(a.numbers).some((n) => pool && n.id === pool.id));
        const appHook = app && list(status.appDelivery).some((d) => d.slug === app.slug && d.mode === "webhook");
        ui.sub.textContent =
            (pool ? "bot " + pool.phoneNumber + " · " : "") +
            (byWebhook ? "your messages go to its webhook" : online ? "online" : "offline: your messages wait in the queue") +
            (appHook ? " · and to its webhook" : "");
        const conversation = status.conversations.find((c) => c.fromNumber === current && (!bot || c.poolNumberId === bot));
        ui.window.classList.remove("closed");
        if (!conversation) {
            ui.window.textContent = "no conversation yet";
        } else if (conversation.lastInboundAt === null) {
            ui.window.textContent = "24 h window not open: write to open it";
            ui.window.classList.add("closed");
        } else {
            const left = conversation.lastInboundAt + status.serviceWindowMs - status.now;
            ui.window.textContent =
                left > 0 ? "24 h window open · " + Math.ceil(left / HOUR) + " h left" : "24 h window closed: only templates";
            if (left <= 0) ui.window.classList.add("closed");
        }
    }

    /** The "Writing to" choices, kept in step with the status (the chosen one stays chosen). */
    function renderBots() {
        const numbers = botNumbers();
        if (!bot || !numbers.some((b) => b.id === bot)) bot = numbers.length > 0 ? numbers[0].id : "";
        const wanted = numbers.map((b) => b.id + "|" + b.label).join("\n");
        if (ui.bot.dataset.options !== wanted) {
            ui.bot.replaceChildren(
                ...numbers.map((b) => {
                    const option = el("option", "", b.label);
                    option.value = b.id;
                    return option;
                }),
            );
            ui.bot.dataset.options = wanted;
        }
        ui.bot.value = bot;
    }

    ui.bot.addEventListener("change", () => {
        bot = ui.bot.value;
        notice("");
        renderChat();
    });

    function openChat(number, botNumber) {
        if (botNumber) bot = botNumber;
        current = number;
        ui.number.value = number;
        notice("");
        renderChat();
        ui.text.focus();
    }

    // --- sending -----------------------------------------------------------------------------
    function post(path, body) {
        return request("POST", path, body);
    }

    async function request(method, path, body) {
        const response = await fetch(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        if (!response.ok) {
            let message = "HTTP " + response.status;
            try {
                const json = await response.json();
                if (json && json.error && json.error.message) message = json.error.message;
            } catch {
                // keep the status
            }
            throw new Error(message);
        }
        return response.json();
    }

    /** One inbound message from the current number; true once the emulator took it. */
    async function sendInbound(extra, options) {
        const typed = Boolean(options && options.typed);
        notice("");
        ui.send.disabled = true;
        try {
            const to = bot ? { poolNumberId: bot } : {};
            await post("/_emulator/inbound", Object.assign({ fromNumber: current, fromName: "You" }, to, extra));
            if (typed) ui.text.value = "";
            return true;
        } catch (error) {
            notice("Not sent: " + error.message);
            return false;
        } finally {
            ui.send.disabled = false;
            if (typed) ui.text.focus();
        }
    }

    /** A tapped reply button or a chosen list row, answering the bot message `record`. */
    async function answer(record, choice) {
        const fields = { kind: choice.kind, id: choice.id, title: choice.title, toMessageId: record.messageId };
        if (choice.description) fields.description = choice.description;
        if (choice.kind === "button" || choice.kind === "template_button") {
            if (answered.has(record.messageId) || pending.has(record.messageId)) return;
            pending.add(record.messageId);
            refreshButtons(record.messageId);
        }
        const ok = await sendInbound({ answer: fields });
        if (!ok && pending.delete(record.messageId)) refreshButtons(record.messageId);
    }

    function readBase64(file) {
        return new Promise((resolve, reject) => {
            const reader = new FileReader();
            reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
            reader.onerror = () => reject(reader.error || new Error("cannot read the file"));
            reader.readAsDataURL(file);
        });
    }

    ui.composer.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = ui.text.value;
        if (text.trim()) void sendInbound({ text }, { typed: true });
    });

    ui.file.addEventListener("change", async () => {
        closeAttachMenu();
        const file = ui.file.files && ui.file.files[0];
        ui.file.value = "";
        if (!file) return;
        if (file.size > MAX_FILE_BYTES) {
            notice("Not sent: " + file.name + " is larger than 16 MB");
            return;
        }
        try {
            const data = await readBase64(file);
            const caption = ui.text.value.trim();
            await sendInbound(
                Object.assign(
                    { media: { data, mimeType: file.type || "application/octet-stream", fileName: file.name } },
                    caption ? { text: caption } : {},
                ),
                { typed: Boolean(caption) },
            );
        } catch (error) {
            notice("Not sent: " + error.message);
        }
    });

    ui.numberForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const number = ui.number.value.replace(/[\s()-]/g, "");
        if (!/^\+?\d{3,20}$/.test(number)) {
            notice("A phone number is digits, optionally with a leading +");
            return;
        }
        openChat(number);
    });

    ui.skip.addEventListener("click", async () => {
        ui.skip.disabled = true;
        try {
            await post("/_emulator/clock", { advanceMs: SKIP_MS });
        } catch (error) {
            notice("Clock not moved: " + error.message);
        } finally {
            ui.skip.disabled = false;
        }
    });

    // --- the attach menu, the location and contact forms -------------------------------------
    function closeAttachMenu() {
        ui.attachMenu.hidden = true;
        ui.attach.setAttribute("aria-expanded", "false");
    }

    ui.attach.addEventListener("click", (event) => {
        event.stopPropagation();
        const open = ui.attachMenu.hidden;
        closeReactBar();
        ui.attachMenu.hidden = !open;
        ui.attach.setAttribute("aria-expanded", String(open));
    });

    function openForm(dialog, first) {
        closeAttachMenu();
        dialog.showModal();
        first.focus();
        first.select();
    }

    ui.shareLocation.addEventListener("click", () => openForm(ui.locationDialog, ui.locName));
    ui.shareContact.addEventListener("click", () => openForm(ui.contactDialog, ui.contactName));

    ui.locationForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const location = { latitude: Number(ui.locLat.value), longitude: Number(ui.locLon.value) };
        if (
            !Number.isFinite(location.latitude) ||
            !Number.isFinite(location.longitude) ||
            Math.abs(location.latitude) > 90 ||
            Math.abs(location.longitude) > 180
        ) {
            notice("A latitude is -90 to 90 and a longitude -180 to 180");
            return;
        }
        if (ui.locName.value.trim()) location.name = ui.locName.value.trim();
        if (ui.locAddress.value.trim()) location.address = ui.locAddress.value.trim();
        ui.locSend.disabled = true;
        const ok = await sendInbound({ location });
        ui.locSend.disabled = false;
        if (ok) ui.locationDialog.close();
    });

    ui.contactForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const name = ui.contactName.value.trim();
        const phone = ui.contactPhone.value.trim();
        if (!name || !/^\+?\d{3,20}$/.test(phone.replace(/[\s()-]/g, ""))) {
            notice("A contact needs a name and a phone number (digits, optionally with a leading +)");
            return;
        }
        const digits = phone.replace(/\D/g, "");
        ui.contactSend.disabled = true;
        const ok = await sendInbound({
            contacts: [
                { name: { formatted_name: name, first_name: name.split(/\s+/)[0] }, phones: [{ phone, type: "CELL", wa_id: digits }] },
            ],
        });
        ui.contactSend.disabled = false;
        if (ok) ui.contactDialog.close();
    });

    for (const dialog of [ui.sheet, ui.locationDialog, ui.contactDialog]) {
        // A click on the backdrop lands on the dialog itself: close, as a sheet does.
        dialog.addEventListener("click", (event) => {
            if (event.target === dialog) dialog.close();
        });
        for (const close of dialog.querySelectorAll("button.close, #sheet-close")) close.addEventListener("click", () => dialog.close());
    }

    // --- the list sheet ----------------------------------------------------------------------
    function openSheet(record, action) {
        ui.sheetTitle.textContent = str(action.button) || "Options";
        ui.sheetBody.replaceChildren();
        for (const section of list(action.sections)) {
            const s = obj(section);
            if (!s) continue;
            if (str(s.title)) ui.sheetBody.append(el("h3", "section-title", s.title));
            const rows = el("ul", "rows");
            for (const row of list(s.rows)) {
                const r = obj(row);
                if (!r || !str(r.title)) continue;
                const choose = el("button", "row-choice");
                choose.type = "button";
                const words = el("span", "row-words");
                words.append(el("span", "row-title", r.title));
                if (str(r.description)) words.append(el("span", "row-desc", r.description));
                choose.append(words, el("span", "radio"));
                choose.addEventListener("click", () => {
                    ui.sheet.close();
                    void answer(record, { kind: "list", id: str(r.id), title: r.title, description: str(r.description) });
                });
                const li = el("li");
                li.append(choose);
                rows.append(li);
            }
            ui.sheetBody.append(rows);
        }
        closeAttachMenu();
        closeReactBar();
        ui.sheet.showModal();
        const first = ui.sheetBody.querySelector("button");
        if (first) first.focus();
    }

    // --- reacting to a bot message -----------------------------------------------------------
    let reactingTo = "";

    function openReactBar(li, anchor) {
        closeAttachMenu();
        reactingTo = li.dataset.messageId;
        const mine = (reactions.get(reactingTo) || {}).me || "";
        ui.reactBar.replaceChildren();
        for (const emoji of REACTIONS) {
            const choice = el("button", "react-choice", emoji);
            choice.type = "button";
            choice.setAttribute("role", "menuitem");
            choice.setAttribute("aria-pressed", String(emoji === mine));
            choice.title = emoji === mine ? "Remove your reaction" : "React " + emoji;
            choice.addEventListener("click", () => {
                const messageId = reactingTo;
                closeReactBar();
                // Choosing your current reaction again removes it (an empty emoji), as in WhatsApp.
                void sendInbound({ reaction: { messageId, emoji: emoji === mine ? "" : emoji } });
            });
            ui.reactBar.append(choice);
        }
        ui.reactBar.hidden = false;
        // Fixed, placed from the anchor, kept inside the window (the chat scrolls and would clip it).
        const at = anchor.getBoundingClientRect();
        const bar = ui.reactBar.getBoundingClientRect();
        const left = Math.max(8, Math.min(window.innerWidth - bar.width - 8, at.left - bar.width / 2));
        const top = at.top - bar.height - 6 >= 8 ? at.top - bar.height - 6 : at.bottom + 6;
        ui.reactBar.style.left = left + "px";
        ui.reactBar.style.top = top + "px";
        ui.reactBar.querySelector("button").focus();
    }

    function closeReactBar() {
        ui.reactBar.hidden = true;
        reactingTo = "";
    }

    document.addEventListener("click", (event) => {
        if (!ui.reactBar.hidden && !ui.reactBar.contains(event.target)) closeReactBar();
        if (!ui.attachMenu.hidden && !ui.attachMenu.contains(event.target)) closeAttachMenu();
    });
    document.addEventListener("keydown", (event) => {
        if (event.key !== "Escape") return;
        closeReactBar();
        closeAttachMenu();
    });
    ui.messages.addEventListener("scroll", closeReactBar);
    window.addEventListener("resize", closeReactBar);

    // --- the Delivery panel: socket or webhook, per pool number; sockets (+ webhook) per App -----
    /** The number or App the panel shows (its `key`), and the saved setting last put into its form. */
    let deliveryChoice = "";
    let deliveryShown = "";

    /**
     * What the panel can set: each pool number's setting and each App's, as { key, label, app, path, query, owns(record) }
     * over the setting's own fields (mode, url, secretSet, privateTarget).
     */
    function deliveryTargets() {
        if (!status) return [];
        const pools = list(status.delivery).map((d) =>
            Object.assign({}, d, {
                key: "pool " + d.userId + " " + d.poolNumberId,
                label: d.phoneNumber + " · " + d.poolNumberId + (d.label ? " (" + d.label + ")" : ""),
                app: false,
                path: "/_emulator/delivery/" + encodeURIComponent(d.poolNumberId),
                query: "?userId=" + encodeURIComponent(d.userId),
                owns: (r) => r.userId === d.userId && r.poolNumberId === d.poolNumberId,
            }),
        );
        const apps = list(status.appDelivery).map((d) => {
            const app = list(status.apps).find((a) => a.slug === d.slug);
            const numbers = app ? list(app.numbers).map((n) => n.phoneNumber) : [];
            return Object.assign({}, d, {
                key: "app " + d.slug,
                label: "App " + d.name + (numbers.length ? " · " + numbers.join(", ") : ""),
                app: true,
                path: "/_emulator/app-delivery/" + encodeURIComponent(d.slug),
                query: "",
                owns: (r) => r.userId === d.appId,
            });
        });
        return pools.concat(apps);
    }

    function chosenDelivery() {
        const all = deliveryTargets();
        return all.find((d) => d.key === deliveryChoice) || all[0];
    }

    function deliveryPath(d, suffix) {
        return d.path + (suffix || "") + d.query;
    }

    function attemptText(attempt) {
        return attempt.status !== undefined ? String(attempt.status) : str(attempt.error) || "failed";
    }

    function deliveryText(record) {
        const tries = list(record.attempts).map(attemptText).join(", ");
        if (record.state === "delivered") return "✓ " + tries;
        if (record.state === "failed" && record.dual) return "✗ " + tries + " (its sockets had it)";
        if (record.state === "failed") return "✗ " + tries + " → socket" + (record.fallback === "queued" ? " (queued)" : "");
        return "sending…" + (tries ? " " + tries : "");
    }

    function renderDelivery() {
        const all = deliveryTargets();
        const current = chosenDelivery();
        ui.delivery.hidden = !current;
        if (!current) return;
        deliveryChoice = current.key;
        ui.deliveryPoolRow.hidden = all.length < 2;
        if (all.length > 1 && ui.deliveryPool.options.length !== all.length) {
            ui.deliveryPool.replaceChildren();
            for (const d of all) {
                const option = el("option", "", d.label);
                option.value = d.key;
                ui.deliveryPool.append(option);
            }
        }
        ui.deliveryPool.value = deliveryChoice;
        ui.deliveryMode.textContent = current.app ? (current.mode === "webhook" ? "sockets + webhook" : "sockets") : current.mode;
        ui.deliverySocketLabel.textContent = current.app ? "Sockets only" : "Socket";
        ui.deliveryWebhookLabel.textContent = current.app ? "Sockets + webhook" : "Webhook";
        ui.deliveryAppNote.hidden = !current.app;
        // The form shows the saved setting when it changed; what a person is typing stays otherwise.
        const saved = JSON.stringify([deliveryChoice, current.mode, current.url || "", current.secretSet]);
        if (saved !== deliveryShown) {
            deliveryShown = saved;
            ui.deliveryWebhook.checked = current.mode === "webhook";
            ui.deliverySocket.checked = current.mode !== "webhook";
            if (current.url) ui.deliveryUrl.value = current.url;
            ui.deliverySecret.value = "";
            ui.deliverySecret.placeholder = current.secretSet ? "set (not shown): leave empty to keep it" : SECRET_PLACEHOLDER;
        }
        ui.deliveryUnsign.hidden = !(current.mode === "webhook" && current.secretSet);
        ui.deliveryNote.hidden = !current.privateTarget;
        ui.deliveryTest.disabled = current.mode !== "webhook";

        const webhooks = obj(status.webhooks) || { recent: [], failures: 0 };
        const recent = list(webhooks.recent).filter(current.owns).slice(-8).reverse();
        ui.webhooks.replaceChildren();
        for (const record of recent) {
            const li = el("li", record.state, when(record.createdAt) + " · " + record.messageId + " · " + deliveryText(record));
            li.title = record.url;
            ui.webhooks.append(li);
        }
        if (recent.length === 0) ui.webhooks.append(el("li", "none", "none yet"));
        ui.webhookFailures.textContent = String(webhooks.failures || 0);
    }

    async function saveDelivery(body, done) {
        const current = chosenDelivery();
        if (!current) return;
        ui.deliverySave.disabled = true;
        ui.deliveryResult.textContent = "";
        try {
            await request("PUT", deliveryPath(current), body);
            ui.deliverySecret.value = "";
            ui.deliveryResult.textContent = done;
        } catch (error) {
            ui.deliveryResult.textContent = "Not saved: " + error.message;
        } finally {
            ui.deliverySave.disabled = false;
        }
    }

    ui.deliveryPool.addEventListener("change", () => {
        deliveryChoice = ui.deliveryPool.value;
        ui.deliveryResult.textContent = "";
        if (status) renderDelivery();
    });

    ui.deliveryForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const current = chosenDelivery();
        if (!current) return;
        if (!ui.deliveryWebhook.checked) {
            void saveDelivery(
                { mode: "socket" },
                current.app ? "Saved: messages go to the App's sockets only" : "Saved: messages go to the bot's socket",
            );
            return;
        }
        const body = { mode: "webhook", url: ui.deliveryUrl.value.trim() };
        // The page cannot read the secret back: an empty field keeps the one that is set.
        if (ui.deliverySecret.value) body.secret = ui.deliverySecret.value;
        else if (current.mode === "webhook" && current.secretSet) body.keepSecret = true;
        const where = current.app ? "Saved: messages go to the App's sockets and its webhook" : "Saved: messages go to the webhook";
        void saveDelivery(body, where + (body.secret || body.keepSecret ? ", signed" : ", unsigned"));
    });

    ui.deliveryUnsign.addEventListener("click", () => {
        const current = chosenDelivery();
        if (current && current.url) void saveDelivery({ mode: "webhook", url: current.url }, "Saved: unsigned from now on");
    });

    ui.deliveryTest.addEventListener("click", async () => {
        const current = chosenDelivery();
        if (!current) return;
        ui.deliveryTest.disabled = true;
        ui.deliveryResult.textContent = "Testing…";
        try {
            const result = await post(deliveryPath(current, "/test"), {});
            ui.deliveryResult.textContent = result.ok
                ? "Test: HTTP " + result.status + " in " + result.durationMs + " ms"
                : "Test failed: " + (result.status !== undefined ? "HTTP " + result.status : str(result.error));
        } catch (error) {
            ui.deliveryResult.textContent = "Test not sent: " + error.message;
        } finally {
            const now = chosenDelivery();
            ui.deliveryTest.disabled = !now || now.mode !== "webhook";
        }
    });

    // --- the live feed -----------------------------------------------------------------------
    function connect() {
        const source = new EventSource("/_emulator/events");
        source.addEventListener("hello", (message) => {
            const hello = JSON.parse(message.data);
            events = hello.events;
            status = hello.status;
            document.body.dataset.feed = "live";
            ui.feed.textContent = "live";
            notice("");
            renderChat();
        });
        source.addEventListener("chat", (message) => {
            const event = JSON.parse(message.data);
            events.push(event);
            if (events.length > 1000) events = events.slice(-500);
            append(event);
        });
        source.addEventListener("status", (message) => {
            status = JSON.parse(message.data);
            renderStatus();
        });
        source.addEventListener("error", () => {
            // EventSource retries by itself (retry: 1000); hello redraws everything once it is back.
            document.body.dataset.feed = "lost";
            ui.feed.textContent = source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…";
        });
    }

    renderChat();
    connect();
})();
