// fenn's console: pages over the management API, with the token kept in
// this tab's session storage. Every value from fenn (names, log lines,
// bodies) is set as text, never as HTML. The panels of a function's page
// are in panels.js, its live log in live.js, the flows' page in flows.js;
// this script, loaded last, routes between the pages.
"use strict";

const TOKEN_KEY = "fenn-token";
const view = document.getElementById("view");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class Unauthorized extends Error {}

// The page's view becomes `children` (a null among them is left out).
function show(...children) {
  view.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

async function api(method, path, body, raw) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  if (body !== undefined && !raw) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new Unauthorized("the token was refused");
  }
  const text = await response.text();
  let answer;
  try { answer = JSON.parse(text); } catch { answer = { error: text }; }
  if (!response.ok) {
    const reasons = (answer.errors || []).filter((e) => e !== answer.error);
    throw new Error([response.status + ": " + (answer.error || "failed"), ...reasons].join("\n"));
  }
  return answer;
}

function statusText(status, code) {
  return el("span", { class: status === "ok" && code < 500 ? "ok" : "bad" }, status + " " + code);
}

// A time as fenn gives it (RFC 3339, UTC), easier to read.
function when(text) {
  return String(text || "").replace("T", " ");
}

function ms(value) {
  return value === undefined || value === null ? "" : Number(value).toFixed(2) + " ms";
}

// Each binding on one line, whatever its trigger: the API's summaries.
function triggerPills(bindings) {
  return (bindings || []).map((b) => el("span", { class: "pill", title: b.kind }, b.summary));
}

// ---- pages -------------------------------------------------------------

async function functionsPage() {
  const [list, status] = await Promise.all([api("GET", "/v1/functions"), api("GET", "/v1/status")]);
  const mqtt = status.mqtt === null ? el("span", { class: "muted" }, "not configured")
    : el("span", { class: status.mqtt.connected ? "ok" : "bad" },
        (status.mqtt.connected ? "connected" : "disconnected") + ", " + status.mqtt.reconnects + " reconnects");
  const rows = list.functions.map((f) => {
    const recent = f.recent || {};
    return el("tr", { class: "clickable", onclick: () => { location.hash = "#/f/" + encodeURIComponent(f.name); } },
      el("td", {}, el("a", { href: "#/f/" + encodeURIComponent(f.name) }, f.name)),
      el("td", {}, f.origin === "config" ? "config file" : "deployed"),
      el("td", {}, f.version ?? ""),
      el("td", {}, triggerPills(f.bindings)),
      el("td", {}, f.not_served ? el("span", { class: "bad" }, "NOT SERVED") : recent.lastStatus ? statusText(recent.lastStatus, recent.lastStatusCode) : ""),
      el("td", {}, ms(recent.p50Ms)),
      el("td", {}, ms(recent.p99Ms)),
      el("td", {}, recent.count ?? 0));
  });
  const fleet = fleetState(status.fleet);
  const schedules = list.functions.flatMap((f) => (f.triggers.cron || []).map((c) =>
    el("tr", {}, el("td", {}, c.name), el("td", {}, f.name), el("td", {}, c.schedule), el("td", {}, when(c.next) || "none"))));
  view.replaceChildren(
    el("h1", {}, "Functions"),
    el("div", { class: "wide" }, el("table", { id: "functions" },
      el("tr", {}, ["Function", "From", "Version", "Triggers", "Last", "p50", "p99", "Recent"].map((h) => el("th", {}, h))),
      rows)),
    el("div", { class: "grid" },
      el("section", { class: "card" }, el("h2", {}, "MQTT link"), el("p", { id: "mqtt-link" }, mqtt)),
      el("section", { class: "card" }, el("h2", {}, "Fleet"), el("div", { id: "fleet" }, fleet)),
      el("section", { class: "card" }, el("h2", {}, "Cron schedules"),
        el("div", { class: "wide" }, el("table", { id: "schedules" },
          el("tr", {}, ["Schedule", "Function", "When", "Next fire"].map((h) => el("th", {}, h))), schedules)))));
}

