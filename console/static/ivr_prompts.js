/* Prompt audio of the menu: which prompts have none yet, upload (converted on the server),
   render the missing ones with the offline TTS, play. */
"use strict";

(() => {
  const { api, el, announce } = VI;
  const MENU = new URLSearchParams(location.search).get("menu") || "default";
  const message = document.getElementById("pr-message");
  const player = document.getElementById("prompt-player");

  document.querySelector('.subnav a[data-sub="ivr_prompts"]').setAttribute("aria-current", "page");

  function say(msg, bad) {
    message.textContent = msg;
    message.classList.toggle("bad", !!bad);
    announce(msg);
  }

  async function upload(id, input) {
    const file = input.files[0];
    if (!file) return;
    say("正在上传并转换 " + file.name + " …");
    const form = new FormData();
    form.append("file", file, file.name);
    const resp = await fetch("/api/ivr/prompts/" + encodeURIComponent(id) + "/audio?menu=" + encodeURIComponent(MENU), {
      method: "POST", body: form, credentials: "same-origin", headers: { "X-CSRF-Token": VI.token() } });
    const body = resp.headers.get("Content-Type", "").includes("json") ? await resp.json() : {};
    input.value = "";
    if (!resp.ok) { say("上传失败：" + (body.error || "HTTP " + resp.status), true); return; }
    say("已更新提示音 " + id + "（" + body.seconds + " 秒）");
    await load();
  }

  function play(id) {
    player.src = "/api/ivr/prompts/" + encodeURIComponent(id) + "/audio?t=" + Date.now();
    player.play().catch((e) => say("无法播放：" + e.message, true));
  }

  function row(p) {
    const fileId = "upload-" + p.id;
    const input = el("input", { type: "file", id: fileId, class: "visually-hidden", accept: "audio/*,.wav,.mp3,.m4a,.ogg",
      onchange: (ev) => upload(p.id, ev.target) });
    const ops = el("td", { class: "row-actions" },
      el("button", { type: "button", class: "btn-small", text: "播放", disabled: !p.has_audio, "aria-label": "播放 " + p.id, onclick: () => play(p.id) }),
      input,
      el("button", { type: "button", class: "btn-small", text: p.has_audio ? "替换音频" : "上传音频", "aria-label": "上传 " + p.id + " 的音频", onclick: () => input.click() }));
    return el("tr", { "data-prompt": p.id, class: p.has_audio ? "" : "missing" },
      el("th", { scope: "row", text: p.id }), el("td", { text: p.text || "（目录中没有文本）" }),
      el("td", { text: p.used_by.join("、") }),
      el("td", {}, el("span", { class: "tag " + (p.has_audio ? "st-published" : "urgent"), text: p.has_audio ? "已有音频" : "缺少音频" })),
      ops);
  }

  async function load() {
    const d = await api("GET", "/api/ivr/menus/" + encodeURIComponent(MENU) + "/prompts");
    document.getElementById("prompts-body").replaceChildren(...d.prompts.map(row));
    document.getElementById("pr-summary").textContent = "共 " + d.prompts.length + " 条，缺少音频 " + d.missing.length + " 条";
    document.getElementById("render").disabled = d.missing.length === 0;
  }

  document.getElementById("render").addEventListener("click", async (ev) => {
    ev.target.disabled = true;
    say("正在合成语音…");
    try {
      const r = await api("POST", "/api/ivr/menus/" + encodeURIComponent(MENU) + "/prompts/render", {});
      say("已合成 " + r.rendered.length + " 条" + (r.missing.length ? "，仍缺少 " + r.missing.length + " 条（目录中没有文本）" : ""));
    } catch (e) {
      say(e.message, true);
    }
    await load();
  });

  VI.session().then(load).catch((e) => say("加载失败：" + e.message, true));
  VI.live(() => {}, null);
})();
