// The citizen's call page: a WHIP call (RFC 9725) from the microphone, with keypad,
// captions, timer and hang-up. No framework, no CDN.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("config").textContent);
  const $ = (id) => document.getElementById(id);
  const status = $("status"), dial = $("dial"), incall = $("incall"), timer = $("timer");
  const typed = $("typed"), captions = $("captions"), remote = $("remote");
  const GATHER_MS = 3000;

  let pc = null, mic = null, keys = null, location = null, started = 0, tick = null;
  let ending = false;

  function say(text, error) {
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function caption(kind, text) {
    const li = document.createElement("li");
    li.className = kind;
    li.textContent = text;
    captions.appendChild(li);
    captions.scrollTop = captions.scrollHeight;
  }

  function micError(err) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "无法使用麦克风：您拒绝了麦克风权限。请在浏览器地址栏或设置中允许本页使用麦克风，然后重新拨打。";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      return "未检测到麦克风。请连接耳机或麦克风后重新拨打，也可以用电话拨打 12345。";
    }
    if (name === "NotReadableError") {
      return "麦克风正被其他程序使用。请关闭其他通话或录音程序后重新拨打。";
    }
    return "无法打开麦克风（" + (name || "未知错误") + "）。请重新拨打，或用电话拨打 12345。";
  }

  function refusal(resp) {
    if (resp.status === 503) {
      const wait = parseInt(resp.headers.get("Retry-After") || "", 10);
      return "线路繁忙，请" + (wait > 0 ? " " + wait + " 秒后" : "稍后") + "再拨。";
    }
    if (resp.status === 429) return "操作过于频繁，请稍后再拨。";
    return "呼叫失败（" + resp.status + "），请稍后再拨，或用电话拨打 12345。";
  }

  function clock() {
    const s = Math.floor((Date.now() - started) / 1000);
    timer.textContent = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function gathered(conn) {
    if (conn.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (conn.iceGatheringState === "complete") resolve(); };
      conn.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, GATHER_MS);  // send what we have: host candidates suffice on a LAN
    });
  }

  async function call() {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("此页面无法使用麦克风：请通过 https 打开本页，并使用最新版浏览器。", true);
      return;
    }
    if (!window.RTCPeerConnection) {
      say("此浏览器不支持网络通话，请使用最新版浏览器，或用电话拨打 12345。", true);
      return;
    }
    dial.disabled = true;
    ending = false;
    say("正在请求麦克风权限…");
    try {
      mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    } catch (err) {
      say(micError(err), true);
      dial.disabled = false;
      return;
    }
    say("正在接通…");
    captions.textContent = "";
    typed.textContent = "";
    pc = new RTCPeerConnection({ iceServers: config.iceServers });
    pc.addTransceiver(mic.getAudioTracks()[0], { direction: "sendrecv", streams: [mic] });
    keys = pc.createDataChannel("dtmf");
    const cap = pc.createDataChannel("captions");
    cap.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "prompt" || msg.type === "heard") caption(msg.type, msg.text);
      else if (msg.type === "ended") finish("通话已结束，感谢您的来电。");
    };
    pc.ontrack = (ev) => {
      remote.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      remote.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc === null) return;
      if (pc.connectionState === "connected" && !started) {
        started = Date.now();
        timer.hidden = false;
        clock();
        tick = setInterval(clock, 1000);
        say("通话中。请按提示操作，可使用下方键盘按键。");
      } else if (pc.connectionState === "failed") {
        finish("网络连接中断，通话已结束。请检查网络后重新拨打。", true);
      }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const resp = await fetch(config.whip, {
        method: "POST", headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp });
      if (resp.status !== 201) {
        finish(refusal(resp), true);
        return;
      }
      location = resp.headers.get("Location");
      await pc.setRemoteDescription({ type: "answer", sdp: await resp.text() });
      incall.hidden = false;
      dial.hidden = true;
    } catch (err) {
      finish("呼叫失败，请检查网络后重新拨打。", true);
    }
  }

  function press(key) {
    if (keys && keys.readyState === "open") {
      keys.send(key);
      typed.textContent += key;
    }
  }

  function finish(text, error) {
    if (ending) return;
    ending = true;
    if (location) {
      fetch(location, { method: "DELETE" }).catch(() => {});
      location = null;
    }
    if (pc) { pc.close(); pc = null; }
    if (mic) { mic.getTracks().forEach((t) => t.stop()); mic = null; }
    if (tick) { clearInterval(tick); tick = null; }
    started = 0;
    keys = null;
    incall.hidden = true;
    dial.hidden = false;
    dial.disabled = false;
    say(text, error);
  }

  dial.addEventListener("click", call);
  $("hangup").addEventListener("click", () => finish("您已挂断，感谢您的来电。"));
  $("keypad").addEventListener("click", (ev) => {
    const key = ev.target.closest("button[data-key]");
    if (key) press(key.dataset.key);
  });
  window.addEventListener("pagehide", () => {
    if (location) fetch(location, { method: "DELETE", keepalive: true }).catch(() => {});
  });
})();
