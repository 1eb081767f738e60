/* The inbox: where the Log tab opens. The conversations of the chosen number, newest
   activity first, filtered All / Unread / Needs reply; each row the patient's name with
   the number under it, or the number alone (bold while unread; a number several charts
   share shows all their names, patient.js), a one-line preview, a short time, an unread badge and a
   "Needs reply" chip. Opening one shows its thread (thread.js): at 420 px the list and
   the thread are two views with a back button, wider they sit side by side.

   Live: while the page is visible it asks inbox_counts every few seconds with the ETag
   of the last answer, so nothing new costs a 304. A changed answer updates the unread
   total (on the Log tab and in the document's title) and, when the chosen number's
   version moved, the list and the open thread. */

import {
  $, api, apiIfChanged, clear, el, enc, noNumbersSentence, numbers, patientNumber, patientOnly,
  phoneLabel, request, say,
} from "./core.js";
import { rowLabel } from "./patient.js";
import { formatNumber } from "./sms.js";
import { closeThread, openThread, refreshThread, shownThread, startThread } from "./thread.js";
import { startReply } from "./reply.js";

const PAGE_SIZE = 30;
const POLL_MS = 5000;
const TITLE = document.title;

// `seq` counts list loads, so an answer for an older choice is dropped. `items`: the rows
// shown, by counterpart. `versions`: each number's version the list last showed.
const state = {
  number: "", filter: "all", seq: 0, items: {}, order: [], next: null, counts: null,
  etag: "", versions: {}, timer: null, patient: "",
};

// ---- the list ------------------------------------------------------------------------

/** Show the inbox of `number` (log.js calls this when the Log shows conversations). */
export function showInbox(number) {
  $("inbox").hidden = false;
  if (!number) {
    say($("inbox-state"), numbers.list === null ? "Loading…" : noNumbersSentence(), numbers.error ? "error" : "");
    return Promise.resolve();
  }
  if (number !== state.number) {
    const open = shownThread();
    if (open && open.our !== number) backToList();
  }
  state.number = number;
  showCounts();
  if (state.patient) return openPatient();
  return loadList();
}

/** The Log shows one of the original lists instead. */
export function hideInbox() {
  if (shownThread()) backToList();
  $("inbox").hidden = true;
}

function listUrl(limit) {
  return "conversations/" + enc(state.number) + "?filter=" + state.filter + "&limit=" + limit;
}

/** (Re)load the first page; after a change, as many rows as were shown. */
function loadList() {
  const seq = ++state.seq;
  const shown = state.order.length;
  if (!state.number) return Promise.resolve();
  if (!shown) say($("inbox-state"), "Loading conversations…");
  const mine = state.counts && state.counts.numbers[state.number];
  state.versions[state.number] = state.counts ? (mine ? mine.version : 0) : null;
  return api(listUrl(Math.min(200, Math.max(PAGE_SIZE, shown))))
    .then(function (r) {
      if (seq !== state.seq) return;
      // A row that had the keyboard's focus keeps it across the redraw.
      const focused = document.activeElement && document.activeElement.closest("#inbox-list li");
      state.items = {};
      state.order = [];
      clear($("inbox-list"));
      addRows(r.data || [], r.next);
      const again = focused && rowOf(focused.getAttribute("data-counterpart"));
      if (again) again.focus();
    })
    .catch(function (err) {
      if (seq === state.seq) say($("inbox-state"), err.message, "error");
    });
}

function loadOlder() {
  const seq = state.seq;
  $("inbox-more").disabled = true;
  request(state.next, "GET")
    .then(function (r) {
      if (seq === state.seq) addRows(r.data || [], r.next);
    })
    .catch(function (err) {
      if (seq === state.seq) say($("inbox-state"), err.message, "error");
    })
    .then(function () {
      $("inbox-more").disabled = false;
    });
}

function addRows(items, next) {
  items.forEach(function (item) {
    if (state.items[item.counterpart]) return; // moved up since the last page was read
    state.items[item.counterpart] = item;
    state.order.push(item.counterpart);
    $("inbox-list").appendChild(row(item));
  });
  state.next = next || null;
  $("inbox-more").hidden = !state.next;
  say($("inbox-state"), state.order.length ? "" : emptySentence());
  const open = shownThread();
  if (open && state.items[open.them]) markOpen(open.them);
}

