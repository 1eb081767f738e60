/* Plain helpers the page uses: SMS segment counting, phone number checks and formatting.
   No DOM access here, so each function can be read (and tried in a console through
   import()) on its own. */

// GSM 03.38 basic character set: one septet each. Any other character makes the whole
// message UCS-2, which holds 70 characters per segment instead of 160.
const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
// The extension table: an escape septet plus one, so each counts 2.
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** Split `units` (an array of per-character sizes) into segments of at most `size`,
    never cutting a character (an extension pair or a surrogate pair) in two. */
function segmentsOf(units, size) {
  let segments = 1;
  let used = 0;
  for (let i = 0; i < units.length; i++) {
    if (used + units[i] > size) {
      segments += 1;
      used = 0;
    }
    used += units[i];
  }
  return segments;
}

/** How Twilio will bill `text`: encoding, length in that encoding's units (septets for
    GSM-7, UTF-16 code units for UCS-2), segments, and the first character that forced
    UCS-2 (so the page can say why a message costs more). */
export function countSegments(text) {
  const chars = Array.from(text || "");
  const gsmUnits = [];
  let offender = null;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (GSM_BASIC.indexOf(c) !== -1) gsmUnits.push(1);
    else if (GSM_EXTENDED.indexOf(c) !== -1) gsmUnits.push(2);
    else {
      offender = c;
      break;
    }
  }
  if (chars.length === 0) {
    return { encoding: "GSM-7", units: 0, characters: 0, segments: 0, perSegment: 160, offender: null };
  }
  if (offender === null) {
    const septets = gsmUnits.reduce(function (a, b) { return a + b; }, 0);
    const single = septets <= 160;
    return {
      encoding: "GSM-7",
      units: septets,
      characters: chars.length,
      segments: single ? 1 : segmentsOf(gsmUnits, 153),
      perSegment: single ? 160 : 153,
      offender: null,
    };
  }
  const codeUnits = chars.map(function (ch) { return ch.length; });
  const total = text.length; // UTF-16 code units: an emoji counts 2
  const fits = total <= 70;
  return {
    encoding: "UCS-2",
    units: total,
    characters: chars.length,
    segments: fits ? 1 : segmentsOf(codeUnits, 67),
    perSegment: fits ? 70 : 67,
    offender: offender,
  };
}

/** Remove what people type between digits: spaces, dashes, dots, brackets. */
export function compactNumber(value) {
  return String(value || "").replace(/[\s\-.()\u00a0]/g, "");
}

const E164 = /^\+[1-9]\d{6,14}$/;

/** An explanation of what is wrong with `value` as an E.164 number, or "" if fine. */
export function e164Problem(value) {
  const v = compactNumber(value);
  if (!v) return "Enter the number to text, such as +14155550123.";
  if (v.charAt(0) !== "+") {
    if (/^\d{10}$/.test(v)) return "Add the country code: for the US that is +1" + v + ".";
    return "Start with + and the country code, such as +14155550123.";
  }
  if (!/^\+\d+$/.test(v)) return "Use only digits after the +, such as +14155550123.";
  if (!E164.test(v)) return "That is not a full number: + then 8 to 15 digits, such as +14155550123.";
  return "";
}

/** A number for people: +1 415 555 0123 for North America; other countries keep their
    E.164 form (formatting them well needs a numbering-plan database). */
export function formatNumber(value) {
  const v = String(value || "");
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(v);
  if (m) return "+1 " + m[1] + " " + m[2] + " " + m[3];
  return v;
}
