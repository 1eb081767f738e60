/* "Send later" and the pending scheduled texts.

   A scheduled time is read in the patient's local time: their number's zone when it maps
   to one (GET time_zone/<number>), else the clinic's; the clinic's time is shown beside
   it. The input is a datetime-local (a wall time with no zone), turned into an ISO 8601
   time with that zone's offset for sms_send's `sendAt`.

   Exported for every message box (the Send tab, the inbox's thread): zoneFor,
   readSendLater, describeTime, zoneLabel, sendsWhen, loadPending, renderPending,
   cancelScheduled. */

import { api, clear, el, enc } from "./core.js";

const MAX_DAYS = 35;
const zones = {};

/** {timeZone, fromNumber, clinicTimeZone} for a patient's number (cached per number). */
export function zoneFor(number) {
  if (!zones[number]) {
    zones[number] = api("time_zone/" + enc(number)).then(
      function (r) {
        return r.data;
      },
      function (err) {
        delete zones[number];
        throw err;
      },
    );
  }
  return zones[number];
}

/** Ask again next time: linking a number to a patient gives it their chart's zone. */
export function forgetZone(number) {
  delete zones[number];
}

/** Minutes `zone` is ahead of UTC at `date` (negative west of Greenwich). */
export function offsetMinutes(zone, date) {
  const parts = {};
  new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(date).forEach(function (p) {
    parts[p.type] = p.value;
  });
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

/** "2026-03-10T09:30" read as a wall time in `zone`: a Date, or null if unreadable. */
export function wallTimeToDate(value, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let utc = wall - offsetMinutes(zone, new Date(wall)) * 60000;
  // Near a clock change the offset at the guess may differ from the offset at the result.
  utc = wall - offsetMinutes(zone, new Date(utc)) * 60000;
  return new Date(utc);
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/** The wall time of `date` in `zone`, as a datetime-local input's value. */
export function wallTime(date, zone) {
  const local = new Date(date.getTime() + offsetMinutes(zone, date) * 60000);
  return local.getUTCFullYear() + "-" + pad(local.getUTCMonth() + 1) + "-" + pad(local.getUTCDate()) + "T" + pad(local.getUTCHours()) + ":" + pad(local.getUTCMinutes());
}

/** `date` in ISO 8601 with `zone`'s offset, e.g. 2026-03-10T09:30:00-07:00. */
export function isoInZone(date, zone) {
  const offset = offsetMinutes(zone, date);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return wallTime(date, zone) + ":00" + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60);
}

/** Tomorrow at 9:00 in `zone`: what "Send later" offers first. */
export function tomorrowMorning(zone, now) {
  const today = wallTime(now || new Date(), zone).slice(0, 10);
  const next = new Date(Date.parse(today + "T00:00:00Z") + 86400000);
  return next.toISOString().slice(0, 10) + "T09:00";
}

/** Check a "Send later" value read in `zone`: {sendAt, date} or {problem}. */
export function readSendLater(value, zone, now) {
  now = now || new Date();
  if (!value) return { problem: "Choose the date and time to send it, or untick “Send later”." };
  const date = wallTimeToDate(value, zone);
  if (!date || isNaN(date)) return { problem: "That is not a date and time; pick one from the calendar." };
  if (date.getTime() < now.getTime() - 60000) return { problem: "That time has passed; choose a later one." };
  if (date.getTime() > now.getTime() + MAX_DAYS * 86400000) {
    return { problem: "Texts can be scheduled at most " + MAX_DAYS + " days ahead." };
  }
  return { sendAt: isoInZone(date, zone), date: date };
}

function format(date, zone) {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone, weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short",
  }).format(date);
}

/** "Tue, Mar 10, 9:30 AM PDT for the patient" and, when the clinic's zone differs,
    " · 12:30 PM EDT at the clinic". */
export function describeTime(date, info) {
  const patient = format(date, info.timeZone) + (info.fromNumber ? " for the patient" : "");
  if (info.clinicTimeZone === info.timeZone) return patient + (info.fromNumber ? "" : " (clinic time)");
  return patient + " · " + format(date, info.clinicTimeZone) + " at the clinic";
}

/** Where a "Send later" time is read: "for the patient (America/Chicago)", or the
    clinic's zone when the number does not tell. */
export function zoneLabel(info) {
  return info.fromNumber ? "for the patient (" + info.timeZone + ")" : "(clinic time, " + info.timeZone + ")";
}

/** "Sends Tue, Mar 10, 9:30 AM CDT for the patient." for a time that may be chosen, else "". */
export function sendsWhen(value, info) {
  const read = readSendLater(value, info.timeZone);
  return read.problem ? "" : "Sends " + describeTime(read.date, info) + ".";
}

/** GET scheduled/<from>?counterpart=<to>: the texts still to be sent, soonest first. */
export function loadPending(from, to) {
  return api("scheduled/" + enc(from) + (to ? "?counterpart=" + enc(to) : "")).then(function (r) {
    return r.data || [];
  });
}

/** DELETE scheduled/<id>. */
export function cancelScheduled(id) {
  return api("scheduled/" + enc(id), "DELETE");
}

/** One list item per pending text: its time for the patient (and the clinic), the text,
    who scheduled it, and a Cancel button that calls onCancel(item, button). */
export function renderPending(list, items, info, onCancel) {
  clear(list);
  items.forEach(function (item) {
    const cancel = el("button", { cls: "link-button danger-link", text: "Cancel", attrs: { type: "button" } });
    cancel.setAttribute("aria-label", "Cancel the text scheduled for " + format(new Date(item.sendAt), info.timeZone));
    cancel.addEventListener("click", function () {
      onCancel(item, cancel);
    });
    const media = item.media && item.media.length ? " · " + item.media.length + " media" : "";
    list.appendChild(
      el("li", { cls: "pending-item", attrs: { "data-id": item.id } }, [
        el("p", { cls: "pending-when" }, [el("time", { text: describeTime(new Date(item.sendAt), info), attrs: { datetime: item.sendAt } })]),
        el("p", { cls: "pending-text", text: item.text || "(media only)" }),
        el("p", { cls: "pending-meta" }, [(item.createdBy ? "Scheduled by " + item.createdBy : "Scheduled") + media, cancel]),
      ]),
    );
  });
}
