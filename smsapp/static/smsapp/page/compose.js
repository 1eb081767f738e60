/* What every message box shares (the Send tab's form and the inbox's reply box): the
   segment counter under the text and the API's errors shown by the field they name. Both
   send through the same route (sms_send), so a text is checked, refused or sent the same
   way wherever it was typed. */

import { $, fieldError, plural, say } from "./core.js";
import { countSegments } from "./sms.js";

/** "42 characters · 1 segment", and why a text costs more: Unicode, several segments,
    media (MMS). The counter's data-* attributes say the same for tests and styles. */
export function showCount(node, text, mediaCount) {
  const c = countSegments(text);
  let words = plural(c.units, "character", "characters") + " · " + plural(c.segments, "segment", "segments");
  if (c.encoding === "UCS-2") {
    words += " · Unicode (" + c.perSegment + " per segment): “" + c.offender + "” is not in the GSM-7 set";
  } else if (c.segments > 1) {
    words += " (" + c.perSegment + " per segment)";
  }
  if (mediaCount) words += " · sent as MMS";
  node.textContent = words;
  node.setAttribute("data-segments", String(c.segments));
  node.setAttribute("data-encoding", c.encoding);
  node.classList.toggle("is-costly", c.segments > 1 || c.encoding === "UCS-2");
}

/** `places` maps each field the API may name to [input id or null, error line id]. */
export function clearErrors(places, general) {
  Object.keys(places).forEach(function (key) {
    const ids = places[key];
    fieldError(ids[0] && $(ids[0]), $(ids[1]), "");
  });
  say(general, "");
}

/** Show each error by the field it names (what the user typed stays where it was), the
    rest in `general`; focus the first field at fault. `inputFor(key)` may name the input
    of a field the places cannot (e.g. the first media URL). */
export function showErrors(places, fields, information, general, inputFor) {
  let first = null;
  const unplaced = [];
  Object.keys(fields || {}).forEach(function (key) {
    const base = key.indexOf("mediaUrls") === 0 ? "mediaUrls" : key;
    const ids = places[base];
    if (!ids) {
      unplaced.push(fields[key]);
      return;
    }
    const input = ids[0] ? $(ids[0]) : inputFor && inputFor(base);
    fieldError(input, $(ids[1]), fields[key]);
    if (!first && input) first = input;
  });
  if (unplaced.length || !first) say(general, unplaced.length ? unplaced.join(" ") : information, "error");
  (first || general).focus();
  return first;
}
