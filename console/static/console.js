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

// request sends body, if any, as JSON to a route with method and returns
// the answer with its decoded body.
async function request(method, path, body) {
  const resp = await fetch(path, { method, headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body) });
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
  learnScopes();
  route();
});

// scopes are what GET /kafka/whoami says the token may do: "read",
// "replay", "admin", and "send:<pattern>" / "consume:<pattern>". Until it
// has answered, the token may do nothing: controls are shown only once
// they are known to be allowed. Views do not wait for it: they are drawn
// at once, and their controls appear when it answers.
let scopes = [];

// learnScopes asks the server what the token may do and marks the page
// with a may-<scope> class per scope held, which the style sheet uses to
// hide every control marked data-scope="<scope>" the token may not use;
// a control marked data-topic too is shown only when the token holds the
// scope for that topic. The server refuses such a request anyway; this
// spares the click.
async function learnScopes() {
  scopes = [];
  try {
    const resp = await fetch("/kafka/whoami", { headers: authHeaders({ Accept: "application/json" }), cache: "no-store" });
    if (resp.ok) scopes = (await resp.json()).scopes || [];
  } catch (e) { scopes = []; }
  for (const s of ["read", "send", "consume", "replay", "admin"]) {
    document.body.classList.toggle("may-" + s, scopes.some((x) => x === s || x.startsWith(s + ":")));
  }
  for (const e of document.querySelectorAll("[data-scope][data-topic]")) e.hidden = !mayFor(e.dataset.scope, e.dataset.topic);
}

// mayFor reports whether the token holds scope (send or consume) for
// topic, matching its patterns as the server does: a name, prefix*, or *.
function mayFor(scope, topic) {
  if (topic === "__kafkakit_idempotency") return false;
  return scopes.some((x) => {
    if (!x.startsWith(scope + ":")) return false;
    const p = x.slice(scope.length + 1);
    return p.endsWith("*") ? topic.startsWith(p.slice(0, -1)) : topic === p;
  });
}

const enc = encodeURIComponent;
const num = (n) => Number(n).toLocaleString("en");

// first is the overview's figures the server put in the page, so that its
// first paint shows them; null when it did not (a token is needed) or once
// the overview has used them.
let first = null;
try {
  const text = document.getElementById("first-figures").textContent;
  if (text.trim() !== "") first = JSON.parse(text);
} catch (e) { first = null; }

// Times are shown relative ("12 s ago") in <time> elements whose title is
// the exact time in the browser's time zone and in UTC; the relative text
// is kept current every second.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

function relative(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000), a = Math.abs(s);
  const [n, unit] = a < 60 ? [a, "s"] : a < 3600 ? [Math.floor(a / 60), "min"] : a < 86400 ? [Math.floor(a / 3600), "h"] : [Math.floor(a / 86400), "d"];
  return s >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

const pad = (n, w) => String(n).padStart(w || 2, "0");

// clock is d's time of day in the browser's time zone, hh:mm:ss.
const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

