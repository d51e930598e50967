/* The admin dashboard: charts and the three rates per district. */
"use strict";

(() => {
  const { api, el } = VI;
  const pct = (r) => (r === null || r === undefined ? "—" : (r * 100).toFixed(1) + "%");

  function rateCell(r) {
    return el("td", {}, r === null ? "" : el("span", { class: "rate-bar", style: null }), pct(r));
  }

  async function load() {
    const hours = document.getElementById("d-hours").value;
    const d = await api("GET", "/api/dashboard?hours=" + hours);
    const hourLabel = (iso) => { const t = new Date(iso); return hours > 48 ? (t.getMonth() + 1) + "/" + t.getDate() : String(t.getHours()).padStart(2, "0") + "时"; };
    let perHour = d.calls_per_hour.map((h) => ({ label: hourLabel(h.hour), values: [h.calls] }));
    if (hours > 48) { // by day
      const days = new Map();
      for (const it of perHour) days.set(it.label, (days.get(it.label) || 0) + it.values[0]);
      perHour = [...days].map(([label, n]) => ({ label, values: [n] }));
    }
    Charts.columns(document.getElementById("chart-calls"), perHour, { label: "来电量" });
    Charts.bars(document.getElementById("chart-ivr"),
      d.ivr_drop_off.map((n) => ({ label: n.node, values: [n.entries, n.hangups], notes: ["", pct(n.drop_off)] })),
      { label: "语音导航节点", series: [{ name: "进入", cls: "bar" }, { name: "挂机", cls: "bar alt" }] });
    Charts.bars(document.getElementById("chart-category"),
      d.drafts_by_category.map((c) => ({ label: c.key, values: [c.count] })), { label: "工单类别" });
    Charts.bars(document.getElementById("chart-district"),
      d.drafts_by_district.map((c) => ({ label: c.key, values: [c.count] })), { label: "工单区域" });
    Charts.columns(document.getElementById("chart-delay"),
      d.dispatch_delay.buckets.map((b) => ({ label: b.key, values: [b.count] })), { label: "挂机至派单用时" });
    const median = d.dispatch_delay.median_s;
    document.getElementById("delay-median").textContent = median === null ? "" :
      "（中位数 " + (median < 120 ? Math.round(median) + " 秒" : (median / 60).toFixed(1) + " 分钟") + "，共 " + d.dispatch_delay.count + " 单）";
    const body = document.getElementById("rates-body");
    body.replaceChildren(...d.rates.map((r) => el("tr", {}, el("th", { scope: "row", text: r.district }),
      el("td", { text: String(r.orders) }), rateCell(r.response_rate), rateCell(r.resolution_rate),
      rateCell(r.satisfaction_rate))));
    for (const [i, r] of d.rates.entries()) {
      body.children[i].querySelectorAll(".rate-bar").forEach((bar, j) => {
        bar.style.width = Math.round(60 * [r.response_rate, r.resolution_rate, r.satisfaction_rate].filter((x) => x !== null)[j]) + "px";
      });
    }
    if (!d.rates.length) body.append(el("tr", {}, el("td", { colspan: 5, text: "暂无已派单工单" })));
    // Nodes of the cluster (heartbeat rows): calls taken, in progress, and who went silent.
    const STATE = { running: "运行中", draining: "排空中", stopped: "已停止" };
    document.getElementById("dash-nodes").replaceChildren(...(d.nodes || []).map((n) =>
      el("li", { class: n.stopped_reporting ? "node silent" : "node" },
        el("strong", { text: n.node }), " " + (n.stopped_reporting ? "停止上报 " + Math.round(n.silent_s) + " 秒" : STATE[n.state] || n.state) +
        " · 接入 " + n.calls + " 通 · 进行中 " + n.active_calls)));
  }

  // 回访: attempt statistics and the queue, with retry and cancel.
  const CB_STATUS = { queued: "待回访", dialling: "回访中", done: "已回访", exhausted: "多次未接通",
    cancelled: "已取消", refused: "拒绝回访" };
  const CB_OUTCOME = { answered: "接通", busy: "忙线", "no-answer": "无人接听", rejected: "拒接",
    cancelled: "已取消", failed: "呼叫失败" };
  const CB_SATISFACTION = { satisfied: "满意", basic: "基本满意", dissatisfied: "不满意" };
  async function loadCallbacks() {
    const [stats, rows] = await Promise.all([api("GET", "/api/callbacks/stats"), api("GET", "/api/callbacks?limit=50")]);
    document.getElementById("cb-stats").textContent = "已接通 " + stats.reached + " · 拒绝 " + stats.refused +
      " · 未能接通 " + stats.unreachable + " · 待回访 " + stats.queued + " · 共呼叫 " + stats.attempts + " 次";
    const action = (row, what, label) => el("button", { type: "button", class: "btn small", "data-cb": row.id, "data-action": what, text: label });
    document.getElementById("cb-body").replaceChildren(...rows.map((r) => el("tr", {},
      el("td", {}, el("a", { href: "/drafts/" + encodeURIComponent(r.draft_id), text: r.draft_id.slice(0, 8) })),
      el("td", { text: CB_STATUS[r.status] || r.status }), el("td", { text: String(r.attempts) }),
      el("td", { text: r.outcome ? CB_OUTCOME[r.outcome] || r.outcome : "—" }),
      el("td", { text: r.resolved === null ? "—" : (r.resolved ? "已解决" : "未解决") + "，" + (CB_SATISFACTION[r.satisfaction] || "未答") }),
      el("td", { text: r.status === "queued" ? VI.time(r.due_at, true) : "—" }),
      el("td", {}, ["exhausted", "cancelled", "queued"].includes(r.status) ? action(r, "retry", "立即重呼") : "",
        ["queued", "dialling", "exhausted"].includes(r.status) ? action(r, "cancel", "取消") : ""))));
    if (!rows.length) document.getElementById("cb-body").append(el("tr", {}, el("td", { colspan: 7, text: "暂无回访" })));
  }
  document.getElementById("cb-body").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-cb]");
    if (!b) return;
    await api("POST", "/api/callbacks/" + encodeURIComponent(b.dataset.cb) + "/" + b.dataset.action, {});
    await loadCallbacks();
  });
  VI.session().then(loadCallbacks).catch(() => {});
  VI.session().then(load).catch((e) => { document.getElementById("dash-title").textContent = "数据看板（加载失败：" + e.message + "）"; });
  document.getElementById("d-hours").addEventListener("change", load);
  // 未诉先办 alerts: the latest ten, and each new one as it is pushed.
  const alertItem = (a) => el("li", { class: "alert-item" }, el("strong", { text: a.text || "" }), " ",
    el("span", { class: "muted", text: VI.time(a.raised_at || a.at) }));
  api("GET", "/api/analytics/alerts?limit=10").then((d) => {
    const list = document.getElementById("dash-alerts");
    list.replaceChildren(...d.alerts.map(alertItem));
    if (!d.alerts.length) list.append(el("li", { class: "muted", text: "暂无预警" }));
  }).catch(() => {});
  VI.live((msg) => {
    if (msg.type !== "alert") return;
    const list = document.getElementById("dash-alerts");
    list.querySelectorAll("li.muted").forEach((n) => n.remove());
    list.prepend(alertItem(msg.alert));
  }, null);
})();
