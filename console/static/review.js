/* The review page: recording, timed transcript with click-to-seek and word highlight,
   editable fields with confidence and evidence, and the dispatch / merge / reject actions.
   Opening a new draft claims it; the claim is renewed while the page is open. */
"use strict";

(() => {
  const { api, el, time, clock, STATUS, REJECT, ACTION } = VI;
  const draftId = decodeURIComponent(location.pathname.split("/").pop());
  const LOW = 0.6;
  const FIELDS = [
    ["surname", "姓氏"], ["name", "姓名"], ["phone", "联系电话"], ["appeal_type", "诉求类型"],
    ["district", "区"], ["street", "街道/乡镇"], ["address", "详细地址", "wide"],
    ["category", "类别"], ["subcategory", "小类"], ["urgent", "紧急"], ["due_at", "办理时限"],
    ["summary", "摘要", "wide"], ["dispatch_to", "建议承办单位", "wide"],
  ];
  const APPEALS = ["投诉", "举报", "求助", "咨询", "建议", "表扬"];
  let detail = null, options = null, editable = false, renewTimer = null;

  const $ = (id) => document.getElementById(id);
  const message = (text, bad) => { const m = $("review-message"); m.textContent = text; m.classList.toggle("bad", !!bad); };

  function control(name, value) {
    const id = "field-" + name;
    if (name === "urgent") return el("input", { id, type: "checkbox", checked: !!value });
    if (name === "summary") { const t = el("textarea", { id, rows: 3 }); t.value = value || ""; return t; }
    const choices = { appeal_type: APPEALS, district: options.districts, category: options.categories,
      subcategory: options.subcategories[detail.draft.category] || [] }[name];
    if (choices) {
      const s = el("select", { id }, el("option", { value: "", text: "（未识别）" }));
      const all = value && !choices.includes(value) ? [value, ...choices] : choices;
      for (const c of all) s.append(el("option", { value: c, text: c }));
      s.value = value || "";
      return s;
    }
    const input = el("input", { id, value: value || "", autocomplete: "off" });
    if (name === "street") input.setAttribute("list", "streets");
    if (name === "phone") { input.setAttribute("inputmode", "tel"); }
    return input;
  }

  function value(name) {
    const c = $("field-" + name);
    if (name === "urgent") return c.checked;
    return c.value.trim() === "" ? null : c.value.trim();
  }

  function evidenceText(name) {
    const span = detail.evidence[name];
    return span ? detail.transcript.slice(span[0], span[1]) : null;
  }

  function highlight(name) {
    const box = $("transcript"), span = detail.evidence[name], t = detail.transcript;
    if (!span) { box.textContent = t; return; }
    const mark = el("mark", { text: t.slice(span[0], span[1]) });
    box.replaceChildren(t.slice(0, span[0]), mark, t.slice(span[1]));
    mark.scrollIntoView({ block: "nearest" });
  }

  function renderFields() {
    const form = $("fields");
    form.replaceChildren();
    const conf = detail.draft.confidence || {};
    for (const [name, label, cls] of FIELDS) {
      const c = conf[name];
      const low = c !== undefined && c < LOW;
      const input = control(name, detail.draft[name]);
      input.disabled = !editable;
      const ev = evidenceText(name);
      const wrap = el("div", { class: "field" + (cls ? " " + cls : "") + (low ? " low" : ""), "data-field": name },
        el("label", { for: "field-" + name }, label,
          el("span", { class: "conf", text: c === undefined ? "" : (low ? "低置信 " : "置信 ") + Math.round(c * 100) + "%" })),
        input,
        el("span", { class: "evidence", title: ev || "", text: "依据：" + (ev ? "「" + ev + "」" : "无") }));
      input.addEventListener("focus", () => highlight(name));
      input.addEventListener("input", () => wrap.classList.add("changed"));
      input.addEventListener("change", () => wrap.classList.add("changed"));
      form.append(wrap);
    }
    $("field-category").addEventListener("change", () => {
      const sub = $("field-subcategory");
      sub.replaceChildren(el("option", { value: "", text: "（未识别）" }),
        ...(options.subcategories[value("category")] || []).map((s) => el("option", { value: s, text: s })));
    });
    const streets = el("datalist", { id: "streets" },
      ...(options.streets[detail.draft.district] || []).map((s) => el("option", { value: s })));
    form.append(streets);
  }

  function renderTranscript() {
    const list = $("utterances");
    list.replaceChildren();
    for (const u of detail.utterances) {
      const words = (u.words || []).filter((w) => Array.isArray(w) && w.length >= 3);
      const text = el("span", { class: "utt-text" });
      if (words.length) {
        words.forEach((w, i) => text.append(el("span", { class: "w", "data-s": w[1], "data-e": w[2], text: w[0] }),
          i < words.length - 1 && /\w$/.test(w[0]) ? " " : ""));
      } else {
        text.textContent = u.text;
      }
      const button = el("button", { type: "button", "data-s": u.start, "data-e": u.end,
        "aria-label": clock(u.start) + " " + u.text }, el("time", { text: clock(u.start) }), text);
      button.addEventListener("click", () => { const p = $("player"); p.currentTime = u.start; p.play(); });
      list.append(el("li", { "data-s": u.start, "data-e": u.end }, button));
    }
    if (!detail.utterances.length) list.append(el("li", { class: "empty", text: "无分段转写" }));
    $("transcript").textContent = detail.transcript || "（无转写文本）";
  }

  function onTime() {
    const t = $("player").currentTime;
    for (const li of $("utterances").children) {
      const on = t >= +li.dataset.s && t < +li.dataset.e;
      if (on && !li.classList.contains("playing")) li.scrollIntoView({ block: "nearest" });
      li.classList.toggle("playing", on);
    }
    for (const w of $("utterances").querySelectorAll(".w")) {
      w.classList.toggle("on", t >= +w.dataset.s && t < +w.dataset.e);
    }
  }

  function renderActions() {
    const d = detail.draft, w = detail.workflow;
    const units = new Set();
    for (const part of (d.dispatch_to || "").split("、")) if (part) units.add(part);
    if (d.district && d.street) units.add(d.district + d.street + "办事处");
    for (const dept of options.departments) units.add((d.district || "北京市") + dept);
    $("units").replaceChildren(...[...units].map((u) => el("option", { value: u })));
    $("unit").value = d.dispatch_to || "";
    const merge = $("merge-into");
    merge.replaceChildren(...w.related.filter((id) => id !== d.id)
      .map((id) => el("option", { value: id, text: "工单 " + id.slice(0, 8) })));
    const none = merge.options.length === 0;
    if (none) merge.append(el("option", { value: "", text: "无关联的既往工单" }));
    merge.disabled = none || !editable;
    $("merge").disabled = none || !editable;
    for (const id of ["unit", "dispatch", "reject", "reject-reason", "save"]) $(id).disabled = !editable;
  }

  const CHANNEL = { sip: "SIP 电话", webrtc: "WebRTC 网页", file: "文件" };

  function renderHead() {
    const d = detail.draft, w = detail.workflow, c = detail.call;
    $("review-title").textContent = "工单审核 · " + d.id.slice(0, 8) + (d.urgent ? "（紧急）" : "");
    $("review-status").textContent = STATUS[d.status] || d.status;
    let claim = "";
    if (d.status !== "new") {
      claim = d.status === "dispatched" ? "已派往：" + (w.dispatched_to || "")
        : d.status === "merged" ? "已合并到 " + (w.merged_into || "").slice(0, 8)
        : "驳回原因：" + (REJECT[w.reject_reason] || w.reject_reason || "");
      if (w.reviewed_by) claim += "（" + w.reviewed_by + "，" + time(w.reviewed_at, true) + "）";
    } else if (w.claimed_by) {
      claim = editable ? "您已认领此工单（" + w.claimed_by + "）" : "该工单正由 " + w.claimed_by + " 处理，只读";
    }
    $("claim-state").textContent = claim;
    $("call-meta").textContent = c
      ? "来电 " + (c.caller_number || "未知号码") + " · " + (CHANNEL[c.source] || c.source) + " · " + time(c.started_at, true) + " · 时长 " + clock(c.duration_s)
      : "无通话记录";
    document.body.classList.toggle("readonly", !editable);
  }

  function renderAudit() {
    const fmt = (o) => Object.entries(o || {}).map(([k, v]) => k + "=" + (v === null ? "空" : v)).join("；");
    $("audit").replaceChildren(...detail.audit.map((a) => el("tr", {},
      el("td", { text: time(a.at, true) }), el("td", { text: a.username }),
      el("td", { text: ACTION[a.action] || a.action }), el("td", { text: fmt(a.before) }),
      el("td", { text: fmt(a.after) }))));
    if (!detail.audit.length) $("audit").append(el("tr", {}, el("td", { colspan: 5, text: "暂无修改" })));
  }

  function renderFollowUp() {
    const w = detail.workflow, box = $("follow-up");
    box.hidden = detail.draft.status !== "dispatched";
    $("fu-responded").checked = !!w.responded_at;
    $("fu-resolved").checked = !!w.resolved_at;
    $("fu-satisfaction").value = w.satisfaction || "";
  }

  async function saveFollowUp() {
    const body = { responded: $("fu-responded").checked, resolved: $("fu-resolved").checked,
      satisfaction: $("fu-satisfaction").value || null };
    try {
      await api("POST", "/api/drafts/" + encodeURIComponent(draftId) + "/follow-up", body);
    } catch (e) { message("回访保存失败：" + e.message, true); return; }
    await reload();
    message("已保存回访");
  }

  const CB_STATUS = { queued: "待回访", dialling: "回访中", done: "已回访", exhausted: "多次未接通",
    cancelled: "已取消", refused: "市民拒绝回访" };
  const CB_OUTCOME = { answered: "接通", busy: "忙线", "no-answer": "无人接听", rejected: "拒接",
    cancelled: "已取消", failed: "呼叫失败" };
  const CB_SATISFACTION = { satisfied: "满意", basic: "基本满意", dissatisfied: "不满意" };

  /* The survey callback of this order (回访): its answers, attempts and recording. */
  async function renderCallback() {
    const box = $("callback-box");
    let cb = null;
    try { cb = await api("GET", "/api/drafts/" + encodeURIComponent(draftId) + "/callback"); } catch (e) { cb = null; }
    box.hidden = !cb;
    if (!cb) return;
    const resolved = cb.resolved === null ? "未回答" : (cb.resolved ? "已解决" : "未解决");
    const satisfied = CB_SATISFACTION[cb.satisfaction] || "未回答";
    $("cb-summary").textContent = (CB_STATUS[cb.status] || cb.status) + "；" +
      (cb.status === "done" || cb.status === "refused" ? "市民答复：" + resolved + "，" + satisfied + "；" : "") +
      "呼叫 " + cb.attempts + " 次";
    $("cb-rework").hidden = !(detail.workflow && detail.workflow.rework) &&
      !(cb.resolved === false || cb.satisfaction === "dissatisfied");
    const player = $("cb-player");
    player.hidden = !cb.recording;
    if (cb.recording && player.getAttribute("src") !== cb.recording) player.src = cb.recording;
    $("cb-log").replaceChildren(...cb.log.map((a) => el("li", {
      text: time(a.at, true) + " " + (CB_OUTCOME[a.outcome] || a.outcome) + (a.status ? "（" + a.status + "）" : "") })));
  }

  function renderAll() { renderHead(); renderFields(); renderActions(); renderFollowUp(); renderAudit(); renderCallback(); }

  async function reload() {
    detail = await api("GET", "/api/drafts/" + encodeURIComponent(draftId));
    const me = await VI.session();
    editable = detail.draft.status === "new" && detail.workflow.claimed_by === me.username;
    renderAll();
  }

  async function claim() {
    try {
      await api("POST", "/api/drafts/" + encodeURIComponent(draftId) + "/claim");
      return true;
    } catch (e) {
      if (e.status === 409) return false;
      throw e;
    }
  }

  function changes() {
    const out = {};
    for (const [name] of FIELDS) {
      const v = value(name), before = detail.draft[name];
      if (name === "urgent" ? v !== !!before : v !== (before === undefined ? null : before)) out[name] = v;
    }
    return out;
  }

  async function save() {
    const fields = changes();
    if (!Object.keys(fields).length) return true;
    try {
      await api("PATCH", "/api/drafts/" + encodeURIComponent(draftId), { fields });
    } catch (e) {
      message("保存失败：" + e.message, true);
      if (e.body && e.body.field) $("field-" + e.body.field).focus();
      return false;
    }
    await reload();
    message("已保存修改：" + Object.keys(fields).map((f) => FIELDS.find((x) => x[0] === f)[1]).join("、"));
    return true;
  }

  async function act(path, body, done) {
    if (!(await save())) return;
    try {
      await api("POST", "/api/drafts/" + encodeURIComponent(draftId) + "/" + path, body);
    } catch (e) { message("操作失败：" + e.message, true); return; }
    clearInterval(renewTimer);
    await reload();
    message(done);
    $("review-message").focus();
  }

  async function init() {
    await VI.session();
    options = await api("GET", "/api/options");
    detail = await api("GET", "/api/drafts/" + encodeURIComponent(draftId));
    if (detail.draft.status === "new" && await claim()) {
      renewTimer = setInterval(claim, 5 * 60 * 1000);
      window.addEventListener("pagehide", () => {
        if (!editable) return;
        fetch("/api/drafts/" + encodeURIComponent(draftId) + "/release", { method: "POST", keepalive: true,
          credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRF-Token": VI.token() }, body: "{}" });
      });
    }
    await reload();
    const player = $("player");
    if (detail.call && detail.call.has_recording) {
      const src = () => "/api/drafts/" + encodeURIComponent(draftId) + "/recording?side=" + $("side").value;
      player.src = src();
      $("side").addEventListener("change", () => { player.src = src(); });
    } else {
      player.replaceWith(el("p", { class: "empty", text: "无录音" }));
    }
    player.addEventListener("timeupdate", onTime);
    player.addEventListener("seeked", onTime);
    renderTranscript();
    $("save").addEventListener("click", save);
    $("fu-save").addEventListener("click", saveFollowUp);
    $("dispatch").addEventListener("click", () => {
      const unit = $("unit").value.trim();
      act("dispatch", { unit: unit || null }, "已批准并派单至 " + (unit || "建议单位"));
    });
    $("merge").addEventListener("click", () => act("merge", { into: $("merge-into").value }, "已合并到既往工单"));
    $("reject").addEventListener("click", () => {
      const reason = $("reject-reason").value;
      if (confirm("确认驳回此工单（" + REJECT[reason] + "）？")) act("reject", { reason }, "已驳回");
    });
    VI.live(async (msg) => {
      if (msg.type === "draft" && msg.draft.id === draftId && msg.workflow.claimed_by !== (await VI.session()).username) {
        await reload();
      }
    });
  }

  init().catch((e) => message("加载失败：" + e.message, true));
})();
