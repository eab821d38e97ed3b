// kafkakit console: share groups (KIP-932). Loaded before console.js,
// whose helpers (el, api, table, barChart, num, run) it calls; like them,
// it builds everything with DOM calls, never innerHTML, since group,
// topic and client names come from the cluster.
"use strict";

// unsupported draws the answer of a cluster without share groups (501),
// which names what the cluster lacks, and reports whether it did.
function shareUnsupported(e) {
  if (!(e instanceof Error) || !e.message.endsWith("(501)")) return false;
  view.replaceChildren(el("h2", {}, "Share groups"),
    el("p", { id: "share-unsupported", class: "error" }, e.message.replace(/ \(501\)$/, "")));
  return true;
}

async function shareGroups() {
  let g;
  try {
    g = await api("/kafka/share-groups");
  } catch (e) {
    if (shareUnsupported(e)) return;
    throw e;
  }
  view.replaceChildren(el("h2", {}, "Share groups"),
    el("p", { class: "muted" }, "Share groups (KIP-932) lease records to members one by one: any number of members share a partition, in no order."),
    g.share_groups.length === 0 ? el("p", { id: "no-share-groups" }, "No share groups.") :
      el("div", { id: "share-groups" }, table(["Group", "State", "Members", "Lag"], g.share_groups.map((x) => [
        el("a", { href: "#/share-groups/" + enc(x.name) }, x.name), x.state, num(x.member_count), x.lag < 0 ? "unknown" : num(x.lag)]), [0, 0, 1, 1])));
  timer = setTimeout(() => run(shareGroups), 3000);
}

async function shareGroup(name) {
  let d;
  try {
    d = await api("/kafka/share-groups/" + enc(name));
  } catch (e) {
    if (shareUnsupported(e)) return;
    throw e;
  }
  view.replaceChildren(
    el("p", {}, el("a", { href: "#/share-groups" }, "← Share groups")),
    el("h2", {}, name),
    el("dl", { class: "kv" }, el("dt", {}, "state"), el("dd", { id: "share-state" }, d.state),
      el("dt", {}, "members"), el("dd", { id: "share-members" }, d.members.length),
      el("dt", {}, "epoch"), el("dd", {}, d.group_epoch + " (assignment " + d.assignment_epoch + ")"),
      el("dt", {}, "lag"), el("dd", { id: "share-lag" }, d.lag < 0 ? "unknown" : num(d.lag)),
      el("dt", {}, "in flight here"), el("dd", { id: "share-in-flight" }, num(d.in_flight))),
    el("h3", {}, "Lag per partition"),
    barChart("Lag per partition", d.partitions.map((p) => ({ label: p.topic + " / " + p.partition, value: Math.max(p.lag, 0) }))),
    el("div", { id: "share-partitions" }, table(["Topic", "Partition", "Start offset", "Lag", "In flight here"],
      d.partitions.map((p) => [p.topic, p.partition, p.start_offset < 0 ? "unknown" : num(p.start_offset), p.lag < 0 ? "unknown" : num(p.lag), num(p.in_flight)]), [0, 1, 1, 1, 1])),
    el("p", { class: "muted" }, "Lag counts the records not yet acknowledged, those leased to members included. In flight here: the records this instance is handling now."),
    el("h3", {}, "Members"),
    d.members.length === 0 ? el("p", { class: "muted" }, "No members.") :
      el("div", { id: "share-member-list" }, table(["Member", "Client", "Host", "Assigned"], d.members.map((m) => [m.member_id, m.client_id, m.client_host,
        Object.entries(m.assigned).map(([t, ps]) => t + ": " + ps.join(",")).join("; ")]))));
  timer = setTimeout(() => run(() => shareGroup(name)), 3000);
}