// The device's fleet state: its deployment, where an apply stands, the
// last deployment refused.
function fleetState(fleet) {
  if (!fleet) return el("p", { class: "muted" }, "not in a fleet");
  const good = fleet.state === "active" || fleet.state === "downloading" || fleet.state === "validating";
  const lines = [
    el("p", {}, fleet.device + " in " + (fleet.groups.join(", ") || "no group") + ": ",
      el("span", { class: good ? "ok" : "bad" }, fleet.state.replace("_", " "))),
    el("p", {}, "deployment " + (fleet.deployment ?? "none") +
      (fleet.target && fleet.target !== fleet.deployment ? ", last tried " + fleet.target : "")),
  ];
  if (fleet.reason) lines.push(el("p", { class: "bad" }, fleet.reason));
  if (fleet.refused) lines.push(el("p", { class: "bad" }, "refused " + when(fleet.refused.at) + ": " + fleet.refused.reason));
  return lines;
}

async function functionPage(name) {
  const mine = shown;
  const f = await api("GET", "/v1/functions/" + encodeURIComponent(name));
  const deployed = f.origin === "deployed";
  const versions = (f.versions || []).map((v) => el("tr", {},
    el("td", {}, v.version + (v.version === f.version ? " (current)" : "")),
    el("td", {}, v.deployed_at || ""),
    el("td", {}, v.size + " bytes"),
    el("td", { class: "muted" }, (v.sha256 || "").slice(0, 16)),
    el("td", {}, v.version === f.version ? "" : el("button", {
      class: "secondary", type: "button", "data-version": v.version,
      onclick: async (event) => {
        event.target.disabled = true;
        try { await api("POST", "/v1/functions/" + encodeURIComponent(name) + "/rollback", { version: v.version }); }
        catch (error) { alert(error.message); }
        route();
      },
    }, "Roll back to " + v.version))));
  const definition = el("section", { class: "card" }, el("h2", {}, "Definition"),
    el("pre", { id: "definition" }, JSON.stringify(f.definition ?? f.triggers, null, 2)),
    deployed ? el("table", { id: "versions" }, el("tr", {}, ["Version", "Deployed", "Size", "SHA-256", ""].map((h) => el("th", {}, h))), versions)
      : el("p", { class: "muted" }, "A function of the config file: change it there."));
  const store = await storePanel(name);
  if (mine !== shown) return;
  show(
    el("h1", {}, name, " ", el("span", { class: "muted" }, deployed ? "version " + f.version : "from the config file")),
    f.not_served ? el("p", { class: "bad" }, "Not served: " + f.not_served) : null,
    el("div", { class: "row" }, triggerPills(f.bindings),
      el("a", { href: "#/history?" + new URLSearchParams({ function: name }) }, "Its history")),
    el("div", { class: "grid" }, testPanel(name, f.triggers), liveLog(name)),
    deployed ? el("div", { class: "grid" }, definition, uploadPanel(name, f.definition)) : definition,
    store);
}

// The detail of invocation `id`, with its log lines.
async function invocationDetail(id) {
  const full = await api("GET", "/v1/invocations/" + id);
  return el("section", { class: "card" },
    el("h2", {}, "Invocation " + full.id),
    el("p", {}, full.function + " v" + full.version + ", " + full.trigger + " " + full.method + " " + full.source + ": ",
      statusText(full.status, full.statusCode), ", " + ms(full.durationMs) + ", fuel " + full.fuelUsed + ", peak memory " + full.peakMemory + " bytes"),
    full.error || full.logs.length ? logLines(full) : el("p", { class: "muted" }, "No log lines."));
}

