/* The Log tab: the inbox (inbox.js, where it opens) or the original lists: one of our
   numbers' sent or received messages, or the conversation with one number; the selected
   message's details, its media, and deleting it. */

import {
  $, api, chip, clear, el, enc, errorInWords, FINAL, fieldError, may, noNumbersSentence,
  numbers, onNumbersChanged, patientNumber, patientOnly, phoneLabel, plural, request, say,
  timeNode,
} from "./core.js";
import { hideInbox, openConversation, showInbox } from "./inbox.js";
import { addThumbnails, mediaNode } from "./media.js";
import { compactNumber, e164Problem, formatNumber } from "./sms.js";

const PAGE_SIZE = 30;

// `seq` and `detailSeq` count requests, so an answer that arrives after the user chose
// something else is dropped. `stale`: a message was sent since the list was loaded.
const state = {
  items: [],
  next: null,
  seq: 0,
  view: "inbox",
  number: "",
  counterpart: "",
  selected: null,
  stale: false,
  detailSeq: 0,
};

/** Our numbers in the "Our number" picker, keeping the choice across reloads. */
function fillNumberSelect() {
  const select = $("log-number");
  const keep = select.value;
  clear(select);
  numbers.list.forEach(function (p) {
    select.appendChild(el("option", { text: phoneLabel(p), attrs: { value: p.phoneNumber } }));
  });
  if (!numbers.list.length) {
    select.appendChild(el("option", { text: "No numbers", attrs: { value: "" } }));
  }
  if (keep) select.value = keep;
  if (!select.value && select.options.length) select.selectedIndex = 0;
}

function logUrl() {
  if (state.view === "conversation") {
    return "conversation/" + enc(state.number) + "/" + enc(state.counterpart) + "?limit=" + PAGE_SIZE;
  }
  return "message_list/" + enc(state.number) + "/" + state.view + "?limit=" + PAGE_SIZE;
}

function emptySentence() {
  const ours = formatNumber(state.number);
  const sendHint = may("smsapp.send_message") ? " Send the first one from Send." : "";
  if (state.view === "conversation") {
    return "No messages with " + formatNumber(state.counterpart) + " yet." + sendHint;
  }
  if (state.view === "from") return "Nothing sent from " + ours + " yet." + sendHint;
  return "Nothing received by " + ours + " yet. Messages patients send to it appear here.";
}

/** (Re)load the list for what the form says now: the inbox (inbox.js), or one of the
    original lists. */
export function showLog() {
  state.number = $("log-number").value;
  state.view = $("log-view").value;
  $("log-counterpart-field").hidden = state.view !== "conversation" || patientOnly();
  $("log-lists").hidden = state.view === "inbox";
  if (state.view === "inbox") return showInbox(state.number);
  hideInbox();
  const seq = ++state.seq;
  state.items = [];
  state.next = null;
  clear($("log-list"));
  $("log-older").hidden = true;
  $("log-older-top").hidden = true;
  $("log-list").classList.toggle("conversation", state.view === "conversation");
  if (!state.number) {
    say($("log-state"), numbers.list === null ? "Loading…" : noNumbersSentence(), numbers.error ? "error" : "");
    return;
  }
  if (state.view === "conversation") {
    const problem = e164Problem($("log-counterpart").value);
    if (problem) {
      const typed = $("log-counterpart").value.trim();
      fieldError($("log-counterpart"), $("log-counterpart-error"), typed ? problem : "");
      say($("log-state"), patientOnly() ? "The chart has no mobile number for this patient, so there is no conversation to show." : "Enter the other person’s number to see your conversation with them.");
      return;
    }
    fieldError($("log-counterpart"), $("log-counterpart-error"), "");
    state.counterpart = compactNumber($("log-counterpart").value);
  }
  say($("log-state"), "Loading messages…");
  api(logUrl())
    .then(function (r) {
      if (seq !== state.seq) return; // the user changed the selection meanwhile
      addPage(r.data || [], r.next, false);
    })
    .catch(function (err) {
      if (seq !== state.seq) return;
      say($("log-state"), err.message, "error");
    });
}

/** Open the conversation with `counterpart` on the chosen number. */
export function showConversation(counterpart) {
  if ($("log-view").value === "inbox") return showInbox(state.number).then(function () {
    openConversation(counterpart);
  });
  $("log-view").value = "conversation";
  $("log-counterpart").value = counterpart;
  showLog();
}

/** The list is out of date (a message was sent); it reloads when the tab is shown. */
export function markStale() {
  state.stale = true;
}

export function showLogIfStale() {
  if (!state.stale) return;
  state.stale = false;
  showLog();
}

