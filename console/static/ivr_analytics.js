/* Per-node analytics of real calls, by date range and menu version. */
"use strict";

(() => {
  const { api, el } = VI;
  const EXIT = { no_match: "未匹配语音", timeout: "超时", invalid: "无效", done: "完成", open: "工作时间",
    closed: "非工作时间", transferred: "转接", transfer_failed: "转接失败", hangup: "挂机", end: "结束" };
  const pct = (r) => (r * 100).toFixed(1) + "%";

  document.querySelector('.subnav a[data-sub="ivr_analytics"]').setAttribute("aria-current", "page");

  function day(offset) {
    const d = new Date(Date.now() + offset * 86400000);
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }

  function exits(map) {
    return Object.entries(map).sort((a, b) => b[1] - a[1])
      .map(([k, n]) => (/^[0-9*#]$/.test(k) ? "按" + k : (EXIT[k] || k)) + " ×" + n).join("，");
  }

  async function load() {
    const from = document.getElementById("an-from").value;
    const to = document.getElementById("an-to").value;
    const select = document.getElementById("an-version");
    const version = select.value;
    const d = await api("GET", "/api/ivr/analytics?from=" + from + "&to=" + to + "&version=" + encodeURIComponent(version));
    const opts = [el("option", { value: "", text: "全部版本" })].concat(d.versions.map((v) => {
      const value = v.menu_version === null ? "file" : String(v.menu_version);
      return el("option", { value, text: (v.menu_version === null ? "配置文件菜单" : "v" + v.menu_version) + "（" + v.calls + " 通）" });
    }));
    select.replaceChildren(...opts);
    select.value = version;
    document.getElementById("an-count").textContent = "共 " + d.calls + " 通来电";
    const body = document.getElementById("an-body");
    body.replaceChildren(...d.nodes.map((n) => el("tr", { "data-node": n.node },
      el("th", { scope: "row", text: n.node }), el("td", { text: String(n.entries) }), el("td", { text: exits(n.exits) }),
      el("td", { text: String(n.timeouts) }), el("td", { text: String(n.invalid_inputs) }), el("td", { text: String(n.hangups) }),
      el("td", { class: n.drop_off >= 0.2 ? "warn" : "", text: pct(n.drop_off) }),
      el("td", { text: n.average_time_s === null ? "—" : n.average_time_s.toFixed(1) + " 秒" }))));
    if (!d.nodes.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "empty", text: "所选范围内没有语音导航记录" })));
    Charts.bars(document.getElementById("an-chart"),
      d.nodes.map((n) => ({ label: n.node, values: [n.entries, n.hangups], notes: ["", pct(n.drop_off)] })),
      { label: "语音导航节点", series: [{ name: "进入", cls: "bar" }, { name: "挂机", cls: "bar alt" }] });
  }

  document.getElementById("an-from").value = day(-6);
  document.getElementById("an-to").value = day(0);
  document.getElementById("an-form").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  VI.session().then(load).catch((e) => { document.getElementById("an-count").textContent = "加载失败：" + e.message; });
  VI.live(() => {}, null);
})();
