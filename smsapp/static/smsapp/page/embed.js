/* Opening the page inside Canvas (cfg.embed): the plugin puts the launch token in the URL
   fragment (/embed/#launch=…), which browsers never send to a server nor put in a
   Referer. It is taken out of the address at once and traded, once, for an API token and
   the session's facts (POST cfg.launchUrl).

   For a reload of the pane, the API token is kept in sessionStorage (this tab only, gone
   when it closes). A browser that refuses storage to a frame on another site (as it does
   with third-party cookies blocked) keeps it in the fragment instead (#session=…), which
   a reload keeps and no request carries. A reload renews that token (POST
   cfg.apiTokenRenewUrl), which also answers the session's facts afresh; the used launch
   token is never tried again. A refused launch shows the server's sentences and nothing
   of the app. */

import { $, cfg, clear, el, jwtClaims, secondsLeft, useToken } from "./core.js";

const STORE = "smsapp.embed";

/** What the fragment holds (#launch=… or #session=…), taken out of the address. */
function takeFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(history.state, "", location.pathname + location.search);
  return { launch: (params.get("launch") || "").trim(), session: (params.get("session") || "").trim() };
}

function launchId(token) {
  const claims = token ? jwtClaims(token) : null;
  return claims && claims.jti ? String(claims.jti) : "";
}

/** Keep {token, launchId} for a reload of the pane. */
function keep(kept) {
  try {
    sessionStorage.setItem(STORE, JSON.stringify(kept));
  } catch (e) {
    const fragment = new URLSearchParams({ session: kept.token });
    history.replaceState(history.state, "", location.pathname + location.search + "#" + fragment);
  }
}

function keptSession(fragmentToken) {
  if (fragmentToken) return { token: fragmentToken, launchId: "" };
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || "null");
  } catch (e) {
    return null;
  }
}

function post(url, body, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  return fetch(url, { method: "POST", credentials: "omit", headers: headers, body: JSON.stringify(body) }).then(
    function (res) {
      return res.json().then(function (data) {
        return { ok: res.ok, data: data };
      });
    }
  );
}

/** Show the app for the session the server answered ({token, session}). */
function begin(answer, id) {
  const kept = { token: answer.token, launchId: id };
  keep(kept);
  useToken(kept.token, function (renewed) {
    kept.token = renewed;
    keep(kept);
  });
  cfg.session = answer.session;
  $("embed-state").remove();
  $("app").hidden = false;
  return true;
}

/** The refusal page's sentences, in place of the app (which never loads any data). */
function refuse(headline, advice, reason) {
  const holder = $("embed-state");
  clear(holder);
  holder.appendChild(
    el("div", { cls: "banner banner-error", attrs: { role: "alert", "data-reason": reason || "" } }, [
      el("p", {}, [el("strong", { text: headline })]),
      el("p", { text: advice }),
    ])
  );
  return false;
}

/** Trade the launch token ("" is refused with the right sentence). */
function trade(token) {
  return post(cfg.launchUrl, { launch: token }).then(function (answer) {
    if (!answer.ok) return refuse(answer.data.headline || answer.data.information, answer.data.advice || "", answer.data.reason);
    return begin(answer.data, launchId(token));
  });
}

/** Resolves to true once the page has a session, false when the launch was refused. */
export function openEmbed() {
  const fragment = takeFragment();
  const kept = keptSession(fragment.session);
  const reload =
    kept && kept.token && (!fragment.launch || launchId(fragment.launch) === kept.launchId) && secondsLeft(kept.token) > 0;
  const opened = reload
    ? post(cfg.apiTokenRenewUrl, {}, kept.token).then(function (answer) {
        return answer.ok ? begin(answer.data, kept.launchId) : trade(fragment.launch);
      })
    : trade(fragment.launch);
  return opened.catch(function () {
    return refuse("SMS could not reach its server.", "Check the connection, then open SMS again from the patient’s chart.", "unreachable");
  });
}
