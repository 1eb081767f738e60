/* The three-tab page: Log, Send, Phones. It only calls the JSON API (docs/api.md).

   The page's only script: loaded with <script type="module">, so it runs once the HTML is
   parsed, and it imports the rest. One module per tab (log.js, send.js, phones.js, and
   sandbox.js for the sandbox's "patient texts" form). The Log opens on the inbox
   (inbox.js: the conversations and the live counts; thread.js: one conversation;
   reply.js: its reply box; patient.js: the patients' names and linking a number). Any message box uses compose.js (counter, errors by field),
   templates.js (the template picker), schedule.js ("Send later", the pending list),
   lookup.js (sends whose outcome is unknown), consent.js (the opted-out banner) and
   quiet.js (the quiet-hours question); send-result.js shows the Send tab's outcome.
   core.js holds what all share (API client, DOM helpers, status words, the account's
   numbers); sms.js the plain helpers for segments and phone numbers; embed.js opens the
   page inside Canvas. This file waits for a session, hides what the user's role does not
   allow, wires the tab bar and starts the tabs. */

import { $, cfg, may, startTokenRenewal } from "./core.js";
import { openEmbed } from "./embed.js";
import * as inbox from "./inbox.js";
import * as log from "./log.js";
import * as phones from "./phones.js";
import * as sandbox from "./sandbox.js";
import * as send from "./send.js";

// ---- what the user's role allows ------------------------------------------------------

/** Remove every control marked data-needs="<permission>" that the role does not allow
    (they stay invisible until this has run: page.css). */
function applyPermissions() {
  Array.prototype.forEach.call(document.querySelectorAll("[data-needs]"), function (node) {
    if (!may(node.getAttribute("data-needs"))) node.remove();
  });
  document.body.classList.add("permissions-applied");
}

// ---- tabs (ARIA tab pattern, automatic activation, roving tabindex) ------------------

function wireTabs() {
  const tabs = Array.prototype.slice.call(document.querySelectorAll('[role="tab"]'));

  function selectTab(tab, focus) {
    tabs.forEach(function (t) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    });
    if (focus) tab.focus();
    if (tab.id === "tab-phones") phones.renderPhones();
    if (tab.id === "tab-log") log.showLogIfStale();
  }

  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () {
      selectTab(tab, false);
    });
    tab.addEventListener("keydown", function (event) {
      let target = null;
      if (event.key === "ArrowRight") target = tabs[(i + 1) % tabs.length];
      else if (event.key === "ArrowLeft") target = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") target = tabs[0];
      else if (event.key === "End") target = tabs[tabs.length - 1];
      if (target) {
        event.preventDefault();
        selectTab(target, true);
      }
    });
  });
}

// ---- start ---------------------------------------------------------------------------

function start() {
  applyPermissions();
  wireTabs();
  log.start();
  inbox.start();
  if (may("smsapp.send_message")) {
    send.start();
    sandbox.start();
  }
  phones.start();
  startTokenRenewal();
  phones.loadPhones().then(log.showLog);
}

(cfg.embed ? openEmbed() : Promise.resolve(true)).then(function (ready) {
  if (ready) start();
});
