/* Live calls: cards with the streaming transcript and the caller's current IVR node. */
"use strict";

(() => {
  const { api, el, time, clock } = VI;
  const grid = document.getElementById("calls");
  const cards = new Map(); // call id → {card, list, node, started}
  const CHANNEL = { sip: "SIP 电话", webrtc: "WebRTC 网页", file: "文件" };

  function card(call) {
    const list = el("ol", { "aria-label": "转写" });
    const node = el("span", { class: "tag node", text: call.ivr_node ? "导航节点：" + call.ivr_node : "导航节点：—" });
    const elapsed = el("span", { class: "elapsed", text: "通话 " + clock((Date.now() - new Date(call.started_at)) / 1000) });
    const c = el("article", { class: "call-card", "data-id": call.id, tabindex: 0,
      "aria-label": "来电 " + (call.caller_number || "未知号码") },
      el("header", {}, el("strong", { text: call.caller_number || "未知号码" }),
        el("span", { class: "tag channel", "data-channel": call.source, text: CHANNEL[call.source] || call.source }),
        el("span", { text: "接入 " + time(call.started_at) }), elapsed, node),
      list);
    for (const u of call.utterances) addUtterance(list, u);
    if (call.transcript_hidden) {
      // An agent opens a call's transcript on purpose (audited); until then only its progress.
      const open = el("button", { type: "button", class: "open-transcript", text: "查看转写" });
      open.addEventListener("click", async () => {
        const full = await api("GET", "/api/calls/" + encodeURIComponent(call.id) + "/transcript");
        open.remove();
        for (const u of full.utterances) addUtterance(list, u);
      });
      list.before(open);
    }
    return { card: c, list, node, elapsed, started: new Date(call.started_at) };
  }

  function addUtterance(list, u) {
    if (u.hidden || typeof u.text !== "string") return;  // not opened: no text is sent
    if (list.querySelector('[data-seq="' + u.seq + '"]')) return;
    list.append(el("li", { "data-seq": u.seq }, el("time", { text: clock(u.start) + " " }), u.text));
    list.scrollTop = list.scrollHeight;
  }

  // Pushes that arrive while a snapshot is loading are applied after it: the snapshot may
  // have been read before they happened, and must not overwrite them.
  let loading = 0;
  let held = [];

  async function load() {
    loading += 1;
    try {
      const calls = await api("GET", "/api/calls/live");
      cards.clear();
      grid.replaceChildren();
      for (const call of calls) {
        const c = card(call);
        cards.set(call.id, c);
        grid.append(c.card);
      }
      document.getElementById("calls-empty").hidden = cards.size > 0;
    } finally {
      loading -= 1;
      if (!loading) { const late = held; held = []; late.forEach(onMessage); }
    }
  }

  function onMessage(msg) {
    if (msg.type !== "call") return;
    if (loading) { held.push(msg); return; }
    const c = cards.get(msg.call_id);
    if (msg.event === "call_started" || !c) { if (msg.event !== "call_ended") load(); return; }
    if (msg.event === "utterance") addUtterance(c.list, msg.utterance);
    else if (msg.event === "ivr_node") c.node.textContent = "导航节点：" + (msg.node || "—");
    else if (msg.event === "call_ended") {
      c.card.classList.add("ended");
      c.node.textContent = "已挂机";
      setTimeout(() => { c.card.remove(); cards.delete(msg.call_id);
        document.getElementById("calls-empty").hidden = cards.size > 0; }, 8000);
    }
  }

  setInterval(() => {
    for (const c of cards.values()) if (!c.card.classList.contains("ended")) c.elapsed.textContent = "通话 " + clock((Date.now() - c.started) / 1000);
  }, 1000);

  VI.session().then(load).then(() => VI.live(onMessage, load))
    .catch((e) => { document.getElementById("calls-empty").textContent = "加载失败：" + e.message; });
})();
