/* The Send tab: the form, its live segment counter and media URLs, then the sent
   message's status, polled until the carrier confirms delivery (or a few minutes pass). */

import {
  $, api, cfg, chip, clear, el, enc, errorInWords, FINAL, fieldError, numbers,
  onNumbersChanged, patientNumber, patientOnly, phoneLabel, plural, say,
} from "./core.js";
import { markStale } from "./log.js";
import { compactNumber, countSegments, e164Problem, formatNumber } from "./sms.js";

const POLL_EVERY_MS = 2500;
const POLL_FOR_MS = 3 * 60 * 1000; // after that, the Log shows later changes

// `toTouched`: To is checked while typing only once the user has left it filled in (or
// tried to send). `pollSeq` counts sends, so polling for an older message stops.
const state = { toTouched: false, mediaRowId: 0, pollSeq: 0 };

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
  const text = $("send-text").value;
  const c = countSegments(text);
  const mediaCount = mediaUrls().length;
  let words = plural(c.units, "character", "characters") + " · " + plural(c.segments, "segment", "segments");
  if (c.encoding === "UCS-2") {
    words += " · Unicode (" + c.perSegment + " per segment): “" + c.offender + "” is not in the GSM-7 set";
  } else if (c.segments > 1) {
    words += " (" + c.perSegment + " per segment)";
  }
  if (mediaCount) words += " · sent as MMS";
  const counter = $("send-counter");
  counter.textContent = words;
  counter.setAttribute("data-segments", String(c.segments));
  counter.setAttribute("data-encoding", c.encoding);
  counter.classList.toggle("is-costly", c.segments > 1 || c.encoding === "UCS-2");
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
};

function clearSendErrors() {
  Object.keys(SEND_FIELDS).forEach(function (k) {
    const ids = SEND_FIELDS[k];
    fieldError(ids[0] && $(ids[0]), $(ids[1]), "");
  });
  say($("send-error"), "");
}

/** Show each error by the field it names; what the user typed stays where it was. */
function showSendErrors(fields, information) {
  let firstInput = null;
  const unplaced = [];
  Object.keys(fields || {}).forEach(function (key) {
    const base = key.indexOf("mediaUrls") === 0 ? "mediaUrls" : key;
    const ids = SEND_FIELDS[base];
    if (!ids) {
      unplaced.push(fields[key]);
      return;
    }
    const input = ids[0] ? $(ids[0]) : mediaInputs()[0];
    fieldError(input, $(ids[1]), fields[key]);
    if (base === "callbackUrl") $("send-advanced").open = true;
    if (!firstInput && input) firstInput = input;
  });
  if (unplaced.length || !firstInput) say($("send-error"), unplaced.length ? unplaced.join(" ") : information, "error");
  (firstInput || $("send-error")).focus();
}

function sendMessage(event) {
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
  media.forEach(function (u) {
    if (!/^https:\/\/\S+$/i.test(u)) fields.mediaUrls = "Each media URL must be a full https address, such as https://example.org/photo.jpg: Twilio fetches it over the internet.";
  });
  if (Object.keys(fields).length) {
    state.toTouched = true;
    showSendErrors(fields);
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
    numberTo: compactNumber($("send-to").value),
    callbackUrl: callback,
    text: text,
    mediaUrls: media,
  };
  const submit = $("send-submit");
  submit.disabled = true;
  submit.textContent = "Sending…";
  api("sms_send", "POST", payload)
    .then(function (r) {
      // Sent: clear what was sent, keep From and To for a follow-up.
      $("send-text").value = "";
      clear($("send-media"));
      renumberMedia();
      updateCounter();
      showSent(r.data || {});
      markStale(); // the Log shows the new message when it is opened again
    })
    .catch(function (err) {
      showSendErrors(err.fields, err.message);
    })
    .then(function () {
      submit.disabled = false;
      submit.textContent = "Send";
    });
}

function showSent(m) {
  $("send-result").hidden = false;
  $("send-result-title").textContent = "Sent to " + formatNumber(m.to || "");
  $("send-result-sid").textContent = m.sid || "";
  state.pollSeq++;
  updateSent(m, Date.now(), state.pollSeq);
}

function updateSent(m, started, seq) {
  if (seq !== state.pollSeq) return;
  const reason = errorInWords(m.error_code, m.error_message);
  const status = $("send-result-status");
  clear(status);
  status.appendChild(chip(m.status, reason));
  const note = $("send-result-note");
  if (m.status === "delivered" || m.status === "read") {
    say(note, "Delivered to " + formatNumber(m.to) + ".", "ok");
    return;
  }
  if (FINAL.indexOf(m.status) !== -1) {
    say(note, "Not delivered: " + (reason || "Twilio gave no reason."), "error");
    return;
  }
  if (Date.now() - started > POLL_FOR_MS) {
    say(note, "Stopped checking after 3 minutes; the Log shows the status when Twilio reports it.");
    return;
  }
  say(note, "Waiting for the carrier to confirm delivery…");
  setTimeout(function () {
    if (seq !== state.pollSeq) return;
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

// ---- start ---------------------------------------------------------------------------

export function start() {
  onNumbersChanged(fillNumberSelect);
  $("send-form").addEventListener("submit", sendMessage);
  $("send-text").addEventListener("input", function () {
    fieldError($("send-text"), $("send-text-error"), "");
    updateCounter();
  });
  $("send-to").addEventListener("blur", function () {
    if ($("send-to").value.trim()) state.toTouched = true;
    checkTo(false);
  });
  $("send-to").addEventListener("input", function () {
    checkTo(false);
  });
  $("send-from").addEventListener("change", function () {
    fieldError($("send-from"), $("send-from-error"), "");
  });
  $("send-media-add").addEventListener("click", function () {
    addMediaRow("");
  });

  $("send-callback").value = cfg.statusCallbackUrl || "";
  const patient = patientNumber();
  if (patient) $("send-to").value = patient;
  $("send-to").readOnly = patientOnly(); // a session that reaches only this patient
  updateCounter();
  renumberMedia();
}
