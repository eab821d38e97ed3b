// kafkakit console: the operator's actions on top of the views of
// console.js (loaded after this file; these functions run only once it
// has). Each action is previewed first, with the dry run the admin API
// answers, and only a second, explicit click makes the change. Every
// control that changes something carries data-scope, the scope a token
// needs for it. As in console.js, everything is built with el(), never
// innerHTML: names and settings come from the cluster and its users.
"use strict";

// errorLine is an answer's error, shown as text.
const errorLine = (resp, body) => el("p", { class: "error", role: "alert" }, "Error: " + failure(resp, body) + " (" + resp.status + ")");

// answered shows an action's answer in box: on success what draw makes
// of it, else its error. It returns whether it succeeded.
function answered(box, resp, body, draw) {
  if (resp.status === 401) { showLogin("That token was refused."); return false; }
  if (!resp.ok) { box.replaceChildren(errorLine(resp, body)); return false; }
  box.replaceChildren(...[draw(body)].flat().filter((n) => n !== null));
  return true;
}

// settingLines reads "key=value" lines into settings; an empty value
// ("key=") is null, the broker's default, where allowNull.
function settingLines(text, allowNull) {
  const out = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const i = line.indexOf("=");
    if (i <= 0) throw new Error(`"${line}" is not key=value`);
    const v = line.slice(i + 1).trim();
    out[line.slice(0, i).trim()] = v === "" && allowNull ? null : v;
  }
  return out;
}

// createTopicPanel is the topics view's form: a preview of the creation
// (the broker validates it), then the creation.
function createTopicPanel() {
  const result = el("div", { id: "create-result", "aria-live": "polite" });
  const form = el("form", { class: "filters", id: "create-topic", "data-scope": "admin", onsubmit: (ev) => { ev.preventDefault(); createTopic(form, true, result); } },
    el("label", {}, "Name", el("input", { name: "name", size: 18, required: true })),
    el("label", {}, "Partitions", el("input", { name: "partitions", inputmode: "numeric", size: 4, value: "1" })),
    el("label", {}, "Replication (empty: the broker's)", el("input", { name: "replication_factor", inputmode: "numeric", size: 4 })),
    el("label", {}, "Settings (key=value a line)", el("textarea", { name: "configs", rows: 2, cols: 24, placeholder: "retention.ms=86400000" })),
    el("button", { type: "submit", id: "create-preview", "data-scope": "admin" }, "Preview"));
  return el("div", {}, el("h3", {}, "Create a topic"), form, result);
}

async function createTopic(form, dryRun, result) {
  let body;
  try {
    body = { name: form.elements.name.value, partitions: Number(form.elements.partitions.value || 0),
      replication_factor: Number(form.elements.replication_factor.value || 0), configs: settingLines(form.elements.configs.value, false) };
  } catch (e) { result.replaceChildren(el("p", { class: "error", role: "alert" }, "Error: " + e.message)); return; }
  const [resp, a] = await request("POST", "/kafka/topics" + (dryRun ? "?dry_run=true" : ""), body);
  answered(result, resp, a, (a) => {
    const settings = Object.entries(a.configs).map(([k, v]) => k + "=" + v).join(", ");
    const what = `topic ${a.topic} with ${a.partitions} partitions, replication factor ${a.replication_factor}` + (settings ? ", " + settings : "");
    if (!dryRun) return el("p", { id: "create-done" }, "Created ", el("a", { href: "#/topics/" + enc(a.topic) }, a.topic), ".");
    return [el("p", { id: "create-summary" }, "Would create " + what + "."),
      el("button", { type: "button", id: "create-confirm", "data-scope": "admin", onclick: () => createTopic(form, false, result) }, "Create " + a.topic)];
  });
}

