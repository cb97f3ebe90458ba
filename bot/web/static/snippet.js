/*! Storefront tracking snippet: sends shop events to the lead assistant (README: "Tracking snippet"). */
(function () {
  "use strict";
  if (window.StorefrontEvents) return; // pasted twice

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var origin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var endpoint = data.endpoint || origin + "/api/v2/events";
  var token = data.token || "";
  var requireConsent = "requireConsent" in data && data.requireConsent !== "false";

  // Shared with the chat widget: the chat's sender id is this session id.
  var SESSION_KEY = "storefront_session_id";
  var QUEUE_KEY = "storefront_events_queue";
  var CONSENT_KEY = "storefront_consent";
  var HISTORY_PREFIX = "storefront_chat_history:";
  var CONSENT_EVENT = "storefront:consent";
  var TYPES = ["page_view", "product_view", "variant_select", "compare", "add_to_cart",
    "shipping_check", "checkout_start", "payment_info", "purchase", "email_click"];
  var MAX_QUEUE = 500;
  var BATCH = 100;
  var FLUSH_DELAY_MS = 1000;
  var MAX_BACKOFF_MS = 60000;
  var BEACON_BYTES = 60000; // browsers refuse beacons over 64 KB
  var MAX_PROPERTIES_CHARS = 4096; // what POST /api/v2/events accepts
  var KEY_WINDOW_MS = 30 * 60 * 1000; // events with the same key count once per window

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* storage full or blocked: keep going in memory */ }
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

  // 64 bits of a string (two 32-bit multiplicative lanes), as 16 hex digits.
  function digest(text) {
    var a = 0xdeadbeef, b = 0x41c6ce57;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 2654435761);
      b = Math.imul(b ^ c, 1597334677);
    }
    a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
    b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
    return ((b >>> 0) + 0x100000000).toString(16).slice(1) + ((a >>> 0) + 0x100000000).toString(16).slice(1);
  }

  var consented = !requireConsent || load(CONSENT_KEY) === "granted";

  // The session id; kept in memory only (shared with the widget) until consent.
  function currentId() {
    var id = data.sessionId || load(SESSION_KEY) || window.__storefrontSessionId || uuid();
    window.__storefrontSessionId = id;
    return id;
  }
  function sessionId() {
    var id = currentId();
    if (consented && !data.sessionId) store(SESSION_KEY, id);
    return id;
  }

  var waiting = []; // tracked before consent: kept on this page only, never stored or sent
  var queue = [];
  var settled = {}; // event_ids answered for good from this page (stored, or refused)
  var sending = {}; // event_ids of the fetch in flight
  var beaconed = {}; // event_ids handed to sendBeacon from this page (not yet confirmed)
  var inFlight = false;
  var stopped = false;
  var backoff = 0;
  var batchSize = BATCH;
  var timer = null;

  function stored() {
    try {
      var saved = JSON.parse(load(QUEUE_KEY) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch (e) { return []; }
  }
  // Other tabs share the stored queue: merge theirs with ours (by event_id) before
  // writing, leaving out what was settled here.
  function save() {
    var seen = {};
    var merged = [];
    stored().concat(queue).forEach(function (event) {
      if (!event || typeof event.event_id !== "string" || seen[event.event_id] || settled[event.event_id]) return;
      seen[event.event_id] = true;
      merged.push(event);
    });
    queue = merged.slice(-MAX_QUEUE);
    store(QUEUE_KEY, queue.length ? JSON.stringify(queue) : null);
  }
  function settle(events) {
    events.forEach(function (event) { settled[event.event_id] = true; });
    save();
  }

  function schedule(delay) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () { timer = null; flush(); }, delay);
  }

  function retryLater(retryAfter) {
    backoff = Math.min(MAX_BACKOFF_MS, Math.max(1000, backoff * 2));
    var wait = Math.max(backoff * (0.5 + Math.random() / 2), (Number(retryAfter) || 0) * 1000);
    schedule(wait);
  }

  function warn(response, message) {
    response.json().then(function (body) {
      console.warn("storefront snippet: " + message, body && body.error);
    }, function () { console.warn("storefront snippet: " + message); });
  }

  function flush() {
    if (inFlight || stopped || !consented || !queue.length) return Promise.resolve();
    if (!token) {
      stopped = true;
      console.warn("storefront snippet: no data-token, events are not sent");
      return Promise.resolve();
    }
    var batch = queue.slice(0, batchSize);
    inFlight = true;
    batch.forEach(function (event) { sending[event.event_id] = true; });
    function done() {
      inFlight = false;
      sending = {};
    }
    return fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ events: batch })
    }).then(function (response) {
      done();
      var status = response.status;
      if (status === 202) {
        settle(batch);
        backoff = 0;
        batchSize = Math.min(BATCH, batchSize * 2);
        if (queue.length) schedule(0);
      } else if (status === 413 && batch.length > 1) {
        // Too big as one request: send it in halves.
        batchSize = Math.max(1, Math.floor(batch.length / 2));
        schedule(0);
      } else if (status === 401 || status === 403) {
        // The token or this page's origin is refused: resending cannot help.
        stopped = true;
        warn(response, "events refused (HTTP " + status + "), " + queue.length + " dropped; check data-token and SHOP_ORIGINS");
        settle(queue.slice());
      } else if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // Refused for good (a 400's good events are stored): drop the batch, go on.
        warn(response, "events rejected (HTTP " + status + ")");
        settle(batch);
        if (queue.length) schedule(0);
      } else {
        retryLater(response.headers.get("Retry-After"));
      }
    }, function () {
      done();
      retryLater(null);
    });
  }

  // When the page is hidden it may be gone before a fetch answers: hand what is left
  // to the browser as beacons. They cannot carry a header, so the token goes in the
  // body, as text/plain (no preflight). A beacon is only queued, never confirmed:
  // events stay stored until a fetch (from this page or the next) is answered, and
  // event_ids make that resend harmless. Each event is beaconed once per page; when
  // the tab is only hidden, events whose fetch is in flight are left to that fetch.
  function beacon(leaving) {
    if (stopped || !consented || !token || !navigator.sendBeacon) return;
    var pending = queue.filter(function (event) {
      return !beaconed[event.event_id] && (leaving || !sending[event.event_id]);
    });
    while (pending.length) {
      var chunk = pending.splice(0, BATCH);
      var body = new Blob([JSON.stringify({ token: token, events: chunk })], { type: "text/plain;charset=UTF-8" });
      while (body.size > BEACON_BYTES && chunk.length > 1) {
        pending = chunk.splice(Math.ceil(chunk.length / 2)).concat(pending);
        body = new Blob([JSON.stringify({ token: token, events: chunk })], { type: "text/plain;charset=UTF-8" });
      }
      if (!navigator.sendBeacon(endpoint, body)) break;
      chunk.forEach(function (event) { beaconed[event.event_id] = true; });
    }
  }

  function track(type, fields) {
    fields = fields || {};
    if (TYPES.indexOf(type) < 0) {
      console.warn("storefront snippet: unknown event type " + type + "; known: " + TYPES.join(", "));
      return null;
    }
    var now = Date.now();
    var id = fields.event_id ? String(fields.event_id) : null;
    if (!id && fields.key !== undefined && fields.key !== null) {
      // The same thing seen again (a reload) in the same window is the same event.
      id = type + "-" + digest([currentId(), type, String(fields.key), Math.floor(now / KEY_WINDOW_MS)].join("\n"));
    }
    var event = { event_id: id || uuid(), type: type, ts: new Date(now).toISOString() };
    ["product_id", "variant_id"].forEach(function (name) {
      if (typeof fields[name] === "string" && fields[name]) event[name] = fields[name];
    });
    var value = Number(fields.value);
    if (fields.value !== undefined && fields.value !== null && isFinite(value) && value >= 0) {
      event.value = Math.round(value * 100) / 100;
    }
    if (fields.properties && typeof fields.properties === "object") {
      var size = JSON.stringify(fields.properties).length;
      if (size <= MAX_PROPERTIES_CHARS) event.properties = fields.properties;
      else console.warn("storefront snippet: " + type + " properties left out: " + size + " characters of JSON, at most " + MAX_PROPERTIES_CHARS);
    }
    if (!consented) {
      waiting.push(event);
      return event.event_id;
    }
    enqueue([event]);
    return event.event_id;
  }

  function enqueue(events) {
    var session = sessionId();
    events.forEach(function (event) { event.session_id = session; queue.push(event); });
    save();
    schedule(queue.length >= batchSize ? 0 : FLUSH_DELAY_MS);
  }

  function announce(granted) {
    try {
      window.dispatchEvent(new CustomEvent(CONSENT_EVENT, { detail: { granted: granted } }));
    } catch (e) { /* very old browsers: the widget reads the stored choice */ }
  }

  function grantConsent() {
    consented = true;
    stopped = false;
    store(CONSENT_KEY, "granted");
    sessionId();
    save();
    var early = waiting;
    waiting = [];
    if (early.length) enqueue(early);
    else schedule(0);
    announce(true);
  }

  // Forget everything stored about this shopper: the choice, the session id (a new
  // one is used from now on), unsent events and the chat's history.
  function forget() {
    consented = false;
    waiting = [];
    queue = [];
    settled = {};
    beaconed = {};
    if (timer) clearTimeout(timer);
    timer = null;
    store(CONSENT_KEY, null);
    store(QUEUE_KEY, null);
    if (!data.sessionId) {
      store(SESSION_KEY, null);
      window.__storefrontSessionId = uuid();
    }
    try {
      for (var index = window.localStorage.length - 1; index >= 0; index--) {
        var key = window.localStorage.key(index);
        if (key && key.indexOf(HISTORY_PREFIX) === 0) window.localStorage.removeItem(key);
      }
    } catch (e) { /* storage blocked: nothing was stored */ }
    announce(false);
  }

  function revokeConsent() {
    if (requireConsent) forget();
  }

  if (consented) {
    save();
    if (queue.length) schedule(0);
  }
  // Consent revoked in another tab: this one stops too (and keeps nothing).
  window.addEventListener("storage", function (event) {
    if (requireConsent && consented && event.key === CONSENT_KEY && event.newValue !== "granted") forget();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") beacon(false);
    else if (queue.length && !timer) schedule(0); // back: confirm what the beacons carried
  });
  window.addEventListener("pagehide", function () { beacon(true); });

  window.StorefrontEvents = {
    track: track,
    flush: flush,
    grantConsent: grantConsent,
    revokeConsent: revokeConsent,
    consentRequired: function () { return requireConsent; },
    hasConsent: function () { return consented; },
    sessionId: function () { return consented ? sessionId() : null; },
    pending: function () { return queue.length + waiting.length; }
  };
})();
