/* What the three tabs share: the page's config, DOM helpers, words for statuses and dates,
   the API client with its bearer token, and the account's numbers.

   Safety: every value that came from Twilio or a patient (bodies, numbers, names, error
   messages) reaches the DOM through textContent or attributes set by createElement, never
   through innerHTML. The server passes its facts in <script id="sms-config"
   type="application/json">, so no inline script is needed and the CSP can forbid it. */

import { compactNumber, e164Problem, formatNumber } from "./sms.js";

export const cfg = JSON.parse(document.getElementById("sms-config").textContent);

// ---- small DOM helpers ---------------------------------------------------------------

export function $(id) {
  return document.getElementById(id);
}

/** createElement with a class, text and attributes; children appended in order. */
export function el(tag, opts, children) {
  const node = document.createElement(tag);
  opts = opts || {};
  if (opts.cls) node.className = opts.cls;
  if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
  if (opts.attrs) {
    Object.keys(opts.attrs).forEach(function (k) {
      if (opts.attrs[k] !== undefined && opts.attrs[k] !== null) node.setAttribute(k, opts.attrs[k]);
    });
  }
  (children || []).forEach(function (c) {
    if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  });
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** A status line: `kind` is "" (neutral), "error" or "ok"; empty text hides it. */
export function say(node, text, kind) {
  node.textContent = text || "";
  node.hidden = !text;
  node.classList.toggle("is-error", kind === "error");
  node.classList.toggle("is-ok", kind === "ok");
}

export function fieldError(input, errorNode, text) {
  say(errorNode, text, "error");
  if (input) {
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

export function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

// ---- words for statuses, errors and dates --------------------------------------------

// Statuses after which Twilio reports nothing more about a message.
export const FINAL = ["delivered", "read", "failed", "undelivered", "canceled"];

const STATUS = {
  accepted: ["Accepted", "pending"],
  scheduled: ["Scheduled", "pending"],
  queued: ["Queued", "pending"],
  sending: ["Sending", "pending"],
  sent: ["Sent", "sent"],
  delivered: ["Delivered", "ok"],
  read: ["Read", "read"],
  failed: ["Failed", "bad"],
  undelivered: ["Undelivered", "bad"],
  canceled: ["Canceled", "pending"],
  partially_delivered: ["Partly delivered", "warn"],
  receiving: ["Receiving", "in"],
  received: ["Received", "in"],
};

// Twilio's most common delivery errors, in words, for when the mirror has only the code.
const ERROR_WORDS = {
  21610: "The recipient replied STOP; they must text START before you can message them.",
  21211: "The To number is not a valid phone number.",
  21408: "Texting this country is not enabled on the Twilio account.",
  21614: "The To number cannot receive texts (it is probably a landline).",
  30003: "The recipient's phone is switched off or out of reach.",
  30004: "The message was blocked (the recipient may have blocked this number).",
  30005: "The recipient's number does not exist or is no longer in service.",
  30006: "The number is a landline or its carrier cannot receive texts.",
  30007: "The carrier filtered the message as spam.",
  30008: "The carrier reported an unknown error; try again later.",
  30032: "The toll-free number is not verified for texting.",
  30034: "The sending number is not registered for US texting (A2P 10DLC).",
};

export function errorInWords(code, message) {
  if (message) return code ? message + " (Twilio error " + code + ")" : message;
  if (code && ERROR_WORDS[code]) return ERROR_WORDS[code] + " (Twilio error " + code + ")";
  if (code) return "Twilio error " + code + ".";
  return "";
}

export function chip(status, reason) {
  const known = STATUS[status] || [status ? status.replace(/[_-]/g, " ") : "Unknown", "pending"];
  const node = el("span", { cls: "chip chip-" + known[1], text: known[0], attrs: { "data-status": status } });
  if (reason) node.title = reason;
  return node;
}

const shortDate = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const longDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function when(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return isNaN(d) ? null : d;
}

export function timeNode(iso, fallback) {
  const d = when(iso);
  if (!d) return el("span", { cls: "when", text: fallback || "not yet" });
  return el("time", { cls: "when", text: shortDate.format(d), attrs: { datetime: iso, title: longDate.format(d) } });
}

// ---- the API -------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(message, status, fields, data) {
    super(message);
    this.status = status;
    this.fields = fields || {};
    this.data = data || {}; // the whole answer: some errors point at a record (a running sync)
  }
}

// Inside Canvas the page has a bearer token (third-party cookies are blocked there; see
// embed.js); signed in to the app itself it has none and uses its session cookie and
// CSRF token. `onRenew` hears of each renewed token (embed.js keeps it for reloads).
const auth = { token: "", renewTimer: null, onRenew: null };

/** Call the API with this bearer token from now on. */
export function useToken(token, onRenew) {
  auth.token = token;
  auth.onRenew = onRenew || null;
}

/** A JWT's claims, unchecked (the server checks them), or null when it is not one. */
export function jwtClaims(jwt) {
  try {
    let part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    while (part.length % 4) part += "=";
    return JSON.parse(atob(part));
  } catch (e) {
    return null;
  }
}

/** Seconds until a JWT expires, or null when the token is not a readable JWT. */
export function secondsLeft(jwt) {
  const claims = jwtClaims(jwt);
  return claims && typeof claims.exp === "number" ? claims.exp - Date.now() / 1000 : null;
}

function scheduleRenewal(seconds) {
  if (!auth.token || !cfg.apiTokenRenewUrl) return;
  clearTimeout(auth.renewTimer);
  // Renew at 80 % of the lifetime; unknown lifetimes are renewed every four minutes.
  const wait = seconds === null || seconds === undefined ? 240 : Math.max(5, seconds * 0.8);
  auth.renewTimer = setTimeout(renewToken, wait * 1000);
}

function renewToken() {
  if (!auth.token || !cfg.apiTokenRenewUrl) return Promise.resolve(false);
  return fetch(cfg.apiTokenRenewUrl, {
    method: "POST",
    credentials: "omit",
    headers: { Authorization: "Bearer " + auth.token, "Content-Type": "application/json" },
    body: "{}",
  })
    .then(function (res) {
      return res.ok ? res.json() : null;
    })
    .then(function (data) {
      if (!data || !data.token) return false;
      auth.token = data.token;
      if (auth.onRenew) auth.onRenew(data.token);
      scheduleRenewal(data.expiresIn);
      return true;
    })
    .catch(function () {
      return false;
    });
}

/** Keep the bearer token (if any) alive for as long as the page stays open. */
export function startTokenRenewal() {
  if (auth.token) scheduleRenewal(secondsLeft(auth.token));
}

/** Call `url`; resolves to {data, next} (next: the X-Next-Page link), or to a Blob with
    `asBlob`; rejects with an ApiError carrying a sentence a person can act on. */
export function request(url, method, body, asBlob) {
  return call(url, method, body, { asBlob: asBlob });
}

/** GET a route of the API unless it still answers what `etag` names (the page's polls):
    resolves to {notModified: true}, or to {data, next, etag}. */
export function apiIfChanged(path, etag) {
  return call(cfg.apiBase + path, "GET", undefined, { etag: etag });
}

function call(url, method, body, opts, retried) {
  const headers = { Accept: "application/json" };
  const init = { method: method, headers: headers, credentials: auth.token ? "omit" : "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (opts.etag) headers["If-None-Match"] = opts.etag;
  if (auth.token) headers.Authorization = "Bearer " + auth.token;
  else if (method !== "GET" && cfg.csrfToken) headers["X-CSRFToken"] = cfg.csrfToken;

  return fetch(url, init)
    .catch(function () {
      throw new ApiError("Could not reach the server; check the connection and try again.", 0);
    })
    .then(function (res) {
      if (res.status === 401 && auth.token && !retried) {
        return renewToken().then(function (renewed) {
          if (renewed) return call(url, method, body, opts, true);
          throw new ApiError("Your session in Canvas has ended; reopen this page from the chart.", 401);
        });
      }
      if (res.status === 304) return { notModified: true };
      if (res.ok && opts.asBlob) return res.blob();
      return res.text().then(function (text) {
        let data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        if (!res.ok) {
          let info = data && data.information;
          if (!info && res.status === 401) info = "You are signed out; reload the page to sign in again.";
          if (!info) info = "The server answered with an error (HTTP " + res.status + "); try again.";
          throw new ApiError(info, res.status, data && data.fields, data);
        }
        return { data: data, next: res.headers.get("X-Next-Page"), etag: res.headers.get("ETag") };
      });
    });
}

/** A route of the JSON API, relative to its prefix (cfg.apiBase). */
export function api(path, method, body) {
  return request(cfg.apiBase + path, method || "GET", body);
}

export function enc(value) {
  return encodeURIComponent(value);
}

/** Give a media URL to `apply`. With a Canvas token there are no cookies, so <img src>
    could not authenticate: the bytes are fetched with the token and shown from a blob: URL.
    `download`: bytes only ever saved, never opened, so their blob is typed as bytes too. */
export function setSource(url, apply, download) {
  if (!auth.token) return apply(url);
  request(url, "GET", undefined, true)
    .then(function (blob) {
      const bytes = download ? new Blob([blob], { type: "application/octet-stream" }) : blob;
      apply(URL.createObjectURL(bytes));
    })
    .catch(function () {
      /* the item stays without a source; its label still says what it was */
    });
}

// ---- the account's numbers (shared by the three tabs) --------------------------------

/** Our numbers as phone_list returns them: `list` is null until the first load ends and
    `error` says why it is empty when loading failed. Only phones.js writes them (it loads
    and syncs); it then calls numbersChanged() so the other tabs redraw their pickers. */
export const numbers = { list: null, error: "" };

const numberListeners = [];

export function onNumbersChanged(listener) {
  numberListeners.push(listener);
}

export function numbersChanged() {
  numberListeners.forEach(function (listener) {
    listener();
  });
}

export function phoneLabel(p) {
  return formatNumber(p.phoneNumber) + (p.label && p.label !== p.phoneNumber ? " · " + p.label : "");
}

export function noNumbersSentence() {
  if (numbers.error) return numbers.error;
  if (!may("smsapp.sync_twilio")) return "No numbers in the mirror yet. Ask an SMS administrator to sync with Twilio.";
  return "No numbers in the mirror yet. Press “Sync with Twilio” (or run manage.py sync_twilio) to copy the account’s numbers.";
}

// ---- who is using the page ----------------------------------------------------------

/** Whether the user's role allows `perm` (cfg.session.may); the page hides what it does
    not allow, and the API refuses it anyway. */
export function may(perm) {
  return Boolean(cfg.session && cfg.session.may && cfg.session.may[perm]);
}

/** True when this session reaches only the patient it was opened for (EMBED_SCOPE). */
export function patientOnly() {
  return Boolean(cfg.session && cfg.session.scope === "patient");
}

/** The patient the page was opened for (?patient= or a Canvas launch), or "". */
export function patientNumber() {
  const phone = cfg.session ? cfg.session.patientPhone : "";
  if (!phone || e164Problem(phone)) return "";
  return compactNumber(phone);
}
