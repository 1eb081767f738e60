/* The reply box under the Log's "Conversation with one number": switched off, with a
   banner saying why, when the patient opted out (consent.js); asking first inside the
   patient's quiet hours (quiet.js), where "Schedule" sends it at their end. The inbox's
   thread wires its own box to the same two modules. */

import { $, api, say } from "./core.js";
import { consentWatcher, refusedByConsent } from "./consent.js";
import { askIfQuiet } from "./quiet.js";

// The conversation the box answers; `optedOut` keeps Send off; `onSent` reloads the log.
const box = { ours: "", patient: "", optedOut: false, consent: null, onSent: null, sending: false };

/** Show the box for the conversation between `ours` and `patient`; "" hides it. */
export function showReplyBox(ours, patient) {
  if (!box.consent) return; // the role may not send: the box was removed
  $("log-reply").hidden = !(ours && patient);
  if (!ours || !patient) return;
  if (ours !== box.ours || patient !== box.patient) {
    box.ours = ours;
    box.patient = patient;
    $("log-reply-quiet").hidden = true;
    say($("log-reply-state"), "");
  }
  box.consent.check(ours, patient);
}

function updateSend() {
  $("log-reply-send").disabled = box.optedOut || box.sending;
}

function submit(event, quietAnswered) {
  event.preventDefault();
  const text = $("log-reply-text").value;
  if (!text.trim()) return say($("log-reply-state"), "Write a reply first.", "error");
  if (quietAnswered) return post(text, null);
  askIfQuiet($("log-reply-quiet"), box.patient).then(function (choice) {
    if (choice === "now") submit(event, true);
    else if (choice) post(text, choice);
  });
}

/** sms_send now, or at the end of the patient's quiet hours (`quiet`). */
function post(text, quiet) {
  const from = box.ours;
  const to = box.patient;
  const payload = { numberFrom: from, numberTo: to, text: text };
  if (quiet) payload.sendAt = quiet.endsAt.toISOString();
  box.sending = true;
  updateSend();
  say($("log-reply-state"), quiet ? "Scheduling…" : "Sending…");
  api("sms_send", "POST", payload)
    .then(function (r) {
      const data = r.data || {};
      if (data.status === "unknown") return say($("log-reply-state"), data.information, "error");
      $("log-reply-text").value = "";
      say($("log-reply-state"), quiet ? "Scheduled for " + quiet.endTime + ", the patient’s time." : "Sent.", "ok");
      if (box.onSent && !quiet) box.onSent();
    })
    .catch(function (err) {
      const refused = refusedByConsent(err);
      if (refused) {
        say($("log-reply-state"), "");
        box.consent.show(from, to, refused);
      } else {
        say($("log-reply-state"), err.message, "error");
      }
    })
    .then(function () {
      box.sending = false;
      updateSend();
    });
}

/** Wire the box (absent when the role may not send); `onSent` reloads the conversation. */
export function startReplyBox(onSent) {
  if (!$("log-reply")) return;
  box.onSent = onSent;
  box.consent = consentWatcher($("log-consent"), [$("log-reply-text"), $("log-reply-send")], function (optedOut) {
    box.optedOut = optedOut;
    updateSend();
  });
  $("log-reply").addEventListener("submit", submit);
}
