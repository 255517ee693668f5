/* The phone page: you are a WhatsApp user writing to the bot behind the local Pipes emulator.
 * Sends go through the control API (POST /_emulator/inbound); everything shown comes from the live
 * feed (GET /_emulator/events), so the page shows exactly what the emulator saw. All text is set with
 * textContent: nothing from a message is ever parsed as HTML. */
/* global document, EventSource, FileReader, URL */
"use strict";
(function () {
  const HOUR = 3600 * 1000;
  const SKIP_MS = 25 * HOUR;
  const MAX_FILE_BYTES = 16 * 1024 * 1024;
  const $ = (id) => document.getElementById(id);
  const ui = {
    feed: $("feed"), numberForm: $("number-form"), number: $("number"), chats: $("chats"),
    connections: $("connections"), queue: $("queue"), clock: $("clock"), skip: $("skip"),
    title: $("chat-title"), sub: $("chat-sub"), window: $("window"), notice: $("notice"),
    messages: $("messages"), composer: $("composer"), text: $("text"), file: $("file"), send: $("send"),
  };

  let events = [];
  let status = null;
  let current = ui.number.value;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
  function when(ms) {
    return Number.isFinite(ms) ? timeFormat.format(new Date(ms)) : "";
  }

  function notice(text) {
    ui.notice.textContent = text || "";
    ui.notice.hidden = !text;
  }

  // --- which chat an event belongs to ------------------------------------------------------
  function numberOf(event) {
    if (event.type === "inbound") return event.message.fromNumber;
    if (event.type === "sent" || event.type === "refused") {
      if (event.record.toNumber) return event.record.toNumber;
      const conversation = status && status.conversations.find((c) => c.conversationId === event.record.conversationId);
      return conversation ? conversation.fromNumber : undefined;
    }
    return undefined;
  }

  function mediaUrl(mediaId) {
    return "/_emulator/media/" + encodeURIComponent(mediaId);
  }

  /** An image inline, anything else as a download link; https URLs (never fetched here) as a link. */
  function mediaNode(media, fallbackKind) {
    const mime = media.mimeType || "";
    const name = media.fileName || (fallbackKind || "file");
    if (media.mediaId) {
      if (mime.startsWith("image/")) {
        const img = el("img");
        img.src = mediaUrl(media.mediaId);
        img.alt = name;
        return img;
      }
      const link = el("a", "file", "↓ " + name);
      link.href = mediaUrl(media.mediaId);
      link.download = name;
      return link;
    }
    if (media.url) {
      let safe;
      try {
        safe = new URL(media.url).protocol === "https:" ? media.url : "";
      } catch {
        safe = "";
      }
      const link = el("a", "file", "↗ " + (media.fileName || media.url));
      if (safe) {
        link.href = safe;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
      }
      return link;
    }
    return el("span", "file", media.unavailable ? "[" + (fallbackKind || "media") + " unavailable]" : "[" + (fallbackKind || "media") + "]");
  }

  function bubble(event) {
    const li = el("li", "msg");
    const meta = el("span", "meta");
    if (event.type === "inbound") {
      const m = event.message;
      li.classList.add("me");
      li.dataset.messageId = m.messageId;
      if (m.media) li.append(mediaNode(m.media, m.type));
      if (m.text) li.append(el("span", "text", m.text));
      else if (!m.media) li.append(el("span", "text", "[" + m.type + "]"));
      meta.textContent = when(Date.parse(m.timestamp)) + (event.outcome === "queued" ? " · waiting: bot offline" : " · ✓✓");
    } else if (event.type === "sent") {
      const r = event.record;
      li.classList.add("bot");
      li.dataset.messageId = r.messageId;
      if (r.media) li.append(mediaNode(r.media, r.kind));
      const text = r.media ? r.caption : r.text;
      if (text) li.append(el("span", "text", text));
      meta.textContent = when(r.at) + " · " + r.via;
    } else if (event.type === "refused") {
      const r = event.record;
      li.classList.add("bot", "failed");
      li.title = r.message || "";
      li.append(el("span", "why", "not delivered: " + r.code));
      li.append(el("span", "text", r.text || "[" + r.kind + "]"));
      meta.textContent = when(r.at) + " · " + r.via + (r.silent ? " · no reply_status" : "");
    }
    li.append(meta);
    return li;
  }

  // --- rendering ---------------------------------------------------------------------------
  function renderChat() {
    ui.messages.replaceChildren();
    const mine = events.filter((e) => numberOf(e) === current);
    for (const event of mine) ui.messages.append(bubble(event));
    for (const event of events) if (event.type === "delivered") markDelivered(event.messageId);
    if (mine.length === 0) ui.messages.append(el("li", "empty", "Say hello to the bot."));
    ui.title.textContent = current;
    ui.messages.scrollTop = ui.messages.scrollHeight;
    renderChats();
    renderStatus();
  }

  function append(event) {
    if (event.type === "delivered") {
      markDelivered(event.messageId);
      return;
    }
    const number = numberOf(event);
    if (number === current) {
      const empty = ui.messages.querySelector(".empty");
      if (empty) empty.remove();
      const stick = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
      ui.messages.append(bubble(event));
      if (stick || event.type === "inbound") ui.messages.scrollTop = ui.messages.scrollHeight;
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

  function renderChats() {
    const last = new Map();
    if (status) for (const c of status.conversations) last.set(c.fromNumber, "");
    for (const event of events) {
      const number = numberOf(event);
      if (!number) continue;
      const preview = event.type === "inbound" ? (event.message.text || "[" + event.message.type + "]")
        : event.type === "sent" ? "bot: " + ((event.record.media ? event.record.caption : event.record.text) || "[" + event.record.kind + "]")
          : "✗ " + event.record.code;
      last.set(number, preview);
    }
    if (!last.has(current)) last.set(current, "");
    ui.chats.replaceChildren();
    for (const [number, preview] of last) {
      const button = el("button");
      button.type = "button";
      button.append(el("span", "", number), el("span", "preview", preview || " "));
      if (number === current) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => openChat(number));
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
      ui.connections.append(el("li", "", scope + (c.poolNumberId ? " · " + c.poolNumberId : "") + " · port " + c.remotePort + " · since " + when(c.openedAt)));
    }
    if (status.connections.length === 0) ui.connections.append(el("li", "none", "none: the bot is offline"));
    ui.queue.textContent = String(status.queueSize);
    const ahead = status.now - Date.now();
    ui.clock.textContent = when(status.now) + (ahead > 60 * 1000 ? " · " + Math.round(ahead / HOUR) + " h ahead" : "");

    const pool = status.poolNumbers[0];
    const online = status.connections.length > 0;
    ui.sub.textContent = (pool ? "bot " + pool.phoneNumber + " · " : "") + (online ? "online" : "offline: your messages wait in the queue");
    const conversation = status.conversations.find((c) => c.fromNumber === current);
    ui.window.classList.remove("closed");
    if (!conversation) {
      ui.window.textContent = "no conversation yet";
    } else {
      const left = conversation.lastInboundAt + status.serviceWindowMs - status.now;
      ui.window.textContent = left > 0 ? "24 h window open · " + Math.ceil(left / HOUR) + " h left" : "24 h window closed: only templates";
      if (left <= 0) ui.window.classList.add("closed");
    }
  }

  function openChat(number) {
    current = number;
    ui.number.value = number;
    notice("");
    renderChat();
    ui.text.focus();
  }

  // --- sending -----------------------------------------------------------------------------
  async function post(path, body) {
    const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
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

  async function sendInbound(extra) {
    notice("");
    ui.send.disabled = true;
    try {
      await post("/_emulator/inbound", Object.assign({ fromNumber: current, fromName: "You" }, extra));
      ui.text.value = "";
    } catch (error) {
      notice("Not sent: " + error.message);
    } finally {
      ui.send.disabled = false;
      ui.text.focus();
    }
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
    if (text.trim()) void sendInbound({ text });
  });

  ui.file.addEventListener("change", async () => {
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
      await sendInbound(Object.assign({ media: { data, mimeType: file.type || "application/octet-stream", fileName: file.name } }, caption ? { text: caption } : {}));
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
