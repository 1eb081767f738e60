/* The Send tab: the form, its live segment counter, media URLs, template picker and
   "Send later", the warning for a patient who opted out (consent.js) and the question
   before a send inside their quiet hours (quiet.js); what happened to the text is shown
   by send-result.js. */

import {
  $, api, cfg, clear, el, fieldError, numbers, onNumbersChanged, patientNumber, patientOnly,
  phoneLabel, say,
} from "./core.js";
import { consentWatcher, refusedByConsent } from "./consent.js";
import { markStale } from "./log.js";
import { askIfQuiet, heldNote } from "./quiet.js";
import { readSendLater, sendsWhen, tomorrowMorning, zoneFor, zoneLabel } from "./schedule.js";
import { isBeingLookedUp, onLookupChange } from "./lookup.js";
import { showPending, showScheduled, showSent, showUnknown } from "./send-result.js";
import { clearErrors, showCount, showErrors } from "./compose.js";
import { compactNumber, e164Problem } from "./sms.js";
import { applyTemplate, fillTemplatePicker, loadTemplates, placeholderProblem } from "./templates.js";

// `toTouched`: To is checked while typing only once the user has left it filled in (or
// tried to send). `zone`: the patient's time zone info for "Send later" (zoneFor), for
// the number in `zoneFor`. `templates`: the picker's items, filled for the chosen From.
// `sendAt`: the checked "Send later" time of the text being sent. `optedOut`: the
// patient in To may not be texted from From (`consent` shows why, under To).
const state = { toTouched: false, mediaRowId: 0, zone: null, zoneFor: "", templates: [], sending: false, sendAt: "", optedOut: false };
let consent = null;

/** Numbers that can send SMS in the "From" picker, keeping the choice across reloads. */
function fillNumberSelect() {
  const select = $("send-from");
  const keep = select.value;
  clear(select);
  numbers.list.forEach(function (p) {
    if (p.capabilities && p.capabilities.sms) {
      const text = phoneLabel(p) + (p.capabilities.mms ? " · MMS" : "");
      select.appendChild(el("option", { text: text, attrs: { value: p.phoneNumber, "data-sid": p.sid } }));
    }
  });
  if (!select.options.length) {
    select.appendChild(el("option", { text: "No number can send SMS", attrs: { value: "" } }));
  }
  if (keep) select.value = keep;
  if (!select.value && select.options.length) select.selectedIndex = 0;
}

function updateCounter() {
  showCount($("send-counter"), $("send-text").value, mediaUrls().length);
}

function checkTo(force) {
  const input = $("send-to");
  if (!force && !state.toTouched) return true;
  const problem = e164Problem(input.value);
  fieldError(input, $("send-to-error"), problem);
  return !problem;
}

function mediaInputs() {
  return Array.prototype.slice.call($("send-media").querySelectorAll("input"));
}

function mediaUrls() {
  return mediaInputs()
    .map(function (i) {
      return i.value.trim();
    })
    .filter(Boolean);
}

function addMediaRow(value) {
  if (mediaInputs().length >= 10) return;
  const id = "send-media-" + ++state.mediaRowId;
  const input = el("input", { attrs: { id: id, type: "url", inputmode: "url", placeholder: "https://…/picture.jpg", autocomplete: "off" } });
  input.value = value || "";
  input.addEventListener("input", updateCounter);
  const remove = el("button", { cls: "link-button", text: "Remove", attrs: { type: "button" } });
  const row = el("li", {}, [el("label", { cls: "visually-hidden", text: "Media URL", attrs: { for: id } }), input, remove]);
  remove.setAttribute("aria-label", "Remove this media URL");
  remove.addEventListener("click", function () {
    row.parentNode.removeChild(row);
    renumberMedia();
    updateCounter();
    $("send-media-add").focus();
  });
  $("send-media").appendChild(row);
  renumberMedia();
  input.focus();
}

function renumberMedia() {
  const rows = $("send-media").querySelectorAll("label");
  Array.prototype.forEach.call(rows, function (label, i) {
    label.textContent = "Media URL " + (i + 1);
  });
  const full = mediaInputs().length >= 10;
  $("send-media-add").disabled = full;
  $("send-media-add").textContent = full ? "10 media URLs is Twilio’s limit" : "Add a media URL";
}

// Each field the API may name in an error: [input id, error line id].
const SEND_FIELDS = {
  numberFrom: ["send-from", "send-from-error"],
  numberFromSid: ["send-from", "send-from-error"],
  numberTo: ["send-to", "send-to-error"],
  text: ["send-text", "send-text-error"],
  callbackUrl: ["send-callback", "send-callback-error"],
  mediaUrls: [null, "send-media-error"],
  sendAt: ["send-at", "send-at-error"],
};

