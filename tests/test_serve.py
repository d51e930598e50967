"""``voice-intake serve`` as a process: health at once, ready once models load, clean stop."""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_serve_answers_health_and_readiness_then_stops(cli_env: dict[str, str]) -> None:
    port = _free_port()
    env = {**cli_env, "VOICE_INTAKE_HTTP_PORT": str(port), "VOICE_INTAKE_ASR_WORKERS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "voice_gateway.cli", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        health: tuple[int, dict[str, object]] | None = None
        while time.monotonic() < deadline and health is None:
            try:
                health = _get(f"http://127.0.0.1:{port}/healthz")
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.2)
        assert health == (200, {"status": "ok"})
        ready = _get(f"http://127.0.0.1:{port}/readyz")
        while ready[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
            ready = _get(f"http://127.0.0.1:{port}/readyz")
        assert ready[0] == 200, ready
        assert ready[1]["checks"] == {"database": True, "asr": True, "disk": True}
        assert ready[1]["asr_engine"] == "whisper:whisper-base-ct2"
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    # serve runs on uvloop when it is installed (event_loop = "auto"), as in production.
    if importlib.util.find_spec("uvloop") is not None:
        assert "event loop: uvloop" in err
