// fenn's console: pages over the management API, with the token kept in
// this tab's session storage. Every value from fenn (names, log lines,
// bodies) is set as text, never as HTML.
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
  for (const child of children.flat()) {
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

function ms(value) {
  return value === undefined || value === null ? "" : Number(value).toFixed(2) + " ms";
}

function triggerPills(triggers) {
  const pills = [];
  for (const route of triggers.http || []) {
    pills.push(el("span", { class: "pill" }, "http " + (route.methods.length ? route.methods.join(",") + " " : "") + route.route));
  }
  for (const filter of triggers.mqtt || []) pills.push(el("span", { class: "pill" }, "mqtt " + filter));
  for (const cron of triggers.cron || []) {
    pills.push(el("span", { class: "pill", title: "next fire " + (cron.next || "none") }, "cron " + cron.name + " (" + cron.schedule + ")"));
  }
  return pills;
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
      el("td", {}, triggerPills(f.triggers)),
      el("td", {}, f.not_served ? el("span", { class: "bad" }, "NOT SERVED") : recent.lastStatus ? statusText(recent.lastStatus, recent.lastStatusCode) : ""),
      el("td", {}, ms(recent.p50Ms)),
      el("td", {}, ms(recent.p99Ms)),
      el("td", {}, recent.count ?? 0));
  });
  const schedules = list.functions.flatMap((f) => (f.triggers.cron || []).map((c) =>
    el("tr", {}, el("td", {}, c.name), el("td", {}, f.name), el("td", {}, c.schedule), el("td", {}, c.next || "none"))));
  view.replaceChildren(
    el("h1", {}, "Functions"),
    el("table", { id: "functions" },
      el("tr", {}, ["Function", "From", "Version", "Triggers", "Last", "p50", "p99", "Recent"].map((h) => el("th", {}, h))),
      rows),
    el("div", { class: "grid" },
      el("section", { class: "card" }, el("h2", {}, "MQTT link"), el("p", { id: "mqtt-link" }, mqtt)),
      el("section", { class: "card" }, el("h2", {}, "Cron schedules"),
        el("table", { id: "schedules" },
          el("tr", {}, ["Schedule", "Function", "When", "Next fire"].map((h) => el("th", {}, h))), schedules))));
}

async function functionPage(name) {
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
  show(
    el("h1", {}, name, " ", el("span", { class: "muted" }, deployed ? "version " + f.version : "from the config file")),
    f.not_served ? el("p", { class: "bad" }, "Not served: " + f.not_served) : null,
    el("div", { class: "row" }, triggerPills(f.triggers)),
    el("div", { class: "grid" },
      el("section", { class: "card" }, el("h2", {}, "Definition"),
        el("pre", { id: "definition" }, JSON.stringify(f.definition ?? f.triggers, null, 2)),
        deployed ? el("table", { id: "versions" }, el("tr", {}, ["Version", "Deployed", "Size", "SHA-256", ""].map((h) => el("th", {}, h))), versions)
          : el("p", { class: "muted" }, "A function of the config file: change it there.")),
      testPanel(name, f.triggers)),
    deployed ? uploadPanel(name, f.definition) : null,
    el("h2", {}, "Recent invocations"),
    await historyTable({ function: name }));
}

function sampleEvent(kind, triggers, name) {
  const event = { path: "/", httpMethod: "GET", headers: {}, queryParameters: {}, pathParameters: {}, body: "", isBase64Encoded: false };
  if (kind === "http") {
    const route = (triggers.http || [])[0];
    event.path = route ? route.route.replace(/\{[^}]*\}/g, "example") : "/" + name;
    event.httpMethod = route && route.methods.length ? route.methods[0] : "GET";
    event.headers = { "content-type": "text/plain" };
  } else if (kind === "mqtt") {
    const filter = (triggers.mqtt || [])[0] || "sensors/example";
    event.path = filter.replace(/\+/g, "example").replace(/#/g, "example");
    event.httpMethod = "PUBLISH";
    event.body = "{\"celsius\": 21.5}";
    event.headers = { "content-type": "application/json" };
  } else {
    event.path = ((triggers.cron || [])[0] || { name: "schedule" }).name;
    event.httpMethod = "SCHEDULE";
  }
  return JSON.stringify(event, null, 2);
}

