// The dashboard page, its script and its style, served from memory as their
// own routes (the product image runs a bundle; there are no files to read).
// The page holds no data: the script fills it from the event stream, and
// puts every value into the DOM as text (textContent, never innerHTML), so a
// branch named `<script>` is shown, not run. Links are set only to http(s).
// The Content-Security-Policy (routes.ts) allows no inline script and
// nothing from another origin.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sandboxes · k8s-dev-sandbox</title>
<link rel="stylesheet" href="dashboard/app.css">
<script src="dashboard/app.js" defer></script>
</head>
<body>
<header>
<h1>Sandboxes</h1>
<p id="status" role="status">connecting…</p>
</header>
<main>
<table id="sandboxes">
<thead><tr><th>Sandbox</th><th>Repository</th><th>Branch / PR</th><th>Commit</th><th>State</th><th>URL</th><th>Age</th><th>Expires</th><th>Last result</th></tr></thead>
</table>
<p id="empty" hidden>No sandboxes.</p>
</main>
<noscript>This page needs JavaScript: the controller keeps it up to date with Server-Sent Events.</noscript>
</body>
</html>
`;

export const DASHBOARD_CSS = `:root { color-scheme: light; font: 13px/1.4 system-ui, sans-serif; color: #1f2328; }
body { margin: 0; background: #f6f8fa; }
header { display: flex; align-items: baseline; gap: 1.5rem; padding: 0.75rem 1.25rem; background: #fff; border-bottom: 1px solid #d0d7de; }
h1 { font-size: 1.25rem; margin: 0; }
#status { margin: 0; color: #59636e; }
#status.problem { color: #b35900; }
main { padding: 1rem 1.25rem; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d0d7de; }
th, td { text-align: left; padding: 0.4rem 0.6rem; vertical-align: top; }
/* Long names (a branch, a URL) wrap inside their column instead of pushing the others off the page. */
tr.sandbox td { overflow-wrap: anywhere; max-width: 14rem; }
thead th { background: #f6f8fa; border-bottom: 1px solid #d0d7de; font-weight: 600; }
tbody { border-top: 1px solid #d0d7de; }
tr.detail td { padding-top: 0; color: #59636e; }
.key { font-weight: 600; }
.ns, .muted { color: #59636e; font-size: 0.85em; display: block; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
.state { display: inline-block; padding: 0 0.5rem; border-radius: 1rem; font-size: 0.85em; font-weight: 600; border: 1px solid; }
.state-ready { color: #1a7f37; border-color: #1a7f37; }
.state-deploying { color: #9a6700; border-color: #9a6700; }
.state-failed { color: #d1242f; border-color: #d1242f; }
.state-destroying, .state-deleting, .state-unknown { color: #59636e; border-color: #59636e; }
.failure { margin: 0.25rem 0 0.5rem; padding: 0.5rem 0.75rem; border-left: 3px solid #d1242f; background: #fff5f5; color: #1f2328; }
.failure p { margin: 0.2rem 0; }
.failure pre { max-height: 16rem; overflow: auto; background: #f6f8fa; padding: 0.5rem; margin: 0.3rem 0 0; white-space: pre-wrap; }
.ops summary { cursor: pointer; }
.ops ol { margin: 0.25rem 0; padding-left: 1.5rem; }
`;

export const DASHBOARD_JS = `"use strict";
(() => {
  const STATES = ["deploying", "ready", "failed", "destroying", "deleting", "unknown"];
  const rows = new Map();
  // What the reader opened or closed survives the table being drawn again.
  const toggled = new Map();
  const table = document.getElementById("sandboxes");
  const status = document.getElementById("status");
  const empty = document.getElementById("empty");
  let problem = null;
  let connected = false;

  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child === undefined || child === null || child === "") continue;
      // append() of a string makes a text node: nothing is parsed as HTML.
      node.append(child);
    }
    return node;
  }

  function safeHref(href) {
    try {
      const url = new URL(href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
    } catch {
      return undefined;
    }
  }

  function linked(text, href) {
    const safe = href ? safeHref(href) : undefined;
    if (!safe) return el("span", null, text);
    const a = el("a", null, text);
    a.href = safe;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    return a;
  }

  function link(value) {
    return value ? linked(value.text, value.href) : undefined;
  }

  function cell(...children) {
    return el("td", null, ...children);
  }

  function timed(text, at) {
    const span = el("span", null, text || "");
    if (at) span.title = at;
    return span;
  }

  function detailsFor(id, summary, open, ...children) {
    const details = el("details", "ops", el("summary", null, summary), ...children);
    details.open = toggled.has(id) ? toggled.get(id) : open;
    details.addEventListener("toggle", () => toggled.set(id, details.open));
    return details;
  }

  function failureBlock(row) {
    const f = row.failure;
    const block = el("div", "failure");
    block.dataset.role = "failure";
    block.append(el("p", null, "Failed at step ", el("code", null, f.step), ": ", el("code", null, f.message)));
    if (f.hint) block.append(el("p", null, "What to do: ", f.hint));
    if (f.evidence) {
      block.append(detailsFor(row.namespace + "/evidence", "Evidence", true, el("pre", null, f.evidence)));
    }
    return block;
  }

  function operationsBlock(row) {
    const items = row.operations.map((op) => {
      const parts = [op.when, " · ", op.operation, " → ", op.result];
      if (op.commit) parts.push(" · ", el("code", null, op.commit));
      if (op.step) parts.push(" · step ", op.step);
      if (op.by) parts.push(" · by ", op.by);
      const li = el("li", null, ...parts);
      li.title = op.at;
      return li;
    });
    const newest = row.operations[0];
    const summary = "Recent operations (" + row.operations.length + ")" + (newest ? ": " + newest.operation + " → " + newest.result + ", " + newest.when : "");
    return detailsFor(row.namespace + "/operations", summary, false, el("ol", null, ...items));
  }

  function body(row) {
    const state = STATES.includes(row.state) ? row.state : "unknown";
    const tbody = el("tbody");
    tbody.dataset.namespace = row.namespace;
    tbody.dataset.key = row.key;
    const branch = el("span", null, link(row.branch));
    if (row.pullRequest) branch.append(" ", link(row.pullRequest));
    const main = el(
      "tr",
      "sandbox",
      cell(el("span", "key", row.key), el("span", "ns", row.namespace)),
      cell(link(row.repository)),
      cell(branch),
      cell(row.commit ? el("code", null, link(row.commit)) : undefined),
      cell(el("span", "state state-" + state, row.status)),
      cell(row.url ? linked(row.url, row.url) : undefined),
      cell(timed(row.age, row.createdAt)),
      cell(timed(row.expires, row.expiresAt)),
      cell(row.lastResult),
    );
    main.dataset.state = state;
    tbody.append(main);
    const extra = [];
    if (row.failure) extra.push(failureBlock(row));
    if (row.operations.length > 0) extra.push(operationsBlock(row));
    if (row.problems) extra.push(el("span", "muted", "unreadable annotations: " + row.problems.join(", ")));
    if (extra.length > 0) {
      const td = el("td", null, ...extra);
      td.colSpan = 9;
      tbody.append(el("tr", "detail", td));
    }
    return tbody;
  }

  function order(a, b) {
    return (b.createdAt || "").localeCompare(a.createdAt || "") || a.key.localeCompare(b.key);
  }

  function renderStatus() {
    const count = rows.size === 1 ? "1 sandbox" : rows.size + " sandboxes";
    if (!connected) status.textContent = "reconnecting… (" + count + " as last seen)";
    else if (problem) status.textContent = count + " · not live: " + problem;
    else status.textContent = count + " · live";
    status.className = connected && !problem ? "" : "problem";
  }

  function render() {
    for (const old of table.querySelectorAll("tbody")) old.remove();
    const sorted = [...rows.values()].sort(order);
    for (const row of sorted) table.append(body(row));
    empty.hidden = rows.size > 0;
    renderStatus();
  }

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch {
      return undefined;
    }
  }

  const source = new EventSource("dashboard/events");
  source.addEventListener("open", () => {
    connected = true;
    renderStatus();
  });
  source.addEventListener("error", () => {
    connected = false;
    renderStatus();
  });
  source.addEventListener("snapshot", (event) => {
    const data = parse(event);
    if (!data) return;
    connected = true;
    rows.clear();
    for (const row of data.rows) rows.set(row.namespace, row);
    problem = data.problem;
    render();
    document.documentElement.dataset.live = "true";
  });
  source.addEventListener("upsert", (event) => {
    const row = parse(event);
    if (!row) return;
    rows.set(row.namespace, row);
    render();
  });
  source.addEventListener("remove", (event) => {
    const data = parse(event);
    if (!data) return;
    rows.delete(data.namespace);
    render();
  });
  source.addEventListener("health", (event) => {
    const data = parse(event);
    if (!data) return;
    problem = data.problem;
    renderStatus();
  });
})();
`;
