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
  var TYPES = ["page_view", "product_view", "variant_select", "compare", "add_to_cart",
    "shipping_check", "checkout_start", "payment_info", "purchase", "email_click"];
  var MAX_QUEUE = 500;
  var BATCH = 100;
  var FLUSH_DELAY_MS = 1000;
  var MAX_BACKOFF_MS = 60000;
  var BEACON_BYTES = 60000; // browsers refuse beacons over 64 KB

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

  function sessionId() {
    var id = data.sessionId || load(SESSION_KEY) || window.__storefrontSessionId || uuid();
    if (!data.sessionId) store(SESSION_KEY, id);
    window.__storefrontSessionId = id;
    return id;
  }

  var consented = !requireConsent || load(CONSENT_KEY) === "granted";
  var waiting = []; // tracked before consent: kept on this page only, never stored or sent
  var queue = [];
  var inFlight = false;
  var stopped = false;
  var backoff = 0;
  var timer = null;

  function restore() {
    try {
      var saved = JSON.parse(load(QUEUE_KEY) || "[]");
      if (Array.isArray(saved)) queue = saved.slice(-MAX_QUEUE);
    } catch (e) { queue = []; }
  }
  function save() { store(QUEUE_KEY, queue.length ? JSON.stringify(queue) : null); }

  function drop(sent) {
    var ids = {};
    sent.forEach(function (event) { ids[event.event_id] = true; });
    queue = queue.filter(function (event) { return !ids[event.event_id]; });
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

  function flush() {
    if (inFlight || stopped || !consented || !queue.length) return Promise.resolve();
    if (!token) {
      stopped = true;
      console.warn("storefront snippet: no data-token, events are not sent");
      return Promise.resolve();
    }
    var batch = queue.slice(0, BATCH);
    inFlight = true;
    return fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ events: batch })
    }).then(function (response) {
      inFlight = false;
      if (response.status === 202 || response.status === 400 || response.status === 413) {
        // Stored, or refused for good (the good events of a 400 batch are stored).
        if (response.status !== 202) {
          response.json().then(function (body) {
            console.warn("storefront snippet: events rejected", body.error);
          }, function () {});
        }
        drop(batch);
        backoff = 0;
        if (queue.length) schedule(0);
      } else if (response.status === 401 || response.status === 403) {
        stopped = true;
        console.error("storefront snippet: the token in data-token is not accepted");
      } else {
        retryLater(response.headers.get("Retry-After"));
      }
    }, function () {
      inFlight = false;
      retryLater(null);
    });
  }

  // On page hide the page may be gone before a fetch answers: hand what is left to the
  // browser as beacons. They cannot carry a header, so the token goes in the body, as
  // text/plain (no preflight). Events also stay stored until sent: a lost beacon is
  // resent from the next page, and event_ids make that harmless.
  function beacon() {
    if (stopped || !consented || !token || !queue.length || !navigator.sendBeacon) return;
    var pending = queue.slice();
    var sent = [];
    while (pending.length) {
      var chunk = pending.splice(0, BATCH);
      var body = new Blob([JSON.stringify({ token: token, events: chunk })], { type: "text/plain;charset=UTF-8" });
      while (body.size > BEACON_BYTES && chunk.length > 1) {
        pending = chunk.splice(Math.ceil(chunk.length / 2)).concat(pending);
        body = new Blob([JSON.stringify({ token: token, events: chunk })], { type: "text/plain;charset=UTF-8" });
      }
      if (!navigator.sendBeacon(endpoint, body)) break;
      sent = sent.concat(chunk);
    }
    drop(sent);
  }

  function track(type, fields) {
    fields = fields || {};
    if (TYPES.indexOf(type) < 0) {
      console.warn("storefront snippet: unknown event type " + type + "; known: " + TYPES.join(", "));
      return null;
    }
    var event = { event_id: String(fields.event_id || uuid()), type: type, ts: new Date().toISOString() };
    ["product_id", "variant_id"].forEach(function (name) {
      if (typeof fields[name] === "string" && fields[name]) event[name] = fields[name];
    });
    var value = Number(fields.value);
    if (fields.value !== undefined && fields.value !== null && isFinite(value) && value >= 0) {
      event.value = Math.round(value * 100) / 100;
    }
    if (fields.properties && typeof fields.properties === "object") event.properties = fields.properties;
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
    if (queue.length > MAX_QUEUE) queue = queue.slice(-MAX_QUEUE);
    save();
    schedule(queue.length >= BATCH ? 0 : FLUSH_DELAY_MS);
  }

  function grantConsent() {
    consented = true;
    store(CONSENT_KEY, "granted");
    restore();
    var early = waiting;
    waiting = [];
    if (early.length) enqueue(early);
    else schedule(0);
  }

  function revokeConsent() {
    if (!requireConsent) return;
    consented = false;
    waiting = [];
    queue = [];
    store(CONSENT_KEY, null);
    store(QUEUE_KEY, null);
  }

  if (consented) {
    restore();
    if (queue.length) schedule(0);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") beacon();
  });
  window.addEventListener("pagehide", beacon);

  window.StorefrontEvents = {
    track: track,
    flush: flush,
    grantConsent: grantConsent,
    revokeConsent: revokeConsent,
    hasConsent: function () { return consented; },
    sessionId: function () { return consented ? sessionId() : null; },
    pending: function () { return queue.length + waiting.length; }
  };
})();
