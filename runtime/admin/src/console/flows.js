// The flows' page: the flows, one flow's graph drawn as an inline SVG
// (its steps in layers by depth from the start steps), its recent runs,
// and a run chosen coloured over the graph, each step with its state,
// attempts, time, note, error and its invocations' log lines. Step names,
// conditions and log lines are set as text, never as HTML.
"use strict";

// The newest runs a flow's page lists.
const RUNS_SHOWN = 50;
// A step's box; the gaps between layers and between a layer's boxes; the
// margin (room for the start steps' arrows and the response's label).
const BOX_W = 168;
const BOX_H = 56;
const GAP_X = 64;
const GAP_Y = 26;
const PAD = 28;

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// `text` cut to `most` characters (the whole text is the box's title).
function cut(text, most) {
  return text.length > most ? text.slice(0, most - 1) + "…" : text;
}

// Each step's place: its layer is its longest path from a start step (the
// graph is a DAG, checked at deploy), and a layer's steps are ordered by
// where their inputs are, to cut crossings.
function layout(graph) {
  const index = new Map(graph.steps.map((step, at) => [step.name, at]));
  const inputs = graph.steps.map(() => []);
  for (const edge of graph.edges) {
    if (index.has(edge.from) && index.has(edge.to)) inputs[index.get(edge.to)].push(index.get(edge.from));
  }
  const depth = graph.steps.map(() => null);
  const depthOf = (at, path) => {
    if (depth[at] !== null) return depth[at];
    if (path.has(at)) return 0;
    path.add(at);
    depth[at] = inputs[at].reduce((most, from) => Math.max(most, depthOf(from, path) + 1), 0);
    return depth[at];
  };
  const layers = [];
  graph.steps.forEach((_, at) => { (layers[depthOf(at, new Set())] ||= []).push(at); });
  const row = [];
  for (const layer of layers) {
    const mean = (at) => inputs[at].length ? inputs[at].reduce((sum, from) => sum + row[from], 0) / inputs[at].length : 0;
    layer.sort((a, b) => mean(a) - mean(b) || a - b).forEach((at, place) => { row[at] = place; });
  }
  const rows = Math.max(...layers.map((layer) => layer.length));
  const places = new Map();
  layers.forEach((layer, column) => layer.forEach((at) => {
    const y = PAD + ((rows - layer.length) / 2 + row[at]) * (BOX_H + GAP_Y);
    places.set(graph.steps[at].name, { x: PAD + column * (BOX_W + GAP_X), y });
  }));
  return { places, width: 2 * PAD + layers.length * (BOX_W + GAP_X) - GAP_X, height: 2 * PAD + rows * (BOX_H + GAP_Y) - GAP_Y };
}

// An arrow from (x1, y1) to (x2, y2), its head at the end.
function arrow(x1, y1, x2, y2) {
  const bend = Math.max(24, (x2 - x1) / 2);
  const d = `M${x1} ${y1} C${x1 + bend} ${y1} ${x2 - 8 - bend} ${y2} ${x2 - 8} ${y2}`;
  return [svg("path", { class: "hit", d }), svg("path", { class: "line", d }),
    svg("polygon", { points: `${x2},${y2} ${x2 - 9},${y2 - 4.5} ${x2 - 9},${y2 + 4.5}` })];
}

function edgeTitle(edge) {
  return edge.from + " → " + edge.to + (edge.kind === "error" ? " on error" : "") + (edge.when ? ", when " + edge.when : "");
}

