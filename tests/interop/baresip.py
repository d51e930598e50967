"""Debian's baresip 1.0 as a headless softphone: a config directory of its own, audio
from a WAV file (module aufile), nothing played (aubridge), driven over ctrl_tcp (JSON in
netstrings: commands dial, sndcode, hold, resume, hangup; call events back)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.interop.peers import require_binary
from tests.sipp.harness import free_port

MODULES = Path("/usr/lib/baresip/modules")


def write_wav(path: Path, pcm: bytes, sample_rate: int = 8000) -> Path:
    """16-bit mono WAV, the sample format baresip's aufile reads."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return path


def _free_sip_port() -> int:
    """A port for baresip's SIP: baresip also listens for SIP over TLS on the next port,
    so that one must be free for TCP too (a flaky 'Address already in use' otherwise)."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def _free_port_but(*taken: int) -> int:
    """A free port that is none of ``taken`` (baresip's SIP and SIP/TLS ports)."""
    while (port := free_port()) in taken:
        pass
    return port


def _config(workdir: Path, source: Path, sip_port: int, ctrl_port: int, cons_port: int,
            codecs: str) -> None:  # fmt: skip
    rtp = _free_port_but(sip_port, sip_port + 1, ctrl_port, cons_port)
    lines = {
        "module_path": str(MODULES),
        "poll_method": "epoll",
        "sip_listen": f"127.0.0.1:{sip_port}",
        "call_local_timeout": "120",
        "audio_source": f"aufile,{source}",
        # aubridge: a player that plays nowhere (no sound card here).
        "audio_player": "aubridge,nowhere",
        "audio_alert": "aubridge,nowhere",
        "ausrc_format": "s16",
        "auplay_format": "s16",
        "rtp_ports": f"{rtp}-{rtp + 9}",
        "ctrl_tcp_listen": f"127.0.0.1:{ctrl_port}",
        # The console over UDP: keys as typed, each press held until KEYCODE_REL.
        "cons_listen": f"127.0.0.1:{cons_port}",
    }
    modules = ["g711.so", "aufile.so", "aubridge.so"]
    text = "".join(f"{k}\t{v}\n" for k, v in lines.items())
    text += "".join(f"module\t{m}\n" for m in modules)
    text += "module\tcons.so\n"
    text += "module_tmp\taccount.so\nmodule_app\tmenu.so\nmodule_app\tctrl_tcp.so\n"
    (workdir / "config").write_text(text)
    # No registration; the caller number is the user part of the From.
    (workdir / "accounts").write_text(
        f"<sip:13900000031@127.0.0.1:{sip_port}>;regint=0;audio_codecs={codecs}\n"
    )
    (workdir / "contacts").write_text("")


class Baresip:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 log: Path, cons_port: int) -> None:  # fmt: skip
        self.reader, self.writer, self.log = reader, writer, log
        self.cons_port = cons_port
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._task = asyncio.get_running_loop().create_task(self._read())
        self.seen: list[dict[str, Any]] = []

    async def _read(self) -> None:
        buffer = b""
        while chunk := await self.reader.read(65536):
            buffer += chunk
            while b":" in buffer:
                size, _, rest = buffer.partition(b":")
                length = int(size)
                if len(rest) < length + 1:
                    break
                message = json.loads(rest[:length])
                buffer = rest[length + 1 :]
                if message.get("response"):
                    future = self._replies.pop(message.get("token", ""), None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    message["at"] = asyncio.get_running_loop().time()  # when it came
                    self.seen.append(message)
                    self.events.put_nowait(message)

    async def command(self, command: str, params: str = "") -> dict[str, Any]:
        """Run a baresip command (as typed after '/'); its reply."""
        token = uuid.uuid4().hex[:8]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[token] = future
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.writer.write(b"%d:%s," % (len(body), body))
        reply = await asyncio.wait_for(future, 10)
        assert reply.get("ok"), f"baresip /{command} {params}: {reply}"
        return reply

    async def event(self, kind: str, within: float = 30.0) -> dict[str, Any]:
        """The next call event of type ``kind`` (e.g. CALL_ESTABLISHED, CALL_CLOSED)."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event.get("type") == kind:
                    return event

    def key(self, key: str) -> None:
        """Type ``key`` on the console (cons module); "\\x04" is KEYCODE_REL, the release."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(key.encode(), ("127.0.0.1", self.cons_port))

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.writer.close()


@contextlib.asynccontextmanager
async def running_baresip(
    workdir: Path, source: Path, *, codecs: str = "PCMU,PCMA"
) -> AsyncIterator[Baresip]:
    """baresip with its own config directory under ``workdir``, sending ``source`` (a
    16-bit WAV) as the call's audio and offering ``codecs``."""
    binary = require_binary("/usr/bin/baresip")
    home = workdir / f"baresip-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    sip = _free_sip_port()
    ctrl, cons = _free_port_but(sip, sip + 1), _free_port_but(sip, sip + 1)
    _config(home, source, sip, ctrl, cons, codecs)
    log = home / "baresip.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            binary, "-f", str(home), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT)  # fmt: skip
    phone: Baresip | None = None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while phone is None:
            if proc.returncode is not None:
                raise RuntimeError(f"baresip exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", ctrl)
                phone = Baresip(reader, writer, log, cons)
            except OSError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        yield phone
    finally:
        if phone is not None:
            await phone.close()
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
