/* The simulator: a menu version and scripted inputs in, the path taken out. */
"use strict";

(() => {
  const { api, el, announce } = VI;
  const MENU = new URLSearchParams(location.search).get("menu") || "default";
  const STATUS = { draft: "草稿", published: "已发布", retired: "已停用" };
  const EXIT = { key: "按键", speech: "语音选择", no_match: "未匹配的语音", timeout: "超时", invalid: "无效输入",
    done: "完成", open: "工作时间内", closed: "非工作时间", transferred: "已转接", transfer_failed: "转接失败",
    hangup: "来电者挂机", end: "系统挂机" };
  const message = document.getElementById("sim-message");
  let working = null;

  document.querySelector('.subnav a[data-sub="ivr_simulator"]').setAttribute("aria-current", "page");

  function say(msg, bad) {
    message.textContent = msg;
    message.classList.toggle("bad", !!bad);
    announce(msg);
  }

  function inputLabel(s) {
    if (s === "silence") return "（沉默）";
    if (s === "hangup") return "（挂机）";
    if (s.startsWith("dtmf ")) return "按键 " + s.slice(5);
    if (s.startsWith("speech ")) return "说：" + s.slice(7);
    return s;
  }

  function actionLabel(a) {
    if (a.action === "PlayPrompt") return "播放「" + (a.text || a.prompt_id) + "」";
    if (a.action === "Transfer") return "转接 " + a.target;
    if (a.action === "SubmitIntake") return "生成工单草稿" + (a.fields.keypad_phone ? "（按键号码 " + a.fields.keypad_phone + "）" : "");
    if (a.action === "RecordUtterance") return "记录：" + a.text;
    if (a.action === "HangUp") return "挂机";
    if (a.action === "InputFailed") return a.reason === "timeout" ? "超时" : "无效输入";
    return null;
  }

  function node(p, i) {
    const exit = (EXIT[p.exit] || p.exit || "—") + (p.key ? " " + p.key : "");
    const inputs = p.inputs.length ? p.inputs.map(inputLabel).join("，") : "无";
    const acts = p.actions.map(actionLabel).filter(Boolean);
    return el("li", { class: "sim-node" },
      el("div", { class: "sim-head" }, el("strong", { text: (i + 1) + ". " + p.node }), el("span", { class: "tag", text: p.type }),
        el("span", { class: "sim-time", text: p.entered_at + " 秒 → " + (p.left_at ?? "—") + " 秒" }),
        el("span", { class: "sim-exit", text: "离开：" + exit })),
      el("div", { class: "sim-line", text: "输入：" + inputs }),
      acts.length ? el("ul", { class: "sim-acts" }, ...acts.map((t) => el("li", { text: t }))) : null);
  }

  async function load() {
    const o = await api("GET", "/api/ivr/menus/" + encodeURIComponent(MENU));
    working = o.working;
    const select = document.getElementById("sim-version");
    const opts = o.versions.map((v) => el("option", { value: String(v.version), text: "v" + v.version + " · " + (STATUS[v.status] || v.status) + (v.comment ? " · " + v.comment : "") }));
    if (!o.versions.length) opts.push(el("option", { value: "", text: "配置文件中的菜单" }));
    select.replaceChildren(...opts);
    if (o.published_version) select.value = String(o.published_version);
  }

  document.getElementById("sim-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const version = document.getElementById("sim-version").value;
    const inputs = document.getElementById("sim-inputs").value.split("\n").map((s) => s.trim()).filter((s, i, all) => s || i < all.length - 1);
    const at = document.getElementById("sim-at").value;
    const body = { inputs, caller: document.getElementById("sim-caller").value || null, at: at ? at + ":00+08:00" : null };
    if (version) { body.menu_id = MENU; body.version = Number(version); } else { body.text = JSON.stringify(working.data); }
    try {
      const r = await api("POST", "/api/ivr/simulate", body);
      document.getElementById("sim-path").replaceChildren(...r.path.map(node));
      document.getElementById("sim-count").textContent = "（" + r.path.length + " 个节点）";
      say("模拟完成：" + r.path.map((p) => p.node).join(" → "));
    } catch (e) {
      const errs = e.body && e.body.errors ? "：" + e.body.errors.map((x) => x.text).join("；") : "";
      say("无法模拟：" + e.message + errs, true);
    }
  });

  VI.session().then(load).catch((e) => say("加载失败：" + e.message, true));
  VI.live(() => {}, null);
})();