// The graph as an SVG: a box per step (the start steps fed by the event,
// the response step marked), an arrow per edge, error edges dashed red, a
// condition's text as its edge's title, shown on hover.
function drawGraph(graph) {
  const { places, width, height } = layout(graph);
  const edges = graph.edges.filter((e) => places.has(e.from) && places.has(e.to)).map((edge) => {
    const from = places.get(edge.from);
    const to = places.get(edge.to);
    const shift = edge.kind === "error" ? 8 : 0;
    const [x1, y1, x2, y2] = [from.x + BOX_W, from.y + BOX_H / 2 + shift, to.x, to.y + BOX_H / 2 + shift];
    return svg("g", { class: "edge " + edge.kind, "data-from": edge.from, "data-to": edge.to, "data-kind": edge.kind },
      svg("title", {}, edgeTitle(edge)), arrow(x1, y1, x2, y2),
      edge.when ? svg("circle", { class: "gate", cx: (x1 + x2) / 2, cy: (y1 + y2) / 2, r: 4 }) : null);
  });
  const steps = graph.steps.map((step) => {
    const { x, y } = places.get(step.name);
    const answers = step.name === graph.response;
    const tags = [step.start ? "receives the event" : null, answers ? "answers" : null].filter(Boolean);
    return svg("g", { class: "step" + (answers ? " response" : ""), "data-step": step.name },
      svg("title", {}, step.name + ": " + step.function + (tags.length ? " (" + tags.join(", ") + ")" : "")),
      step.start ? svg("g", { class: "edge start" }, arrow(x - PAD + 4, y + BOX_H / 2, x, y + BOX_H / 2)) : null,
      answers ? svg("text", { class: "tag", x: x + BOX_W, y: y - 5, "text-anchor": "end" }, "answers ↩") : null,
      svg("rect", { x, y, width: BOX_W, height: BOX_H, rx: 6 }),
      svg("text", { class: "name", x: x + 10, y: y + 19 }, cut(step.name, 20)),
      svg("text", { class: "function", x: x + 10, y: y + 35 }, cut(step.function, 24)),
      svg("text", { class: "state", x: x + 10, y: y + 49 }, ""));
  });
  return svg("svg", { id: "flow-graph", class: "flow-graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "the flow's steps and edges" }, edges, steps);
}

// `run`'s path over the drawn graph: each step by its state, and the
// edges it is known not to have taken greyed (those into a skipped step,
// out of a step that did not run, a failed step's next edges, a done
// step's error edges).
function paintRun(drawing, run) {
  const states = new Map(run.steps.map((step) => [step.name, step]));
  const stateOf = (name) => {
    const step = states.get(name);
    return step && ["done", "failed", "skipped"].includes(step.state) ? step.state : "not-run";
  };
  for (const box of drawing.querySelectorAll("g.step")) {
    const step = states.get(box.dataset.step);
    const state = stateOf(box.dataset.step);
    box.classList.remove("done", "failed", "skipped", "not-run");
    box.classList.add(state);
    box.querySelector("text.state").textContent = state.replace("-", " ") + (step && step.attempts > 1 ? ", " + step.attempts + " attempts" : "");
  }
  for (const edge of drawing.querySelectorAll("g.edge[data-kind]")) {
    const from = stateOf(edge.dataset.from);
    const off = stateOf(edge.dataset.to) === "skipped" || from === "skipped" || from === "not-run"
      || (edge.dataset.kind === "next" && from === "failed") || (edge.dataset.kind === "error" && from === "done");
    edge.classList.toggle("off", off);
  }
}

function stepCounts(run) {
  const counts = {};
  for (const step of run.steps) counts[step.state] = (counts[step.state] || 0) + 1;
  return Object.entries(counts).map(([state, count]) => count + " " + state).join(", ");
}

function runStatus(status) {
  return el("span", { class: status === "ok" ? "ok" : "bad" }, status);
}

// One run in full: each step as it ended, then its steps' invocations,
// oldest first, with their log lines.
function runDetail(run) {
  const steps = run.steps.map((step) => el("tr", { class: "run-step " + step.state, "data-step": step.name },
    el("td", {}, step.name), el("td", {}, step.function), el("td", { class: "step-state" }, step.state),
    el("td", {}, step.attempts), el("td", {}, ms(step.durationMs)), el("td", {}, step.statusCode ?? ""),
    el("td", {}, step.note ? el("div", { class: "muted" }, step.note) : null, step.error ? el("div", { class: "bad" }, step.error) : null)));
  const invocations = (run.invocations || []).map((record) => el("div", { class: "live-entry" },
    el("div", { class: "live-head" }, el("strong", {}, record.flow ? record.flow.step : record.function),
      el("span", { class: "muted" }, (record.flow && record.flow.attempt > 1 ? " attempt " + record.flow.attempt : "") + " " + record.function + " v" + record.version + " "),
      statusText(record.status, record.statusCode), el("span", { class: "muted" }, " " + ms(record.durationMs))),
    record.error || record.logs.length ? logLines(record) : el("div", { class: "muted" }, "No log lines.")));
  return el("section", { class: "card", id: "run-detail" },
    el("h2", {}, "Run " + run.run),
    el("p", {}, runStatus(run.status), ", " + ms(run.durationMs) + ", " + run.trigger + ", started " + when(run.started) + (run.resumed ? ", resumed after a restart" : "")),
    el("div", { class: "wide" }, el("table", { id: "run-steps" },
      el("tr", {}, ["Step", "Function", "State", "Attempts", "Took", "Status", "Why"].map((h) => el("th", {}, h))), steps)),
    el("h2", {}, "Invocations"),
    el("div", { id: "run-invocations" }, invocations.length ? invocations : el("p", { class: "muted" }, "None kept in the history.")));
}

// The flow's recent runs, newest first; a click on one colours the graph
// with it and shows it in full below. Refresh lists the runs ended since.
function runsPanel(name, flow, drawing, caption) {
  const table = el("table", { id: "runs" });
  const detail = el("div", { id: "run-slot" });
  let chosen = null;
  let picked = 0;
  const pick = async (run, row) => {
    const mine = ++picked;
    chosen = run.run;
    for (const other of table.querySelectorAll("tr.chosen")) other.classList.remove("chosen");
    row.classList.add("chosen");
    try {
      const full = await api("GET", "/v1/runs/" + encodeURIComponent(run.run));
      if (mine !== picked) return;
      if (drawing) paintRun(drawing, full);
      const other = flow.version !== null && full.version !== flow.version;
      caption.replaceChildren("Run " + full.run + ": ", runStatus(full.status), ", " + ms(full.durationMs),
        other ? el("span", { class: "bad" }, " (a run of version " + full.version + "; the graph is version " + flow.version + "'s)") : "");
      detail.replaceChildren(runDetail(full));
    } catch (error) {
      if (error instanceof Unauthorized) return showLogin("The token was refused: log in again.");
      detail.replaceChildren(el("pre", { class: "error" }, error.message));
    }
  };
  const list = async () => {
    const answer = await api("GET", "/v1/runs?" + new URLSearchParams({ flow: name, limit: String(RUNS_SHOWN) }));
    const rows = answer.runs.map((run) => {
      const row = el("tr", { class: "clickable run" + (run.run === chosen ? " chosen" : ""), "data-run": run.run,
        onclick: () => pick(run, row) },
        el("td", {}, when(run.started)), el("td", { class: "muted" }, run.run), el("td", {}, run.trigger),
        el("td", {}, runStatus(run.status)), el("td", {}, ms(run.durationMs)), el("td", {}, stepCounts(run)));
      return row;
    });
    table.replaceChildren(el("tr", {}, ["Started", "Run", "Trigger", "Status", "Took", "Steps"].map((h) => el("th", {}, h))),
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No runs kept yet."))]));
  };
  const refresh = el("button", { id: "refresh-runs", class: "secondary", type: "button", onclick: async () => {
    refresh.disabled = true;
    try { await list(); } catch (error) {
      if (error instanceof Unauthorized) return showLogin("The token was refused: log in again.");
      table.replaceChildren(el("tr", {}, el("td", { class: "error" }, error.message)));
    } finally { refresh.disabled = false; }
  } }, "Refresh");
  return { list, panel: [el("section", { class: "card" }, el("h2", {}, "Recent runs"),
    el("div", { class: "row" }, el("span", { class: "muted" }, "The newest " + RUNS_SHOWN + " that ended; click one to see its path."), refresh),
    el("div", { class: "wide" }, table)), detail] };
}

// The flow `name`'s graph and runs.
async function flowPanels(name) {
  const flow = await api("GET", "/v1/flows/" + encodeURIComponent(name));
  const drawing = flow.graph ? drawGraph(flow.graph) : null;
  const caption = el("p", { id: "graph-caption", class: "muted" }, "Click a run below to see its path.");
  const conditions = flow.graph ? flow.graph.edges.filter((e) => e.when) : [];
  const graph = el("section", { class: "card" },
    el("h2", {}, name, " ", el("span", { class: "muted" }, flow.origin === "deployed" ? "version " + flow.version : "from the config file")),
    el("div", { class: "row" }, triggerPills(flow.bindings)),
    flow.not_served ? el("p", { class: "bad" }, "Not served: " + flow.not_served) : null,
    drawing ? [caption, el("div", { class: "wide" }, drawing),
      el("p", { class: "muted" }, "Dashed red: on_error edges; a dot: a condition (hover an arrow for it)."),
      conditions.length ? el("ul", { id: "flow-conditions" }, conditions.map((e) => el("li", {}, edgeTitle(e)))) : null] : null);
  const runs = runsPanel(name, flow, drawing, caption);
  await runs.list();
  return [graph, ...runs.panel];
}

// The flows, and the one chosen (`name`, or none) below them.
async function flowsPage(name) {
  const mine = shown;
  const chosen = name ? flowPanels(name).catch((error) => {
    if (error instanceof Unauthorized) throw error;
    return [el("pre", { class: "error" }, error.message)];
  }) : [];
  const [list, panels] = await Promise.all([api("GET", "/v1/flows"), chosen]);
  const rows = list.flows.map((f) => el("tr", { class: "clickable" + (f.name === name ? " chosen" : ""),
    onclick: () => { location.hash = "#/flows/" + encodeURIComponent(f.name); } },
    el("td", {}, el("a", { href: "#/flows/" + encodeURIComponent(f.name) }, f.name)),
    el("td", {}, f.origin === "config" ? "config file" : "deployed"),
    el("td", {}, f.version ?? ""),
    el("td", {}, triggerPills(f.bindings)),
    el("td", {}, f.steps ?? ""),
    el("td", {}, f.not_served ? el("span", { class: "bad" }, "NOT SERVED") : (f.running ?? 0) + " of " + f.max_runs)));
  if (mine !== shown) return;
  show(el("h1", {}, "Flows"),
    el("div", { class: "wide" }, el("table", { id: "flows" },
      el("tr", {}, ["Flow", "From", "Version", "Triggers", "Steps", "Runs in flight"].map((h) => el("th", {}, h))),
      rows.length ? rows : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No flows: declare one in the config file ([[flow]]) or deploy one (fenn flow deploy).")))),
    ...panels);
}
