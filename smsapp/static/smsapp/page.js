/* The three-tab page: Log, Send, Phones. It only calls the JSON API (see README, "Routes").

   Safety: every value that came from Twilio or a patient (bodies, numbers, names, error
   messages) reaches the DOM through textContent or attributes set by createElement, never
   through innerHTML. The server passes its facts in <script id="sms-config"
   type="application/json">, so no inline script is needed and the CSP can forbid it. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("sms-config").textContent);
  var T = window.SmsText;
  var PAGE_SIZE = 30;
  var POLL_EVERY_MS = 2500;
  var POLL_FOR_MS = 3 * 60 * 1000; // after that, the Log shows later changes
  var FINAL = ["delivered", "read", "failed", "undelivered", "canceled"];

  // ---- small DOM helpers -------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  /** createElement with a class, text and attributes; children appended in order. */
  function el(tag, opts, children) {
    var node = document.createElement(tag);
    opts = opts || {};
    if (opts.cls) node.className = opts.cls;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.attrs) {
      Object.keys(opts.attrs).forEach(function (k) {
        if (opts.attrs[k] !== undefined && opts.attrs[k] !== null) node.setAttribute(k, opts.attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /** A status line: `kind` is "" (neutral), "error" or "ok"; empty text hides it. */
  function say(node, text, kind) {
    node.textContent = text || "";
    node.hidden = !text;
    node.classList.toggle("is-error", kind === "error");
    node.classList.toggle("is-ok", kind === "ok");
  }

  function fieldError(input, errorNode, text) {
    say(errorNode, text, "error");
    if (input) {
      if (text) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  // ---- words for statuses, errors and dates ------------------------------------------

  var STATUS = {
    accepted: ["Accepted", "pending"],
    scheduled: ["Scheduled", "pending"],
    queued: ["Queued", "pending"],
    sending: ["Sending", "pending"],
    sent: ["Sent", "sent"],
    delivered: ["Delivered", "ok"],
    read: ["Read", "read"],
    failed: ["Failed", "bad"],
    undelivered: ["Undelivered", "bad"],
    canceled: ["Canceled", "pending"],
    partially_delivered: ["Partly delivered", "warn"],
    receiving: ["Receiving", "in"],
    received: ["Received", "in"],
  };

  // Twilio's most common delivery errors, in words, for when the mirror has only the code.
  var ERROR_WORDS = {
    21610: "The recipient replied STOP; they must text START before you can message them.",
    21211: "The To number is not a valid phone number.",
    21408: "Texting this country is not enabled on the Twilio account.",
    21614: "The To number cannot receive texts (it is probably a landline).",
    30003: "The recipient's phone is switched off or out of reach.",
    30004: "The message was blocked (the recipient may have blocked this number).",
    30005: "The recipient's number does not exist or is no longer in service.",
    30006: "The number is a landline or its carrier cannot receive texts.",
    30007: "The carrier filtered the message as spam.",
    30008: "The carrier reported an unknown error; try again later.",
    30032: "The toll-free number is not verified for texting.",
    30034: "The sending number is not registered for US texting (A2P 10DLC).",
  };

  function errorInWords(code, message) {
    if (message) return code ? message + " (Twilio error " + code + ")" : message;
    if (code && ERROR_WORDS[code]) return ERROR_WORDS[code] + " (Twilio error " + code + ")";
    if (code) return "Twilio error " + code + ".";
    return "";
  }

  function chip(status, reason) {
    var known = STATUS[status] || [status ? status.replace(/[_-]/g, " ") : "Unknown", "pending"];
    var node = el("span", { cls: "chip chip-" + known[1], text: known[0], attrs: { "data-status": status } });
    if (reason) node.title = reason;
    return node;
  }

  var shortDate = new Intl.DateTimeFormat(undefined, {
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
  });
  var longDate = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  function when(iso) {
    if (!iso) return null;
    var d = new Date(iso);
    return isNaN(d) ? null : d;
  }

  function timeNode(iso, fallback) {
    var d = when(iso);
    if (!d) return el("span", { cls: "when", text: fallback || "not yet" });
    return el("time", { cls: "when", text: shortDate.format(d), attrs: { datetime: iso, title: longDate.format(d) } });
  }

  // ---- the API -----------------------------------------------------------------------

  function ApiError(message, status, fields) {
    this.message = message;
    this.status = status;
    this.fields = fields || {};
  }

  var token = cfg.apiToken || "";

  /** Seconds until a JWT expires, or null when the token is not a readable JWT. */
  function secondsLeft(jwt) {
    try {
      var part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (part.length % 4) part += "=";
      return JSON.parse(atob(part)).exp - Date.now() / 1000;
    } catch (e) {
      return null;
    }
  }

  var renewTimer = null;
  function scheduleRenewal(seconds) {
    if (!token || !cfg.apiTokenRenewUrl) return;
    clearTimeout(renewTimer);
    // Renew at 80 % of the lifetime; unknown lifetimes are renewed every four minutes.
    var wait = seconds === null || seconds === undefined ? 240 : Math.max(5, seconds * 0.8);
    renewTimer = setTimeout(renewToken, wait * 1000);
  }

  function renewToken() {
    if (!token || !cfg.apiTokenRenewUrl) return Promise.resolve(false);
    return fetch(cfg.apiTokenRenewUrl, {
      method: "POST",
      credentials: "omit",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: "{}",
    })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (data) {
        if (!data || !data.token) return false;
        token = data.token;
        scheduleRenewal(data.expiresIn);
        return true;
      })
      .catch(function () {
        return false;
      });
  }

  function request(url, method, body, asBlob, retried) {
    var headers = { Accept: "application/json" };
    var init = { method: method, headers: headers, credentials: token ? "omit" : "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (token) headers.Authorization = "Bearer " + token;
    else if (method !== "GET" && cfg.csrfToken) headers["X-CSRFToken"] = cfg.csrfToken;

    return fetch(url, init)
      .catch(function () {
        throw new ApiError("Could not reach the server; check the connection and try again.", 0);
      })
      .then(function (res) {
        if (res.status === 401 && token && !retried) {
          return renewToken().then(function (renewed) {
            if (renewed) return request(url, method, body, asBlob, true);
            throw new ApiError("Your session in Canvas has ended; reopen this page from the chart.", 401);
          });
        }
        if (res.ok && asBlob) return res.blob();
        return res.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          if (!res.ok) {
            var info = data && data.information;
            if (!info && res.status === 401) info = "You are signed out; reload the page to sign in again.";
            if (!info) info = "The server answered with an error (HTTP " + res.status + "); try again.";
            throw new ApiError(info, res.status, data && data.fields);
          }
          return { data: data, next: res.headers.get("X-Next-Page") };
        });
      });
  }

  function api(path, method, body) {
    return request(cfg.apiBase + path, method || "GET", body);
  }

  function enc(value) {
    return encodeURIComponent(value);
  }

  // ---- tabs (ARIA tab pattern, automatic activation, roving tabindex) ----------------

  var tabs = Array.prototype.slice.call(document.querySelectorAll('[role="tab"]'));

  function selectTab(tab, focus) {
    tabs.forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    });
    if (focus) tab.focus();
    if (tab.id === "tab-phones") renderPhones();
    if (tab.id === "tab-log" && log.stale) {
      log.stale = false;
      showLog();
    }
  }

  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () {
      selectTab(tab, false);
    });
    tab.addEventListener("keydown", function (event) {
      var target = null;
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

  // ---- the account's numbers (shared by the three tabs) ------------------------------

  var phones = null; // null until loaded
  var phonesError = "";

  var syncedOnce = false;

  function loadPhones() {
    say($("phones-state"), "Loading numbers…");
    return api("phone_list")
      .then(function (r) {
        phones = r.data || [];
        phonesError = "";
        // A new install (or the sandbox) has an empty mirror: copy the account once.
        if (!phones.length && !syncedOnce) return syncFromTwilio(false);
      })
      .catch(function (err) {
        phones = [];
        phonesError = err.message;
      })
      .then(function () {
        fillNumberSelects();
        renderPhones();
        document.body.setAttribute("data-phones", "loaded");
      });
  }

  /** POST sync: the mirror catches up with Twilio (numbers, then new messages). */
  function syncFromTwilio(reload) {
    syncedOnce = true;
    var button = $("phones-sync");
    button.disabled = true;
    say($("phones-state"), "Copying the account’s numbers and messages from Twilio…");
    return api("sync", "POST", {})
      .then(function (r) {
        var d = r.data;
        return api("phone_list").then(function (again) {
          phones = again.data || [];
          phonesError = "";
          if (reload) {
            fillNumberSelects();
            renderPhones();
            showLog();
          }
          say($("phones-state"), "Synced: " + d.phones.created + " new numbers, " + d.messages.created + " new and " + d.messages.updated + " updated messages.");
        });
      })
      .catch(function (err) {
        phonesError = err.message;
      })
      .then(function () {
        button.disabled = false;
      });
  }

  function phoneLabel(p) {
    return T.formatNumber(p.phoneNumber) + (p.label && p.label !== p.phoneNumber ? " · " + p.label : "");
  }

  function fillNumberSelects() {
    var logSelect = $("log-number");
    var fromSelect = $("send-from");
    var keepLog = logSelect.value;
    var keepFrom = fromSelect.value;
    clear(logSelect);
    clear(fromSelect);
    phones.forEach(function (p) {
      logSelect.appendChild(el("option", { text: phoneLabel(p), attrs: { value: p.phoneNumber } }));
      if (p.capabilities && p.capabilities.sms) {
        var text = phoneLabel(p) + (p.capabilities.mms ? " · MMS" : "");
        fromSelect.appendChild(el("option", { text: text, attrs: { value: p.phoneNumber, "data-sid": p.sid } }));
      }
    });
    if (!phones.length) {
      logSelect.appendChild(el("option", { text: "No numbers", attrs: { value: "" } }));
    }
    if (!fromSelect.options.length) {
      fromSelect.appendChild(el("option", { text: "No number can send SMS", attrs: { value: "" } }));
    }
    if (keepLog) logSelect.value = keepLog;
    if (keepFrom) fromSelect.value = keepFrom;
    if (!logSelect.value && logSelect.options.length) logSelect.selectedIndex = 0;
    if (!fromSelect.value && fromSelect.options.length) fromSelect.selectedIndex = 0;
  }

  function noNumbersSentence() {
    if (phonesError) return phonesError;
    return "No numbers in the mirror yet. Press “Sync with Twilio” (or run manage.py sync_twilio) to copy the account’s numbers.";
  }

  // ---- Log ---------------------------------------------------------------------------

  var log = { items: [], next: null, seq: 0, view: "from", number: "", counterpart: "", selected: null, stale: false };

  function logUrl() {
    if (log.view === "conversation") {
      return "conversation/" + enc(log.number) + "/" + enc(log.counterpart) + "?limit=" + PAGE_SIZE;
    }
    return "message_list/" + enc(log.number) + "/" + log.view + "?limit=" + PAGE_SIZE;
  }

  function emptySentence() {
    var ours = T.formatNumber(log.number);
    if (log.view === "conversation") {
      return "No messages with " + T.formatNumber(log.counterpart) + " yet. Send the first one from Send.";
    }
    if (log.view === "from") return "Nothing sent from " + ours + " yet. Send the first one from Send.";
    return "Nothing received by " + ours + " yet. Messages patients send to it appear here.";
  }

  function showLog() {
    log.number = $("log-number").value;
    log.view = $("log-view").value;
    $("log-counterpart-field").hidden = log.view !== "conversation";
    var seq = ++log.seq;
    log.items = [];
    log.next = null;
    clear($("log-list"));
    $("log-older").hidden = true;
    $("log-older-top").hidden = true;
    $("log-list").classList.toggle("conversation", log.view === "conversation");
    if (!log.number) {
      say($("log-state"), phones === null ? "Loading…" : noNumbersSentence(), phonesError ? "error" : "");
      return;
    }
    if (log.view === "conversation") {
      var problem = T.e164Problem($("log-counterpart").value);
      if (problem) {
        var typed = $("log-counterpart").value.trim();
        fieldError($("log-counterpart"), $("log-counterpart-error"), typed ? problem : "");
        say($("log-state"), "Enter the other person’s number to see your conversation with them.");
        return;
      }
      fieldError($("log-counterpart"), $("log-counterpart-error"), "");
      log.counterpart = T.compactNumber($("log-counterpart").value);
    }
    say($("log-state"), "Loading messages…");
    api(logUrl())
      .then(function (r) {
        if (seq !== log.seq) return; // the user changed the selection meanwhile
        addPage(r.data || [], r.next, false);
      })
      .catch(function (err) {
        if (seq !== log.seq) return;
        say($("log-state"), err.message, "error");
      });
  }

  function loadOlder() {
    if (!log.next) return;
    var seq = log.seq;
    var buttons = [$("log-older"), $("log-older-top")];
    buttons.forEach(function (b) {
      b.disabled = true;
      b.textContent = "Loading older messages…";
    });
    request(log.next, "GET")
      .then(function (r) {
        if (seq !== log.seq) return;
        addPage(r.data || [], r.next, true);
      })
      .catch(function (err) {
        if (seq === log.seq) say($("log-state"), err.message, "error");
      })
      .then(function () {
        buttons.forEach(function (b) {
          b.disabled = false;
          b.textContent = "Load older messages";
        });
      });
  }

  /** Add one page. Sent/received lists run newest first (older pages go below); the
      conversation runs oldest first like a phone (older pages go above). */
  function addPage(items, next, older) {
    var list = $("log-list");
    var conversation = log.view === "conversation";
    log.next = next || null;
    if (conversation && older) {
      var first = list.firstChild;
      items.forEach(function (m) {
        list.insertBefore(renderItem(m), first);
      });
      log.items = items.concat(log.items);
    } else {
      items.forEach(function (m) {
        list.appendChild(renderItem(m));
      });
      log.items = log.items.concat(items);
    }
    $("log-older").hidden = conversation || !log.next;
    $("log-older-top").hidden = !conversation || !log.next;
    if (!log.items.length) say($("log-state"), emptySentence());
    else say($("log-state"), "");
    if (conversation && !older && items.length) {
      list.lastChild.scrollIntoView({ block: "nearest" });
    }
  }

  function isOurs(m) {
    return String(m.direction || "").indexOf("outbound") === 0;
  }

  function renderItem(m) {
    var conversation = log.view === "conversation";
    var ours = isOurs(m);
    var counterpart = ours ? m.to : m.from;
    var reason = errorInWords(m.errorCode, m.errorMessage);
    var preview = m.body ? m.body : m.mediaCount ? "" : "(no text)";
    // Words, not an emoji: the pane must read the same where no emoji font is installed.
    var media = m.mediaCount ? el("span", { cls: "media-count", text: plural(m.mediaCount, "attachment", "attachments") }) : null;

    var button;
    if (conversation) {
      var thumbs = m.mediaCount ? el("span", { cls: "thumbs" }) : null;
      button = el("button", { cls: "bubble", attrs: { type: "button", "data-sid": m.sid } }, [
        thumbs,
        preview ? el("span", { cls: "bubble-text", text: preview }) : null,
        el("span", { cls: "meta" }, [timeNode(m.created), " ", chip(m.status, reason), media ? " " : null, media]),
      ]);
      if (thumbs) addThumbnails(m.sid, thumbs);
    } else {
      button = el("button", { cls: "msg-row", attrs: { type: "button", "data-sid": m.sid } }, [
        el("span", { cls: "row-top" }, [
          el("span", { cls: "who", text: (ours ? "To " : "From ") + T.formatNumber(counterpart) }),
          timeNode(m.created),
        ]),
        el("span", { cls: "row-bottom" }, [chip(m.status, reason), media, el("span", { cls: "preview", text: preview })]),
      ]);
    }
    button.setAttribute("aria-pressed", log.selected === m.sid ? "true" : "false");
    button.addEventListener("click", function () {
      openDetail(m.sid);
    });
    return el("li", { cls: conversation ? (ours ? "out" : "in") : "", attrs: { "data-sid": m.sid } }, [button]);
  }

  /** Pictures of an MMS as small thumbnails in its bubble, like a phone's messaging app
      (the list gives only a count, so the message's media list is read once). Selecting
      the bubble shows them full size in the detail. */
  function addThumbnails(sid, holder) {
    api("message/" + enc(sid))
      .then(function (r) {
        (r.data.media || []).forEach(function (item, i, all) {
          if (String(item.contentType || "").indexOf("image/") !== 0) return;
          var img = el("img", { cls: "thumb-sm", attrs: { alt: "Image " + (i + 1) + " of " + all.length, loading: "lazy" } });
          setSource(item.url, function (src) {
            img.src = src;
          });
          holder.appendChild(img);
        });
      })
      .catch(function () {
        /* the bubble still says how many attachments there are */
      });
  }

  // ---- message detail ----------------------------------------------------------------

  var detailSeq = 0;

  function markSelected(sid) {
    log.selected = sid;
    Array.prototype.forEach.call($("log-list").querySelectorAll("button[data-sid]"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-sid") === sid ? "true" : "false");
    });
  }

  function openDetail(sid) {
    var seq = ++detailSeq;
    markSelected(sid);
    var panel = $("log-detail");
    panel.hidden = false;
    clear($("detail-body"));
    $("detail-delete").hidden = true;
    say($("detail-state"), "Loading the message…");
    panel.focus({ preventScroll: true });
    panel.scrollIntoView({ block: "nearest" });
    api("message/" + enc(sid))
      .then(function (r) {
        if (seq !== detailSeq) return;
        say($("detail-state"), "");
        renderDetail(r.data);
      })
      .catch(function (err) {
        if (seq === detailSeq) say($("detail-state"), err.message, "error");
      });
  }

  function fact(dl, term, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", { text: term }));
    dl.appendChild(typeof value === "object" ? el("dd", {}, [value]) : el("dd", { text: value }));
  }

  function renderDetail(m) {
    var body = $("detail-body");
    var ours = isOurs(m);
    var reason = errorInWords(m.error_code, m.error_message);
    var dl = el("dl", { cls: "facts" });
    fact(dl, "Status", chip(m.status, reason));
    if (reason) fact(dl, "Why", el("span", { cls: "reason", text: reason }));
    fact(dl, "From", T.formatNumber(m.from));
    fact(dl, "To", T.formatNumber(m.to));
    fact(dl, "Direction", ours ? "Sent by us" : "Received");
    fact(dl, "Created", m.created ? timeNode(m.created) : "");
    var never = FINAL.indexOf(m.status) !== -1;
    fact(dl, "Sent", m.sent ? timeNode(m.sent) : ours ? (never ? "never" : "not yet") : "");
    fact(dl, "Segments", m.num_segments);
    if (m.price) fact(dl, "Price", m.price + " " + (m.price_unit || ""));
    fact(dl, "SID", el("code", { text: m.sid }));

    body.appendChild(el("p", { cls: "message-body", text: m.body || "(no text)" }));
    var media = m.media || [];
    if (media.length) {
      body.appendChild(el("h3", { text: plural(media.length, "attachment", "attachments") }));
      var gallery = el("ul", { cls: "gallery" });
      media.forEach(function (item, i) {
        gallery.appendChild(el("li", {}, [mediaNode(item, i, media.length)]));
      });
      body.appendChild(gallery);
    } else if (m.num_media > 0) {
      body.appendChild(el("p", { cls: "hint", text: "Twilio reports " + plural(m.num_media, "attachment", "attachments") + " that this app has not fetched yet." }));
    }
    body.appendChild(dl);

    var del = $("detail-delete");
    del.hidden = false;
    del.disabled = false;
    del.setAttribute("data-sid", m.sid);
  }

  /** One media item: images as images (opening full size), video and audio with players,
      anything else as a download link. With a Canvas token there are no cookies, so the
      bytes are fetched with the token and shown from a blob: URL. */
  function mediaNode(item, index, count) {
    var type = String(item.contentType || "").toLowerCase();
    var what = "Attachment " + (index + 1) + " of " + count + " (" + (type || "unknown type") + ")";
    var node;
    if (type.indexOf("image/") === 0) {
      var img = el("img", { attrs: { alt: "Image: " + what, loading: "lazy" } });
      node = el("a", { cls: "thumb", attrs: { target: "_blank", rel: "noopener" } }, [img]);
      setSource(item.url, function (src) {
        img.src = src;
        node.href = src;
      });
    } else if (type.indexOf("video/") === 0 || type.indexOf("audio/") === 0) {
      node = el(type.indexOf("video/") === 0 ? "video" : "audio", { attrs: { controls: "", preload: "metadata", "aria-label": what } });
      setSource(item.url, function (src) {
        node.src = src;
      });
    } else {
      node = el("a", { cls: "download", text: "Download " + what, attrs: { download: item.sid || "" } });
      setSource(item.url, function (src) {
        node.href = src;
      });
    }
    return node;
  }

  function setSource(url, apply) {
    if (!token) return apply(url);
    request(url, "GET", undefined, true)
      .then(function (blob) {
        apply(URL.createObjectURL(blob));
      })
      .catch(function () {
        /* the item stays without a source; its label still says what it was */
      });
  }

  function deleteSelected() {
    var button = $("detail-delete");
    var sid = button.getAttribute("data-sid");
    if (!sid) return;
    if (!window.confirm("Delete this message from Twilio and from this log? This cannot be undone.")) {
      say($("detail-state"), "Not deleted.");
      return;
    }
    button.disabled = true;
    say($("detail-state"), "Deleting…");
    api("message_delete/" + enc(sid), "DELETE")
      .then(function () {
        log.items = log.items.filter(function (m) {
          return m.sid !== sid;
        });
        var row = $("log-list").querySelector('li[data-sid="' + CSS.escape(sid) + '"]');
        if (row) row.parentNode.removeChild(row);
        clear($("detail-body"));
        button.hidden = true;
        say($("detail-state"), "Deleted message " + sid + " from Twilio and from this log.", "ok");
        if (!log.items.length) say($("log-state"), emptySentence());
      })
      .catch(function (err) {
        button.disabled = false;
        say($("detail-state"), "Not deleted: " + err.message, "error");
      });
  }

  function closeDetail() {
    detailSeq++;
    $("log-detail").hidden = true;
    var sid = log.selected;
    markSelected(null);
    var row = sid && $("log-list").querySelector('button[data-sid="' + CSS.escape(sid) + '"]');
    if (row) row.focus();
  }

  // ---- Send --------------------------------------------------------------------------

  var toTouched = false;

  function updateCounter() {
    var text = $("send-text").value;
    var c = T.countSegments(text);
    var mediaCount = mediaUrls().length;
    var words = plural(c.units, c.encoding === "GSM-7" ? "character" : "character", "characters") + " · " + plural(c.segments, "segment", "segments");
    if (c.encoding === "UCS-2") {
      words += " · Unicode (" + c.perSegment + " per segment): “" + c.offender + "” is not in the GSM-7 set";
    } else if (c.segments > 1) {
      words += " (" + c.perSegment + " per segment)";
    }
    if (mediaCount) words += " · sent as MMS";
    var counter = $("send-counter");
    counter.textContent = words;
    counter.setAttribute("data-segments", String(c.segments));
    counter.setAttribute("data-encoding", c.encoding);
    counter.classList.toggle("is-costly", c.segments > 1 || c.encoding === "UCS-2");
  }

  function checkTo(force) {
    var input = $("send-to");
    if (!force && !toTouched) return true;
    var problem = T.e164Problem(input.value);
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

  var mediaRowId = 0;
  function addMediaRow(value) {
    if (mediaInputs().length >= 10) return;
    var id = "send-media-" + ++mediaRowId;
    var input = el("input", { attrs: { id: id, type: "url", inputmode: "url", placeholder: "https://…/picture.jpg", autocomplete: "off" } });
    input.value = value || "";
    input.addEventListener("input", updateCounter);
    var remove = el("button", { cls: "link-button", text: "Remove", attrs: { type: "button" } });
    var row = el("li", {}, [el("label", { cls: "visually-hidden", text: "Media URL", attrs: { for: id } }), input, remove]);
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
    var rows = $("send-media").querySelectorAll("label");
    Array.prototype.forEach.call(rows, function (label, i) {
      label.textContent = "Media URL " + (i + 1);
    });
    var full = mediaInputs().length >= 10;
    $("send-media-add").disabled = full;
    $("send-media-add").textContent = full ? "10 media URLs is Twilio’s limit" : "Add a media URL";
  }

  var SEND_FIELDS = {
    numberFrom: ["send-from", "send-from-error"],
    numberFromSid: ["send-from", "send-from-error"],
    numberTo: ["send-to", "send-to-error"],
    text: ["send-text", "send-text-error"],
    callbackUrl: ["send-callback", "send-callback-error"],
    mediaUrls: [null, "send-media-error"],
  };

  function clearSendErrors() {
    Object.keys(SEND_FIELDS).forEach(function (k) {
      var ids = SEND_FIELDS[k];
      fieldError(ids[0] && $(ids[0]), $(ids[1]), "");
    });
    say($("send-error"), "");
  }

  /** Show each error by the field it names; what the user typed stays where it was. */
  function showSendErrors(fields, information) {
    var firstInput = null;
    var unplaced = [];
    Object.keys(fields || {}).forEach(function (key) {
      var base = key.indexOf("mediaUrls") === 0 ? "mediaUrls" : key;
      var ids = SEND_FIELDS[base];
      if (!ids) {
        unplaced.push(fields[key]);
        return;
      }
      var input = ids[0] ? $(ids[0]) : mediaInputs()[0];
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
    var from = $("send-from");
    var fields = {};
    if (!from.value) fields.numberFrom = "Choose the number to send from; it must be able to send SMS.";
    var toProblem = T.e164Problem($("send-to").value);
    if (toProblem) fields.numberTo = toProblem;
    var text = $("send-text").value;
    var media = mediaUrls();
    if (!text.trim() && !media.length) fields.text = "Write a message (or add a media URL).";
    media.forEach(function (u) {
      if (!/^https:\/\/\S+$/i.test(u)) fields.mediaUrls = "Each media URL must be a full https address, such as https://example.org/photo.jpg: Twilio fetches it over the internet.";
    });
    if (Object.keys(fields).length) {
      toTouched = true;
      showSendErrors(fields);
      return;
    }

    var option = from.options[from.selectedIndex];
    var callback = $("send-callback").value.trim();
    // Unchanged from the prefilled default: send "" so the server uses its own webhook.
    // The API accepts only https callbacks from callers, while our own address may be
    // http (the offline sandbox, a developer's machine).
    if (callback === cfg.statusCallbackUrl) callback = "";
    var payload = {
      numberFrom: from.value,
      numberFromSid: option ? option.getAttribute("data-sid") : "",
      numberTo: T.compactNumber($("send-to").value),
      callbackUrl: callback,
      text: text,
      mediaUrls: media,
    };
    var submit = $("send-submit");
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
        log.stale = true; // the Log shows the new message when it is opened again
      })
      .catch(function (err) {
        showSendErrors(err.fields, err.message);
      })
      .then(function () {
        submit.disabled = false;
        submit.textContent = "Send";
      });
  }

  var pollSeq = 0;

  function showSent(m) {
    $("send-result").hidden = false;
    $("send-result-title").textContent = "Sent to " + T.formatNumber(m.to || "");
    $("send-result-sid").textContent = m.sid || "";
    pollSeq++;
    updateSent(m, Date.now(), pollSeq);
  }

  function updateSent(m, started, seq) {
    if (seq !== pollSeq) return;
    var reason = errorInWords(m.error_code, m.error_message);
    var status = $("send-result-status");
    clear(status);
    status.appendChild(chip(m.status, reason));
    var note = $("send-result-note");
    if (m.status === "delivered" || m.status === "read") {
      say(note, "Delivered to " + T.formatNumber(m.to) + ".", "ok");
      return;
    }
    if (FINAL.indexOf(m.status) !== -1) {
      say(note, "Not delivered: " + (reason || "Twilio gave no reason.") , "error");
      return;
    }
    if (Date.now() - started > POLL_FOR_MS) {
      say(note, "Stopped checking after 3 minutes; the Log shows the status when Twilio reports it.");
      return;
    }
    say(note, "Waiting for the carrier to confirm delivery…");
    setTimeout(function () {
      if (seq !== pollSeq) return;
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

  // ---- Phones ------------------------------------------------------------------------

  var PHONE_STATUS = { "in-use": ["In use", "ok"] };

  function renderPhones() {
    var list = $("phones-list");
    if (phones === null) return;
    clear(list);
    if (!phones.length) {
      say($("phones-state"), noNumbersSentence(), phonesError ? "error" : "");
      return;
    }
    say($("phones-state"), "");
    phones.forEach(function (p) {
      list.appendChild(phoneCard(p));
    });
  }

  function phoneCard(p) {
    var caps = p.capabilities || {};
    var capList = el("ul", { cls: "caps", attrs: { "aria-label": "Capabilities" } });
    ["sms", "mms", "voice", "fax"].forEach(function (k) {
      capList.appendChild(el("li", { cls: caps[k] ? "cap cap-on" : "cap cap-off", text: (caps[k] ? "" : "no ") + k.toUpperCase() }));
    });
    var st = PHONE_STATUS[p.status] || [p.status ? p.status.replace(/[-_]/g, " ") : "Status unknown", "pending"];
    var webhook = p.inboundWebhook || {};
    var current = webhook.url
      ? el("p", { cls: "webhook-now" }, [
          "Inbound messages go to ",
          el("code", { text: webhook.url }),
          " (" + (webhook.method || "POST").toUpperCase() + ")",
        ])
      : el("p", { cls: "webhook-now", text: "No inbound webhook: Twilio drops replies to this number." });

    return el("li", { cls: "phone-card", attrs: { "data-sid": p.sid } }, [
      el("div", { cls: "phone-head" }, [
        el("h3", { text: T.formatNumber(p.phoneNumber) }),
        el("span", { cls: "chip chip-" + st[1], text: st[0], attrs: { title: "Twilio status: " + (p.status || "unknown") } }),
        p.pointsHere ? el("span", { cls: "chip chip-sent", text: "Replies come here" }) : null,
      ]),
      p.label && p.label !== p.phoneNumber ? el("p", { cls: "phone-label", text: p.label }) : null,
      capList,
      current,
      webhookForm(p),
    ]);
  }

  /** The number's inbound webhook: URL and method to save, or "Use this app". */
  function webhookForm(p) {
    var webhook = p.inboundWebhook || {};
    var idBase = "phone-" + p.sid;
    var urlInput = el("input", { attrs: { id: idBase + "-url", type: "url", autocomplete: "off", placeholder: "https://…" } });
    urlInput.value = webhook.url || "";
    var methodSelect = el("select", { attrs: { id: idBase + "-method" } }, [
      el("option", { text: "POST", attrs: { value: "POST" } }),
      el("option", { text: "GET", attrs: { value: "GET" } }),
    ]);
    methodSelect.value = (webhook.method || "POST").toUpperCase();
    var urlError = el("p", { cls: "field-error", attrs: { id: idBase + "-url-error" } });
    urlError.hidden = true;
    urlInput.setAttribute("aria-describedby", urlError.id);
    var result = el("p", { cls: "state", attrs: { role: "status" } });
    result.hidden = true;
    var save = el("button", { cls: "secondary", text: "Save webhook", attrs: { type: "submit", "data-action": "save" } });
    var useApp = el("button", { cls: "primary", text: p.pointsHere ? "Use this app again" : "Use this app", attrs: { type: "button", "data-action": "this-app" } });
    var ui = { buttons: [save, useApp], result: result, urlInput: urlInput, urlError: urlError };

    var form = el("form", { cls: "webhook-form", attrs: { novalidate: "" } }, [
      el("div", { cls: "field" }, [el("label", { text: "Inbound webhook URL", attrs: { for: urlInput.id } }), urlInput, urlError]),
      el("div", { cls: "field field-method" }, [el("label", { text: "Method", attrs: { for: methodSelect.id } }), methodSelect]),
      el("div", { cls: "actions" }, [save, useApp]),
      result,
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fieldError(urlInput, urlError, "");
      var url = urlInput.value.trim();
      if (!/^https:\/\/\S+$/i.test(url)) {
        fieldError(urlInput, urlError, "Enter the full https address Twilio should call, such as https://example.org/sms.");
        urlInput.focus();
        return;
      }
      changeWebhook(p, "inbound_webhook/" + enc(p.sid), { url: url, method: methodSelect.value }, "save", ui);
    });
    useApp.addEventListener("click", function () {
      fieldError(urlInput, urlError, "");
      changeWebhook(p, "inbound_webhook/" + enc(p.sid) + "/this_app", {}, "this-app", ui);
    });
    return form;
  }

  /** Change the webhook, then redraw the numbers from phone_list (the mirror now holds
      what Twilio answered) and keep focus on the button that was used. */
  function changeWebhook(p, path, body, action, ui) {
    ui.buttons.forEach(function (b) {
      b.disabled = true;
    });
    say(ui.result, "Saving…");
    api(path, "POST", body)
      .then(function (r) {
        var data = r.data || {};
        var url = data.url || body.url;
        var method = data.method || body.method;
        var done = "Saved: " + T.formatNumber(p.phoneNumber) + " now sends inbound messages to " + url + " (" + method + ").";
        return loadPhones().then(function () {
          var card = $("phones-list").querySelector('li[data-sid="' + CSS.escape(p.sid) + '"]');
          if (!card) return;
          say(card.querySelector('[role="status"]'), done, "ok");
          card.querySelector('[data-action="' + action + '"]').focus();
        });
      })
      .catch(function (err) {
        ui.buttons.forEach(function (b) {
          b.disabled = false;
        });
        if (err.fields && err.fields.url) fieldError(ui.urlInput, ui.urlError, err.fields.url);
        say(ui.result, err.message, "error");
      });
  }

  // ---- sandbox: a patient texts us ----------------------------------------------------

  /** Sandbox mode only: the stand-in for Twilio delivers a patient's text to our real
      inbound webhook (auto-reply included), then the Log opens on that conversation. */
  function simulateInbound(event) {
    event.preventDefault();
    var from = $("simulate-from");
    var body = $("simulate-body");
    var picture = $("simulate-media").checked;
    fieldError(from, $("simulate-from-error"), "");
    fieldError(body, $("simulate-body-error"), "");
    var problem = T.e164Problem(from.value);
    if (problem) {
      fieldError(from, $("simulate-from-error"), problem);
      from.focus();
      return;
    }
    if (!body.value.trim() && !picture) {
      fieldError(body, $("simulate-body-error"), "Type what the patient says (or add a picture).");
      body.focus();
      return;
    }
    if (!$("log-number").value) {
      say($("simulate-state"), noNumbersSentence(), "error");
      return;
    }
    var patient = T.compactNumber(from.value);
    var submit = $("simulate-submit");
    submit.disabled = true;
    say($("simulate-state"), "Delivering…");
    api("sandbox/inbound", "POST", { from: patient, to: $("log-number").value, body: body.value, media: picture ? 1 : 0 })
      .then(function (r) {
        var replies = (r.data && r.data.replies) || [];
        say($("simulate-state"), "Received" + (replies.length ? "; the app answered with " + plural(replies.length, "auto-reply", "auto-replies") + "." : "."), "ok");
        body.value = "";
        $("log-view").value = "conversation";
        $("log-counterpart").value = patient;
        showLog();
      })
      .catch(function (err) {
        var fields = err.fields || {};
        if (fields.from) fieldError(from, $("simulate-from-error"), fields.from);
        if (fields.body) fieldError(body, $("simulate-body-error"), fields.body);
        say($("simulate-state"), err.message, "error");
      })
      .then(function () {
        submit.disabled = false;
      });
  }

  // ---- start -------------------------------------------------------------------------

  $("log-number").addEventListener("change", showLog);
  $("log-view").addEventListener("change", function () {
    $("log-counterpart-field").hidden = $("log-view").value !== "conversation";
    showLog();
    if ($("log-view").value === "conversation" && !$("log-counterpart").value) $("log-counterpart").focus();
  });
  $("log-form").addEventListener("submit", function (event) {
    event.preventDefault();
    showLog();
  });
  $("log-older").addEventListener("click", loadOlder);
  $("log-older-top").addEventListener("click", loadOlder);
  $("detail-close").addEventListener("click", closeDetail);
  $("detail-delete").addEventListener("click", deleteSelected);
  $("log-detail").addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeDetail();
  });

  $("send-form").addEventListener("submit", sendMessage);
  $("send-text").addEventListener("input", function () {
    fieldError($("send-text"), $("send-text-error"), "");
    updateCounter();
  });
  $("send-to").addEventListener("blur", function () {
    if ($("send-to").value.trim()) toTouched = true;
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
  $("phones-reload").addEventListener("click", loadPhones);
  $("phones-sync").addEventListener("click", function () {
    syncFromTwilio(true);
  });
  if ($("simulate-form")) $("simulate-form").addEventListener("submit", simulateInbound);

  $("send-callback").value = cfg.statusCallbackUrl || "";
  if (cfg.patientPhone && !T.e164Problem(cfg.patientPhone)) {
    $("send-to").value = T.compactNumber(cfg.patientPhone);
    $("log-counterpart").value = T.compactNumber(cfg.patientPhone);
    $("log-view").value = "conversation";
  }
  updateCounter();
  renumberMedia();
  if (token) scheduleRenewal(secondsLeft(token));
  loadPhones().then(showLog);
})();
