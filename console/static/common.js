/* Shared by every console page: API calls with the CSRF token, the live websocket,
   small DOM helpers. Data is always inserted as text, never as HTML. */
"use strict";

const VI = (() => {
  let csrf = null;
  let current = null;

  const STATUS = { new: "待处理", dispatched: "已派单", merged: "已合并", rejected: "已驳回" };
  const REJECT = { silent: "无声来电", prank: "骚扰/恶作剧", not_appeal: "非诉求" };
  const ACTION = { edit: "修改字段", dispatch: "派单", merge: "合并", reject: "驳回", follow_up: "回访" };

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || ("HTTP " + status));
      this.status = status;
      this.body = body;
    }
  }

  async function api(method, path, body) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      if (csrf) opts.headers["X-CSRF-Token"] = csrf;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body || {});
    }
    const resp = await fetch(path, opts);
    if (resp.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new ApiError(401, { error: "login required" });
    }
    const data = resp.headers.get("Content-Type", "").includes("json") ? await resp.json() : null;
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  /* Create an element: el("td", {class: "x", text: "..."}, child, ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function time(iso, withDate) {
    if (!iso) return "—";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    const hm = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    return withDate ? (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm : hm;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function announce(text) {
    const box = document.getElementById("announcer");
    if (box) box.textContent = text;
  }

  async function session() {
    if (current) return current;
    current = await api("GET", "/api/me");
    csrf = current.csrf_token;
    const name = document.getElementById("user-name");
    if (name) name.textContent = current.username + (current.role === "admin" ? "（管理员）" : "（坐席）");
    if (current.role === "admin") document.body.classList.add("is-admin");
    return current;
  }

  /* The live feed: calls onMessage(msg) for each pushed message, onOpen() on every
     (re)connection so the page can reload what it may have missed. */
  function live(onMessage, onOpen) {
    const state = document.getElementById("live-state");
    let delay = 500;
    function connect() {
      const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/ws");
      ws.onmessage = (ev) => {
        const msg = JSON.parse(ev.data);
        if (msg.type === "resync") { if (onOpen) onOpen(); return; }  // missed events: reload
        if (msg.type === "hello") {
          delay = 500;
          if (state) { state.textContent = "实时连接"; state.classList.add("on"); }
          if (onOpen) onOpen();
          return;
        }
        onMessage(msg);
      };
      ws.onclose = () => {
        if (state) { state.textContent = "已断开，正在重连…"; state.classList.remove("on"); }
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    connect();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", async () => {
      try { await api("POST", "/api/logout"); } finally { location.href = "/login"; }
    });
  });

  const token = () => csrf;
  return { api, el, time, clock, announce, session, live, token, ApiError, STATUS, REJECT, ACTION };
})();