// The invocations that match `filter`, newest first; the one clicked is
// shown beside them (below on a narrow screen, scrolled to).
async function historyTable(filter) {
  const query = new URLSearchParams({ limit: "100", ...filter });
  const answer = await api("GET", "/v1/invocations?" + query);
  const detail = el("aside", { id: "invocation-detail" },
    el("p", { class: "muted" }, answer.invocations.length ? "Click an invocation to see its log lines." : ""));
  const table = el("table", { id: "history" },
    el("tr", {}, ["Started", "Function", "Trigger", "Event", "Status", "Took", "Log lines"].map((h) => el("th", {}, h))));
  const rows = answer.invocations.map((r) => el("tr", { class: "clickable invocation", "data-id": String(r.id), onclick: async (event) => {
    for (const row of table.querySelectorAll("tr.chosen")) row.classList.remove("chosen");
    event.currentTarget.classList.add("chosen");
    try { detail.replaceChildren(await invocationDetail(r.id)); }
    catch (error) {
      if (error instanceof Unauthorized) return showLogin("The token was refused: log in again.");
      detail.replaceChildren(el("pre", { class: "error" }, error.message));
    }
    detail.scrollIntoView({ block: "nearest" });
  } },
    el("td", {}, when(r.started)), el("td", {}, r.function), el("td", {}, r.trigger), el("td", {}, r.method + " " + r.source),
    el("td", {}, statusText(r.status, r.statusCode)), el("td", {}, ms(r.durationMs)), el("td", {}, r.logLines)));
  table.append(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No invocations match."))]));
  return el("div", { class: "split" }, el("div", { class: "wide" }, table), detail);
}

// A select of `choices` ([value, label]) that sets `key` of the history's
// filter in the address.
function filterSelect(id, key, filter, choices) {
  const select = el("select", { id, onchange: () => {
    const next = new URLSearchParams(filter);
    if (select.value) next.set(key, select.value); else next.delete(key);
    location.hash = "#/history?" + next;
  } }, choices.map(([value, label]) => el("option", { value, selected: value === (filter[key] || "") }, label)));
  return select;
}

async function historyPage(params) {
  const filter = {};
  for (const key of ["function", "status", "trigger"]) if (params.get(key)) filter[key] = params.get(key);
  const [list, table] = await Promise.all([api("GET", "/v1/functions"), historyTable(filter)]);
  const names = list.functions.map((f) => f.name);
  if (filter.function && !names.includes(filter.function)) names.push(filter.function);
  const functions = filterSelect("function-filter", "function", filter, [["", "every function"], ...names.map((n) => [n, n])]);
  const status = filterSelect("status-filter", "status", filter, [["", "any status"], ["ok", "ok"], ["error", "error"]]);
  show(el("h1", {}, "History"), el("div", { class: "row" }, functions, status), table);
}

// ---- login and routing -----------------------------------------------

function showLogin(message) {
  stopLive();
  document.getElementById("nav").hidden = true;
  view.replaceChildren();
  const form = document.getElementById("login");
  form.hidden = false;
  document.getElementById("login-error").textContent = message || "";
}

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  try {
    await api("GET", "/v1/functions");
    document.getElementById("token").value = "";
    route();
  } catch (error) {
    showLogin(error instanceof Unauthorized ? "That is not this fenn's token." : error.message);
  }
});

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
});

// Pages shown so far: a page still loading when another is asked for is
// not shown.
let shown = 0;

async function route() {
  shown += 1;
  stopLive();
  if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  try {
    if (path.startsWith("/f/")) await functionPage(decodeURIComponent(path.slice(3)));
    else if (path === "/flows" || path.startsWith("/flows/")) await flowsPage(decodeURIComponent(path.slice(7)) || null);
    else if (path === "/history") await historyPage(new URLSearchParams(query || ""));
    else if (path === "/deploy") show(el("h1", {}, "Deploy"), uploadPanel(null, null));
    else await functionsPage();
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin("The token was refused: log in again.");
    view.replaceChildren(el("pre", { class: "error" }, error.message));
  }
}

window.addEventListener("hashchange", route);
route();
