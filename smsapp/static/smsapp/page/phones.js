/* The Phones tab: our numbers with their capabilities and inbound webhook, a form per
   number to change the webhook, and the sync button with the sync's progress. It also
   loads the numbers that all three tabs share (core.js `numbers`). */

import {
  $, api, clear, el, enc, fieldError, may, noNumbersSentence, numbers, numbersChanged, plural,
  request, say,
} from "./core.js";
import { showLog } from "./log.js";
import { formatNumber } from "./sms.js";

const PHONE_STATUS = { "in-use": ["In use", "ok"] };
const SYNC_POLL_MS = 1500;

/** GET phone_list into the shared numbers, then let every tab redraw. (On a fresh install
    the server reads the numbers from Twilio first and queues a sync of the messages.) */
export function loadPhones() {
  say($("phones-state"), "Loading numbers…");
  return api("phone_list")
    .then(function (r) {
      numbers.list = r.data || [];
      numbers.error = "";
    })
    .catch(function (err) {
      numbers.list = [];
      numbers.error = err.message;
    })
    .then(function () {
      numbersChanged();
      renderPhones();
      // Browser tests wait for this before they look at the page.
      document.body.setAttribute("data-phones", "loaded");
    });
}

/** POST sync queues a run for a worker; its progress is followed at sync/<id> until it
    ends, then the tabs are redrawn from the mirror. A sync already running is followed
    instead of started twice. */
function syncFromTwilio() {
  const button = $("phones-sync");
  button.disabled = true;
  say($("sync-state"), "Asking for a sync…");
  api("sync", "POST", {})
    .catch(function (err) {
      if (err.status === 409 && err.data && err.data.url) return { data: err.data };
      throw err;
    })
    .then(function (r) {
      return followSync(r.data.url);
    })
    .catch(function (err) {
      say($("sync-state"), err.message, "error");
    })
    .then(function () {
      button.disabled = false;
    });
}

function followSync(url) {
  return request(url, "GET").then(function (r) {
    const run = r.data;
    if (run.state === "queued" || run.state === "running") {
      say($("sync-state"), syncProgress(run));
      return new Promise(function (resolve) {
        setTimeout(resolve, SYNC_POLL_MS);
      }).then(function () {
        return followSync(url);
      });
    }
    if (run.state === "failed") return say($("sync-state"), "The sync failed: " + run.error, "error");
    return loadPhones().then(function () {
      showLog();
      say($("sync-state"), "Synced: " + syncCounts(run) + ".", "ok");
    });
  });
}

function syncProgress(run) {
  if (run.state === "queued") return "Sync queued; waiting for a worker to start it…";
  if (!run.messages) return "Syncing: reading the numbers…";
  return "Syncing: " + plural(run.pages, "page", "pages") + " of messages read so far (" + syncCounts(run) + ")…";
}

function syncCounts(run) {
  const phones = run.phones || {};
  const messages = run.messages || {};
  return plural(phones.created || 0, "new number", "new numbers") + ", " + plural(messages.created || 0, "new message", "new messages") + ", " + (messages.updated || 0) + " updated";
}

/** Draw one card per number (nothing until the first load ends). */
export function renderPhones() {
  const list = $("phones-list");
  if (numbers.list === null) return;
  clear(list);
  if (!numbers.list.length) {
    say($("phones-state"), noNumbersSentence(), numbers.error ? "error" : "");
    return;
  }
  say($("phones-state"), "");
  numbers.list.forEach(function (p) {
    list.appendChild(phoneCard(p));
  });
}

function phoneCard(p) {
  const caps = p.capabilities || {};
  const capList = el("ul", { cls: "caps", attrs: { "aria-label": "Capabilities" } });
  ["sms", "mms", "voice", "fax"].forEach(function (k) {
    capList.appendChild(el("li", { cls: caps[k] ? "cap cap-on" : "cap cap-off", text: (caps[k] ? "" : "no ") + k.toUpperCase() }));
  });
  const st = PHONE_STATUS[p.status] || [p.status ? p.status.replace(/[-_]/g, " ") : "Status unknown", "pending"];
  const webhook = p.inboundWebhook || {};
  const current = webhook.url
    ? el("p", { cls: "webhook-now" }, [
        "Inbound messages go to ",
        el("code", { text: webhook.url }),
        " (" + (webhook.method || "POST").toUpperCase() + ")",
      ])
    : el("p", { cls: "webhook-now", text: "No inbound webhook: Twilio drops replies to this number." });

  return el("li", { cls: "phone-card", attrs: { "data-sid": p.sid } }, [
    el("div", { cls: "phone-head" }, [
      el("h3", { text: formatNumber(p.phoneNumber) }),
      el("span", { cls: "chip chip-" + st[1], text: st[0], attrs: { title: "Twilio status: " + (p.status || "unknown") } }),
      p.pointsHere ? el("span", { cls: "chip chip-sent", text: "Replies come here" }) : null,
    ]),
    p.label && p.label !== p.phoneNumber ? el("p", { cls: "phone-label", text: p.label }) : null,
    capList,
    current,
    may("smsapp.change_phone") ? webhookForm(p) : null,
  ]);
}

