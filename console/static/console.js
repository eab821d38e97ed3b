// kafkakit console: a hash-routed page over the admin API. Everything is
// built with DOM calls (never innerHTML), because message keys, values
// and topic names come from whoever writes to Kafka.
"use strict";

const view = document.getElementById("view");
const statusLine = document.getElementById("status");
const login = document.getElementById("login");
const SVG = "http://www.w3.org/2000/svg";
let timer = null;

// el builds an element: attrs are attributes (on* keys are listeners),
// children are nodes or strings.
function el(tag, attrs, ...children) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

class Unauthorized extends Error {}

// Stale is thrown by api() when the page moved to another view while the
// answer was on its way: the view that asked must not draw over the new
// one (an overview refresh in flight would replace a page just opened).
class Stale extends Error {}

// shown counts the views shown; api() compares it before and after.
let shown = 0;

// api fetches a JSON route, sending the token from this tab's session
// storage as a bearer header; it is never put in a URL.
async function api(path) {
  const headers = authHeaders({ Accept: "application/json" });
  const asked = shown;
  const resp = await fetch(path, { headers, cache: "no-store" });
  const body = await resp.json().catch(() => ({}));
  if (asked !== shown) throw new Stale();
  if (resp.status === 401) throw new Unauthorized();
  if (!resp.ok) throw new Error(failure(resp, body) + " (" + resp.status + ")");
  return body;
}

// post sends body as JSON to a route and returns the answer with its
// decoded body.
async function post(path, body) {
  const resp = await fetch(path, { method: "POST", headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }), body: JSON.stringify(body) });
  return [resp, await resp.json().catch(() => ({}))];
}

// failure is what an error answer says: the field at fault and why.
function failure(resp, body) {
  const e = body.error || {};
  return (e.field ? e.field + ": " : "") + (e.message || resp.statusText);
}

function showLogin(message) {
  login.hidden = false;
  view.replaceChildren();
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("token").focus();
}

login.addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("kafkakit-token", document.getElementById("token").value);
  document.getElementById("token").value = "";
  login.hidden = true;
  route();
});

const enc = encodeURIComponent;
const num = (n) => Number(n).toLocaleString("en");

function table(head, rows, numeric) {
  return el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { scope: "col", class: numeric && numeric[i] ? "num" : null }, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: numeric && numeric[i] ? "num" : null }, c)))))));
}

// barChart draws labelled bars; the values are also written as text, so
// the chart is readable without color.
function barChart(title, items) {
  const w = 600, rowH = 22, h = Math.max(items.length, 1) * rowH + 10, left = 160;
  const maxV = Math.max(1, ...items.map((i) => i.value));
  const svg = el("svg:svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": title });
  svg.append(el("svg:title", {}, title));
  items.forEach((it, n) => {
    const y = 5 + n * rowH, bw = ((w - left - 70) * it.value) / maxV;
    svg.append(el("svg:text", { x: 0, y: y + 15 }, it.label.length > 24 ? it.label.slice(0, 23) + "…" : it.label));
    svg.append(el("svg:rect", { class: "bar", x: left, y: y + 3, width: Math.max(bw, 1), height: rowH - 8 }));
    svg.append(el("svg:text", { x: left + bw + 6, y: y + 15 }, num(it.value)));
  });
  return svg;
}

// lineChart draws one series of samples over time.
function lineChart(title, samples) {
  const w = 600, h = 160, pad = 30;
  const maxV = Math.max(1, ...samples);
  const pts = samples.map((v, i) => `${pad + (i * (w - 2 * pad)) / Math.max(samples.length - 1, 1)},${h - pad - ((h - 2 * pad) * v) / maxV}`);
  return el("svg:svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": title },
    el("svg:title", {}, title),
    el("svg:line", { class: "axis", x1: pad, y1: h - pad, x2: w - pad, y2: h - pad }),
    el("svg:text", { x: 0, y: pad }, num(Math.round(maxV))),
    el("svg:text", { x: 0, y: h - pad }, "0"),
    el("svg:polyline", { points: pts.join(" ") }));
}

