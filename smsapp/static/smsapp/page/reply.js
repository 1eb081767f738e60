/* The reply box at the bottom of an inbox thread, like a phone's: a growing text box with
   the segment counter under it and Send beside it; a template picker and "Send later" as
   small secondary controls. It sends the way the Send tab does (sms_send, the same
   counter, checks and errors by field; compose.js), from the conversation's number to its
   counterpart. A send whose outcome is unknown keeps Send off for that text until Twilio
   says whether it went out (lookup.js); a patient who opted out gets a banner saying so
   and the box is switched off (consent.js); a send inside the patient's quiet hours asks
   first (quiet.js). Ctrl+Enter (⌘+Enter) sends. */

import { $, api, fieldError, numbers, say } from "./core.js";
import { clearErrors, showCount, showErrors } from "./compose.js";
import { consentWatcher, refusedByConsent } from "./consent.js";
import { askIfQuiet } from "./quiet.js";
import { describeTime, readSendLater, sendsWhen, tomorrowMorning, zoneFor, zoneLabel } from "./schedule.js";
import { isBeingLookedUp, lookupChip, onLookupChange, watchUnknown } from "./lookup.js";
import { formatNumber } from "./sms.js";
import { applyTemplate, fillTemplatePicker, loadTemplates, placeholderProblem } from "./templates.js";

// Each field the API may name in an error: [input id, error line id]. The numbers'
// faults (a number that cannot send, a patient who opted out) go to the banner.
const PLACES = { text: ["reply-text", "reply-text-error"], sendAt: ["reply-at", "reply-at-error"] };

const state = {
  our: "", them: "", templates: [], zone: null, sending: false, repeatSaid: false, onSent: null,
  consent: null, optedOut: false,
};

/** Point the box at the conversation between `our` and `them` (what was typed stays only
    if it was for the same patient). */
export function replyTo(our, them) {
  if (!$("reply-form")) return; // the role may not send
  if (state.them !== them) $("reply-text").value = "";
  state.our = our;
  state.them = them;
  state.zone = null;
  clearErrors(PLACES, $("reply-error"));
  say($("reply-state"), "");
  $("reply-later").checked = false;
  $("reply-later-fields").hidden = true;
  $("reply-at").value = "";
  $("reply-quiet").hidden = true;
  state.consent.check(our, them);
  const phone = (numbers.list || []).filter(function (p) {
    return p.phoneNumber === our;
  })[0];
  if (phone && !(phone.capabilities && phone.capabilities.sms)) {
    say($("reply-state"), formatNumber(our) + " cannot send texts; write from the Send tab with another number.", "error");
  }
  loadTemplates(our)
    .then(function (items) {
      if (state.our !== our) return;
      state.templates = items;
      $("reply-template-field").hidden = !fillTemplatePicker($("reply-template"), items);
    })
    .catch(function () {
      $("reply-template-field").hidden = true; // the box still works without templates
    });
  changed();
}

function changed() {
  showCount($("reply-counter"), $("reply-text").value, 0);
  const repeat = isBeingLookedUp(state.our, state.them, $("reply-text").value);
  const later = $("reply-later").checked;
  $("reply-send").disabled = state.sending || repeat || state.optedOut;
  $("reply-send").textContent = state.sending ? (later ? "Scheduling…" : "Sending…") : later ? "Schedule" : "Send";
  if (repeat || state.repeatSaid) say($("reply-state"), repeat ? REPEAT : "");
  state.repeatSaid = repeat;
}

const REPEAT = "Send is off for this text until Twilio says whether it went out.";

function fromSid() {
  const phone = (numbers.list || []).filter(function (p) {
    return p.phoneNumber === state.our;
  })[0];
  return phone ? phone.sid : "";
}

/** The patient's zone for "Send later" (looked up once per conversation). */
function withZone() {
  if (state.zone) return Promise.resolve(state.zone);
  const them = state.them;
  return zoneFor(them).then(function (info) {
    if (state.them === them) state.zone = info;
    return info;
  });
}