function clearSendErrors() {
  clearErrors(SEND_FIELDS, $("send-error"));
}

/** Show each error by the field it names; what the user typed stays where it was. */
function showSendErrors(fields, information) {
  if (fields && fields.callbackUrl) $("send-advanced").open = true;
  showErrors(SEND_FIELDS, fields, information, $("send-error"), function () {
    return mediaInputs()[0];
  });
}

/** Send (or schedule) what the form says. `quietAnswered`: the user was asked about the
    patient's quiet hours and said "Send now". */
function sendMessage(event, quietAnswered) {
  event.preventDefault();
  clearSendErrors();
  const from = $("send-from");
  const fields = {};
  if (!from.value) fields.numberFrom = "Choose the number to send from; it must be able to send SMS.";
  const toProblem = e164Problem($("send-to").value);
  if (toProblem) fields.numberTo = toProblem;
  const text = $("send-text").value;
  const media = mediaUrls();
  if (!text.trim() && !media.length) fields.text = "Write a message (or add a media URL).";
  else if (placeholderProblem(text)) {
    fields.text = placeholderProblem(text);
    say($("send-text-hint"), ""); // the error says it now
  }
  media.forEach(function (u) {
    if (!/^https:\/\/\S+$/i.test(u)) fields.mediaUrls = "Each media URL must be a full https address, such as https://example.org/photo.jpg: Twilio fetches it over the internet.";
  });
  const later = $("send-later").checked;
  const to = compactNumber($("send-to").value);
  if (later && !toProblem) {
    if (!state.zone || state.zoneFor !== to) {
      // The time is read in the patient's zone: fetch it (Send's click left To), then go on.
      zoneFor(to).then(
        function (info) {
          state.zone = info;
          state.zoneFor = to;
          sendMessage(event);
        },
        function (err) {
          showSendErrors({ sendAt: err.message });
        },
      );
      return;
    }
    const read = readSendLater($("send-at").value, state.zone.timeZone);
    if (read.problem) fields.sendAt = read.problem;
    else state.sendAt = read.sendAt;
  }
  if (Object.keys(fields).length) {
    state.toTouched = true;
    showSendErrors(fields);
    return;
  }
  if (!later && !quietAnswered) {
    askIfQuiet($("send-quiet"), to).then(function (choice) {
      if (choice === "now") return sendMessage(event, true);
      if (!choice) return;
      // "Schedule for 08:00": "Send later", at the end of the patient's quiet hours.
      $("send-later").checked = true;
      $("send-at").value = choice.endWallTime;
      toggleLater();
      sendMessage(event);
    });
    return;
  }

  const option = from.options[from.selectedIndex];
  let callback = $("send-callback").value.trim();
  // Unchanged from the prefilled default: send "" so the server uses its own webhook.
  // The API accepts only https callbacks from callers, while our own address may be
  // http (the offline sandbox, a developer's machine).
  if (callback === cfg.statusCallbackUrl) callback = "";
  const payload = {
    numberFrom: from.value,
    numberFromSid: option ? option.getAttribute("data-sid") : "",
    numberTo: to,
    callbackUrl: callback,
    text: text,
    mediaUrls: media,
  };
  if (later) payload.sendAt = state.sendAt;
  const sent = { from: payload.numberFrom, to: to, text: text };
  const zone = state.zone;
  state.sending = true;
  updateSubmit();
  api("sms_send", "POST", payload)
    .then(function (r) {
      const data = r.data || {};
      if (data.status === "unknown") {
        showUnknown(data, sent); // the text stays in the box, Send off for it
        return;
      }
      // Sent or scheduled: clear what was sent, keep From and To for a follow-up.
      $("send-text").value = "";
      clear($("send-media"));
      renumberMedia();
      updateCounter();
      if (data.scheduled) {
        showScheduled(data, to, zone);
        showPending(payload.numberFrom, to);
      } else {
        showSent(data);
        markStale(); // the Log shows the new message when it is opened again
      }
    })
    .catch(function (err) {
      const refused = refusedByConsent(err);
      if (!refused) return showSendErrors(err.fields, err.message);
      consent.show(payload.numberFrom, to, refused);
      showSendErrors({ numberTo: "This patient opted out of texts; see why below." });
    })
    .then(function () {
      state.sending = false;
      updateSubmit();
    });
}

/** Warn as soon as To holds a number that opted out of texts from the chosen From. */
function checkConsent() {
  const valid = !e164Problem($("send-to").value);
  consent.check($("send-from").value, valid ? compactNumber($("send-to").value) : "");
}

/** Send's label and whether it may be pressed: off while sending, and for the very text
    whose outcome is being looked up (it may have gone out already). */