// Live figures come from GET /kafka/live, server-sent events. A browser's
// EventSource cannot send the Authorization header, so the stream is read
// with fetch() and parsed here; a reconnect sends Last-Event-ID itself.
// The first connection sends Last-Event-ID: 0 to get the events the
// server keeps (its last minutes), so the charts start full.
const live = { events: [], lastId: "0", ctl: null, state: "connecting" };

function authHeaders(extra) {
  const headers = Object.assign({}, extra);
  const token = sessionStorage.getItem("kafkakit-token");
  if (token) headers.Authorization = "Bearer " + token;
  return headers;
}

function startLive() {
  if (live.ctl) return;
  live.ctl = new AbortController();
  readLive(live.ctl);
}

function stopLive() {
  if (live.ctl) live.ctl.abort();
  live.ctl = null;
}

async function readLive(ctl) {
  while (!ctl.signal.aborted) {
    try {
      const resp = await fetch("/kafka/live", { headers: authHeaders({ Accept: "text/event-stream", "Last-Event-ID": live.lastId }), cache: "no-store", signal: ctl.signal });
      if (resp.status === 401) { stopLive(); showLogin("That token was refused."); return; }
      if (resp.status === 404) { live.state = "off"; drawLive(); return; }
      if (!resp.ok) throw new Error("status " + resp.status);
      live.state = "on";
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          liveEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    live.state = "reconnecting";
    drawLive();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function liveEvent(block) {
  let id = null, data = null;
  for (const line of block.split("\n")) {
    if (line.startsWith("id: ")) id = line.slice(4);
    else if (line.startsWith("data: ")) data = line.slice(6);
  }
  if (id === null || data === null) return;
  live.lastId = id;
  live.events.push(JSON.parse(data));
  live.events = live.events.slice(-300);
  drawLive();
}

const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);

// drawLive redraws the live part of the overview, if it is shown.
function drawLive() {
  const box = document.getElementById("live");
  if (!box) return;
  if (live.state === "off") {
    box.replaceChildren(el("p", { class: "muted" }, "Live figures are off: this server has no metrics registry."));
    return;
  }
  const evs = live.events, last = evs[evs.length - 1];
  if (!last) {
    box.replaceChildren(el("p", { class: "muted" }, "Waiting for live figures…"));
    return;
  }
  const http = {};
  for (const ev of evs.slice(-60)) for (const [k, v] of Object.entries(ev.http)) http[k] = (http[k] || 0) + v;
  box.replaceChildren(
    el("div", { class: "cards" },
      el("div", { class: "card" }, el("b", { id: "live-produced" }, sum(last.produced).toFixed(1)), "produced/s"),
      el("div", { class: "card" }, el("b", { id: "live-consumed" }, sum(last.consumed).toFixed(1)), "consumed/s"),
      el("div", { class: "card" }, el("b", { id: "live-lag" }, num(sum(last.lag))), "lag")),
    el("p", { class: "muted", id: "live-state" }, live.state === "on" ? "Live, every second; last " + last.time : "Reconnecting…"),
    el("h3", {}, "Produced messages per second (all topics)"),
    lineChart("Produced messages per second over the last minutes", evs.map((e) => sum(e.produced))),
    el("h3", {}, "Consumed messages per second (all topics)"),
    lineChart("Consumed messages per second over the last minutes", evs.map((e) => sum(e.consumed))),
    el("h3", {}, "Lag per group"),
    Object.keys(last.lag).length === 0 ? el("p", { class: "muted" }, "No consumer of this server is running.") :
      barChart("Lag per group", Object.entries(last.lag).map(([g, v]) => ({ label: g, value: v }))),
    el("h3", {}, "HTTP answers in the last minute"),
    Object.keys(http).length === 0 ? el("p", { class: "muted" }, "None.") :
      table(["Status", "Requests"], Object.entries(http).sort().map(([k, v]) => [k, num(v)]), [0, 1]));
}

// Overview: totals, the live figures, and messages kept per topic.
async function overview() {
  const [t, g] = await Promise.all([api("/kafka/topics"), api("/kafka/groups")]);
  const total = t.topics.reduce((s, x) => s + x.messages, 0);
  view.replaceChildren(
    el("h2", {}, "Overview"),
    el("div", { class: "cards" },
      el("div", { class: "card" }, el("b", { id: "topic-count" }, t.topics.length), "topics"),
      el("div", { class: "card" }, el("b", {}, num(total)), "messages kept"),
      el("div", { class: "card" }, el("b", {}, g.groups.length), "groups")),
    el("div", { id: "live" }),
    el("h3", {}, "Messages per topic"),
    barChart("Messages per topic", t.topics.map((x) => ({ label: x.name, value: x.messages }))));
  drawLive();
  startLive();
  timer = setTimeout(() => run(overview), 5000);
}

async function topics() {
  const t = await api("/kafka/topics");
  view.replaceChildren(el("h2", {}, "Topics"), t.topics.length === 0 ? el("p", {}, "No topics.") :
    table(["Topic", "Partitions", "Messages"], t.topics.map((x) => [el("a", { href: "#/topics/" + enc(x.name) }, x.name), x.partitions, num(x.messages)]), [0, 1, 1]));
}

async function topic(name, params) {
  const d = await api("/kafka/topics/" + enc(name));
  const q = new URLSearchParams();
  for (const k of ["partition", "offset", "from", "limit", "key"]) if (params.get(k)) q.set(k, params.get(k));
  const page = await api("/kafka/topics/" + enc(name) + "/messages?" + q);
  const detail = el("div", { id: "message" });
  const form = el("form", { class: "filters", id: "message-filters", onsubmit: (ev) => {
    ev.preventDefault();
    const f = new URLSearchParams();
    for (const k of ["partition", "offset", "limit", "key"]) { const v = form.elements[k].value; if (v !== "") f.set(k, v); }
    // The browser's local time, sent as RFC 3339 in UTC.
    if (form.elements.from.value !== "") f.set("from", new Date(form.elements.from.value).toISOString());
    location.hash = "#/topics/" + enc(name) + "?" + f;
  } },
  el("label", {}, "Partition", el("select", { name: "partition" }, el("option", { value: "" }, "all"),
    d.partition_list.map((p) => el("option", { value: p.partition, selected: params.get("partition") === String(p.partition) }, p.partition)))),
  el("label", {}, "From offset", el("input", { name: "offset", inputmode: "numeric", size: 8, value: params.get("offset") || "" })),
  el("label", {}, "From time", el("input", { name: "from", type: "datetime-local", step: "1", value: localTime(params.get("from")) })),
  el("label", {}, "Limit", el("input", { name: "limit", inputmode: "numeric", size: 4, value: params.get("limit") || "20" })),
  el("label", {}, "Key", el("input", { name: "key", size: 12, value: params.get("key") || "" })),
  el("button", { type: "submit" }, "Show"));
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/topics" }, "← Topics")),
    el("h2", {}, name),
    el("dl", { class: "kv" }, Object.entries(d.config).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
      el("dt", {}, "messages"), el("dd", {}, num(d.messages))),
    el("h3", {}, "Partitions"),
    table(["Partition", "Leader", "Start", "End", "Messages"], d.partition_list.map((p) => [p.partition, p.leader, num(p.start_offset), num(p.end_offset), num(p.messages)]), [1, 1, 1, 1, 1]),
    el("h3", {}, "Produce"), produceForm(name, d.partition_list),
    el("h3", {}, "Messages"), form,
    page.messages.length === 0 ? el("p", { class: "muted" }, "No messages in this page.") :
      table(["Partition", "Offset", "Time", "Key", "Value"], page.messages.map((m) => [m.partition, m.offset, m.timestamp, m.key === null ? "(null)" : m.key,
        el("button", { class: "link", type: "button", "data-offset": m.offset, onclick: () => showMessage(detail, m) }, preview(m))]), [1, 1]),
    detail);
}

// localTime is an RFC 3339 time as a datetime-local input shows it, in the
// browser's time zone; "" for none.
function localTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// produceForm sends one message with POST /kafka/send. A value that
// parses as a JSON object or array is sent as JSON; anything else as text.
function produceForm(name, partitions) {
  const result = el("p", { id: "produce-result", role: "status" });
  const form = el("form", { class: "filters", id: "produce", onsubmit: async (ev) => {
    ev.preventDefault();
    const msg = { topic: name, value: form.elements.value.value };
    try {
      const v = JSON.parse(msg.value);
      if (v !== null && typeof v === "object") msg.value = v;
    } catch (e) { /* text */ }
    if (form.elements.key.value !== "") msg.key = form.elements.key.value;
    if (form.elements.partition.value !== "") msg.partition = Number(form.elements.partition.value);
    result.textContent = "Sending…";
    const [resp, a] = await post("/kafka/send", msg);
    if (resp.status === 401) { showLogin("That token was refused."); return; }
    if (!resp.ok) {
      result.replaceChildren(el("span", { class: "error" }, "Error: " + failure(resp, a)));
      return;
    }
    result.textContent = `Sent to partition ${a.partition} at offset ${a.offset}.`;
  } },
  el("label", {}, "Key", el("input", { name: "key", size: 12 })),
  el("label", {}, "Value (JSON or text)", el("textarea", { name: "value", rows: 2, cols: 28, required: true })),
  el("label", {}, "Partition", el("select", { name: "partition" }, el("option", { value: "" }, "any"),
    partitions.map((p) => el("option", { value: p.partition }, p.partition)))),
  el("button", { type: "submit" }, "Send"));
  return el("div", {}, form, result);
}

function preview(m) {
  const s = m.value === null ? "(null)" : m.value_encoding === "json" ? JSON.stringify(m.value) : m.value;
  return s.length > 60 ? s.slice(0, 59) + "…" : s;
}

// hex shows base64 bytes as a hex dump.
function hex(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = Array.from(bytes.slice(i, i + 16));
    lines.push(i.toString(16).padStart(6, "0") + "  " + row.map((x) => x.toString(16).padStart(2, "0")).join(" ").padEnd(48) + " " + row.map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : ".")).join(""));
  }
  return lines.join("\n");
}