function testPanel(name, triggers) {
  const kinds = ["http", "mqtt", "cron"];
  const first = kinds.find((k) => (triggers[k] || []).length) || "http";
  const text = el("textarea", { id: "event-json", spellcheck: "false" }, sampleEvent(first, triggers, name));
  const pick = el("select", { id: "event-trigger", onchange: () => { text.value = sampleEvent(pick.value, triggers, name); } },
    kinds.map((k) => el("option", { value: k, selected: k === first }, "a " + k + " event")));
  const result = el("div", { id: "event-result" });
  const run = el("button", { id: "run-event", type: "button", onclick: async () => {
    run.disabled = true;
    result.replaceChildren(el("p", { class: "muted" }, "running…"));
    try {
      const event = JSON.parse(text.value);
      const answer = await api("POST", "/v1/functions/" + encodeURIComponent(name) + "/invoke", event);
      result.replaceChildren(
        answer.error ? el("p", { class: "bad", id: "event-error" }, "Failed: " + answer.error)
          : el("pre", { id: "event-response" }, JSON.stringify(answer.response, null, 2)),
        el("p", { class: "muted" }, "fuel " + answer.fuel_used + ", " + ms(answer.duration_ms)),
        el("div", { id: "event-logs" }, (answer.logs || []).map((l) => el("div", { class: "log-line" }, l.level + " " + l.message))));
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin();
      result.replaceChildren(el("pre", { class: "error" }, error.message));
    } finally {
      run.disabled = false;
    }
  } }, "Run");
  return el("section", { class: "card" }, el("h2", {}, "Test event"), pick, text, el("div", { class: "row" }, run), result);
}

function uploadPanel(name, definition) {
  const nameInput = name ? null : el("input", { id: "new-name", type: "text", placeholder: "function name", required: true });
  const defText = el("textarea", { id: "def-json", spellcheck: "false" },
    JSON.stringify(definition || { http: [{ route: "/" + (name || "hello") }] }, null, 2));
  const file = el("input", { id: "module-file", type: "file", accept: ".wasm,application/wasm" });
  const compileResult = el("div", { id: "compile-result" });
  const deployResult = el("div", { id: "deploy-result" });
  let checked = null;
  const deploy = el("button", { id: "deploy", type: "button", disabled: true, onclick: async () => {
    const target = name || nameInput.value.trim();
    deploy.disabled = true;
    try {
      const answer = await api("PUT", "/v1/functions/" + encodeURIComponent(target),
        { definition: JSON.parse(defText.value), module: checked });
      deployResult.replaceChildren(el("p", { class: "ok" }, "Deployed " + target + " version " + answer.version + " (compiled in " + ms(answer.compile_ms) + ")."),
        el("a", { href: "#/f/" + encodeURIComponent(target) }, "Open " + target));
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin();
      deployResult.replaceChildren(el("pre", { class: "error" }, error.message));
      deploy.disabled = false;
    }
  } }, "Deploy");
  const compile = el("button", { id: "compile", type: "button", onclick: async () => {
    checked = null;
    deploy.disabled = true;
    deployResult.replaceChildren();
    const chosen = file.files[0];
    if (!chosen) return compileResult.replaceChildren(el("p", { class: "error" }, "Choose a .wasm module first."));
    const bytes = new Uint8Array(await chosen.arrayBuffer());
    try {
      const answer = await api("POST", "/v1/check", bytes, true);
      if (answer.ok === false || answer.error) throw new Error(answer.error || JSON.stringify(answer));
      compileResult.replaceChildren(el("p", { class: "ok", id: "compile-ok" },
        "Compiles (" + ms(answer.compile_ms) + "): exports " + (answer.exports || []).join(", ") + "; imports " + ((answer.imports || []).join(", ") || "none") + "."));
      let binary = "";
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      checked = btoa(binary);
      deploy.disabled = false;
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin();
      compileResult.replaceChildren(el("pre", { class: "error", id: "compile-error" }, "Does not compile: " + error.message));
    }
  } }, "Compile");
  return el("section", { class: "card" }, el("h2", {}, name ? "Deploy a new version" : "Deploy a function"),
    el("p", { class: "muted" }, "The module is compiled and checked by this fenn before anything is saved."),
    nameInput ? el("label", {}, "Name", nameInput) : null,
    el("label", {}, "Definition (JSON: routes, subscriptions, schedules, limits)", defText),
    el("label", {}, "Module", file),
    el("div", { class: "row" }, compile, deploy), compileResult, deployResult);
}

