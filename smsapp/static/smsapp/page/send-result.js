/* What happened to the text just sent from the Send tab, and the texts still scheduled:

   - sent: its status, polled until the carrier confirms delivery (or a few minutes pass);
   - scheduled: when it will go out;
   - outcome unknown (Twilio did not answer after the request left): it may have been
     sent, so Send stays off for that text (same From, To and words) while the app looks
     it up on Twilio (send_attempt/<id>, polled), then it shows what Twilio did;
   - the pending scheduled texts between From and To, each with Cancel. */

import { $, api, chip, clear, enc, errorInWords, FINAL, say } from "./core.js";
import { markStale } from "./log.js";
import { lookupChip, watchUnknown } from "./lookup.js";
import { cancelScheduled, describeTime, loadPending, renderPending, zoneFor } from "./schedule.js";
import { formatNumber } from "./sms.js";

const POLL_EVERY_MS = 2500;
const POLL_FOR_MS = 3 * 60 * 1000; // after that, the Log shows later changes

// `seq` counts results shown, so polling for an older one stops.
const state = { seq: 0, pendingSeq: 0 };

/** Show the result panel with a title and, for a text Twilio knows, its SID. */
function open(title, sid) {
  $("send-result").hidden = false;
  $("send-result-title").textContent = title;
  $("send-result-sid").textContent = sid || "";
  $("send-result-sid-label").hidden = $("send-result-sid").parentNode.hidden = !sid;
  return ++state.seq;
}

function showChip(status, reason) {
  const node = $("send-result-status");
  clear(node);
  node.appendChild(chip(status, reason));
}

/** A text Twilio accepted: follow its status. */
export function showSent(m) {
  const seq = open("Sent to " + formatNumber(m.to || ""), m.sid);
  updateSent(m, Date.now(), seq);
  if (m.mirrored === false) say($("send-result-note"), m.information, "error");
}

function updateSent(m, started, seq) {
  if (seq !== state.seq) return;
  const reason = errorInWords(m.error_code, m.error_message);
  showChip(m.status, reason);
  const note = $("send-result-note");
  if (m.status === "delivered" || m.status === "read") return say(note, "Delivered to " + formatNumber(m.to) + ".", "ok");
  if (FINAL.indexOf(m.status) !== -1) return say(note, "Not delivered: " + (reason || "Twilio gave no reason."), "error");
  if (Date.now() - started > POLL_FOR_MS) {
    return say(note, "Stopped checking after 3 minutes; the Log shows the status when Twilio reports it.");
  }
  if (m.mirrored !== false) say(note, "Waiting for the carrier to confirm delivery…");
  setTimeout(function () {
    if (seq !== state.seq) return;
    api("message/" + enc(m.sid))
      .then(function (r) {
        updateSent(r.data, started, seq);
      })
      .catch(function (err) {
        // A passing hiccup must not stop the updates; keep trying until the time is up.
        say(note, err.message + " Trying again…", "error");
        setTimeout(function () {
          updateSent(m, started, seq);
        }, POLL_EVERY_MS);
      });
  }, POLL_EVERY_MS);
}

/** A text scheduled for later (the answer of sms_send with sendAt). */
export function showScheduled(answer, to, info) {
  open("Scheduled for " + formatNumber(to));
  showChip("scheduled");
  say($("send-result-note"), "It will be sent " + describeTime(new Date(answer.sendAt), info) + ". Cancel it below until then.", "ok");
}

/** A send whose outcome is unknown: Send stays off for it until Twilio is asked. */
export function showUnknown(answer, sent) {
  const seq = open("May have been sent to " + formatNumber(answer.to || sent.to));
  watchUnknown(answer, sent, function (attempt) {
    if (seq !== state.seq) return;
    clear($("send-result-status"));
    $("send-result-status").appendChild(lookupChip(attempt));
    const note = $("send-result-note");
    if (attempt.state === "checking") return say(note, attempt.information);
    if (attempt.state === "not_sent") return say(note, attempt.information, "error");
    markStale();
    api("message/" + enc(attempt.sid)).then(function (r) {
      showSent(r.data);
    });
  });
}

// ---- the pending scheduled texts -----------------------------------------------------

/** Show the texts still scheduled from `from` to `to` (hidden without both). */
export function showPending(from, to) {
  const section = $("send-pending");
  const seq = ++state.pendingSeq;
  if (!from || !to) {
    section.hidden = true;
    return Promise.resolve();
  }
  return Promise.all([loadPending(from, to), zoneFor(to)])
    .then(function (results) {
      if (seq !== state.pendingSeq) return;
      const items = results[0];
      section.hidden = !items.length;
      $("send-pending-title").textContent = "Scheduled texts to " + formatNumber(to);
      say($("send-pending-state"), "");
      renderPending($("send-pending-list"), items, results[1], function (item, button) {
        cancel(item, button, from, to);
      });
    })
    .catch(function (err) {
      if (seq !== state.pendingSeq) return;
      section.hidden = false;
      say($("send-pending-state"), err.message, "error");
    });
}

function cancel(item, button, from, to) {
  if (!window.confirm("Cancel this scheduled text? It will not be sent.")) return;
  button.disabled = true;
  cancelScheduled(item.id)
    .then(function () {
      return showPending(from, to).then(function () {
        say($("send-pending-state"), "Cancelled; it will not be sent.", "ok");
        $("send-pending").hidden = false;
      });
    })
    .catch(function (err) {
      // Already sent, sending or cancelled elsewhere: show the list as it is now.
      return showPending(from, to).then(function () {
        $("send-pending").hidden = false;
        say($("send-pending-state"), err.message, "error");
      });
    });
}