// headerText shows a header value as text, or in hex when it holds
// bytes that are not printable (the binary kafka_dlt-original-* ones).
function headerText(h) {
  if (h.value === null) return "(null)";
  const raw = h.value_encoding === "base64" ? atob(h.value) : h.value;
  if (h.value_encoding !== "base64" && !/[\x00-\x08\x0e-\x1f]/.test(raw)) return raw;
  return "0x" + Array.from(raw, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

function showMessage(target, m) {
  const value = m.value === null ? "(null: a tombstone)" : m.value_encoding === "json" ? JSON.stringify(m.value, null, 2) :
    m.value_encoding === "base64" ? hex(m.value) : m.value;
  target.replaceChildren(
    el("h3", { tabindex: "-1" }, `Partition ${m.partition}, offset ${m.offset}`),
    el("dl", { class: "kv" }, el("dt", {}, "time"), el("dd", {}, m.timestamp),
      el("dt", {}, "key"), el("dd", {}, m.key === null ? "(null)" : m.key + (m.key_encoding === "base64" ? " (base64)" : "")),
      el("dt", {}, "value encoding"), el("dd", {}, m.value_encoding || "null"),
      m.headers.map((h) => [el("dt", {}, "header " + h.key), el("dd", {}, headerText(h))])),
    el("pre", { id: "message-value" }, value));
  target.querySelector("h3").focus();
}

async function groups() {
  const g = await api("/kafka/groups");
  view.replaceChildren(el("h2", {}, "Groups"), g.groups.length === 0 ? el("p", {}, "No groups.") :
    table(["Group", "State", "Protocol"], g.groups.map((x) => [el("a", { href: "#/groups/" + enc(x.name) }, x.name), x.state, x.protocol_type])));
}

async function group(name) {
  const d = await api("/kafka/groups/" + enc(name));
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/groups" }, "← Groups")),
    el("h2", {}, name),
    el("dl", { class: "kv" }, el("dt", {}, "state"), el("dd", {}, d.state), el("dt", {}, "members"), el("dd", {}, d.members.length),
      el("dt", {}, "lag"), el("dd", { id: "group-lag" }, num(d.lag))),
    el("h3", {}, "Lag per partition"),
    barChart("Lag per partition", d.offsets.map((o) => ({ label: o.topic + " / " + o.partition, value: Math.max(o.lag, 0) }))),
    table(["Topic", "Partition", "Committed", "High watermark", "Lag", "Member"],
      d.offsets.map((o) => [o.topic, o.partition, o.committed < 0 ? "none" : num(o.committed), num(o.high_watermark), num(o.lag), o.member || ""]), [0, 1, 1, 1, 1]),
    el("h3", {}, "Members"),
    d.members.length === 0 ? el("p", { class: "muted" }, "No members.") :
      table(["Member", "Client", "Host", "Assigned"], d.members.map((m) => [m.member_id, m.client_id, m.client_host,
        Object.entries(m.assigned).map(([t, ps]) => t + ": " + ps.join(",")).join("; ")])));
  timer = setTimeout(() => run(() => group(name)), 3000);
}

// Dead letters: topics that look like dead-letter topics, then one topic's
// failures grouped, one letter's error and stack, and a replay that
// previews with a dry run first.
async function dlqTopics() {
  const t = await api("/kafka/topics");
  const likely = t.topics.filter((x) => /(dlt|dlq|dead)/i.test(x.name));
  const form = el("form", { class: "filters", onsubmit: (ev) => { ev.preventDefault(); location.hash = "#/dlq/" + enc(form.elements.topic.value); } },
    el("label", {}, "Dead-letter topic", el("select", { name: "topic" }, t.topics.map((x) => el("option", { value: x.name, selected: likely[0] && likely[0].name === x.name }, x.name)))),
    el("button", { type: "submit" }, "Open"));
  view.replaceChildren(el("h2", {}, "Dead letters"),
    likely.length === 0 ? el("p", {}, "No topic is named like a dead-letter topic (dlt, dlq, dead).") :
      table(["Topic", "Dead letters"], likely.map((x) => [el("a", { href: "#/dlq/" + enc(x.name) }, x.name), num(x.messages)]), [0, 1]),
    el("h3", {}, "Any topic"), form);
}

function headerValue(m, key) {
  const h = m.headers.filter((x) => x.key === key).pop();
  return h && h.value !== null ? (h.value_encoding === "base64" ? atob(h.value) : h.value) : "";
}

async function dlqTopic(name) {
  const d = await api("/kafka/dlq/" + enc(name) + "?limit=50");
  const letter = el("div", { id: "letter" });
  const result = el("div", { id: "replay-result", "aria-live": "polite" });
  const form = el("form", { class: "filters", onsubmit: (ev) => ev.preventDefault() },
    el("label", {}, "Send to (default: each letter's original topic)", el("input", { name: "to", size: 16 })),
    el("label", {}, "Limit (0: all)", el("input", { name: "limit", inputmode: "numeric", size: 5, value: "0" })),
    el("label", {}, "Only from topic", el("input", { name: "original_topic", size: 14 })),
    el("label", {}, "Only with error text", el("input", { name: "message", size: 14 })),
    el("label", {}, "Only with key", el("input", { name: "key", size: 10 })),
    el("label", {}, "From offset", el("input", { name: "from_offset", inputmode: "numeric", size: 6 })),
    el("label", {}, "To offset", el("input", { name: "to_offset", inputmode: "numeric", size: 6 })),
    el("button", { type: "button", id: "dry-run", onclick: () => replay(name, form, true, result) }, "Preview (dry run)"));
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/dlq" }, "← Dead letters")),
    el("h2", {}, name),
    el("p", { class: "muted" }, `The newest ${num(d.scanned)} dead letters, grouped by original topic and exception.`),
    d.failures.length === 0 ? el("p", {}, "No dead letters.") :
      table(["Original topic", "Exception", "Count", "First failure", "Last failure", "Example"],
        d.failures.map((f) => [f.original_topic || "(unknown)", f.exception || "(unknown)", num(f.count), f.first_failure, f.last_failure, f.example]), [0, 0, 1]),
    el("h3", {}, "Replay"), form, result,
    el("h3", {}, "Newest dead letters"),
    d.messages.length === 0 ? el("p", { class: "muted" }, "None.") :
      el("div", { id: "letter-list" }, table(["Partition", "Offset", "Key", "Error"], d.messages.map((m) => [m.partition, m.offset, m.key === null ? "(null)" : m.key,
        el("button", { class: "link", type: "button", "data-offset": m.offset, onclick: () => showLetter(letter, m) }, headerValue(m, "kafka_dlt-exception-message") || "(no message)")]), [1, 1])),
    letter);
}

