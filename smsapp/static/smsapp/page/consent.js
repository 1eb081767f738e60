/* A patient's consent: whether they may be texted from one of our numbers, and the
   banner that says why not while the message box it guards is switched off.

   Exported for every message box (the Send tab, the Log's conversation, the inbox's
   thread and list):
   - consentFor(ours, patient): GET consent/<patient>?from=<ours>, resolves to
     {optedOut, information, since, source};
   - showConsent(banner, state, controls): shows the banner and switches `controls` off
     while `state.optedOut`, hides it and switches them back on otherwise;
   - consentWatcher(banner, controls, onChange): the same, kept in step with the
     patient a box is for;
   - refusedByConsent(err): the state to show after a send answered 409 (an opt-out),
     or null for any other error. */

import { api, clear, el, enc } from "./core.js";

export function consentFor(ours, patient) {
  return api("consent/" + enc(patient) + "?from=" + enc(ours)).then(function (r) {
    return r.data;
  });
}

/** `state`: an answer of consentFor, or null (unknown: nothing is switched off).
    `controls`: the box's textarea and buttons, switched off while the patient is opted
    out and described by the banner. */
export function showConsent(banner, state, controls) {
  const out = Boolean(state && state.optedOut);
  clear(banner);
  banner.hidden = !out;
  if (out) {
    banner.appendChild(el("strong", { cls: "consent-title", text: "Opted out of texts" }));
    banner.appendChild(el("span", { text: state.information }));
  }
  (controls || []).forEach(function (control) {
    control.disabled = out;
    describedBy(control, banner.id, out);
  });
}

/** Add or remove `id` among the element's aria-describedby ids. */
function describedBy(node, id, on) {
  const ids = (node.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
    return x && x !== id;
  });
  if (on) ids.unshift(id);
  if (ids.length) node.setAttribute("aria-describedby", ids.join(" "));
  else node.removeAttribute("aria-describedby");
}

/** Keeps one message box's banner in step with the patient it is for: check(ours,
    patient) asks the server once per pair (an empty one hides the banner), show(ours,
    patient, state) shows what a send learned (a 409). onChange(optedOut) hears of each
    change, e.g. to switch Send off with the box's other reasons. */
export function consentWatcher(banner, controls, onChange) {
  let shown = "";
  function show(key, state) {
    shown = key;
    showConsent(banner, state, controls);
    if (onChange) onChange(Boolean(state && state.optedOut));
  }
  return {
    check: function (ours, patient) {
      const key = ours && patient ? ours + " " + patient : "";
      if (!key) return show("", null);
      if (key === shown) return;
      shown = key;
      consentFor(ours, patient).then(
        function (state) {
          if (shown === key) show(key, state);
        },
        function () {
          /* no banner; the server refuses a send anyway */
        },
      );
    },
    show: function (ours, patient, state) {
      show(ours + " " + patient, state);
    },
  };
}

export function refusedByConsent(err) {
  if (err.status !== 409 || !err.fields || !err.fields.numberTo) return null;
  return { optedOut: true, information: err.message };
}