function updateSubmit() {
  const submit = $("send-submit");
  const later = $("send-later").checked;
  const repeat = isBeingLookedUp($("send-from").value, compactNumber($("send-to").value), $("send-text").value);
  submit.disabled = state.sending || repeat || state.optedOut;
  submit.textContent = state.sending ? (later ? "Scheduling…" : "Sending…") : later ? "Schedule" : "Send";
  let hint = repeat ? "Send is off for this text until Twilio says whether it went out." : "";
  if (state.optedOut) hint = "Send is off: this patient opted out of texts from this number.";
  say($("send-submit-hint"), hint);
}

// ---- the patient's time zone, "Send later" and the pending list ------------------------

/** When To holds a valid number: its time zone (for "Send later") and its pending texts. */
function toChanged() {
  const to = compactNumber($("send-to").value);
  const valid = !e164Problem($("send-to").value);
  showPending($("send-from").value, valid ? to : "");
  if (!valid || to === state.zoneFor) return updateLaterHint();
  state.zone = null;
  state.zoneFor = to;
  zoneFor(to)
    .then(function (info) {
      if (state.zoneFor !== to) return;
      state.zone = info;
      if (!$("send-at").value) $("send-at").value = tomorrowMorning(info.timeZone);
      updateLaterHint();
    })
    .catch(function (err) {
      if (state.zoneFor === to) state.zoneFor = "";
      fieldError($("send-at"), $("send-at-error"), err.message);
    });
}

/** The zone the date and time are read in, and the time it means for the clinic. */
function updateLaterHint() {
  const info = state.zone;
  const hint = $("send-at-hint");
  if (!info || !$("send-later").checked) return say(hint, info ? "" : "Enter the patient’s number (To) first: the time is read in their time zone.");
  $("send-at-zone").textContent = zoneLabel(info);
  const read = readSendLater($("send-at").value, info.timeZone);
  say(hint, read.problem ? "" : sendsWhen($("send-at").value, info) + heldNote(info, read.date));
}

function toggleLater() {
  const on = $("send-later").checked;
  $("send-later-fields").hidden = !on;
  fieldError($("send-at"), $("send-at-error"), "");
  if (on) toChanged();
  updateLaterHint();
  updateSubmit();
}

// ---- templates --------------------------------------------------------------------------

function reloadTemplates() {
  const from = $("send-from").value;
  loadTemplates(from)
    .then(function (items) {
      state.templates = items;
      $("send-template-field").hidden = !fillTemplatePicker($("send-template"), items);
    })
    .catch(function () {
      $("send-template-field").hidden = true; // the box still works without templates
    });
}

function pickTemplate() {
  if (!applyTemplate($("send-template"), state.templates, $("send-text"))) return;
  fieldError($("send-text"), $("send-text-error"), "");
  say($("send-text-hint"), placeholderProblem($("send-text").value));
  updateCounter();
  updateSubmit();
}

// ---- start ---------------------------------------------------------------------------

export function start() {
  consent = consentWatcher($("send-to-consent"), [], function (optedOut) {
    state.optedOut = optedOut;
    updateSubmit();
  });
  onNumbersChanged(function () {
    fillNumberSelect();
    reloadTemplates();
    toChanged();
    checkConsent();
  });
  onLookupChange(updateSubmit);
  $("send-form").addEventListener("submit", sendMessage);
  $("send-text").addEventListener("input", function () {
    fieldError($("send-text"), $("send-text-error"), "");
    if (!$("send-text-hint").hidden) say($("send-text-hint"), placeholderProblem($("send-text").value));
    updateCounter();
    updateSubmit();
  });
  $("send-to").addEventListener("blur", function () {
    if ($("send-to").value.trim()) state.toTouched = true;
    checkTo(false);
    toChanged();
  });
  $("send-to").addEventListener("input", function () {
    checkTo(false);
    checkConsent();
    updateSubmit();
  });
  $("send-from").addEventListener("change", function () {
    fieldError($("send-from"), $("send-from-error"), "");
    reloadTemplates();
    toChanged();
    checkConsent();
    updateSubmit();
  });
  $("send-media-add").addEventListener("click", function () {
    addMediaRow("");
  });
  $("send-template").addEventListener("change", pickTemplate);
  $("send-later").addEventListener("change", toggleLater);
  $("send-at").addEventListener("input", function () {
    fieldError($("send-at"), $("send-at-error"), "");
    updateLaterHint();
  });

  $("send-callback").value = cfg.statusCallbackUrl || "";
  const patient = patientNumber();
  if (patient) $("send-to").value = patient;
  $("send-to").readOnly = patientOnly(); // a session that reaches only this patient
  updateCounter();
  renumberMedia();
}