async function historyTable(filter) {
  const query = new URLSearchParams({ limit: "100", ...filter });
  const answer = await api("GET", "/v1/invocations?" + query);
  const detail = el("div", { id: "invocation-detail" });
  const rows = answer.invocations.map((r) => el("tr", { class: "clickable invocation", "data-id": r.id, onclick: async () => {
    const full = await api("GET", "/v1/invocations/" + r.id);
    detail.replaceChildren(el("section", { class: "card" },
      el("h2", {}, "Invocation " + full.id),
      el("p", {}, full.function + " v" + full.version + ", " + full.trigger + " " + full.method + " " + full.source + ": ",
        statusText(full.status, full.statusCode), ", " + ms(full.durationMs) + ", fuel " + full.fuelUsed + ", peak memory " + full.peakMemory + " bytes"),
      full.error ? el("pre", { class: "error" }, full.error) : null,
      el("div", { class: "logs" }, full.logs.length ? full.logs.map((l) => el("div", { class: "log-line" }, l.level + " " + l.message))
        : el("p", { class: "muted" }, "No log lines.")),
      full.logsCut ? el("p", { class: "muted" }, "(log lines cut)") : null));
  } },
    el("td", {}, r.started), el("td", {}, r.function), el("td", {}, r.trigger), el("td", {}, r.method + " " + r.source),
    el("td", {}, statusText(r.status, r.statusCode)), el("td", {}, ms(r.durationMs)), el("td", {}, r.logLines)));
  return el("div", {},
    el("table", { id: "history" },
      el("tr", {}, ["Started", "Function", "Trigger", "Event", "Status", "Took", "Log lines"].map((h) => el("th", {}, h))),
      rows.length ? rows : el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No invocations yet."))),
    detail);
}

async function historyPage(params) {
  const filter = {};
  for (const key of ["function", "status", "trigger"]) if (params.get(key)) filter[key] = params.get(key);
  const status = el("select", { id: "status-filter", onchange: () => {
    const next = new URLSearchParams(filter);
    if (status.value) next.set("status", status.value); else next.delete("status");
    location.hash = "#/history?" + next;
  } }, ["", "ok", "error"].map((s) => el("option", { value: s, selected: s === (filter.status || "") }, s || "any status")));
  view.replaceChildren(el("h1", {}, "History"), el("div", { class: "row" }, status), await historyTable(filter));
}

// ---- login and routing -----------------------------------------------

function showLogin(message) {
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

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  try {
    if (path.startsWith("/f/")) await functionPage(decodeURIComponent(path.slice(3)));
    else if (path === "/history") await historyPage(new URLSearchParams(query || ""));
    else if (path === "/deploy") view.replaceChildren(el("h1", {}, "Deploy"), uploadPanel(null, null));
    else await functionsPage();
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin("The token was refused: log in again.");
    view.replaceChildren(el("pre", { class: "error" }, error.message));
  }
}

window.addEventListener("hashchange", route);
route();
