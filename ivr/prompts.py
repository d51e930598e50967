"""Prompt audio: converting uploads, rendering texts with an offline TTS command, and
finding which prompts of a menu have no audio yet.

A prompt's audio is ``<prompt dir>/<prompt id>.wav``: mono, 8 kHz, G.711 μ-law, ready to
packetise for RTP (:func:`ulaw_payload` returns the raw μ-law bytes). Conversion runs
ffprobe (the duration, from the headers) then a capped ffmpeg decode; it blocks, so callers
on the event loop run it in a thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from ivr.errors import PromptError
from ivr.model import Menu, prompt_refs
from ivr.settings import IvrSettings

SAMPLE_RATE = 8000
MAX_SECONDS = 300.0  # a prompt longer than five minutes is a wrong upload, not a prompt
_PROMPT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_WAVE_FORMAT_MULAW = 7


def prompt_path(prompt_dir: Path, prompt_id: str) -> Path:
    """Where a prompt's audio lives; refuses ids that are not plain file names."""
    if not _PROMPT_ID.match(prompt_id) or ".." in prompt_id:
        raise PromptError(f"prompt id {prompt_id!r} must be letters, digits, _ . - only")
    return prompt_dir / f"{prompt_id}.wav"


def menu_prompt_ids(menu: Menu) -> list[str]:
    """Every prompt id the menu may play, in node order, without duplicates."""
    ids: list[str] = []
    for node in menu.nodes.values():
        ids.extend(prompt_refs(node))
    return list(dict.fromkeys(ids))


def missing_prompts(menu: Menu, prompt_dir: Path) -> list[str]:
    """Prompt ids of ``menu`` that have no audio file in ``prompt_dir``."""
    return [pid for pid in menu_prompt_ids(menu) if not prompt_path(prompt_dir, pid).is_file()]


FFMPEG_TIMEOUT_S = 120.0  # one probe or one decode of an upload


def _run(args: list[str], name: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(args, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise PromptError(f"{name}: conversion took longer than {FFMPEG_TIMEOUT_S:.0f} s") from exc


def probe_seconds(path: Path, name: str = "upload") -> float | None:
    """The audio's duration from its container and stream headers (ffprobe, nothing is
    decoded); ``None`` when the headers do not say. :class:`PromptError` when the file is
    not audio ffprobe can read."""
    done = _run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,"
                 "duration", "-of", "json", str(path)], name)
    try:
        info = json.loads(done.stdout or b"{}")
    except ValueError:
        info = {}
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if done.returncode != 0 or not streams:
        raise PromptError(f"{name}: not a readable audio file (expected WAV, MP3, M4A or OGG)")
    durations = [info.get("format", {}).get("duration")] + [s.get("duration") for s in streams]
    seconds = []
    for d in durations:
        with contextlib.suppress(TypeError, ValueError):
            seconds.append(float(d))
    return max(seconds) if seconds else None


def decode_capped(path: Path, max_seconds: float, name: str = "upload") -> bytes:
    """The file's first audio stream as 8 kHz mono μ-law, at most ``max_seconds`` of it:
    ffmpeg decodes in a stream and stops there (``-t``), so a file whose headers lie about
    its length never costs more than that much output (2.4 MB for five minutes)."""
    done = _run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
                 "-t", f"{max_seconds:.3f}", "-ac", "1", "-ar", str(SAMPLE_RATE),
                 "-f", "mulaw", "pipe:1"], name)
    if done.returncode != 0:
        raise PromptError(f"{name}: not a readable audio file (expected WAV, MP3, M4A or OGG)")
    return done.stdout


def ulaw_wav(payload: bytes) -> bytes:
    """An 8 kHz mono G.711 μ-law WAV (``fmt`` with cbSize, ``fact``, ``data``)."""
    fmt = struct.pack("<HHIIHHH", _WAVE_FORMAT_MULAW, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8, 0)
    pad = b"\0" if len(payload) & 1 else b""
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
              + b"fact" + struct.pack("<II", 4, len(payload))
              + b"data" + struct.pack("<I", len(payload)) + payload + pad)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def file_to_ulaw_wav(path: Path, name: str = "upload") -> bytes:
    """Convert an audio file (WAV, MP3, M4A, OGG …) to an 8 kHz mono μ-law WAV.

    The duration is read from the headers first (a file over ``MAX_SECONDS`` is refused
    before anything is decoded); the decode itself stops just past ``MAX_SECONDS``, so no
    more than that is ever held. :class:`PromptError` with a message for the admin when the
    file is empty, not audio, silent of samples, or too long.
    """
    if path.stat().st_size == 0:
        raise PromptError(f"{name}: the file is empty")
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise PromptError("ffmpeg is not installed: it is needed to convert prompt audio")
    seconds = probe_seconds(path, name)
    if seconds is not None and seconds > MAX_SECONDS:
        raise PromptError(f"{name}: {seconds:.0f} s is too long for a prompt "
                          f"(at most {MAX_SECONDS:.0f} s)")
    payload = decode_capped(path, MAX_SECONDS + 1.0, name)
    if not payload:
        raise PromptError(f"{name}: the file holds no audio")
    if len(payload) > MAX_SECONDS * SAMPLE_RATE:
        raise PromptError(f"{name}: more than {MAX_SECONDS:.0f} s is too long for a prompt")
    return ulaw_wav(payload)


