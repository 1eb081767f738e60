/* Quiet hours: before a manual send inside the patient's quiet hours (QUIET_HOURS in
   their local time; time_zone/<number> gives the zone and the window), the page asks
   "It is 22:14 for this patient: send now or schedule for 08:00?". The JSON API itself
   sends at once; texts the app sends on its own are held by the server.

   Exported for every message box: askIfQuiet, quietNow, askAboutQuietHours, heldNote. */

import { clear, el } from "./core.js";
import { wallTime, wallTimeToDate, zoneFor } from "./schedule.js";

function minutes(clock) {
  const parts = clock.split(":");
  return Number(parts[0]) * 60 + Number(parts[1]);
}

function nextDay(day) {
  return new Date(Date.parse(day + "T00:00:00Z") + 86400000).toISOString().slice(0, 10);
}

/** When `now` is inside the quiet hours of `info` (time_zone/<number>'s answer):
    {localTime: "22:14", endTime: "08:00", endsAt: Date}; otherwise null. */
export function quietNow(info, now) {
  const quiet = info && info.quietHours;
  if (!quiet) return null;
  now = now || new Date();
  const local = wallTime(now, info.timeZone); // "2026-11-09T22:14"
  const t = minutes(local.slice(11));
  const start = minutes(quiet.start);
  const end = minutes(quiet.end);
  const inside = start < end ? t >= start && t < end : t >= start || t < end;
  if (!inside) return null;
  let day = local.slice(0, 10);
  let endsAt = wallTimeToDate(day + "T" + quiet.end, info.timeZone);
  if (endsAt <= now) {
    day = nextDay(day);
    endsAt = wallTimeToDate(day + "T" + quiet.end, info.timeZone);
  }
  return { localTime: local.slice(11), endTime: quiet.end, endsAt: endsAt, endWallTime: day + "T" + quiet.end };
}

/** For "Send later": what the server will do with a text due at `date` inside the
    patient's quiet hours (hold it until their end); "" outside them. */
export function heldNote(info, date) {
  const quiet = quietNow(info, date);
  if (!quiet) return "";
  return " That is inside the patient’s quiet hours (" + info.quietHours.start + "–" + quiet.endTime + "), so it will go out at " + quiet.endTime + ".";
}

/** Ask in `box` whether to send now or at the end of the quiet hours: resolves to
    "later", "now", or null (cancelled). */
export function askAboutQuietHours(box, quiet) {
  return new Promise(function (resolve) {
    const later = el("button", { cls: "primary", text: "Schedule for " + quiet.endTime, attrs: { type: "button" } });
    const now = el("button", { cls: "secondary", text: "Send now", attrs: { type: "button" } });
    const cancel = el("button", { cls: "link-button", text: "Cancel", attrs: { type: "button" } });
    clear(box);
    box.appendChild(el("p", { cls: "quiet-question", text: "It is " + quiet.localTime + " for this patient: send now or schedule for " + quiet.endTime + "?" }));
    box.appendChild(el("div", { cls: "actions" }, [later, now, cancel]));
    box.hidden = false;

    function answer(choice) {
      box.hidden = true;
      box.onkeydown = null;
      clear(box);
      resolve(choice);
    }
    later.addEventListener("click", function () {
      answer("later");
    });
    now.addEventListener("click", function () {
      answer("now");
    });
    cancel.addEventListener("click", function () {
      answer(null);
    });
    box.onkeydown = function (event) {
      if (event.key === "Escape") answer(null);
    };
    later.focus();
  });
}

/** Before a manual send to `number`: "now" outside their quiet hours (or when their zone
    cannot be read: the server would not hold the text either), else the user's answer
    in `box`: "now", the quiet hours (to schedule for their end), or null. */
export function askIfQuiet(box, number) {
  return zoneFor(number).then(
    function (info) {
      const quiet = quietNow(info);
      if (!quiet) return "now";
      return askAboutQuietHours(box, quiet).then(function (choice) {
        return choice === "later" ? quiet : choice;
      });
    },
    function () {
      return "now";
    },
  );
}