function toggleLater() {
  const on = $("reply-later").checked;
  $("reply-later-fields").hidden = !on;
  fieldError($("reply-at"), $("reply-at-error"), "");
  changed();
  if (!on) return;
  withZone()
    .then(function (info) {
      $("reply-at-zone").textContent = zoneLabel(info);
      if (!$("reply-at").value) $("reply-at").value = tomorrowMorning(info.timeZone);
      say($("reply-at-hint"), sendsWhen($("reply-at").value, info));
    })
    .catch(function (err) {
      fieldError($("reply-at"), $("reply-at-error"), err.message);
    });
}

function send(event) {
  event.preventDefault();
  if (state.sending) return;
  clearErrors(PLACES, $("reply-error"));
  say($("reply-state"), "");
  const text = $("reply-text").value;
  const problem = !text.trim() ? "Write a message before sending." : placeholderProblem(text);
  if (problem) return showErrors(PLACES, { text: problem }, problem, $("reply-error"));
  const later = $("reply-later").checked;
  (later ? withZone() : Promise.resolve(null))
    .then(function (info) {
      const payload = { numberFrom: state.our, numberFromSid: fromSid(), numberTo: state.them, text: text };
      if (info) {
        const read = readSendLater($("reply-at").value, info.timeZone);
        if (read.problem) return showErrors(PLACES, { sendAt: read.problem }, read.problem, $("reply-error"));
        payload.sendAt = read.sendAt;
        return post(payload, info);
      }
      return askIfQuiet($("reply-quiet"), state.them).then(function (choice) {
        if (choice === "now") return post(payload, null);
        if (!choice) return null; // cancelled: the text stays in the box
        payload.sendAt = choice.endsAt.toISOString(); // the end of the patient's quiet hours
        return withZone().then(function (zone) {
          return post(payload, zone);
        });
      });
    })
    .catch(function (err) {
      const refused = refusedByConsent(err);
      if (refused) state.consent.show(state.our, state.them, refused);
      else showErrors(PLACES, err.fields, err.message, $("reply-error"));
    });
}

function post(payload, info) {
  const sent = { from: payload.numberFrom, to: payload.numberTo, text: payload.text };
  state.sending = true;
  changed();
  return api("sms_send", "POST", payload)
    .then(function (r) {
      const data = r.data || {};
      if (data.status === "unknown") return followUnknown(data, sent);
      $("reply-text").value = "";
      if (data.scheduled) {
        $("reply-later").checked = false;
        $("reply-later-fields").hidden = true;
        say($("reply-state"), "Scheduled: it will be sent " + describeTime(new Date(data.sendAt), info) + ".", "ok");
      }
      else if (data.mirrored === false) say($("reply-state"), data.information, "error");
      if (state.onSent) state.onSent(data);
    })
    .then(function () {
      state.sending = false;
      changed();
    }, function (err) {
      state.sending = false;
      changed();
      throw err;
    });
}

/** Twilio did not answer: the text stays in the box, Send off for it, while the app
    looks it up; then the thread shows it, or the box says it was not sent. */
function followUnknown(answer, sent) {
  const holder = $("reply-state");
  watchUnknown(answer, sent, function (attempt) {
    holder.hidden = false;
    holder.classList.toggle("is-error", attempt.state === "not_sent");
    holder.textContent = " " + attempt.information;
    holder.insertBefore(lookupChip(attempt), holder.firstChild);
    if (attempt.state === "found" && state.onSent) state.onSent(attempt);
  });
}

export function startReply(onSent) {
  if (!$("reply-form")) return;
  state.onSent = onSent;
  state.consent = consentWatcher($("reply-consent"), [$("reply-text"), $("reply-send")], function (out) {
    state.optedOut = out;
    changed();
  });
  onLookupChange(changed);
  $("reply-form").addEventListener("submit", send);
  $("reply-text").addEventListener("input", function () {
    fieldError($("reply-text"), $("reply-text-error"), "");
    changed();
  });
  $("reply-text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) send(event);
  });
  $("reply-template").addEventListener("change", function () {
    if (!applyTemplate($("reply-template"), state.templates, $("reply-text"))) return;
    fieldError($("reply-text"), $("reply-text-error"), "");
    say($("reply-state"), placeholderProblem($("reply-text").value));
    changed();
  });
  $("reply-later").addEventListener("change", toggleLater);
  $("reply-at").addEventListener("input", function () {
    fieldError($("reply-at"), $("reply-at-error"), "");
    if (state.zone) say($("reply-at-hint"), sendsWhen($("reply-at").value, state.zone));
  });
}
