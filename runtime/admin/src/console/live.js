// The live log of a function's page: its invocations as they end, read
// from the management API's stream (server-sent events). The stream is
// read with fetch, not EventSource, so that the token goes in the
// Authorization header as for every other request, never in an address.
"use strict";

// Invocations the live log keeps; the oldest go first.
const LIVE_MAX = 200;
// The longest event the reader buffers (a record holds at most the
// history's log lines of one invocation, far less than this).
const LIVE_EVENT_MAX = 4 << 20;
// How many of the function's last invocations the log starts with.
const LIVE_BACKLOG = 20;

// Stops the open stream, if any: called when the page changes.
let stopLive = () => {};

// Reads the server-sent events at `path`, calling `on(type, data)` for
// each (type "comment" for a comment line), until the stream ends.
async function readEvents(path, on, signal) {
  const response = await fetch(path, {
    headers: { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) },
    signal,
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new Unauthorized("the token was refused");
  }
  if (!response.ok) {
    const text = await response.text();
    let reason = text;
    try { reason = JSON.parse(text).error || text; } catch { /* the text as it is */ }
    throw new Error(response.status + ": " + reason);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      splitEvent(buffer.slice(0, end), on);
      buffer = buffer.slice(end + 2);
    }
    if (buffer.length > LIVE_EVENT_MAX) throw new Error("an event of the stream was too long");
  }
}

// One event's lines (`event:`, `data:`, or a `:` comment) to `on`.
function splitEvent(block, on) {
  let type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) on("comment", line.slice(1).trim());
    else if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length) on(type, data.join("\n"));
}

function logLines(record) {
  return [
    record.error ? el("div", { class: "log-line bad" }, record.error) : null,
    (record.logs || []).map((l) => el("div", { class: "log-line" }, l.level + " " + l.message)),
    record.logsCut ? el("div", { class: "muted" }, "(log lines cut)") : null,
  ];
}

function liveEntry(record) {
  return el("div", { class: "live-entry", "data-id": String(record.id) },
    el("div", { class: "live-head" },
      el("span", { class: "muted" }, when(record.started)), " ",
      el("span", {}, record.trigger + " " + record.method + " " + record.source), " ",
      statusText(record.status, record.statusCode),
      el("span", { class: "muted" }, " " + ms(record.durationMs))),
    logLines(record));
}

// The live log of `name`: a card whose stream stays open while the page
// is shown (the router stops it on leaving).
function liveLog(name) {
  const list = el("div", { id: "live-log" });
  const state = el("span", { id: "live-state", class: "muted" });
  const again = el("button", { class: "secondary", type: "button", hidden: true, onclick: () => start() }, "Reconnect");
  const seen = new Set();
  const add = (record, newest) => {
    const id = String(record.id);
    if (seen.has(id)) return;
    seen.add(id);
    if (newest) list.prepend(liveEntry(record)); else list.append(liveEntry(record));
    while (list.childElementCount > LIVE_MAX) {
      seen.delete(list.lastElementChild.dataset.id);
      list.lastElementChild.remove();
    }
  };
  const ended = (text) => { state.textContent = text; again.hidden = false; };
  const backlog = async () => {
    const query = new URLSearchParams({ function: name, logs: "true", limit: String(LIVE_BACKLOG) });
    const answer = await api("GET", "/v1/invocations?" + query);
    for (const record of answer.invocations) add(record, false);
  };
  const on = (type, data) => {
    if (type === "comment" && data === "subscribed") {
      backlog().then(
        () => { if (again.hidden) state.textContent = "live: each invocation appears at the top as it ends"; },
        (error) => { state.textContent = "The last invocations: " + error.message; });
    } else if (type === "invocation") {
      add(JSON.parse(data), true);
    } else if (type === "lagged") {
      ended("This page fell behind the invocations and was cut off.");
    }
  };
  const start = () => {
    stopLive();
    const controller = new AbortController();
    stopLive = () => controller.abort();
    again.hidden = true;
    state.textContent = "connecting…";
    const path = "/v1/invocations/stream?" + new URLSearchParams({ function: name });
    readEvents(path, on, controller.signal).then(
      () => {
        if (!controller.signal.aborted && again.hidden) ended("The stream ended (fenn stopped or restarted).");
      },
      (error) => {
        if (controller.signal.aborted) return;
        if (error instanceof Unauthorized) return showLogin("The token was refused: log in again.");
        ended("No live log: " + error.message);
      });
  };
  start();
  return el("section", { class: "card" }, el("h2", {}, "Live log"),
    el("div", { class: "row" }, state, again), list);
}