// localExact is d in the browser's time zone, to the millisecond.
const localExact = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(d)}.${pad(d.getMilliseconds(), 3)}`;

const exact = (d) => `${localExact(d)} (${zone}), ${d.toISOString()}`;

// when shows an RFC 3339 time relative, with the exact time on hover.
function when(iso, id) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return iso ? String(iso) : "–";
  return el("time", { id: id, class: "rel", datetime: d.toISOString(), title: exact(d) }, relative(d));
}

// date shows a time as a local date, with the exact time on hover.
const date = (d) => el("time", { datetime: d.toISOString(), title: exact(d) }, localExact(d));

setInterval(() => {
  for (const t of document.querySelectorAll("time.rel")) t.textContent = relative(new Date(t.dateTime));
}, 1000);

// table draws rows under head, in a box that scrolls sideways when the
// table is wider. A reflowing table becomes, on a narrow screen, one block
// per row with each cell under its column's name (see console.css).
function table(head, rows, numeric, reflow) {
  return el("div", { class: "scroll" }, el("table", { class: reflow ? "reflow" : null },
    el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { scope: "col", class: numeric && numeric[i] ? "num" : null }, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: numeric && numeric[i] ? "num" : null, "data-label": reflow ? head[i] : null }, c)))))));
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

// lineChart draws one series of samples ({t: Date, v}) over time, on a
// time axis whose ticks are the browser's local clock times.
function lineChart(title, samples) {
  const w = 600, h = 180, left = 56, right = 20, top = 16, bottom = 40;
  const maxV = Math.max(1, ...samples.map((s) => s.v));
  const t0 = samples.length ? samples[0].t.getTime() : 0, t1 = samples.length ? samples[samples.length - 1].t.getTime() : 0;
  const x = (t) => left + (t1 > t0 ? ((t - t0) * (w - left - right)) / (t1 - t0) : w - left - right);
  const y = (v) => h - bottom - ((h - top - bottom) * v) / maxV;
  const ticks = [];
  const n = t1 > t0 ? 4 : 1;
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? t1 : t0 + ((t1 - t0) * i) / (n - 1), d = new Date(t);
    const anchor = n === 1 || i === n - 1 ? "end" : i === 0 ? "start" : "middle";
    ticks.push(el("svg:line", { class: "axis", x1: x(t), y1: h - bottom, x2: x(t), y2: h - bottom + 5 }),
      el("svg:text", { class: "tick", x: x(t), y: h - bottom + 20, "text-anchor": anchor, "data-time": d.toISOString() },
        clock(d)));
  }
  return el("svg:svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": title },
    el("svg:title", {}, title),
    el("svg:line", { class: "axis", x1: left, y1: top, x2: left, y2: h - bottom }),
    el("svg:line", { class: "axis", x1: left, y1: h - bottom, x2: w - right, y2: h - bottom }),
    el("svg:text", { x: left - 6, y: top + 5, "text-anchor": "end" }, num(Math.round(maxV))),
    el("svg:text", { x: left - 6, y: h - bottom + 5, "text-anchor": "end" }, "0"),
    ticks,
    el("svg:text", { x: w - right, y: h - 2, "text-anchor": "end" }, "local time (" + zone + ")"),
    el("svg:polyline", { points: samples.map((s) => `${x(s.t.getTime())},${y(s.v)}`).join(" ") }));
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
  const card = (id, value, label, title) => el("div", { class: "card", title: title }, el("b", { id }, value), label);
  if (!last) {
    // The server measures rates between two samples a second apart.
    box.replaceChildren(el("div", { class: "cards" },
      card("live-produced", "–", "produced/s", "measured from the next second on"),
      card("live-consumed", "–", "consumed/s", "measured from the next second on"),
      card("live-lag", "–", "lag", "measured from the next second on")),
    el("p", { class: "muted", id: "live-state" }, live.state === "reconnecting" ? "Reconnecting…" : "Live figures start within a second."));
    return;
  }
  const http = {};
  for (const ev of evs.slice(-60)) for (const [k, v] of Object.entries(ev.http)) http[k] = (http[k] || 0) + v;
  const series = (f) => evs.map((e) => ({ t: new Date(e.time), v: f(e) })).filter((p) => !isNaN(p.t));
  box.replaceChildren(
    el("div", { class: "cards" },
      card("live-produced", sum(last.produced).toFixed(1), "produced/s"),
      card("live-consumed", sum(last.consumed).toFixed(1), "consumed/s"),
      card("live-lag", num(sum(last.lag)), "lag")),
    el("p", { class: "muted", id: "live-state", "data-event": last.id },
      live.state === "on" ? "Live, every second; last update " : live.state === "reconnecting" ? "Reconnecting…; last update " : "Connecting…; last update ",
      when(last.time, "live-updated")),
    el("h3", {}, "Produced messages per second (all topics)"),
    lineChart("Produced messages per second over the last minutes", series((e) => sum(e.produced))),
    el("h3", {}, "Consumed messages per second (all topics)"),
    lineChart("Consumed messages per second over the last minutes", series((e) => sum(e.consumed))),
    el("h3", {}, "Lag per group"),
    Object.keys(last.lag).length === 0 ? el("p", { class: "muted" }, "No consumer of this server is running.") :
      barChart("Lag per group", Object.entries(last.lag).map(([g, v]) => ({ label: g, value: v }))),
    el("h3", {}, "HTTP answers in the last minute"),
    Object.keys(http).length === 0 ? el("p", { class: "muted" }, "None.") :
      table(["Status", "Requests"], Object.entries(http).sort().map(([k, v]) => [k, num(v)]), [0, 1]));
}

// deadLetterTopics are the topics named like dead-letter topics (dlt,
// dlq, dead), those the overview counts and the dead letters page lists.
const deadLetterTopics = (topics) => topics.filter((x) => /(dlt|dlq|dead)/i.test(x.name));

// Overview: totals, the live figures, and messages kept per topic. Its
// first drawing uses the figures the server put in the page, if any.
async function overview() {
  let t, g;
  if (first) {
    [t, g] = [{ topics: first.topics }, { groups: first.groups }];
    if (first.live === null) live.state = "off";
    else if (first.live.length > 0 && live.events.length === 0) {
      live.events = first.live;
      live.lastId = String(first.live[first.live.length - 1].id);
    }
    first = null;
  } else {
    [t, g] = await Promise.all([api("/kafka/topics"), api("/kafka/groups")]);
  }
  const total = t.topics.reduce((s, x) => s + x.messages, 0);
  const dead = deadLetterTopics(t.topics).reduce((s, x) => s + x.messages, 0);
  view.replaceChildren(
    el("h2", {}, "Overview"),
    el("div", { class: "cards" },
      el("div", { class: "card" }, el("b", { id: "topic-count" }, t.topics.length), "topics"),
      el("div", { class: "card" }, el("b", { id: "message-count" }, num(total)), "messages kept"),
      el("div", { class: "card" }, el("b", { id: "group-count" }, g.groups.length), "groups"),
      el("div", { class: "card", title: "Messages kept in topics named like dead-letter topics (dlt, dlq, dead)" },
        el("b", { id: "dead-letter-count" }, num(dead)), el("a", { href: "#/dlq" }, "dead letters"))),
    el("div", { id: "live" }),
    el("h3", {}, "Messages per topic"),
    barChart("Messages per topic", t.topics.map((x) => ({ label: x.name, value: x.messages }))));
  drawLive();
  if (live.state !== "off") startLive();
  timer = setTimeout(() => run(overview), 5000);
}

async function topics() {
  const t = await api("/kafka/topics");
  view.replaceChildren(el("h2", {}, "Topics"), t.topics.length === 0 ? el("p", {}, "No topics.") :
    table(["Topic", "Partitions", "Messages"], t.topics.map((x) => [el("a", { href: "#/topics/" + enc(x.name) }, x.name), x.partitions, num(x.messages)]), [0, 1, 1]),
    createTopicPanel());
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
    // Shown when the token may send to this topic, not only to some.
    el("div", { "data-scope": "send", "data-topic": name, hidden: !mayFor("send", name) }, el("h3", {}, "Produce"), produceForm(name, d.partition_list)),
    topicActions(name, d),
    el("h3", {}, "Messages"), form,
    page.messages.length === 0 ? el("p", { class: "muted" }, "No messages in this page.") :
      table(["Partition", "Offset", "Time", "Key", "Value"], page.messages.map((m) => [m.partition, m.offset, when(m.timestamp), keyText(m),
        el("button", { class: "link", type: "button", "data-offset": m.offset, onclick: () => showMessage(detail, m) }, preview(m))]), [1, 1]),
    detail);
}

// localTime is an RFC 3339 time as a datetime-local input shows it, in the
// browser's time zone; "" for none.
function localTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// produceForm sends one message with POST /kafka/send. A value that
// parses as a JSON object or array is sent as JSON; anything else as text.
function produceForm(name, partitions) {
  const result = el("p", { id: "produce-result", role: "status" });
  const form = el("form", { class: "filters", id: "produce", "data-scope": "send", onsubmit: async (ev) => {
    ev.preventDefault();
    const msg = { topic: name, value: form.elements.value.value };
    try {
      const v = JSON.parse(msg.value);
      if (v !== null && typeof v === "object") msg.value = v;
    } catch (e) { /* text */ }
    if (form.elements.key.value !== "") msg.key = form.elements.key.value;
    if (form.elements.partition.value !== "") msg.partition = Number(form.elements.partition.value);
    result.textContent = "Sending…";
    const [resp, a] = await request("POST", "/kafka/send", msg);
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
  el("button", { type: "submit", "data-scope": "send" }, "Send"));
  return el("div", {}, form, result);
}

// byteLength is how many bytes a base64 text holds.
const byteLength = (b64) => atob(b64).length;

// binary names bytes that are not text, for a list: their base64 is
// shown in the message's detail.
const binary = (b64) => `binary, ${num(byteLength(b64))} byte${byteLength(b64) === 1 ? "" : "s"}`;

function preview(m) {
  if (m.value_encoding === "base64") return binary(m.value);
  const s = m.value === null ? "(null)" : m.value_encoding === "json" ? JSON.stringify(m.value) : m.value;
  return s.length > 60 ? s.slice(0, 59) + "…" : s;
}

function keyText(m) {
  if (m.key === null) return "(null)";
  return m.key_encoding === "base64" ? binary(m.key) : m.key;
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

// headerBytes is a header's value as bytes.
function headerBytes(h) {
  return h.value_encoding === "base64" ? Uint8Array.from(atob(h.value), (c) => c.charCodeAt(0)) : new TextEncoder().encode(h.value);
}

// numberHeaders are the headers Spring writes as big-endian numbers: a
// 4-byte int or an 8-byte long, a long being a time in Unix milliseconds
// where its name says timestamp.
const numberHeaders = {
  "kafka_dlt-original-partition": 4, "kafka_dlt-original-offset": 8, "kafka_dlt-original-timestamp": 8,
  "retry_topic-attempts": 4, "retry_topic-backoff-timestamp": 8, "retry_topic-original-timestamp": 8,
};

// headerText shows a header value: Spring's numbers as numbers and dates,
// text as text, and other bytes in hex.
function headerText(h) {
  if (h.value === null) return "(null)";
  const size = numberHeaders[h.key], bytes = headerBytes(h);
  if (size && bytes.length === size) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = size === 4 ? dv.getInt32(0) : dv.getBigInt64(0);
    if (h.key.endsWith("timestamp")) {
      const d = new Date(Number(n));
      if (!isNaN(d)) return date(d);
    }
    return n.toLocaleString("en"); // a BigInt keeps every digit of a long
  }
  if (h.value_encoding !== "base64" && !/[\x00-\x08\x0e-\x1f]/.test(h.value)) return h.value;
  return "0x" + Array.from(bytes, (c) => c.toString(16).padStart(2, "0")).join("");
}

function showMessage(target, m) {
  const value = m.value === null ? "(null: a tombstone)" : m.value_encoding === "json" ? JSON.stringify(m.value, null, 2) :
    m.value_encoding === "base64" ? hex(m.value) : m.value;
  target.replaceChildren(
    el("h3", { tabindex: "-1" }, `Partition ${m.partition}, offset ${m.offset}`),
    el("dl", { class: "kv" }, el("dt", {}, "time"), el("dd", {}, when(m.timestamp)),
      el("dt", {}, "key"), el("dd", {}, m.key === null ? "(null)" : m.key_encoding === "base64" ? binary(m.key) + ", base64 " + m.key : m.key),
      el("dt", {}, "value encoding"), el("dd", {}, m.value_encoding === "base64" ? "base64 (" + binary(m.value) + ")" : m.value_encoding || "null"),
      m.truncated ? [el("dt", {}, "truncated"), el("dd", {}, "yes: the page holds only the start of this message")] : null,
      m.headers.map((h) => [el("dt", {}, "header " + h.key), el("dd", {}, headerText(h))])),
    el("pre", { id: "message-value" }, value),
    ...(m.value_encoding === "base64" ? [el("h4", {}, "Value in base64"), el("pre", { id: "message-base64" }, m.value)] : []));
  target.querySelector("h3").focus();
}

// protocol names a group's protocol honestly: the protocol type
// "consumer" is any Kafka consumer's, not KIP-848's group protocol.
function protocol(g) {
  const p = g.group_protocol === "consumer" ? "consumer (KIP-848)" : g.group_protocol || "classic";
  return g.protocol_type && g.protocol_type !== "consumer" ? `${p}, ${g.protocol_type}` : p;
}

async function groups() {
  const g = await api("/kafka/groups");
  view.replaceChildren(el("h2", {}, "Groups"), g.groups.length === 0 ? el("p", {}, "No groups.") :
    table(["Group", "State", "Protocol"], g.groups.map((x) => [el("a", { href: "#/groups/" + enc(x.name) }, x.name), x.state, protocol(x)])));
}

// group shows a group; every 3 s it redraws its figures, leaving the
// reset and delete forms (ops.js) as they are, half filled in or not.
async function group(name) {
  const d = await api("/kafka/groups/" + enc(name));
  const figures = el("div", { id: "group-figures", "data-group": name },
    el("dl", { class: "kv" }, el("dt", {}, "state"), el("dd", { id: "group-state" }, d.state),
      el("dt", {}, "protocol"), el("dd", { id: "group-protocol" }, protocol(d)),
      el("dt", {}, "assignor"), el("dd", { id: "group-assignor" }, d.assignor || "(none yet)"),
      el("dt", {}, "members"), el("dd", { id: "group-members" }, d.members.length),
      el("dt", {}, "lag"), el("dd", { id: "group-lag" }, num(d.lag))),
    el("h3", {}, "Lag per partition"),
    barChart("Lag per partition", d.offsets.map((o) => ({ label: o.topic + " / " + o.partition, value: Math.max(o.lag, 0) }))),
    table(["Topic", "Partition", "Committed", "High watermark", "Lag", "Member"],
      d.offsets.map((o) => [o.topic, o.partition, o.committed < 0 ? "none" : num(o.committed), num(o.high_watermark), num(o.lag), o.member || ""]), [0, 1, 1, 1, 1]),
    el("h3", {}, "Members"),
    d.members.length === 0 ? el("p", { class: "muted" }, "No members.") :
      table(["Member", "Client", "Host", "Assigned"], d.members.map((m) => [m.member_id, m.client_id, m.client_host,
        Object.entries(m.assigned).map(([t, ps]) => t + ": " + ps.join(",")).join("; ")])));
  const shownNow = document.getElementById("group-figures");
  if (shownNow && shownNow.dataset.group === name) shownNow.replaceWith(figures);
  else view.replaceChildren(el("p", {}, el("a", { href: "#/groups" }, "← Groups")), el("h2", {}, name), figures, groupActions(name, d));
  timer = setTimeout(() => run(() => group(name)), 3000);
}

// Consumers: this instance's own consumers (GET /kafka/consumers), each
// subscription's parked keys and oldest retry, and the retry records that
// have waited for an older record of their key past the stuck bound: a
// stuck key must be seen, not found in a metric.
async function consumers() {
  const d = await api("/kafka/consumers");
  view.replaceChildren(el("h2", {}, "Consumers"),
    ...(d.consumers.length === 0 ? [el("p", {}, "This instance runs no consumer.")] : d.consumers.map(consumerStatus)));
  timer = setTimeout(() => run(consumers), 3000);
}

function consumerStatus(c) {
  const subs = c.subscriptions || [];
  return el("section", { class: "consumer" },
    el("h3", {}, el("a", { href: "#/groups/" + enc(c.group) }, c.group), c.ready ? "" : " (not joined yet)"),
    c.last_error ? el("p", { class: "error" }, "Last error: " + c.last_error) : null,
    table(["Topic", "Partitions", "Parked keys", "Oldest retry", "Stuck records"], subs.map((s) => [s.topic,
      (s.partitions || []).map((p) => p.partition).join(",") || "none", num(s.parked_keys),
      s.oldest_retry_age_seconds > 0 ? lasting(s.oldest_retry_age_seconds) : "–", num((s.stuck_records || []).length)]), [0, 0, 1, 1, 1], true),
    subs.filter((s) => (s.stuck_records || []).length > 0).map(stuckRecords));
}

// stuckRecords lists a subscription's stuck retry records, oldest first,
// with how long each has waited since it was written to its retry topic.
function stuckRecords(s) {
  return el("div", { class: "stuck" },
    el("h4", { class: "error" }, "Stuck in the retry path of " + s.topic),
    table(["Retry topic", "Partition", "Key", "Offset", "Waits for offset", "Stuck for"], s.stuck_records.map((r) => [
      r.topic, r.partition, el("code", {}, r.key), num(r.offset), num(r.waits_for_original_offset) + " of " + s.topic,
      el("span", { title: "in its retry topic since " + exactTime(r.since) }, lasting(r.age_seconds))]), [0, 1, 0, 1, 1, 1], true));
}

// lasting is a number of seconds as "12 s", "4 min 5 s" or "2 h 10 min".
function lasting(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

// exactTime is an RFC 3339 time in full, or as it came when it is none.
function exactTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : exact(d);
}

// Dead letters: topics that look like dead-letter topics, then one topic's
// failures grouped, one letter's error and stack, and a replay that
// previews with a dry run first.
async function dlqTopics() {
  const t = await api("/kafka/topics");
  const likely = deadLetterTopics(t.topics);
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
  const form = el("form", { class: "filters", "data-scope": "replay", onsubmit: (ev) => ev.preventDefault() },
    el("label", {}, "Send to (default: each letter's original topic)", el("input", { name: "to", size: 16 })),
    el("label", {}, "Limit (0: all)", el("input", { name: "limit", inputmode: "numeric", size: 5, value: "0" })),
    el("label", {}, "Only from topic", el("input", { name: "original_topic", size: 14 })),
    el("label", {}, "Only with error text", el("input", { name: "message", size: 14 })),
    el("label", {}, "Only with key", el("input", { name: "key", size: 10 })),
    el("label", {}, "From offset", el("input", { name: "from_offset", inputmode: "numeric", size: 6 })),
    el("label", {}, "To offset", el("input", { name: "to_offset", inputmode: "numeric", size: 6 })),
    el("button", { type: "button", id: "dry-run", "data-scope": "replay", onclick: () => replay(name, form, true, result) }, "Preview (dry run)"));
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/dlq" }, "← Dead letters")),
    el("h2", {}, name),
    el("p", { class: "muted" }, `The newest ${num(d.scanned)} dead letters, grouped by original topic, exception type and cause.`),
    d.failures.length === 0 ? el("p", {}, "No dead letters.") :
      el("div", { id: "failures" }, table(["Original topic", "Cause", "Count", "First failure", "Last failure", "Example"],
        d.failures.map((f) => [f.original_topic || "(unknown)", el("span", { title: f.exception ? "type: " + f.exception : null }, f.cause || "(unknown)"),
          num(f.count), when(f.first_failure), when(f.last_failure), f.example]), [0, 0, 1], true)),
    el("div", { "data-scope": "replay" }, el("h3", {}, "Replay"), form, result),
    el("h3", {}, "Newest dead letters"),
    d.messages.length === 0 ? el("p", { class: "muted" }, "None.") :
      el("div", { id: "letter-list" }, table(["Partition", "Offset", "Key", "Cause", "Error"], d.messages.map((m) => [m.partition, m.offset, keyText(m),
        m.dead_letter.cause || "(unknown)",
        el("button", { class: "link", type: "button", "data-offset": m.offset, onclick: () => showLetter(letter, m) }, headerValue(m, "kafka_dlt-exception-message") || "(no message)")]), [1, 1], true)),
    letter);
}

function showLetter(target, m) {
  showMessage(target, m);
  target.append(el("h3", {}, "Error"),
    el("dl", { class: "kv" }, el("dt", {}, "cause"), el("dd", { id: "letter-cause" }, m.dead_letter.cause || "(unknown)"),
      el("dt", {}, "type"), el("dd", { id: "letter-type" }, m.dead_letter.exception || "(unknown)")),
    el("pre", { id: "letter-error" }, headerValue(m, "kafka_dlt-exception-fqcn") + ": " + headerValue(m, "kafka_dlt-exception-message")),
    el("h3", {}, "Stack"), el("pre", {}, headerValue(m, "kafka_dlt-exception-stacktrace") || "(none)"));
}

// replay posts a replay; a real one is offered only after a dry run has
// shown what it would send.
async function replay(name, form, dryRun, result) {
  const body = { dry_run: dryRun, to: form.elements.to.value, limit: Number(form.elements.limit.value || 0), select: {} };
  for (const k of ["original_topic", "message", "key"]) if (form.elements[k].value !== "") body.select[k] = form.elements[k].value;
  for (const k of ["from_offset", "to_offset"]) if (form.elements[k].value !== "") body.select[k] = Number(form.elements[k].value);
  result.replaceChildren(el("p", {}, dryRun ? "Previewing…" : "Replaying…"));
  const [resp, a] = await request("POST", "/kafka/dlq/" + enc(name) + "/replay", body);
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
  // replaceChildren writes null as the text "null": leave the parts out.
  result.replaceChildren(...[summary,
    a.records.length ? table(["Partition", "Offset", "Key", "To", "Error"], a.records.map((r) => [r.partition, r.offset, r.key === null ? "(null)" : r.key,
      r.to + (r.to_partition >= 0 ? " / " + r.to_partition : "") + (r.parked ? " (parked)" : ""), r.error]), [1, 1]) : null,
    refused,
    refused ? table(["Partition", "Offset", "Key", "Why"], a.refused_records.map((r) => [r.partition, r.offset, r.key === null ? "(null)" : r.key,
      r.refused.message]), [1, 1]) : null,
    dryRun && a.total > 0 ? el("button", { type: "button", id: "replay", "data-scope": "replay", onclick: () => replay(name, form, false, result) }, "Replay " + a.total + " dead letters") : null].filter((n) => n !== null));
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
  let parts;
  try {
    parts = (path || "/").split("/").filter(Boolean).map(decodeURIComponent);
  } catch (e) {
    parts = null; // a malformed escape, such as %E0%A4%A
  }
  const section = parts === null ? "" : parts[0] || "overview";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const params = new URLSearchParams(query || "");
  if (section === "topics" && parts[1]) run(() => topic(parts[1], params));
  else if (section === "topics") run(topics);
  else if (section === "groups" && parts[1]) run(() => group(parts[1]));
  else if (section === "groups") run(groups);
  else if (section === "share-groups" && parts[1]) run(() => shareGroup(parts[1]));
  else if (section === "share-groups") run(shareGroups);
  else if (section === "consumers") run(consumers);
  else if (section === "dlq" && parts[1]) run(() => dlqTopic(parts[1]));
  else if (section === "dlq") run(dlqTopics);
  else if (section === "overview") run(overview);
  else notFound();
}

// notFound is the view for an address that is no page of the console.
function notFound() {
  statusLine.textContent = "";
  view.replaceChildren(el("h2", { id: "not-found" }, "Not found"),
    el("p", {}, "The address ", el("code", {}, location.hash), " is not a page of this console."),
    el("p", {}, el("a", { href: "#/" }, "Go to the overview")));
}

window.addEventListener("hashchange", route);
learnScopes();
route();
