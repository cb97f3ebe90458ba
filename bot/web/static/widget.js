/*! Storefront chat widget for the lead assistant (README: "Chat widget"). */
(function () {
  "use strict";
  if (window.StorefrontChat) return; // pasted twice

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var scriptUrl = new URL(script && script.src ? script.src : location.href, location.href);
  var rasaUrl = (data.rasaUrl || scriptUrl.protocol + "//" + scriptUrl.hostname + ":5005").replace(/\/+$/, "");
  var socketPath = data.socketPath || "/socket.io/";
  var useSocket = data.transport !== "rest";
  var title = data.title || "Chat with us";
  var greeting = data.greeting || "Hi! Ask me about products, sizes, stock or delivery.";
  var proactiveMessage = data.proactiveMessage || "Hi! Can I help you find the right product?";

  // Shared with the tracking snippet: chat and events join on this id.
  var SESSION_KEY = "storefront_session_id";
  var CONSENT_KEY = "storefront_consent";
  var CONSENT_EVENT = "storefront:consent";
  var HISTORY_KEY = "storefront_chat_history:";
  var OPEN_KEY = "storefront_chat_open";
  var PROACTIVE_KEY = "storefront_chat_proactive";
  var PAGE_TYPES = ["home", "product", "cart", "checkout", "other"];
  var MAX_HISTORY = 200;
  var MAX_HISTORY_CHARS = 100000;
  var HISTORY_MS = 30 * 86400000; // a stored conversation is forgotten 30 days after its last message
  var SAME_MESSAGE_MS = 10000; // one bot message heard by two tabs of the session
  var PHONE = "(max-width: 480px)";
  var MAX_TEXT = 1000;
  var CONNECT_TIMEOUT_MS = 5000;
  var TYPING_TIMEOUT_MS = 30000;

  function load(storage, key) {
    try { return window[storage].getItem(key); } catch (e) { return null; }
  }
  function store(storage, key, value) {
    try {
      if (value === null) window[storage].removeItem(key);
      else window[storage].setItem(key, value);
    } catch (e) { /* storage full or blocked: the chat still works for this page */ }
  }

  function uuid() {
    var crypto = window.crypto;
    if (crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // With consent required (this tag's data-require-consent, or the snippet's), nothing
  // is stored until the shop's banner grants it or the shopper opens the chat or
  // writes (an explicit choice); until then the session id lives in memory only.
  var events = window.StorefrontEvents;
  var requireConsent = ("requireConsent" in data && data.requireConsent !== "false") ||
    !!(events && events.consentRequired && events.consentRequired());
  var sessionId = data.sessionId || load("localStorage", SESSION_KEY) || window.__storefrontSessionId || uuid();
  window.__storefrontSessionId = sessionId;
  var tab = uuid().slice(0, 8); // tells this page's messages from other tabs' copies
  var counter = 0;

  function amount(raw) {
    var value = raw === undefined || raw === null || raw === "" ? NaN : Number(raw);
    return isFinite(value) && value >= 0 ? value : null;
  }
  var context = { page_type: "other", product_id: null, variant_id: null, cart_value: null };
  function setContext(changes) {
    changes = changes || {};
    if ("page_type" in changes) {
      context.page_type = PAGE_TYPES.indexOf(changes.page_type) >= 0 ? changes.page_type : "other";
    }
    ["product_id", "variant_id"].forEach(function (key) {
      if (key in changes) context[key] = changes[key] ? String(changes[key]) : null;
    });
    if ("cart_value" in changes) context.cart_value = amount(changes.cart_value);
  }
  // data-variant-id names a variant the shopper chose (picked, added to the cart), not the
  // option a product page shows pre-selected; flows may select questions by it.
  setContext({
    page_type: data.pageType || "other",
    product_id: data.productId,
    variant_id: data.variantId,
    cart_value: data.cartValue
  });
  function metadata() {
    return {
      page_type: context.page_type,
      product_id: context.product_id,
      variant_id: context.variant_id,
      cart_value: context.cart_value
    };
  }

  // -- history: {updated, messages: [{id, at, tab, from, text, image, buttons}]} per session

  function valid(message) {
    return !!message && typeof message === "object" && (message.from === "user" || message.from === "bot") &&
      (typeof message.text === "string" || typeof message.image === "string") &&
      (message.buttons === undefined || Array.isArray(message.buttons));
  }

  // The stored conversation of a session; an expired or unreadable one is deleted.
  function readHistory(id) {
    var key = HISTORY_KEY + id;
    var raw = load("localStorage", key);
    if (!raw) return [];
    try {
      var saved = JSON.parse(raw);
      var legacy = Array.isArray(saved); // before 30-day expiry: a bare list
      var messages = legacy ? saved : saved && saved.messages;
      var age = legacy ? 0 : Date.now() - Number(saved.updated);
      if (Array.isArray(messages) && age < HISTORY_MS) {
        return messages.filter(valid).map(function (message, index) {
          if (typeof message.id !== "string") message.id = "old-" + index;
          if (typeof message.at !== "number") message.at = 0;
          return message;
        });
      }
    } catch (e) { /* unreadable: deleted below */ }
    store("localStorage", key, null);
    return [];
  }

  function fit(messages) {
    messages = messages.slice(-MAX_HISTORY);
    while (messages.length > 1 && JSON.stringify(messages).length > MAX_HISTORY_CHARS) {
      messages = messages.slice(Math.ceil(messages.length / 10));
    }
    return messages;
  }

  // Other tabs of the session store into the same key: merge by message id, and count a
  // bot message both tabs heard (same content, other tab, seconds apart) once.
  function merge(mine, theirs) {
    var seen = {};
    var all = theirs.concat(mine).filter(function (message) {
      if (seen[message.id]) return false;
      seen[message.id] = true;
      return true;
    });
    all.sort(function (a, b) { return a.at - b.at; });
    var last = {};
    return fit(all.filter(function (message) {
      if (message.from !== "bot") return true;
      var content = JSON.stringify([message.text, message.image, message.buttons]);
      var twin = last[content];
      if (twin && twin.tab !== message.tab && Math.abs(message.at - twin.at) < SAME_MESSAGE_MS) return false;
      last[content] = message;
      return true;
    }));
  }

  var history = fit(readHistory(sessionId));
  var engaged = history.length > 0; // chatted before: its history is stored already
  try {
    for (var index = window.localStorage.length - 1; index >= 0; index--) {
      var key = window.localStorage.key(index);
      if (key && key.indexOf(HISTORY_KEY) === 0 && key !== HISTORY_KEY + sessionId) readHistory(key.slice(HISTORY_KEY.length));
    }
  } catch (e) { /* storage blocked */ }

  function mayStore() {
    return !requireConsent || engaged || load("localStorage", CONSENT_KEY) === "granted";
  }

  function saveHistory() {
    if (!mayStore()) return;
    if (!data.sessionId) store("localStorage", SESSION_KEY, sessionId);
    if (!history.length) return;
    var messages = merge(history, readHistory(sessionId));
    store("localStorage", HISTORY_KEY + sessionId, JSON.stringify({ updated: Date.now(), messages: messages }));
  }

  function engage() {
    if (engaged) return;
    engaged = true;
    saveHistory();
  }

  // -- DOM (every text goes in as textContent; nothing is parsed as HTML) --------------

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var STYLES = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;",
    "border-radius:50%;border:0;background:var(--accent);color:#fff;font-size:14px;font-weight:600;",
    "cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;",
    "border-radius:11px;background:#c5221f;color:#fff;font-size:12px;line-height:22px}",
    ".badge[hidden],.panel[hidden],.typing[hidden]{display:none}",
    ".panel{position:fixed;right:20px;bottom:92px;z-index:2147483000;width:370px;",
    "max-width:calc(100vw - 40px);height:540px;max-height:calc(100vh - 112px);display:flex;",
    "flex-direction:column;background:#fff;color:#1d232b;border-radius:12px;overflow:hidden;",
    "box-shadow:0 8px 30px rgba(0,0,0,.25);font-size:15px;line-height:1.4}",
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 12px 10px 16px;",
    "background:var(--accent);color:#fff}h2{margin:0;font-size:16px;font-weight:600}",
    ".close{background:none;border:0;color:#fff;font-size:24px;line-height:1;padding:4px 10px;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f5f6f8}",
    ".intro{margin:0 0 4px;color:#4f5964;font-size:14px}",
    ".msg{max-width:86%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".bot{align-self:flex-start;background:#fff;border:1px solid #dfe3e8;border-bottom-left-radius:4px}",
    ".user{align-self:flex-end;background:var(--accent);color:#fff;border-bottom-right-radius:4px}",
    ".user a{color:#fff}.msg img{display:block;max-width:100%;border-radius:8px;margin-top:6px}",
    ".typing{padding:4px 16px;color:#4f5964;font-size:13px;background:#f5f6f8}",
    ".replies{display:flex;flex-wrap:wrap;gap:6px;padding:4px 12px 10px;background:#f5f6f8}",
    ".replies:empty,.error:empty{display:none}",
    ".replies button{border:1px solid var(--accent);background:#fff;color:var(--accent);border-radius:16px;",
    "padding:6px 12px;font-size:14px;cursor:pointer}",
    ".error{margin:0;padding:6px 14px;color:#b3261e;font-size:13px}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #dfe3e8}",
    "input{flex:1;min-width:0;padding:9px 11px;border:1px solid #b9c0c8;border-radius:8px;font-size:16px}",
    "form button{border:0;border-radius:8px;background:var(--accent);color:#fff;padding:0 16px;",
    "font-size:15px;cursor:pointer}",
    "button:focus-visible,input:focus-visible,a:focus-visible,.log:focus-visible{outline:3px solid #f29900;",
    "outline-offset:2px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;",
    "border-radius:0}.launcher{right:12px;bottom:12px}.panel:not([hidden])~.launcher{display:none}}"
  ].join("");

  var host = el("div", { id: "storefront-chat" });
  var accent = data.color && window.CSS && window.CSS.supports("color", data.color) ? data.color : "#1f5fa8";
  host.style.setProperty("--accent", accent);
  var root = host.attachShadow({ mode: "open" });
  var style = el("style", {}, STYLES);

  var panel = el("section", { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "title" });
  panel.hidden = true;
  var header = el("header");
  var heading = el("h2", { id: "title" }, title);
  var closeButton = el("button", { type: "button", class: "close", "aria-label": "Close chat" }, "×");
  header.appendChild(heading);
  header.appendChild(closeButton);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  log.appendChild(el("p", { class: "intro" }, greeting));
  var typing = el("div", { class: "typing", role: "status" });
  typing.hidden = true;
  var replies = el("div", { class: "replies", role: "group", "aria-label": "Suggested replies" });
  var error = el("p", { class: "error", role: "alert" });
  var form = el("form", { class: "composer" });
  var label = el("label", { for: "message", class: "sr" }, "Message");
  var input = el("input", { id: "message", type: "text", autocomplete: "off", maxlength: String(MAX_TEXT), placeholder: "Type a message…" });
  var sendButton = el("button", { type: "submit" }, "Send");
  form.appendChild(label);
  form.appendChild(input);
  form.appendChild(sendButton);
  [header, log, typing, replies, error, form].forEach(function (part) { panel.appendChild(part); });
  var launcher = el("button", { type: "button", class: "launcher", "aria-controls": "panel", "aria-expanded": "false", "aria-label": "Open chat" }, "Chat");
  var badge = el("span", { class: "badge", "aria-hidden": "true" });
  badge.hidden = true;
  launcher.appendChild(badge);
  [style, panel, launcher].forEach(function (part) { root.appendChild(part); });

  // -- messages ---------------------------------------------------------------------------

  function safeUrl(raw) {
    try {
      var url = new URL(String(raw), location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  var LINK = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|https?:\/\/[^\s<>"']+/g;
  function appendText(parent, text) {
    var last = 0;
    var match;
    LINK.lastIndex = 0;
    while ((match = LINK.exec(text)) !== null) {
      var shown = match[1] || match[0].replace(/[.,!?;:)]+$/, "");
      var href = safeUrl(match[2] || shown);
      var end = match[1] ? LINK.lastIndex : match.index + shown.length;
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (href) parent.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, shown));
      else parent.appendChild(document.createTextNode(text.slice(match.index, end)));
      last = LINK.lastIndex = end;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(message) {
    var item = el("div", { class: "msg " + (message.from === "user" ? "user" : "bot") });
    item.appendChild(el("span", { class: "sr" }, message.from === "user" ? "You: " : "Assistant: "));
    if (message.text) appendText(item, message.text);
    var image = message.image && safeUrl(message.image);
    if (image) item.appendChild(el("img", { src: image, alt: message.text ? "" : "Image from the assistant", loading: "lazy" }));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  // The quick replies of the bot's latest message that has some, until the shopper
  // speaks (a question's buttons stay while a note follows it).
  function offered() {
    for (var index = history.length - 1; index >= 0 && history[index].from === "bot"; index--) {
      if (history[index].buttons) return history[index].buttons;
    }
    return [];
  }

  function showReplies() {
    while (replies.firstChild) replies.removeChild(replies.firstChild);
    offered().forEach(function (button) {
      var node = el("button", { type: "button" }, button.title);
      node.addEventListener("click", function () { send(button.payload, button.title); });
      replies.appendChild(node);
    });
  }

  function remember(message) {
    counter += 1;
    message.id = tab + "-" + counter;
    message.at = Date.now();
    message.tab = tab;
    history.push(message);
    if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
    saveHistory();
    render(message);
    showReplies();
  }

  // Rasa's socket.io messages ({text, quick_replies, attachment}) and REST messages
  // ({text, buttons, image}) as one shape.
  function fromBot(raw) {
    if (!raw || typeof raw !== "object") return null;
    var message = { from: "bot" };
    if (typeof raw.text === "string" && raw.text) message.text = raw.text.slice(0, 5000);
    var attachment = raw.attachment;
    var image = raw.image || (attachment && attachment.type === "image" && attachment.payload && attachment.payload.src);
    if (typeof image === "string" && safeUrl(image)) message.image = image;
    var offered = raw.quick_replies || raw.buttons;
    var buttons = (Array.isArray(offered) ? offered : []).filter(function (button) {
      return button && typeof button.title === "string" && button.title;
    }).map(function (button) {
      return { title: button.title.slice(0, 200), payload: typeof button.payload === "string" && button.payload ? button.payload : button.title };
    });
    if (buttons.length) message.buttons = buttons;
    return message.text || message.image ? message : null;
  }

  var unread = 0;
  var typingTimer = null;
  function setTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    typing.textContent = on ? "Assistant is typing…" : "";
    if (on) typingTimer = setTimeout(function () { setTyping(false); }, TYPING_TIMEOUT_MS);
  }

  function receive(raw) {
    var message = fromBot(raw);
    if (!message) return;
    setTyping(false);
    error.textContent = "";
    remember(message);
    if (panel.hidden) {
      unread += 1;
      updateLauncher();
    }
  }

  function updateLauncher() {
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    var open = !panel.hidden;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", (open ? "Close chat" : "Open chat") +
      (unread ? ", " + unread + " unread message" + (unread > 1 ? "s" : "") : ""));
  }

  // -- transports: socket.io first, the REST channel when the socket cannot connect ------

  var mode = useSocket ? "idle" : "rest"; // idle → connecting → socket | rest
  var socket = null;
  var outbox = [];

  function connect() {
    if (mode !== "idle") return;
    mode = "connecting";
    var fallbackTimer = setTimeout(fallBack, CONNECT_TIMEOUT_MS);
    var failures = 0;
    loadSocketIo(function (io) {
      if (!io) { fallBack(); return; }
      // ?sender= lets a load balancer keep every request of this chat on one Rasa server.
      socket = io(rasaUrl, {
        path: socketPath,
        query: { sender: sessionId },
        reconnectionDelayMax: 30000,
        timeout: CONNECT_TIMEOUT_MS
      });
      socket.on("connect", function () { socket.emit("session_request", { session_id: sessionId }); });
      socket.on("session_confirm", function (confirmed) {
        clearTimeout(fallbackTimer);
        // The server replaces an id it cannot use (blank, over 128 characters); the
        // socket's replies go to the confirmed one, so the chat goes on as that.
        if (typeof confirmed === "string" && confirmed && confirmed !== sessionId) adopt(confirmed);
        mode = "socket";
        drain();
      });
      socket.on("connect_error", function () {
        failures += 1;
        if (failures >= 2) fallBack();
      });
      socket.on("disconnect", function () { if (mode === "socket") mode = "rest"; });
      socket.on("bot_uttered", receive);
    });
  }

  function adopt(id) {
    store("localStorage", HISTORY_KEY + sessionId, null);
    sessionId = id;
    if (!data.sessionId) window.__storefrontSessionId = id;
    saveHistory();
  }

  function fallBack() {
    if (mode !== "connecting") return;
    mode = "rest";
    drain();
  }

  // socket.io's UMD build sets window.io; the host page keeps its own io, if it has one.
  function loadSocketIo(done) {
    var had = "io" in window;
    var previous = window.io;
    var tag = el("script", { src: scriptUrl.origin + "/static/socket.io.min.js", async: "" });
    tag.onload = function () {
      var io = window.io;
      try {
        if (had) window.io = previous;
        else delete window.io;
      } catch (e) { /* a page that froze window.io keeps ours */ }
      done(typeof io === "function" ? io : null);
    };
    tag.onerror = function () { done(null); };
    (document.head || document.documentElement).appendChild(tag);
  }

  function drain() {
    var waiting = outbox;
    outbox = [];
    waiting.forEach(deliver);
  }

  // Each message has an id the server remembers: sent again after a failure (a server
  // restarting, a dropped connection), it is answered again but never counted twice.
  function messageId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") return c.randomUUID();
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  var RETRY_DELAYS_MS = [1000, 2000, 4000];

  function deliver(item) {
    if (mode === "connecting") {
      outbox.push(item);
    } else if (mode === "socket") {
      socket.emit("user_uttered", {
        message: item.text, message_id: item.id, session_id: sessionId, metadata: metadata()
      });
    } else {
      fetch(rasaUrl + "/webhooks/rest/webhook", {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: sessionId, message: item.text, message_id: item.id, metadata: metadata() })
      }).then(function (response) {
        if (!response.ok) {
          var failure = new Error("HTTP " + response.status);
          // 502-504: the server or its proxy failed mid-way; worth sending again.
          failure.retry = response.status >= 502 && response.status <= 504;
          throw failure;
        }
        return response.json();
      }).then(function (messages) {
        setTyping(false);
        (Array.isArray(messages) ? messages : []).forEach(receive);
      }).catch(function (failure) {
        var network = !(failure && /^HTTP /.test(failure.message));
        if ((network || failure.retry) && item.tries < RETRY_DELAYS_MS.length) {
          setTimeout(function () { deliver(item); }, RETRY_DELAYS_MS[item.tries]);
          item.tries += 1;
          return;
        }
        setTyping(false);
        error.textContent = "Sorry, your message could not be sent. Please check your connection and try again.";
      });
    }
  }

  function send(text, shown) {
    text = String(text || "").trim().slice(0, MAX_TEXT);
    if (!text) return;
    engage();
    if (!panel.hidden) store("sessionStorage", OPEN_KEY, "1");
    error.textContent = "";
    remember({ from: "user", text: String(shown || text).slice(0, MAX_TEXT) });
    setTyping(true);
    if (mode === "idle") connect();
    deliver({ text: text, id: messageId(), tries: 0 });
  }

  // -- opening, closing, keyboard ----------------------------------------------------------

  // how: undefined (the shopper opens it), "restore" (open on the previous page) or
  // "proactive" (a rule: not remembered, and the focus stays where it is).
  var openedHere = false;
  function open(how) {
    openedHere = true;
    panel.hidden = false;
    unread = 0;
    updateLauncher();
    if (!how) {
      engage();
      store("sessionStorage", OPEN_KEY, "1");
    }
    connect();
    log.scrollTop = log.scrollHeight;
    if (!how) input.focus();
  }
  function close() {
    panel.hidden = true;
    updateLauncher();
    store("sessionStorage", OPEN_KEY, null);
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") close(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
  });

  // -- proactive rules (off unless the shop sets them) -------------------------------------

  function seconds(raw) {
    var value = Number(raw);
    return isFinite(value) && value > 0 ? value * 1000 : 0;
  }
  function proactive(reason) {
    if (openedHere || !panel.hidden || history.length || load("sessionStorage", PROACTIVE_KEY)) return;
    store("sessionStorage", PROACTIVE_KEY, reason);
    remember({ from: "bot", text: proactiveMessage });
    if (window.matchMedia && window.matchMedia(PHONE).matches) {
      // On a phone the open chat would cover the page: the badge says it instead.
      unread += 1;
      updateLauncher();
      return;
    }
    // Opening must not move the shopper's focus away from the page.
    open("proactive");
  }
  var dwell = seconds(data.proactiveProductSeconds);
  if (dwell && context.page_type === "product") setTimeout(function () { proactive("product"); }, dwell);
  var idle = seconds(data.proactiveCheckoutIdleSeconds);
  if (idle && context.page_type === "checkout") {
    var idleTimer = null;
    var rearm = function () {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(function () { proactive("checkout"); }, idle);
    };
    ["pointerdown", "keydown", "input", "scroll"].forEach(function (name) {
      document.addEventListener(name, rearm, { passive: true, capture: true });
    });
    rearm();
  }

  // Consent given: store what was kept in memory. Revoked: the snippet deleted the
  // stored id and conversations; this page starts a new session too.
  window.addEventListener(CONSENT_EVENT, function (event) {
    if (event.detail && event.detail.granted) {
      saveHistory();
      return;
    }
    store("localStorage", HISTORY_KEY + sessionId, null);
    store("sessionStorage", OPEN_KEY, null);
    sessionId = data.sessionId || (window.__storefrontSessionId !== sessionId && window.__storefrontSessionId) || uuid();
    window.__storefrontSessionId = sessionId;
    history = [];
    engaged = false;
    unread = 0;
    Array.prototype.slice.call(log.querySelectorAll(".msg")).forEach(function (item) { log.removeChild(item); });
    showReplies();
    updateLauncher();
    if (socket && socket.connected) socket.emit("session_request", { session_id: sessionId });
  });

  function mount() {
    document.body.appendChild(host);
    history.forEach(render);
    showReplies();
    updateLauncher();
    if (load("sessionStorage", OPEN_KEY)) open("restore");
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.StorefrontChat = {
    open: function () { open(); },
    close: close,
    send: function (text) { send(text); },
    setContext: setContext,
    sessionId: function () { return sessionId; },
    transport: function () { return mode; }
  };
})();
