// The panels of a function's page: its test events, one for each of its
// triggers, a new module compiled before it can be deployed, and its
// key-value store.
"use strict";

// A route's or a topic filter's parameters (`{name}`, `{*rest}`), each with
// its name as the sample value a person edits: /greet/{who} is /greet/who
// with who=who.
function routeSample(template) {
  const parameters = Object.create(null);
  const path = template.replace(/\{\*?([^{}]+)\}/g, (_, key) => { parameters[key] = key; return key; });
  return { path, parameters };
}

function baseEvent() {
  return { path: "/", httpMethod: "GET", headers: {}, queryParameters: {}, pathParameters: {}, body: "", isBase64Encoded: false };
}

// The events a person may send `name` by hand: one for each of its
// triggers (an HTTP one when it has none), each with its label.
function testEvents(triggers, name) {
  const events = [];
  for (const route of triggers.http || []) {
    const method = route.methods.length ? route.methods[0] : "GET";
    const sample = routeSample(route.route);
    const event = { ...baseEvent(), path: sample.path, httpMethod: method, pathParameters: sample.parameters };
    event.headers = { "content-type": "text/plain" };
    events.push({ label: "an HTTP event: " + method + " " + route.route, event });
  }
  for (const filter of triggers.mqtt || []) {
    const sample = routeSample(filter.replace(/^\$share\/[^/]+\//, "").replace(/\+/g, "example").replace(/#/g, "example"));
    const event = { ...baseEvent(), path: sample.path, httpMethod: "PUBLISH", pathParameters: sample.parameters };
    event.body = "{\"celsius\": 21.5}";
    event.headers = { "content-type": "application/json" };
    events.push({ label: "an MQTT event: " + filter, event });
  }
  for (const cron of triggers.cron || []) {
    const event = { ...baseEvent(), path: cron.name, httpMethod: "SCHEDULE" };
    events.push({ label: "a cron event: " + cron.name + " (" + cron.schedule + ")", event });
  }
  if (!events.length) events.push({ label: "an HTTP event", event: { ...baseEvent(), path: "/" + name } });
  return events;
}

function testPanel(name, triggers) {
  const events = testEvents(triggers, name);
  const sample = (index) => JSON.stringify(events[index].event, null, 2);
  const text = el("textarea", { id: "event-json", spellcheck: "false" }, sample(0));
  const pick = el("select", { id: "event-trigger", onchange: () => { text.value = sample(Number(pick.value)); } },
    events.map((e, index) => el("option", { value: String(index) }, e.label)));
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

// A function's key-value store, when it has one: its first 100 keys in
// byte order, each value shown on a click (as text, or base64).
async function storePanel(name) {
  const base = "/v1/functions/" + encodeURIComponent(name) + "/kv";
  let listed;
  try {
    listed = await api("GET", base + "?limit=100");
  } catch (error) {
    if (error instanceof Unauthorized) throw error;
    return null;
  }
  const value = el("pre", { id: "kv-value" });
  const rows = listed.keys.map((key) => el("tr", { class: "kv-key" }, el("td", {},
    el("a", { href: "#", onclick: async (event) => {
      event.preventDefault();
      try {
        const answer = await api("GET", base + "/" + encodeURIComponent(key));
        value.textContent = answer.value ?? ("base64: " + answer.base64);
      } catch (error) {
        value.textContent = error.message;
      }
    } }, key))));
  return el("section", { class: "card" }, el("h2", {}, "Store"),
    el("p", { class: "muted" }, listed.keys.length + " keys shown, in byte order (store " + listed.store + ")."),
    el("table", { id: "kv-keys" }, rows), value);
}