function loadOlder() {
  if (!state.next) return;
  const seq = state.seq;
  const buttons = [$("log-older"), $("log-older-top")];
  buttons.forEach(function (b) {
    b.disabled = true;
    b.textContent = "Loading older messages…";
  });
  request(state.next, "GET")
    .then(function (r) {
      if (seq !== state.seq) return;
      addPage(r.data || [], r.next, true);
    })
    .catch(function (err) {
      if (seq === state.seq) say($("log-state"), err.message, "error");
    })
    .then(function () {
      buttons.forEach(function (b) {
        b.disabled = false;
        b.textContent = "Load older messages";
      });
    });
}

/** Add one page. Sent/received lists run newest first (older pages go below); the
    conversation runs oldest first like a phone (older pages go above). */
function addPage(items, next, older) {
  const list = $("log-list");
  const conversation = state.view === "conversation";
  state.next = next || null;
  if (conversation && older) {
    const first = list.firstChild;
    items.forEach(function (m) {
      list.insertBefore(renderItem(m), first);
    });
    state.items = items.concat(state.items);
  } else {
    items.forEach(function (m) {
      list.appendChild(renderItem(m));
    });
    state.items = state.items.concat(items);
  }
  $("log-older").hidden = conversation || !state.next;
  $("log-older-top").hidden = !conversation || !state.next;
  if (!state.items.length) say($("log-state"), emptySentence());
  else say($("log-state"), "");
  if (conversation && !older && items.length) {
    list.lastChild.scrollIntoView({ block: "nearest" });
  }
}

function isOurs(m) {
  return String(m.direction || "").indexOf("outbound") === 0;
}

function renderItem(m) {
  const conversation = state.view === "conversation";
  const ours = isOurs(m);
  const counterpart = ours ? m.to : m.from;
  const reason = errorInWords(m.errorCode, m.errorMessage);
  const preview = m.body ? m.body : m.mediaCount ? "" : "(no text)";
  // Words, not an emoji: the pane must read the same where no emoji font is installed.
  const media = m.mediaCount ? el("span", { cls: "media-count", text: plural(m.mediaCount, "attachment", "attachments") }) : null;

  let button;
  if (conversation) {
    const thumbs = m.mediaCount ? el("span", { cls: "thumbs" }) : null;
    button = el("button", { cls: "bubble", attrs: { type: "button", "data-sid": m.sid } }, [
      thumbs,
      preview ? el("span", { cls: "bubble-text", text: preview }) : null,
      el("span", { cls: "meta" }, [timeNode(m.created), " ", chip(m.status, reason), media ? " " : null, media]),
    ]);
    if (thumbs) addThumbnails(m.sid, thumbs);
  } else {
    button = el("button", { cls: "msg-row", attrs: { type: "button", "data-sid": m.sid } }, [
      el("span", { cls: "row-top" }, [
        el("span", { cls: "who", text: (ours ? "To " : "From ") + formatNumber(counterpart) }),
        timeNode(m.created),
      ]),
      el("span", { cls: "row-bottom" }, [chip(m.status, reason), media, el("span", { cls: "preview", text: preview })]),
    ]);
  }
  button.setAttribute("aria-pressed", state.selected === m.sid ? "true" : "false");
  button.addEventListener("click", function () {
    openDetail(m.sid);
  });
  return el("li", { cls: conversation ? (ours ? "out" : "in") : "", attrs: { "data-sid": m.sid } }, [button]);
}

// ---- message detail ------------------------------------------------------------------

function markSelected(sid) {
  state.selected = sid;
  Array.prototype.forEach.call($("log-list").querySelectorAll("button[data-sid]"), function (b) {
    b.setAttribute("aria-pressed", b.getAttribute("data-sid") === sid ? "true" : "false");
  });
}

function openDetail(sid) {
  const seq = ++state.detailSeq;
  markSelected(sid);
  const panel = $("log-detail");
  panel.hidden = false;
  clear($("detail-body"));
  if ($("detail-delete")) $("detail-delete").hidden = true;
  say($("detail-state"), "Loading the message…");
  panel.focus({ preventScroll: true });
  panel.scrollIntoView({ block: "nearest" });
  api("message/" + enc(sid))
    .then(function (r) {
      if (seq !== state.detailSeq) return;
      say($("detail-state"), "");
      renderDetail(r.data);
    })
    .catch(function (err) {
      if (seq === state.detailSeq) say($("detail-state"), err.message, "error");
    });
}

function fact(dl, term, value) {
  if (value === null || value === undefined || value === "") return;
  dl.appendChild(el("dt", { text: term }));
  dl.appendChild(typeof value === "object" ? el("dd", {}, [value]) : el("dd", { text: value }));
}

