/* One conversation of the inbox, read like a phone's messaging app: the patient's texts
   on the left, ours on the right with their status under them, pictures inline (each
   opens full size), newest at the bottom above the reply box (reply.js). Opening it, and
   each new text shown while the page is visible, marks it read up to the newest text
   shown (conversation/<our>/<counterpart>/read with `upto`), so a text that arrives
   meanwhile stays unread. Its scheduled texts wait above the reply box, with Cancel.
   Under the title, who the number belongs to, and linking it to a chart (patient.js). */

import {
  $, api, chip, clear, el, enc, errorInWords, FINAL, request, say, timeNode,
} from "./core.js";
import { addAttachments } from "./media.js";
import { patientHeader, threadTitle } from "./patient.js";
import { replyTo } from "./reply.js";
import { cancelScheduled, forgetZone, loadPending, renderPending, zoneFor } from "./schedule.js";
import { formatNumber } from "./sms.js";

const PAGE_SIZE = 30;
const readAt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });

// `seq` counts openings, so an answer for a thread closed meanwhile is dropped. `rows`:
// the list item of each message shown, by SID. `unseen`: a text from the patient is shown
// that no read has covered yet. `onRead`: told when a read changed counts.
// `patient`: the header's patient line (patient.js); `onLinked`: told when a link changed.
const state = {
  our: "", them: "", seq: 0, items: [], rows: {}, next: null, unseen: false, onRead: null,
  patient: null, onLinked: null,
};

/** The conversation shown, or null. */
export function shownThread() {
  return state.them ? { our: state.our, them: state.them } : null;
}

/** Show the conversation between `our` and `them`; `item` (its row of the list, when
    known) gives the flags shown beside the title. */
export function openThread(our, them, item) {
  const seq = ++state.seq;
  state.our = our;
  state.them = them;
  state.items = [];
  state.rows = {};
  state.next = null;
  state.unseen = !item || item.unread > 0;
  clear($("thread-list"));
  $("thread").hidden = false;
  $("thread-older").hidden = true;
  $("thread-title").textContent = threadTitle(item, them);
  showFlags(item);
  state.patient.open(our, item);
  say($("thread-state"), "Loading messages…");
  replyTo(our, them);
  showPending();
  return load(seq).then(function () {
    if (seq === state.seq) scrollToNewest();
  });
}

export function closeThread() {
  state.seq++;
  state.our = state.them = "";
  $("thread").hidden = true;
}

/** The newest page; `refresh` marks a look again at the open thread, which the audit
    trail does not record as another opening. */
function url(refresh) {
  const base = "conversation/" + enc(state.our) + "/" + enc(state.them) + "?limit=" + PAGE_SIZE;
  return refresh ? base + "&refresh=1" : base;
}

/** The newest page: messages not shown yet are added in order, those shown get their
    status now; then the conversation is read up to the newest one. */
function load(seq, refresh) {
  return api(url(refresh))
    .then(function (r) {
      if (seq !== state.seq) return;
      if (!state.items.length) state.next = r.next;
      $("thread-older").hidden = !state.next;
      merge(r.data || []);
      say($("thread-state"), state.items.length ? "" : "No messages with " + formatNumber(state.them) + " yet. Write the first one below.");
      markRead();
    })
    .catch(function (err) {
      if (seq === state.seq) say($("thread-state"), err.message, "error");
    });
}

/** Look again (the list says the conversation changed, or a text was just sent). */
export function refreshThread(item) {
  if (!state.them) return Promise.resolve();
  if (item) {
    showFlags(item);
    state.patient.update(item);
    const shown = state.patient.item();
    if (shown) $("thread-title").textContent = threadTitle(shown, state.them);
  }
  const list = $("thread-list");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  return load(state.seq, true).then(function () {
    if (atBottom) scrollToNewest();
    showPending();
  });
}

function merge(items) {
  const list = $("thread-list");
  const first = !state.items.length; // opening: `unseen` comes from the list's badge
  items.forEach(function (m) {
    const shown = state.rows[m.sid];
    if (shown) {
      if (shown.status !== m.status) list.replaceChild(bubble(m), list.querySelector('li[data-sid="' + CSS.escape(m.sid) + '"]'));
      state.rows[m.sid] = m;
      return;
    }
    state.rows[m.sid] = m;
    state.items.push(m);
    list.appendChild(bubble(m));
    if (!first && !isOurs(m)) state.unseen = true;
  });
}

