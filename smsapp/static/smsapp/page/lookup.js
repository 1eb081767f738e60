/* Sends whose outcome is unknown (Twilio did not answer after the request left): the
   text may have gone out, so no message box (the Send tab, an inbox thread's reply box)
   may send it again while the app looks it up on Twilio (send_attempt/<id>, polled). */

import { api, el, enc } from "./core.js";

const LOOKUP_EVERY_MS = 3000;
const LOOKUP_STATES = { checking: ["Checking", "pending"], found: ["Sent", "sent"], not_sent: ["Not sent", "bad"] };

// `unknown`: the texts being looked up ({from, to, text}); `listeners` hear when one is
// added or resolved.
const state = { unknown: [], listeners: [] };

/** Where a lookup stands, as a chip: Checking, Sent, Not sent. */
export function lookupChip(attempt) {
  const words = LOOKUP_STATES[attempt.state];
  return el("span", { cls: "chip chip-" + words[1], text: words[0], attrs: { "data-status": attempt.state } });
}

/** Follow send_attempt/<id> until Twilio says whether `sent` ({from, to, text}) went
    out, calling onUpdate(attempt) with each answer; meanwhile no message box may send
    that text again (isBeingLookedUp). */
export function watchUnknown(attempt, sent, onUpdate) {
  state.unknown.push(sent);
  changed();
  function follow(current) {
    onUpdate(current);
    if (current.state !== "checking") {
      state.unknown.splice(state.unknown.indexOf(sent), 1);
      changed();
      return;
    }
    setTimeout(function () {
      api("send_attempt/" + enc(current.id))
        .then(function (r) {
          follow(r.data);
        })
        .catch(function () {
          follow(current); // still unknown: keep Send off and ask again
        });
    }, LOOKUP_EVERY_MS);
  }
  follow(attempt);
}

function changed() {
  state.listeners.forEach(function (listener) {
    listener();
  });
}

/** Whether this text is one being looked up (Send must stay off for it). */
export function isBeingLookedUp(from, to, text) {
  return state.unknown.some(function (u) {
    return u.from === from && u.to === to && u.text === text;
  });
}

/** Called when a lookup starts or ends, so a form can switch Send on or off. */
export function onLookupChange(listener) {
  state.listeners.push(listener);
}