function showLetter(target, m) {
  showMessage(target, m);
  target.append(el("h3", {}, "Error"), el("pre", { id: "letter-error" }, headerValue(m, "kafka_dlt-exception-fqcn") + ": " + headerValue(m, "kafka_dlt-exception-message")),
    el("h3", {}, "Stack"), el("pre", {}, headerValue(m, "kafka_dlt-exception-stacktrace") || "(none)"));
}

// replay posts a replay; a real one is offered only after a dry run has
// shown what it would send.
async function replay(name, form, dryRun, result) {
  const body = { dry_run: dryRun, to: form.elements.to.value, limit: Number(form.elements.limit.value || 0), select: {} };
  for (const k of ["original_topic", "message", "key"]) if (form.elements[k].value !== "") body.select[k] = form.elements[k].value;
  for (const k of ["from_offset", "to_offset"]) if (form.elements[k].value !== "") body.select[k] = Number(form.elements[k].value);
  result.replaceChildren(el("p", {}, dryRun ? "Previewing…" : "Replaying…"));
  const [resp, a] = await post("/kafka/dlq/" + enc(name) + "/replay", body);
  if (!resp.ok) {
    result.replaceChildren(el("p", { class: "error", role: "alert" }, "Error: " + failure(resp, a)));
    return;
  }
  const summary = el("p", { id: dryRun ? "dry-run-summary" : "replay-summary" },
    (dryRun ? "A replay would send " : "Sent ") + a.total + " dead letters" +
    (a.total ? " (" + Object.entries(a.replayed).map(([t, n]) => n + " to " + t).join(", ") + ")" : "") +
    (a.parked ? ", " + a.parked + " of them parked" : "") + ".");
  // Letters whose destination was refused stay where they are; say which and why.
  const refused = a.refused ? el("p", { id: "replay-refused", class: "error", role: "alert" },
    a.refused + (dryRun ? " dead letters would not be sent" : " dead letters were not sent") + " and stay in the topic:") : null;
  result.replaceChildren(summary,
    a.records.length ? table(["Partition", "Offset", "Key", "To", "Error"], a.records.map((r) => [r.partition, r.offset, r.key === null ? "(null)" : r.key,
      r.to + (r.to_partition >= 0 ? " / " + r.to_partition : "") + (r.parked ? " (parked)" : ""), r.error]), [1, 1]) : null,
    refused,
    refused ? table(["Partition", "Offset", "Key", "Why"], a.refused_records.map((r) => [r.partition, r.offset, r.key === null ? "(null)" : r.key,
      r.refused.message]), [1, 1]) : null,
    dryRun && a.total > 0 ? el("button", { type: "button", id: "replay", onclick: () => replay(name, form, false, result) }, "Replay " + a.total + " dead letters") : null);
}

// run shows one view, turning failures into a message on the page.
async function run(fn) {
  try {
    await fn();
    statusLine.textContent = "";
  } catch (e) {
    if (e instanceof Stale) return;
    if (e instanceof Unauthorized) {
      showLogin(sessionStorage.getItem("kafkakit-token") ? "That token was refused." : "");
      return;
    }
    statusLine.replaceChildren(el("span", { class: "error" }, "Error: " + e.message));
  }
}

function route() {
  shown++;
  clearTimeout(timer);
  stopLive();
  const [path, query] = location.hash.slice(1).split("?");
  const parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
  const section = parts[0] || "overview";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const params = new URLSearchParams(query || "");
  if (section === "topics" && parts[1]) run(() => topic(parts[1], params));
  else if (section === "topics") run(topics);
  else if (section === "groups" && parts[1]) run(() => group(parts[1]));
  else if (section === "groups") run(groups);
  else if (section === "dlq" && parts[1]) run(() => dlqTopic(parts[1]));
  else if (section === "dlq") run(dlqTopics);
  else run(overview);
}

window.addEventListener("hashchange", route);
route();