function renderDetail(m) {
  const body = $("detail-body");
  const ours = isOurs(m);
  const reason = errorInWords(m.error_code, m.error_message);
  const dl = el("dl", { cls: "facts" });
  fact(dl, "Status", chip(m.status, reason));
  if (reason) fact(dl, "Why", el("span", { cls: "reason", text: reason }));
  fact(dl, "From", formatNumber(m.from));
  fact(dl, "To", formatNumber(m.to));
  fact(dl, "Direction", ours ? "Sent by us" : "Received");
  fact(dl, "Created", m.created ? timeNode(m.created) : "");
  const never = FINAL.indexOf(m.status) !== -1;
  fact(dl, "Sent", m.sent ? timeNode(m.sent) : ours ? (never ? "never" : "not yet") : "");
  fact(dl, "Segments", m.num_segments);
  if (m.price) fact(dl, "Price", m.price + " " + (m.price_unit || ""));
  fact(dl, "SID", el("code", { text: m.sid }));

  body.appendChild(el("p", { cls: "message-body", text: m.body || "(no text)" }));
  const media = m.media || [];
  if (media.length) {
    body.appendChild(el("h3", { text: plural(media.length, "attachment", "attachments") }));
    const gallery = el("ul", { cls: "gallery" });
    media.forEach(function (item, i) {
      gallery.appendChild(el("li", {}, [mediaNode(item, i, media.length)]));
    });
    body.appendChild(gallery);
  } else if (m.num_media > 0) {
    body.appendChild(el("p", { cls: "hint", text: "Twilio reports " + plural(m.num_media, "attachment", "attachments") + " that this app has not fetched yet." }));
  }
  body.appendChild(dl);

  const del = $("detail-delete"); // absent when the role may not delete (main.js)
  if (!del) return;
  del.hidden = false;
  del.disabled = false;
  del.setAttribute("data-sid", m.sid);
}

function deleteSelected() {
  const button = $("detail-delete");
  const sid = button.getAttribute("data-sid");
  if (!sid) return;
  if (!window.confirm("Delete this message from Twilio and from this log? This cannot be undone.")) {
    say($("detail-state"), "Not deleted.");
    return;
  }
  button.disabled = true;
  say($("detail-state"), "Deleting…");
  api("message_delete/" + enc(sid), "DELETE")
    .then(function () {
      state.items = state.items.filter(function (m) {
        return m.sid !== sid;
      });
      const row = $("log-list").querySelector('li[data-sid="' + CSS.escape(sid) + '"]');
      if (row) row.parentNode.removeChild(row);
      clear($("detail-body"));
      button.hidden = true;
      say($("detail-state"), "Deleted message " + sid + " from Twilio and from this log.", "ok");
      if (!state.items.length) say($("log-state"), emptySentence());
    })
    .catch(function (err) {
      button.disabled = false;
      say($("detail-state"), "Not deleted: " + err.message, "error");
    });
}

function closeDetail() {
  state.detailSeq++;
  $("log-detail").hidden = true;
  const sid = state.selected;
  markSelected(null);
  const row = sid && $("log-list").querySelector('button[data-sid="' + CSS.escape(sid) + '"]');
  if (row) row.focus();
}

// ---- start ---------------------------------------------------------------------------

export function start() {
  onNumbersChanged(fillNumberSelect);
  $("log-number").addEventListener("change", showLog);
  $("log-view").addEventListener("change", function () {
    $("log-counterpart-field").hidden = $("log-view").value !== "conversation";
    showLog();
    if ($("log-view").value === "conversation" && !$("log-counterpart").value) $("log-counterpart").focus();
  });
  $("log-form").addEventListener("submit", function (event) {
    event.preventDefault();
    showLog();
  });
  $("log-older").addEventListener("click", loadOlder);
  $("log-older-top").addEventListener("click", loadOlder);
  $("detail-close").addEventListener("click", closeDetail);
  if ($("detail-delete")) $("detail-delete").addEventListener("click", deleteSelected);
  $("log-detail").addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeDetail();
  });

  // Opened for a patient, the inbox opens their conversation (inbox.js); the original
  // "conversation with one number" is ready for them too.
  const patient = patientNumber();
  if (patient) $("log-counterpart").value = patient;
  // A session that reaches only this patient (EMBED_SCOPE=patient): the inbox shows only
  // their conversation, and the per-number lists are refused.
  if (patientOnly()) {
    $("log-view").value = "inbox";
    $("log-view").parentNode.hidden = true;
    $("log-counterpart-field").hidden = true;
  }
}
