/* Admin: accounts — add, disable, enable, reset a password (each ends the account's sessions). */
"use strict";

(() => {
  const { api, el } = VI;
  const ROLE = { agent: "坐席", admin: "管理员" };
  const body = document.getElementById("users-body");
  const msg = document.getElementById("users-msg");
  let me = null;

  async function act(label, fn) {
    msg.textContent = "";
    try { await fn(); msg.textContent = label; await load(); }
    catch (e) { msg.textContent = "失败：" + e.message; }
  }

  function row(u) {
    const name = encodeURIComponent(u.username);
    const toggle = u.disabled
      ? el("button", { type: "button", text: "启用",
          onclick: () => act("已启用 " + u.username, () => api("POST", "/api/users/" + name + "/enable")) })
      : el("button", { type: "button", text: "停用", disabled: u.username === me,
          onclick: () => act("已停用 " + u.username, () => api("POST", "/api/users/" + name + "/disable")) });
    const reset = el("button", { type: "button", text: "重置密码", onclick: () => {
      const password = prompt("为 " + u.username + " 设置新密码（至少 12 个字符）");
      if (password) act("已重置 " + u.username + " 的密码",
        () => api("POST", "/api/users/" + name + "/password", { password }));
    } });
    return el("tr", { "data-user": u.username },
      el("td", { text: u.username }), el("td", { text: ROLE[u.role] || u.role }),
      el("td", { text: u.disabled ? "已停用" : "正常" }), el("td", {}, toggle, " ", reset));
  }

  async function load() {
    const users = await api("GET", "/api/users");
    body.replaceChildren(...users.map(row));
  }

  document.getElementById("user-add").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = { username: document.getElementById("u-name").value.trim(),
      password: document.getElementById("u-pass").value, role: document.getElementById("u-role").value };
    act("已新增 " + data.username, async () => {
      await api("POST", "/api/users", data);
      ev.target.reset();
    });
  });

  VI.session().then((s) => { me = s.username; return load(); })
    .catch((e) => { msg.textContent = "加载失败：" + e.message; });
})();