function loadOlder() {
  if (!state.next) return;
  const seq = state.seq;
  const button = $("thread-older");
  button.disabled = true;
  request(state.next, "GET")
    .then(function (r) {
      if (seq !== state.seq) return;
      const list = $("thread-list");
      const first = list.firstChild;
      const before = list.scrollHeight;
      (r.data || []).forEach(function (m) {
        if (state.rows[m.sid]) return;
        state.rows[m.sid] = m;
        state.items.unshift(m);
        list.insertBefore(bubble(m), first);
      });
      list.scrollTop += list.scrollHeight - before; // keep what was on screen in place
      state.next = r.next;
      button.hidden = !state.next;
    })
    .catch(function (err) {
      if (seq === state.seq) say($("thread-state"), err.message, "error");
    })
    .then(function () {
      button.disabled = false;
    });
}

function scrollToNewest() {
  const list = $("thread-list");
  list.scrollTop = list.scrollHeight;
}

function isOurs(m) {
  return String(m.direction || "").indexOf("outbound") === 0;
}

/** One message as a bubble, with its time (and for ours its status) under it. */
function bubble(m) {
  const ours = isOurs(m);
  const reason = ours ? errorInWords(m.errorCode, m.errorMessage) : "";
  const thumbs = m.mediaCount ? el("span", { cls: "thumbs" }) : null;
  const text = m.body || (m.mediaCount ? "" : "(no text)");
  const meta = el("p", { cls: "meta" }, [
    m.direction === "outbound-reply" ? el("span", { cls: "auto", text: "Auto-reply" }) : null,
    timeNode(m.created),
    ours ? chip(m.status, reason) : null,
  ]);
  if (thumbs) addAttachments(m.sid, thumbs);
  return el("li", { cls: ours ? "out" : "in", attrs: { "data-sid": m.sid, "data-status": m.status } }, [
    el("div", { cls: "bubble" }, [thumbs, text ? el("span", { cls: "bubble-text", text: text }) : null]),
    meta,
    reason && FINAL.indexOf(m.status) !== -1 ? el("p", { cls: "reason", text: reason }) : null,
  ]);
}

function showFlags(item) {
  const flags = $("thread-flags");
  clear(flags);
  if (item && item.needsReply) flags.appendChild(el("span", { cls: "chip chip-warn", text: "Needs reply" }));
  if (item && item.optedOut) flags.appendChild(el("span", { cls: "chip chip-pending", text: "Opted out" }));
  const read = item && item.lastRead;
  say($("thread-read"), read ? "Read by " + (read.by || "a former user") + ", " + readAt.format(new Date(read.at)) : "");
}

/** Read up to the newest message shown, while someone can see it: when the thread opens
    on unread texts, or a new one from the patient is shown (not at every refresh, which
    a read itself causes). */
function markRead() {
  const newest = state.items[state.items.length - 1];
  if (!newest || !state.unseen || document.visibilityState !== "visible") return;
  state.unseen = false;
  const route = "conversation/" + enc(state.our) + "/" + enc(state.them) + "/read";
  api(route, "POST", { upto: newest.sid })
    .then(function () {
      if (state.onRead) state.onRead();
    })
    .catch(function () {
      state.unseen = true; // the list keeps its badge; the next look reads it again
    });
}

// ---- the conversation's scheduled texts ------------------------------------------------

export function showPending() {
  const seq = state.seq;
  const section = $("thread-pending");
  return Promise.all([loadPending(state.our, state.them), zoneFor(state.them)])
    .then(function (results) {
      if (seq !== state.seq) return;
      section.hidden = !results[0].length;
      renderPending($("thread-pending-list"), results[0], results[1], cancel);
    })
    .catch(function (err) {
      if (seq !== state.seq) return;
      section.hidden = false;
      say($("thread-pending-state"), err.message, "error");
    });
}

function cancel(item, button) {
  if (!window.confirm("Cancel this scheduled text? It will not be sent.")) return;
  button.disabled = true;
  cancelScheduled(item.id)
    .then(
      function () {
        say($("thread-pending-state"), "Cancelled; it will not be sent.", "ok");
      },
      function (err) {
        say($("thread-pending-state"), err.message, "error");
      },
    )
    .then(showPending);
}

/** A link made or undone in the header: the title follows, the list looks again, and the
    time zone is asked again (it is the linked chart's; an open "Send later" keeps the one
    it shows until the thread is opened again). */
function linked(item) {
  $("thread-title").textContent = threadTitle(item, state.them);
  forgetZone(state.them);
  if (state.onLinked) state.onLinked(item);
}

/** `onRead`: a read changed the counts; `onLinked`: the number's patient changed (the
    list shows names). */
export function startThread(onRead, onLinked) {
  state.onRead = onRead;
  state.onLinked = onLinked;
  state.patient = patientHeader($("thread-patient"), $("thread-patient-info"), $("thread-patient-state"), linked);
  $("thread-older").addEventListener("click", loadOlder);
}
