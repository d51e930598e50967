/* IVR menu editor: JSON text, validated on the server as the admin types (errors name
   their node; choosing one selects the node in the text), drafts, publish, rollback,
   versions and the audit trail. */
"use strict";

(() => {
  const { api, el, time, announce } = VI;
  const MENU = new URLSearchParams(location.search).get("menu") || "default";
  const STATUS = { draft: "草稿", published: "已发布", retired: "已停用" };
  const SOURCE = { file: "配置文件中的菜单（尚未保存版本）", draft: "草稿", published: "已发布版本", retired: "已停用版本" };
  const CODES = {
    syntax: "JSON 语法错误", schema: "格式错误", duplicate_id: "重复定义", unknown_target: "目标节点不存在",
    unreachable: "无法到达", dead_end: "死路（无法结束通话）", loop_no_exit: "无出口的循环",
    instant_loop: "时间节点循环", missing_prompt: "缺少提示音", duplicate_key: "按键重复",
    duplicate_keyword: "关键词重复", bad_key: "按键无效", menu_id: "菜单编号无效",
  };
  const ACTIONS = { menu_save: "保存草稿", menu_publish: "发布", menu_rollback: "回滚",
    prompt_upload: "上传提示音", prompt_render: "合成提示音" };
  const text = document.getElementById("menu-text");
  const state = document.getElementById("val-state");
  const list = document.getElementById("val-errors");
  const message = document.getElementById("ed-message");
  let timer = null;
  let seq = 0;
  let lastValid = false;

  document.querySelector('.subnav a[data-sub="ivr_editor"]').setAttribute("aria-current", "page");

  function say(msg, bad) {
    message.textContent = msg;
    message.classList.toggle("bad", !!bad);
    announce(msg);
  }

  function locate(err) {
    /* Select the node's key in the text (or the syntax error's position). */
    const value = text.value;
    let start = -1;
    let end = -1;
    if (err.line) {
      const lines = value.split("\n");
      start = lines.slice(0, err.line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(0, (err.column || 1) - 1);
      end = start + 1;
    } else if (err.node) {
      const key = JSON.stringify(err.node) + ":";
      start = value.indexOf(key);
      end = start + key.length - 1;
    }
    text.focus();
    if (start >= 0) {
      text.setSelectionRange(start, end);
      const before = value.slice(0, start).split("\n").length - 1;
      text.scrollTop = Math.max(0, before * 19 - text.clientHeight / 3);
    }
  }

  function showErrors(result) {
    list.replaceChildren();
    lastValid = result.valid;
    if (result.valid) {
      state.textContent = "✓ 通过校验，可以发布（" + result.menu.nodes.length + " 个节点）";
      state.className = "val-state ok";
      return;
    }
    state.textContent = "✗ " + result.errors.length + " 个问题" + (result.stage === "graph" ? "（可保存草稿，不能发布）" : "（无法保存）");
    state.className = "val-state bad";
    for (const e of result.errors) {
      const where = e.node ? "节点 " + e.node : (e.line ? "第 " + e.line + " 行" : "菜单");
      const btn = el("button", { type: "button", class: "val-error", onclick: () => locate(e) },
        el("strong", { text: where }), " · " + (CODES[e.code] || e.code) + "：",
        el("span", { class: "detail", text: e.message }));
      list.append(el("li", {}, btn));
    }
  }

  async function validate() {
    const mine = ++seq;
    state.textContent = "校验中…";
    state.className = "val-state";
    try {
      const result = await api("POST", "/api/ivr/validate", { text: text.value });
      if (mine === seq) showErrors(result);
    } catch (e) {
      if (mine === seq) { state.textContent = "校验失败：" + e.message; state.className = "val-state bad"; }
    }
  }

  function scheduleValidate() {
    clearTimeout(timer);
    timer = setTimeout(validate, 350);
  }

  function versionRow(v) {
    const actions = el("td", { class: "row-actions" });
    actions.append(el("button", { type: "button", class: "btn-small", text: "载入", "aria-label": "载入版本 " + v.version, onclick: () => load(v.version) }));
    if (v.status === "draft") {
      actions.append(el("button", { type: "button", class: "btn-small primary", text: "发布", "aria-label": "发布版本 " + v.version, onclick: () => publish(v.version) }));
    } else if (v.status === "retired") {
      actions.append(el("button", { type: "button", class: "btn-small", text: "回滚到此版本", "aria-label": "回滚到版本 " + v.version, onclick: () => rollback(v.version) }));
    }
    return el("tr", { class: "st-" + v.status, "data-version": String(v.version) },
      el("td", { text: "v" + v.version }), el("td", {}, el("span", { class: "tag st-" + v.status, text: STATUS[v.status] || v.status })),
      el("td", { text: v.created_by }), el("td", { text: time(v.published_at || v.created_at, true) }),
      el("td", { class: "comment", text: v.comment || "" }), actions);
  }

  function auditText(a) {
    const b = a.before || {};
    const n = a.after || {};
    if (a.action === "menu_save") return "v" + n.version + (n.changed_nodes && n.changed_nodes.length ? "，改动节点：" + n.changed_nodes.join("、") : "，无改动") + (n.problems ? "，" + n.problems + " 个校验问题" : "");
    if (a.action === "menu_publish" || a.action === "menu_rollback") return (b.published ? "v" + b.published : "无") + " → v" + n.published + (n.comment ? "（" + n.comment + "）" : "");
    if (a.action === "prompt_upload") return n.prompt + "（" + n.seconds + " 秒）";
    if (a.action === "prompt_render") return (n.rendered || []).join("、");
    return JSON.stringify(n);
  }

  async function refresh(loadWorking) {
    const o = await api("GET", "/api/ivr/menus/" + encodeURIComponent(MENU));
    document.getElementById("versions").replaceChildren(...o.versions.map(versionRow));
    if (!o.versions.length) document.getElementById("versions").append(el("tr", {}, el("td", { colspan: 6, class: "empty", text: "尚无保存的版本" })));
    document.getElementById("audit").replaceChildren(...o.audit.map((a) => el("tr", {},
      el("td", { text: time(a.at, true) }), el("td", { text: a.username }),
      el("td", { text: ACTIONS[a.action] || a.action }), el("td", { text: auditText(a) }))));
    if (loadWorking) {
      setText(o.working.data);
      setSource(o.working.source, o.working.version, o.published_version);
    }
    return o;
  }

  function setSource(source, version, published) {
    const label = SOURCE[source] + (version ? " v" + version : "");
    document.getElementById("ed-source").textContent = "正在编辑：" + label + (published ? " · 当前线上 v" + published : " · 线上使用配置文件");
  }

  function setText(data) {
    text.value = JSON.stringify(data, null, 2);
    validate();
  }

  async function load(version) {
    const v = await api("GET", "/api/ivr/menus/" + encodeURIComponent(MENU) + "/versions/" + version);
    setText(v.data);
    const o = await api("GET", "/api/ivr/menus/" + encodeURIComponent(MENU));
    setSource(v.status, v.version, o.published_version);
    say("已载入 v" + version);
    text.focus();
  }

  async function save() {
    const comment = document.getElementById("comment").value;
    try {
      const r = await api("POST", "/api/ivr/menus/" + encodeURIComponent(MENU) + "/drafts", { text: text.value, comment });
      const o = await refresh(false);
      setSource("draft", r.version.version, o.published_version);
      return r;
    } catch (e) {
      if (e.body && e.body.errors) showErrors({ valid: false, stage: "schema", errors: e.body.errors });
      say("保存失败：" + e.message, true);
      return null;
    }
  }

  async function change(kind, version) {
    const path = "/api/ivr/menus/" + encodeURIComponent(MENU) + "/versions/" + version + "/" + kind;
    try {
      await api("POST", path, { comment: document.getElementById("comment").value || null });
      await refresh(false);
      say(kind === "publish" ? "已发布 v" + version + "，新来电将使用此版本" : "已回滚到 v" + version);
      return true;
    } catch (e) {
      if (e.body && e.body.errors) showErrors({ valid: false, stage: "graph", errors: e.body.errors });
      say((kind === "publish" ? "发布失败：" : "回滚失败：") + e.message, true);
      return false;
    }
  }

  const publish = (v) => change("publish", v);
  const rollback = (v) => change("rollback", v);

  document.getElementById("save").addEventListener("click", async () => {
    const r = await save();
    if (r) say("已保存草稿 v" + r.version.version + (r.problems.length ? "（有 " + r.problems.length + " 个校验问题，修正后才能发布）" : ""), r.problems.length > 0);
  });
  document.getElementById("save-publish").addEventListener("click", async () => {
    if (!lastValid) { say("菜单未通过校验，不能发布；请先修正右侧列出的问题", true); list.querySelector("button")?.focus(); return; }
    const r = await save();
    if (r && !r.problems.length) await publish(r.version.version);
  });
  text.addEventListener("input", scheduleValidate);
  text.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "s") { ev.preventDefault(); document.getElementById("save").click(); }
  });

  VI.session().then(() => refresh(true)).catch((e) => say("加载失败：" + e.message, true));
  VI.live(() => {}, null);
})();
