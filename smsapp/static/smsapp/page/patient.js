/* Who a conversation is with, from the patient directory (docs/canvas.md): the names the
   inbox's rows show, and under a thread's title the linked patient's Canvas id, or the way
   to link the number to a patient's chart.

   A conversations/<our_number> item carries `name` and `patientId` (the patient the
   number is linked to, or null) and `patients` (every chart that lists it). A number
   several charts share (a parent's phone) is linked to none until staff choose one:
   "This is <name>" for each. A number no chart lists can be linked, in one click, to the
   chart the page was opened from (`session.patient`). POST conversation/<our>/<them>/patient
   links, DELETE undoes a link staff made; both answer the new {name, patientId, patients}. */

import { api, cfg, clear, el, enc, say } from "./core.js";
import { formatNumber } from "./sms.js";

const LINK_PERMISSION = "smsapp.add_numberlink";

/** The chart the page was opened from, {id, name}, or null (signed in with a cookie). */
export function chartPatient() {
  const patient = cfg.session && cfg.session.patient;
  return patient && patient.id ? patient : null;
}

/** A number several charts list, which staff have not linked to one of them yet. */
export function isShared(item) {
  return Boolean(item && !item.patientId && item.patients && item.patients.length > 1);
}

/** What a row of the list says: `who`, the patient's name (the names of a shared
    number's patients) or the number; `sub`, the number under a name; `shared`. */
export function rowLabel(item) {
  const number = formatNumber(item.counterpart);
  if (isShared(item)) {
    const names = item.patients.map(function (p) {
      return p.name || "Patient " + p.id;
    });
    return { who: names.join(" · "), sub: number, shared: true };
  }
  if (item.name) return { who: item.name, sub: number, shared: false };
  return { who: number, sub: "", shared: false };
}

/** The thread's title: the linked patient's name, else the number. */
export function threadTitle(item, counterpart) {
  return (item && item.name) || formatNumber(counterpart);
}

// ---- the thread's header ------------------------------------------------------------------

/** Whether the role may link numbers (the route refuses others anyway). */
function mayLink() {
  const may = (cfg.session && cfg.session.may) || {};
  return Boolean(may[LINK_PERMISSION]);
}

/** Whether staff made the number's link, so "Unlink" can undo it (a chart's own link
    is changed in Canvas). */
function staffLinked(item) {
  return Boolean(item.staffLink);
}

/** A controller for one thread header: `box` (shown when it has something to say),
    `info` (redrawn from the item), `status` (the outcome of the last action).
    `onChange(item)` hears of a link made or undone, with the new item. */
export function patientHeader(box, info, status, onChange) {
  // `seq` counts openings, so an answer for a conversation no longer shown is dropped.
  const current = { our: "", item: null, busy: false, seq: 0 };

  function visible() {
    box.hidden = !info.firstChild && status.hidden;
  }

  function render() {
    clear(info);
    const item = current.item;
    if (item) info.append.apply(info, parts(item));
    visible();
  }

  function parts(item) {
    if (item.patientId) {
      const line = el("p", { cls: "patient-line" }, [
        el("span", { cls: "patient-number", text: formatNumber(item.counterpart) }),
        el("span", { cls: "patient-id", text: "Canvas id " + item.patientId }),
      ]);
      if (mayLink() && staffLinked(item)) {
        const label = "Unlink " + formatNumber(item.counterpart) + " from " + (item.name || "this patient");
        line.appendChild(button("Unlink", "link-button patient-unlink", label, unlink));
      }
      return [line];
    }
    if (!mayLink()) return [];
    if (isShared(item)) {
      const names = item.patients.map(function (p) {
        return p.name || "Patient " + p.id;
      });
      return [
        el("p", {
          cls: "patient-line",
          text: "Shared number: the charts of " + names.join(" and ") + " list it. Who is texting?",
        }),
        el(
          "div",
          { cls: "patient-choices", attrs: { role: "group", "aria-label": "Link this number to one patient" } },
          item.patients.map(function (p, i) {
            return button("This is " + names[i], "secondary small", "", function () {
              link(p.id, names[i]);
            });
          }),
        ),
      ];
    }
    const chart = chartPatient();
    if (chart && !(item.patients || []).length) {
      const name = chart.name || "this chart’s patient";
      return [
        el("p", { cls: "patient-line" }, [
          el("span", { cls: "patient-unknown", text: "No chart lists this number." }),
          button("Link to " + name, "secondary small", "", function () {
            link(chart.id, name);
          }),
        ]),
      ];
    }
    return [];
  }

  function button(text, cls, label, onClick) {
    const node = el("button", { cls: cls, text: text, attrs: { type: "button", "aria-label": label || null } });
    node.disabled = current.busy;
    node.addEventListener("click", onClick);
    return node;
  }

  /** Run the request with every button of the header switched off; then redraw with the
      answer and hand the keyboard's focus to what took the button's place. */
  function act(method, body, doing, done) {
    const seq = current.seq;
    const item = current.item;
    current.busy = true;
    box.setAttribute("aria-busy", "true");
    Array.prototype.forEach.call(info.querySelectorAll("button"), function (b) {
      b.disabled = true;
    });
    say(status, doing);
    visible();
    const route = "conversation/" + enc(current.our) + "/" + enc(item.counterpart) + "/patient";
    return api(route, method, body)
      .then(
        function (r) {
          if (seq !== current.seq) return;
          const answer = r.data || {};
          const next = Object.assign({}, item, answer);
          current.item = next;
          say(status, done(next), "ok");
          if (onChange) onChange(next);
        },
        function (err) {
          if (seq !== current.seq) return;
          say(status, err.message, "error");
        },
      )
      .then(function () {
        if (seq !== current.seq) return;
        current.busy = false;
        box.removeAttribute("aria-busy");
        const focused = document.activeElement;
        const hadFocus = !focused || focused === document.body || info.contains(focused);
        render();
        if (hadFocus) {
          const next = info.querySelector("button");
          if (next) next.focus();
          else status.focus();
        }
      });
  }

  function link(patientId, name) {
    return act("POST", { patientId: patientId }, "Linking to " + name + "…", function (item) {
      return "Linked to " + (item.name || name) + ".";
    });
  }

  function unlink() {
    const name = current.item.name || "the patient";
    return act("DELETE", undefined, "Unlinking…", function () {
      return "Unlinked from " + name + ".";
    });
  }

  status.tabIndex = -1; // a place for the focus when the header has no button left

  return {
    /** Another conversation: its row of the list (or undefined when there is none). */
    open: function (our, item) {
      current.seq++;
      current.our = our;
      current.item = item || null;
      current.busy = false;
      box.removeAttribute("aria-busy");
      say(status, "");
      render();
    },
    /** The list has a newer row for the conversation shown. */
    update: function (item) {
      if (!item || current.busy) return;
      if (current.item && item.counterpart !== current.item.counterpart) return;
      current.item = item;
      render();
    },
    item: function () {
      return current.item;
    },
  };
}