def to_ulaw_wav(data: bytes, name: str = "upload") -> bytes:
    """:func:`file_to_ulaw_wav` for audio in memory (it goes through a private temp file)."""
    if not data:
        raise PromptError(f"{name}: the file is empty")
    with tempfile.TemporaryDirectory(prefix="vi-audio-") as tmp:
        path = Path(tmp) / "audio"
        path.write_bytes(data)
        return file_to_ulaw_wav(path, name)


def save_prompt(prompt_dir: Path, prompt_id: str, data: bytes, name: str = "upload") -> Path:
    """Convert an upload and store it as the prompt's audio (atomically: a call playing the
    old file never sees half a new one)."""
    prompt_path(prompt_dir, prompt_id)  # refuse a bad id before the conversion work
    return save_raw(prompt_dir, prompt_id, to_ulaw_wav(data, name))


def render_text(text: str, settings: IvrSettings) -> bytes:
    """Speak ``text`` with the configured offline TTS command; return 8 kHz μ-law WAV.

    In the command, ``{text}`` is replaced by the text (else the text goes to stdin) and
    ``{out}`` by a temporary output file (else the audio is read from stdout).
    """
    command = list(settings.tts_command)
    if not command:
        raise PromptError("no TTS command configured")
    with tempfile.TemporaryDirectory() as tmp:
        out_file = Path(tmp) / "tts.wav"
        uses_text = any("{text}" in arg for arg in command)
        uses_out = any("{out}" in arg for arg in command)
        args = [a.replace("{text}", text).replace("{out}", str(out_file)) for a in command]
        try:
            done = subprocess.run(args, input=None if uses_text else text.encode(),
                                  capture_output=True, timeout=settings.tts_timeout_s,
                                  check=False)
        except FileNotFoundError as exc:
            raise PromptError(f"TTS command {command[0]!r} not found (Debian: apt-get install "
                              "espeak-ng)") from exc
        except subprocess.TimeoutExpired as exc:
            raise PromptError(f"TTS command took longer than {settings.tts_timeout_s} s") from exc
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise PromptError(f"TTS command failed (exit {done.returncode}): {detail[0]}")
        audio = out_file.read_bytes() if uses_out and out_file.exists() else done.stdout
    return to_ulaw_wav(audio, f"TTS output for {text[:20]!r}")


def render_missing(menu: Menu, prompt_dir: Path, settings: IvrSettings,
                   only: Iterable[str] | None = None,
                   stop: threading.Event | None = None) -> list[str]:
    """Render the catalogue text of every prompt with no audio yet; return their ids.
    Prompts with no text in the catalogue are left alone (validation reports them). Once
    ``stop`` is set (a shutdown), no further prompt is started."""
    wanted = set(only) if only is not None else None
    done: list[str] = []
    for pid in missing_prompts(menu, prompt_dir):
        if stop is not None and stop.is_set():
            break
        text = menu.prompts.get(pid)
        if not text or (wanted is not None and pid not in wanted):
            continue
        wav = render_text(text, settings)
        save_raw(prompt_dir, pid, wav)
        done.append(pid)
    return done


def save_raw(prompt_dir: Path, prompt_id: str, wav: bytes) -> Path:
    """Store an already converted μ-law WAV."""
    target = prompt_path(prompt_dir, prompt_id)
    prompt_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=prompt_dir, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(wav)
    os.replace(tmp, target)
    return target


def ulaw_payload(wav: bytes) -> bytes:
    """The μ-law samples of an 8 kHz mono μ-law WAV written here (RTP payload type 0)."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise PromptError("not a WAV file")
    pos, fmt_ok = 12, False
    while pos + 8 <= len(wav):
        chunk, size = wav[pos : pos + 4], struct.unpack("<I", wav[pos + 4 : pos + 8])[0]
        body = wav[pos + 8 : pos + 8 + size]
        if chunk == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            fmt_ok = (tag, channels, rate) == (_WAVE_FORMAT_MULAW, 1, SAMPLE_RATE)
        elif chunk == b"data":
            if not fmt_ok:
                raise PromptError("prompt WAV is not 8 kHz mono μ-law")
            return body
        pos += 8 + size + (size & 1)
    raise PromptError("WAV file has no data chunk")