// topicActions is a topic view's change and delete forms.
function topicActions(name, d) {
  const changed = el("div", { id: "change-result", "aria-live": "polite" });
  const change = el("form", { class: "filters", id: "change-topic", "data-scope": "admin", onsubmit: (ev) => { ev.preventDefault(); changeTopic(name, change, true, changed); } },
    el("label", {}, "Partitions", el("input", { name: "partitions", inputmode: "numeric", size: 4, value: d.partition_list.length })),
    el("label", {}, "Settings (key=value a line; key= for the default)", el("textarea", { name: "configs", rows: 2, cols: 24 })),
    el("button", { type: "submit", id: "change-preview", "data-scope": "admin" }, "Preview change"));
  const deleted = el("div", { id: "delete-result", "aria-live": "polite" });
  const del = el("form", { class: "filters", id: "delete-topic", "data-scope": "admin", onsubmit: (ev) => { ev.preventDefault(); deleteTopic(name, del, deleted); } },
    el("label", {}, `Type ${name} to delete it and its ${num(d.messages)} messages`, el("input", { name: "confirm", size: 18, autocomplete: "off" })),
    el("button", { type: "submit", id: "delete-confirm", class: "danger", "data-scope": "admin" }, "Delete topic"));
  return el("div", { id: "topic-actions" }, el("h3", {}, "Change"), change, changed, el("h3", {}, "Delete"), del, deleted);
}

async function changeTopic(name, form, dryRun, result) {
  const body = {};
  try {
    const n = Number(form.elements.partitions.value || 0);
    if (n !== Number(form.elements.partitions.defaultValue)) body.partitions = n;
    const configs = settingLines(form.elements.configs.value, true);
    if (Object.keys(configs).length) body.configs = configs;
  } catch (e) { result.replaceChildren(el("p", { class: "error", role: "alert" }, "Error: " + e.message)); return; }
  const [resp, a] = await request("PATCH", "/kafka/topics/" + enc(name) + (dryRun ? "?dry_run=true" : ""), body);
  answered(result, resp, a, (a) => {
    const value = (v, isDefault) => v === null ? (isDefault ? "(default)" : "(hidden)") : v + (isDefault ? " (default)" : "");
    const rows = a.configs.map((c) => [c.key, value(c.from, c.from_default), value(c.to, c.to === null)]);
    if (a.partitions) rows.unshift(["partitions", a.partitions.from, a.partitions.to]);
    return [el("p", { id: dryRun ? "change-summary" : "change-done" }, rows.length === 0 ? "Nothing would change." : (dryRun ? "Would change:" : "Changed:")),
      rows.length ? table(["", "From", "To"], rows) : null,
      a.warnings.map((w) => el("p", { class: "error", role: "alert" }, "Warning: " + w)),
      dryRun && rows.length ? el("button", { type: "button", id: "change-confirm", "data-scope": "admin", onclick: () => changeTopic(name, form, false, result) }, "Apply") : null];
  });
}

async function deleteTopic(name, form, result) {
  const [resp, a] = await request("DELETE", "/kafka/topics/" + enc(name), { confirm: form.elements.confirm.value });
  answered(result, resp, a, (a) => el("p", { id: "delete-done" }, `Deleted ${a.deleted} (${a.partitions} partitions, ${num(a.messages)} messages). `,
    el("a", { href: "#/topics" }, "Back to the topics")));
}

