"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const body = {
    username: document.getElementById("username").value.trim(),
    password: document.getElementById("password").value,
    next: new URLSearchParams(location.search).get("next") || "/queue",
  };
  if (!body.username || !body.password) { error.textContent = "请输入用户名和密码"; return; }
  const resp = await fetch("/api/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (resp.ok) {
    // The server checked `next` (same-origin paths only); check again before leaving.
    const next = (await resp.json()).next || "/queue";
    const url = new URL(next, location.origin);
    location.href = url.origin === location.origin && /^\/(?![\/\\])/.test(next)
      ? url.pathname + url.search + url.hash : "/queue";
    return;
  }
  const data = await resp.json().catch(() => ({}));
  error.textContent = data.error || "登录失败";
  document.getElementById("password").select();
});