/** The number's inbound webhook: URL and method to save, or "Use this app". */
function webhookForm(p) {
  const webhook = p.inboundWebhook || {};
  const idBase = "phone-" + p.sid;
  const urlInput = el("input", { attrs: { id: idBase + "-url", type: "url", autocomplete: "off", placeholder: "https://…" } });
  urlInput.value = webhook.url || "";
  const methodSelect = el("select", { attrs: { id: idBase + "-method" } }, [
    el("option", { text: "POST", attrs: { value: "POST" } }),
    el("option", { text: "GET", attrs: { value: "GET" } }),
  ]);
  methodSelect.value = (webhook.method || "POST").toUpperCase();
  const urlError = el("p", { cls: "field-error", attrs: { id: idBase + "-url-error" } });
  urlError.hidden = true;
  urlInput.setAttribute("aria-describedby", urlError.id);
  const result = el("p", { cls: "state", attrs: { role: "status" } });
  result.hidden = true;
  const save = el("button", { cls: "secondary", text: "Save webhook", attrs: { type: "submit", "data-action": "save" } });
  const useApp = el("button", { cls: "primary", text: p.pointsHere ? "Use this app again" : "Use this app", attrs: { type: "button", "data-action": "this-app" } });
  const ui = { buttons: [save, useApp], result: result, urlInput: urlInput, urlError: urlError };

  const form = el("form", { cls: "webhook-form", attrs: { novalidate: "" } }, [
    el("div", { cls: "field" }, [el("label", { text: "Inbound webhook URL", attrs: { for: urlInput.id } }), urlInput, urlError]),
    el("div", { cls: "field field-method" }, [el("label", { text: "Method", attrs: { for: methodSelect.id } }), methodSelect]),
    el("div", { cls: "actions" }, [save, useApp]),
    result,
  ]);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    fieldError(urlInput, urlError, "");
    const url = urlInput.value.trim();
    if (!/^https:\/\/\S+$/i.test(url)) {
      fieldError(urlInput, urlError, "Enter the full https address Twilio should call, such as https://example.org/sms.");
      urlInput.focus();
      return;
    }
    changeWebhook(p, "inbound_webhook/" + enc(p.sid), { url: url, method: methodSelect.value }, "save", ui);
  });
  useApp.addEventListener("click", function () {
    fieldError(urlInput, urlError, "");
    changeWebhook(p, "inbound_webhook/" + enc(p.sid) + "/this_app", {}, "this-app", ui);
  });
  return form;
}

/** Change the webhook, then redraw the numbers from phone_list (the mirror now holds
    what Twilio answered) and keep focus on the button that was used. */
function changeWebhook(p, path, body, action, ui) {
  ui.buttons.forEach(function (b) {
    b.disabled = true;
  });
  say(ui.result, "Saving…");
  api(path, "POST", body)
    .then(function (r) {
      const data = r.data || {};
      const url = data.url || body.url;
      const method = data.method || body.method;
      const done = "Saved: " + formatNumber(p.phoneNumber) + " now sends inbound messages to " + url + " (" + method + ").";
      return loadPhones().then(function () {
        const card = $("phones-list").querySelector('li[data-sid="' + CSS.escape(p.sid) + '"]');
        if (!card) return;
        say(card.querySelector('[role="status"]'), done, "ok");
        card.querySelector('[data-action="' + action + '"]').focus();
      });
    })
    .catch(function (err) {
      ui.buttons.forEach(function (b) {
        b.disabled = false;
      });
      if (err.fields && err.fields.url) fieldError(ui.urlInput, ui.urlError, err.fields.url);
      say(ui.result, err.message, "error");
    });
}

export function start() {
  $("phones-reload").addEventListener("click", loadPhones);
  if ($("phones-sync")) $("phones-sync").addEventListener("click", syncFromTwilio);
}