function emptySentence() {
  const ours = formatNumber(state.number);
  if (patientOnly() && !patientNumber()) return "The chart has no mobile number for this patient, so there is no conversation to show.";
  if (state.filter === "unread") return "Nothing unread on " + ours + ". New texts from patients appear here.";
  if (state.filter === "needs_reply") return "No patient is waiting for a reply on " + ours + ".";
  return "No conversations on " + ours + " yet. Texts patients send to it, and those sent from it, appear here.";
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const dayAndYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", year: "numeric" });

/** "9:14 AM" (or "09:14", as the browser's locale writes it) today, "Tue" this week,
    "Nov 28" this year, "Nov 28, 2025" before. */
export function shortTime(iso, now) {
  const d = new Date(iso);
  now = now || new Date();
  if (isNaN(d)) return "";
  if (d.toDateString() === now.toDateString()) return clock.format(d);
  if (now - d < 6 * 86400000 && d < now) return weekday.format(d);
  return (d.getFullYear() === now.getFullYear() ? day : dayAndYear).format(d);
}

/** The preview line: text only, who wrote it when it was not the patient. */
function preview(m) {
  const who = m.direction === "inbound" ? "" : m.autoReply ? "Auto-reply: " : "You: ";
  const media = m.mediaCount ? (m.mediaCount === 1 ? "1 attachment" : m.mediaCount + " attachments") : "";
  return who + (m.body ? m.body.replace(/\s+/g, " ") : media || "(no text)");
}

function row(item) {
  const m = item.lastMessage;
  const unread = item.unread > 0;
  const failed = m.direction === "outbound" && ["failed", "undelivered"].indexOf(m.status) !== -1;
  const label = rowLabel(item);
  const button = el("button", { cls: "msg-row convo" + (unread ? " is-unread" : ""), attrs: { type: "button" } }, [
    el("span", { cls: "row-top" }, [
      el("span", { cls: "who", text: label.who }),
      el("time", { cls: "when", text: shortTime(m.sent), attrs: { datetime: m.sent, title: new Date(m.sent).toLocaleString() } }),
    ]),
    label.sub
      ? el("span", { cls: "row-sub" }, [
          el("span", { cls: "number", text: label.sub }),
          label.shared ? el("span", { cls: "shared", text: "shared number" }) : null,
        ])
      : null,
    el("span", { cls: "row-bottom" }, [
      el("span", { cls: "preview", text: preview(m) }),
      failed ? el("span", { cls: "chip chip-bad", text: "Not delivered" }) : null,
      item.optedOut ? el("span", { cls: "chip chip-muted", text: "Opted out", attrs: { title: "This patient opted out of texts: open the conversation to see when and how." } }) : null,
      item.needsReply ? el("span", { cls: "chip chip-warn", text: "Needs reply" }) : null,
      unread ? el("span", { cls: "badge" }, [String(item.unread), el("span", { cls: "visually-hidden", text: " unread" })]) : null,
    ]),
  ]);
  button.addEventListener("click", function () {
    openConversation(item.counterpart);
  });
  return el("li", { attrs: { "data-counterpart": item.counterpart } }, [button]);
}

// ---- the thread beside (or instead of) the list -------------------------------------

/** Show the thread with `counterpart` on the chosen number (it may have no messages yet). */
export function openConversation(counterpart) {
  $("inbox").setAttribute("data-view", "thread");
  $("panel-log").classList.add("thread-open");
  markOpen(counterpart);
  openThread(state.number, counterpart, state.items[counterpart]);
  $("thread-title").focus({ preventScroll: true });
}

function markOpen(counterpart) {
  Array.prototype.forEach.call($("inbox-list").querySelectorAll("li"), function (li) {
    li.firstChild.setAttribute("aria-current", li.getAttribute("data-counterpart") === counterpart ? "true" : "false");
  });
}

function backToList() {
  const open = shownThread();
  closeThread();
  $("inbox").setAttribute("data-view", "list");
  $("panel-log").classList.remove("thread-open");
  markOpen("");
  const rowButton = open && rowOf(open.them);
  if (rowButton) rowButton.focus();
}

function rowOf(counterpart) {
  return $("inbox-list").querySelector('li[data-counterpart="' + CSS.escape(counterpart) + '"] button');
}

/** Opened from a patient's chart: the number that last spoke with them, and their
    thread (a new one when none has yet). */
function openPatient() {
  const patient = state.patient;
  state.patient = "";
  const ours = (numbers.list || []).filter(function (p) {
    return p.capabilities && p.capabilities.sms;
  });
  const probes = ours.map(function (p) {
    return api("conversations/" + enc(p.phoneNumber) + "?counterpart=" + enc(patient) + "&limit=1").then(
      function (r) {
        return r.data && r.data[0] ? { number: p.phoneNumber, sent: r.data[0].lastMessage.sent } : null;
      },
      function () {
        return null;
      },
    );
  });
  return Promise.all(probes).then(function (found) {
    const newest = found.filter(Boolean).sort(function (a, b) {
      return a.sent < b.sent ? 1 : -1;
    })[0];
    if (newest && newest.number !== state.number) {
      $("log-number").value = newest.number;
      state.number = newest.number;
    }
    return loadList().then(function () {
      openConversation(patient);
    });
  });
}

// ---- counts and polling --------------------------------------------------------------

function poll() {
  clearTimeout(state.timer);
  if (document.visibilityState !== "visible") return Promise.resolve();
  return apiIfChanged("inbox_counts", state.etag)
    .then(function (r) {
      if (r.notModified) return;
      state.etag = r.etag || "";
      state.counts = r.data;
      showCounts();
      const mine = state.counts.numbers[state.number];
      const version = mine ? mine.version : 0;
      const listed = state.versions[state.number];
      if (listed === null) state.versions[state.number] = version; // loaded just before
      else if (!$("inbox").hidden && listed !== version) {
        return loadList().then(function () {
          const open = shownThread();
          if (open) refreshThread(state.items[open.them]);
        });
      }
    })
    .catch(function () {
      /* a passing hiccup: the next poll tries again */
    })
    .then(function () {
      state.timer = setTimeout(poll, POLL_MS);
    });
}

function showCounts() {
  const counts = state.counts;
  if (!counts) return;
  const total = counts.unread;
  const badge = $("log-badge");
  badge.hidden = !total;
  clear(badge);
  if (total) badge.append(String(total), el("span", { cls: "visually-hidden", text: " unread" }));
  badge.title = total ? total + " conversation" + (total === 1 ? "" : "s") + " with unread texts" : "";
  document.title = (total ? "(" + total + ") " : "") + TITLE;
  const mine = counts.numbers[state.number] || { unread: 0, needsReply: 0 };
  $("count-unread").textContent = mine.unread ? " " + mine.unread : "";
  $("count-needs-reply").textContent = mine.needsReply ? " " + mine.needsReply : "";
  Array.prototype.forEach.call($("log-number").options, function (option) {
    const phone = (numbers.list || []).filter(function (p) {
      return p.phoneNumber === option.value;
    })[0];
    const n = counts.numbers[option.value];
    if (phone) option.textContent = phoneLabel(phone) + (n && n.unread ? " · " + n.unread + " unread" : "");
  });
}

/** Look now (a text was just sent or read), not at the next tick. */
export function pollNow() {
  return poll();
}

function chooseFilter(button) {
  state.filter = button.getAttribute("data-filter");
  Array.prototype.forEach.call(document.querySelectorAll(".segmented button"), function (b) {
    b.setAttribute("aria-pressed", b === button ? "true" : "false");
  });
  state.order = [];
  state.items = {};
  clear($("inbox-list"));
  loadList();
}

export function start() {
  state.patient = patientNumber();
  startThread(pollNow, pollNow);
  startReply(function () {
    const open = shownThread();
    if (open) refreshThread().then(pollNow);
  });
  Array.prototype.forEach.call(document.querySelectorAll(".segmented button"), function (button) {
    button.addEventListener("click", function () {
      chooseFilter(button);
    });
  });
  $("inbox-more").addEventListener("click", loadOlder);
  $("thread-back").addEventListener("click", backToList);
  $("thread").addEventListener("keydown", function (event) {
    // Escape goes back where there is a back button (the 420 px pane).
    if (event.key === "Escape" && $("thread-back").offsetParent !== null) backToList();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") poll();
    else clearTimeout(state.timer);
  });
  poll();
}
