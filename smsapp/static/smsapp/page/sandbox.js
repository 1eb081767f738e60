/* Sandbox mode only: the stand-in for Twilio delivers a patient's text to our real inbound
   webhook (auto-reply included), then the Log opens on that conversation. The form is in
   the page only when the app runs against the sandbox. */

import { $, api, fieldError, noNumbersSentence, plural, say } from "./core.js";
import { showConversation } from "./log.js";
import { compactNumber, e164Problem } from "./sms.js";

function simulateInbound(event) {
  event.preventDefault();
  const from = $("simulate-from");
  const body = $("simulate-body");
  const picture = $("simulate-media").checked;
  fieldError(from, $("simulate-from-error"), "");
  fieldError(body, $("simulate-body-error"), "");
  const problem = e164Problem(from.value);
  if (problem) {
    fieldError(from, $("simulate-from-error"), problem);
    from.focus();
    return;
  }
  if (!body.value.trim() && !picture) {
    fieldError(body, $("simulate-body-error"), "Type what the patient says (or add a picture).");
    body.focus();
    return;
  }
  // The text goes to the number chosen in the Log tab, just above this form.
  const ours = $("log-number").value;
  if (!ours) {
    say($("simulate-state"), noNumbersSentence(), "error");
    return;
  }
  const patient = compactNumber(from.value);
  const submit = $("simulate-submit");
  submit.disabled = true;
  say($("simulate-state"), "Delivering…");
  api("sandbox/inbound", "POST", { from: patient, to: ours, body: body.value, media: picture ? 1 : 0 })
    .then(function (r) {
      const replies = (r.data && r.data.replies) || [];
      say($("simulate-state"), "Received" + (replies.length ? "; the app answered with " + plural(replies.length, "auto-reply", "auto-replies") + "." : "."), "ok");
      body.value = "";
      showConversation(patient);
    })
    .catch(function (err) {
      const fields = err.fields || {};
      if (fields.from) fieldError(from, $("simulate-from-error"), fields.from);
      if (fields.body) fieldError(body, $("simulate-body-error"), fields.body);
      say($("simulate-state"), err.message, "error");
    })
    .then(function () {
      submit.disabled = false;
    });
}

export function start() {
  const form = $("simulate-form");
  if (form) form.addEventListener("submit", simulateInbound);
}
