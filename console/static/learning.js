/* Admin: aliases proposed from agents' corrections — approve or reject each. */
"use strict";

(() => {
  const { api, el, time } = VI;
  const KIND = { place: "地名别名", phrase: "分类短语", surname: "姓氏", hotword: "热词" };
  const FIELD = { district: "区", street: "街道/乡镇", category: "类别", subcategory: "子类",
    appeal_type: "诉求类型", urgent: "紧急", surname: "姓氏", hotword: "热词" };
  const STATE = { proposed: "待审核", approved: "已批准", rejected: "已拒绝" };
  const body = document.getElementById("learning-body");
  const msg = document.getElementById("learning-msg");
  const status = document.getElementById("l-status");

  async function act(label, fn) {
    msg.textContent = "";
    try { await fn(); msg.textContent = label; await load(); }
    catch (e) { msg.textContent = "失败：" + e.message; }
  }

  function examples(p) {
    const cell = el("td", {});
    p.drafts.forEach((d, i) => {
      if (i) cell.append(" ");
      cell.append(el("a", { href: "/drafts/" + encodeURIComponent(d), text: p.calls[i].slice(0, 8) }));
    });
    return cell;
  }

  function row(p) {
    const id = encodeURIComponent(p.id);
    const what = (p.heard || "—") + " → " + p.value;
    const approve = el("button", { type: "button", text: "批准", disabled: p.status === "approved",
      onclick: () => act("已批准：" + what, () => api("POST", "/api/learning/proposals/" + id + "/approve")) });
    const reject = el("button", { type: "button", text: "拒绝", disabled: p.status === "rejected",
      onclick: () => act("已拒绝：" + what, () => api("POST", "/api/learning/proposals/" + id + "/reject")) });
    const state = STATE[p.status] + (p.decided_by ? "（" + p.decided_by + " " + time(p.decided_at, true) + "）" : "");
    return el("tr", { "data-proposal": p.id },
      el("td", { text: KIND[p.kind] || p.kind }), el("td", { text: FIELD[p.field] || p.field }),
      el("td", { text: p.heard || "—" }), el("td", { text: p.drafted.join("、") || "—" }),
      el("td", { text: p.value + (p.known ? "" : "（数据中无此值，批准后不生效）") }),
      el("td", { text: String(p.count) }), examples(p), el("td", { text: state }),
      el("td", {}, approve, " ", reject));
  }

  async function load() {
    const data = await api("GET", "/api/learning/proposals?status=" + encodeURIComponent(status.value));
    document.getElementById("l-threshold").textContent = "同一更正出现 " + data.min_count + " 次及以上即成为候选";
    body.replaceChildren(...data.proposals.map(row));
    if (!data.proposals.length) body.append(el("tr", {}, el("td", { colspan: "9", text: "暂无" })));
  }

  status.addEventListener("change", () => load().catch((e) => { msg.textContent = "加载失败：" + e.message; }));
  VI.session().then(load).catch((e) => { msg.textContent = "加载失败：" + e.message; });
  VI.live(() => {}, null);
})();