// groupActions is a group view's reset and delete forms; the group view
// keeps them while it redraws its figures.
function groupActions(name, d) {
  const topics = [...new Set(d.offsets.map((o) => o.topic))];
  const result = el("div", { id: "reset-result", "aria-live": "polite" });
  const value = el("input", { name: "value", size: 20, "aria-label": "Time, offset or shift" });
  const kind = el("select", { name: "kind", onchange: () => targetInput(kind, value) },
    ["earliest", "latest", "time", "offset", "shift"].map((k) => el("option", { value: k }, k)));
  const form = el("form", { class: "filters", id: "reset-group", "data-scope": "admin", onsubmit: (ev) => { ev.preventDefault(); resetGroup(name, form, true, result); } },
    el("label", {}, "Topic", el("input", { name: "topic", size: 16, list: "reset-topics", value: topics[0] || "" })),
    el("datalist", { id: "reset-topics" }, topics.map((t) => el("option", { value: t }))),
    el("label", {}, "Partitions (empty: all)", el("input", { name: "partitions", size: 8, placeholder: "0,2" })),
    el("label", {}, "To", kind), el("label", {}, "Value", value),
    el("button", { type: "submit", id: "reset-preview", "data-scope": "admin" }, "Preview reset"));
  targetInput(kind, value);
  const deleted = el("div", { id: "delete-group-result", "aria-live": "polite" });
  const del = el("button", { type: "button", id: "delete-group", class: "danger", "data-scope": "admin", onclick: () => deleted.replaceChildren(
    el("p", {}, `Delete group ${name} and its committed offsets? Its consumers start from their reset policy next time.`),
    el("button", { type: "button", id: "delete-group-confirm", class: "danger", "data-scope": "admin", onclick: () => deleteGroup(name, deleted) }, "Delete group " + name)) }, "Delete group…");
  return el("div", { id: "group-actions" }, el("h3", {}, "Reset offsets"),
    el("p", { class: "muted" }, "Only a group with no members can be reset: stop its consumers first."), form, result,
    el("h3", {}, "Delete"), del, deleted);
}

// targetInput fits the value field to the target kind.
function targetInput(kind, value) {
  const k = kind.value;
  value.disabled = k === "earliest" || k === "latest";
  value.type = k === "time" ? "datetime-local" : "text";
  if (k === "time") value.step = "1";
  value.placeholder = k === "offset" ? "offset" : k === "shift" ? "-100 (back) or 100" : "";
}

async function resetGroup(name, form, dryRun, result) {
  const k = form.elements.kind.value, v = form.elements.value.value;
  let to = k;
  if (k === "time") to = v === "" ? "" : new Date(v).toISOString(); // the browser's local time, sent in UTC
  else if (k === "offset" || k === "shift") to = { [k]: v.trim() === "" ? NaN : Number(v) };
  const parts = form.elements.partitions.value.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const topic = parts.length ? { topic: form.elements.topic.value, partitions: parts } : form.elements.topic.value;
  const [resp, a] = await request("POST", "/kafka/groups/" + enc(name) + "/reset", { topics: [topic], to, dry_run: dryRun });
  const ok = answered(result, resp, a, (a) => [
    el("p", { id: dryRun ? "reset-summary" : "reset-done" }, (dryRun ? "A reset would move " : "Moved ") + a.partitions.length + " partitions: " +
      num(a.skipped) + " records skipped, " + num(a.reread) + " read again."),
    table(["Topic", "Partition", "Old", "New", "Skipped", "Read again", "Note"], a.partitions.map((r) => [r.topic, r.partition,
      r.old_offset < 0 ? "none" : num(r.old_offset), num(r.new_offset), num(r.skipped), num(r.reread), r.note || ""]), [0, 1, 1, 1, 1, 1], true),
    dryRun ? el("button", { type: "button", id: "reset-confirm", "data-scope": "admin", onclick: () => resetGroup(name, form, false, result) },
      "Reset " + a.partitions.length + " partitions") : null]);
  if (ok && !dryRun) { clearTimeout(timer); run(() => group(name)); }
}

async function deleteGroup(name, box) {
  const [resp, a] = await request("DELETE", "/kafka/groups/" + enc(name));
  if (answered(box, resp, a, (a) => el("p", { id: "delete-group-done" }, `Deleted group ${a.deleted}. `, el("a", { href: "#/groups" }, "Back to the groups")))) {
    clearTimeout(timer);
    const figures = document.getElementById("group-figures");
    if (figures) figures.replaceChildren();
  }
}
