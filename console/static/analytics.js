/* Admin analytics: 每月一题 candidates, 未诉先办 alerts (live), repeat-complaint hot spots. */
"use strict";

(() => {
  const { api, el, announce } = VI;
  const monthInput = document.getElementById("ana-month");
  const place = (o) => [o.district, o.street].filter(Boolean).join("") || "未识别";
  const draftLink = (id, text) => el("a", { href: "/drafts/" + encodeURIComponent(id), text: text || id.slice(0, 8) });

  function setReportLinks() {
    const q = monthInput.value ? "&month=" + monthInput.value : "";
    document.getElementById("report-csv").href = "/api/analytics/report?format=csv" + q;
    document.getElementById("report-html").href = "/api/analytics/report?format=html" + q;
  }

  async function loadTopics() {
    const q = monthInput.value ? "?month=" + monthInput.value : "";
    const d = await api("GET", "/api/analytics/topics" + q);
    if (!monthInput.value) monthInput.value = d.month;
    setReportLinks();
    const marked = d.marked;
    document.getElementById("topic-marked").textContent = marked
      ? "本月每月一题：" + place(marked) + "「" + marked.subcategory + "」" + (marked.phrase ? "（" + marked.phrase + "）" : "") + "，" + marked.volume + " 件已标记（" + marked.by + "）"
      : "本月尚未选定每月一题。";
    const body = document.getElementById("topics-body");
    body.replaceChildren(...d.candidates.map((c, i) => {
      const button = el("button", { type: "button", class: "btn", text: marked && marked.key === c.key ? "已选定" : "设为每月一题" });
      button.disabled = Boolean(marked);
      button.addEventListener("click", async () => {
        await api("POST", "/api/analytics/topics", { month: d.month, key: c.key });
        announce("已设为每月一题");
        await loadTopics();
      });
      const examples = el("td", {}, ...c.examples.map((e) => el("div", {}, draftLink(e.id, e.summary || e.id.slice(0, 8)))));
      return el("tr", { "data-key": c.key }, el("td", { text: String(i + 1) }), el("td", { text: c.subcategory }),
        el("td", { text: place(c) }), el("td", { text: c.phrase || "—" }), el("td", { text: String(c.volume) }),
        el("td", { text: String(c.repeat_calls) }), el("td", { text: String(c.dissatisfied) }),
        el("td", { text: String(c.previous) }), el("td", { text: c.trend.map((t) => t.orders).join(" → ") }),
        examples, el("td", { text: String(c.score) }), el("td", {}, button));
    }));
    if (!d.candidates.length) body.append(el("tr", {}, el("td", { colspan: 12, text: "本月暂无候选（同组工单不足 2 件）" })));
  }

  function alertItem(a) {
    const links = (a.order_ids || []).slice(0, 10).map((id) => draftLink(id));
    return el("li", { class: "alert-item" }, el("strong", { text: a.text || "" }), " ",
      el("span", { class: "muted", text: VI.time(a.raised_at || a.at) }), " ", ...links);
  }

  async function loadAlerts() {
    const d = await api("GET", "/api/analytics/alerts?limit=50");
    const list = document.getElementById("alerts-list");
    list.replaceChildren(...d.alerts.map(alertItem));
    if (!d.alerts.length) list.append(el("li", { class: "muted", text: "暂无预警" }));
  }

  async function loadHotspots() {
    const d = await api("GET", "/api/analytics/hotspots?weeks=8");
    document.getElementById("hot-head").replaceChildren(el("tr", {}, el("th", { scope: "col", text: "街道" }),
      el("th", { scope: "col", text: "升级工单" }), ...d.weeks.map((w) => el("th", { scope: "col", text: w.slice(5) + "周" })),
      el("th", { scope: "col", text: "工单" })));
    const body = document.getElementById("hot-body");
    body.replaceChildren(...d.streets.map((s) => el("tr", {}, el("th", { scope: "row", text: s.district + s.street }),
      el("td", { text: String(s.escalated) }), ...s.weeks.map((w) => el("td", { text: String(w.orders) })),
      el("td", {}, ...s.order_ids.slice(0, 8).map((id) => draftLink(id))))));
    if (!d.streets.length) body.append(el("tr", {}, el("td", { colspan: d.weeks.length + 3, text: "暂无升级工单" })));
  }

  document.getElementById("ana-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadTopics(); });
  document.getElementById("alerts-check").addEventListener("click", async () => {
    const r = await api("POST", "/api/analytics/alerts/check");
    announce("新预警 " + r.raised + " 条");
    await loadAlerts();
  });
  VI.session().then(() => Promise.all([loadTopics(), loadAlerts(), loadHotspots()])).catch((e) => {
    document.getElementById("ana-title").textContent = "热点分析（加载失败：" + e.message + "）";
  });
  VI.live((msg) => {
    if (msg.type !== "alert") return;
    const list = document.getElementById("alerts-list");
    list.querySelectorAll("li.muted").forEach((n) => n.remove());
    list.prepend(alertItem(msg.alert));
  }, null);
})();
