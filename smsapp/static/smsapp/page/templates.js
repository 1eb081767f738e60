/* Message templates (quick replies): a picker that fills a message box with a template's
   text for staff to edit. The server fills the placeholders it knows ({clinic_name}, and
   {our_number} for the chosen From); {first_name} stays, selected, for staff to type over.
   A text still holding a placeholder is refused by the server, so none reaches a patient.

   Exported for every message box (the Send tab, the inbox's reply box). */

import { api, clear, el, enc } from "./core.js";

const PLACEHOLDER = /\{(first_name|clinic_name|our_number)\}/g;

/** GET templates, filled for the number `from` sends from; resolves to the list. */
export function loadTemplates(from) {
  return api("templates" + (from ? "?from=" + enc(from) : "")).then(function (r) {
    return r.data || [];
  });
}

/** The picker's options: a prompt, then one per template. False when there are none. */
export function fillTemplatePicker(select, items) {
  clear(select);
  select.appendChild(el("option", { text: "Insert a template…", attrs: { value: "" } }));
  items.forEach(function (t) {
    select.appendChild(el("option", { text: t.name, attrs: { value: String(t.id) } }));
  });
  select.value = "";
  return items.length > 0;
}

/** The placeholders still in `text`, each once, e.g. ["{first_name}"]. */
export function unfilledPlaceholders(text) {
  const found = (text || "").match(PLACEHOLDER) || [];
  return found.filter(function (name, i) {
    return found.indexOf(name) === i;
  });
}

/** A sentence saying what to replace, or "" when nothing is left. */
export function placeholderProblem(text) {
  const left = unfilledPlaceholders(text);
  if (!left.length) return "";
  return "Replace " + left.join(" and ") + " before sending" + (left.indexOf("{first_name}") !== -1 ? " (type the patient’s first name)." : ".");
}

/** Put the chosen template's text in `textarea` (asking first if it would replace what
    staff typed) and select the first placeholder left, so typing replaces it. Returns
    whether the text was filled. */
export function applyTemplate(select, items, textarea) {
  const chosen = items.filter(function (t) {
    return String(t.id) === select.value;
  })[0];
  select.value = "";
  if (!chosen) return false;
  const typed = textarea.value.trim();
  if (typed && typed !== chosen.text.trim() && !window.confirm("Replace the message you typed with “" + chosen.name + "”?")) {
    return false;
  }
  textarea.value = chosen.text;
  textarea.focus();
  const match = PLACEHOLDER.exec(chosen.text);
  PLACEHOLDER.lastIndex = 0;
  if (match) textarea.setSelectionRange(match.index, match.index + match[0].length);
  else textarea.setSelectionRange(chosen.text.length, chosen.text.length);
  return true;
}
