/* The agent queue: filters, urgent first then oldest, live arrivals over the websocket. */
"use strict";

(() => {
  const { api, el, time, announce, STATUS } = VI;
  const rows = new Map(); // draft id → {draft, workflow}
  const body = document.getElementById("queue-body");
  const filters = {
    status: document.getElementById("f-status"),
    category: document.getElementById("f-category"),
    district: document.getElementById("f-district"),
  };

  function matches(d) {
    const f = filters;
    return (f.status.value === "all" || d.status === f.status.value)
      && (!f.category.value || d.category === f.category.value)
      && (!f.district.value || d.district === f.district.value);
  }

  function order(a, b) {
    if (!!a.draft.urgent !== !!b.draft.urgent) return a.draft.urgent ? -1 : 1;
    return a.draft.created_at < b.draft.created_at ? -1 : a.draft.created_at > b.draft.created_at ? 1 : 0;
  }

  const CHANNEL = { sip: "SIP 电话", webrtc: "WebRTC 网页", file: "文件" };

  function row(item, arrived) {
    const d = item.draft, w = item.workflow;
    const where = [d.district, d.street].filter(Boolean).join(" ") || "—";
    const status = el("td", {}, el("span", { class: "tag", text: STATUS[d.status] || d.status }));
    if (w.claimed_by) status.append(" ", el("span", { class: "tag locked", text: "🔒 " + w.claimed_by + " 处理中" }));
    if (w.channel) status.append(" ", el("span", { class: "tag channel", "data-channel": w.channel, text: CHANNEL[w.channel] || w.channel }));
    return el("tr", { class: (d.urgent ? "urgent " : "") + (arrived ? "arrived" : ""), "data-id": d.id },
      el("td", {}, d.urgent ? el("span", { class: "tag urgent", text: "紧急" }) : ""),
      el("td", { text: time(d.created_at, true) }),
      el("td", { text: [d.category, d.subcategory].filter(Boolean).join(" / ") || "未分类" }),
      el("td", { text: where }),
      el("td", { class: "summary" }, el("a", { href: "/drafts/" + d.id, text: d.summary || "（无摘要）" })),
      el("td", { text: d.phone || "—" }),
      status);
  }

  function render(arrivedId) {
    const items = [...rows.values()].sort(order);
    body.replaceChildren(...items.map((it) => row(it, it.draft.id === arrivedId)));
    document.getElementById("queue-empty").hidden = items.length > 0;
    document.getElementById("queue-count").textContent = "共 " + items.length + " 条";
  }

  // Pushes that arrive while a snapshot is loading are applied after it: the snapshot may
  // have been read before they happened, and must not overwrite them.
  let loading = 0;
  let held = [];

  async function load() {
    loading += 1;
    try {
      const q = new URLSearchParams();
      for (const [k, s] of Object.entries(filters)) if (s.value) q.set(k, s.value);
      sessionStorage.setItem("queue-filters", q.toString());
      const items = await api("GET", "/api/queue?" + q.toString());
      rows.clear();
      for (const it of items) rows.set(it.draft.id, it);
      render(null);
    } finally {
      loading -= 1;
      if (!loading) { const late = held; held = []; late.forEach(onMessage); }
    }
  }

  function onMessage(msg) {
    if (msg.type !== "draft") return;
    if (loading) { held.push(msg); return; }
    const id = msg.draft.id;
    if (matches(msg.draft)) rows.set(id, { draft: msg.draft, workflow: msg.workflow });
    else rows.delete(id);
    const arrived = msg.event === "draft_created" && rows.has(id);
    render(arrived ? id : null);
    if (arrived) announce("新工单：" + (msg.draft.category || "未分类") + (msg.draft.urgent ? "（紧急）" : ""));
  }

  async function init() {
    await VI.session();
    const opts = await api("GET", "/api/options");
    for (const c of opts.categories) filters.category.append(el("option", { value: c, text: c }));
    for (const d of opts.districts) filters.district.append(el("option", { value: d, text: d }));
    const saved = new URLSearchParams(sessionStorage.getItem("queue-filters") || "");
    for (const [k, s] of Object.entries(filters)) if (saved.get(k) !== null) s.value = saved.get(k);
    for (const s of Object.values(filters)) s.addEventListener("change", load);
    await load();
    VI.live(onMessage, load);
  }

  init().catch((e) => { document.getElementById("queue-count").textContent = "加载失败：" + e.message; });
})();
