"""Prompt audio: conversion of uploads to 8 kHz μ-law, broken files, espeak-ng rendering,
missing prompts of a menu."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import pytest

from ivr import PromptError, default_menu
from ivr.prompts import (
    menu_prompt_ids,
    missing_prompts,
    prompt_path,
    render_missing,
    render_text,
    save_prompt,
    to_ulaw_wav,
    ulaw_payload,
)
from ivr.settings import IvrSettings

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
# Debian package espeak-ng; the project's scripts install it, so this only skips elsewhere.
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not installed")


def tone_wav(seconds: float = 0.5, rate: int = 44100, channels: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) * channels
            for i in range(int(seconds * rate))
        )
        w.writeframes(frames)
    return buf.getvalue()


def fmt(wav: bytes) -> tuple[int, int, int, int]:
    """(format tag, channels, rate, bits) of a WAV's fmt chunk."""
    pos = wav.index(b"fmt ")
    tag, channels, rate = struct.unpack("<HHI", wav[pos + 8 : pos + 16])
    bits = struct.unpack("<H", wav[pos + 22 : pos + 24])[0]
    return tag, channels, rate, bits


@needs_ffmpeg
def test_wav_is_converted_to_8k_mono_ulaw() -> None:
    out = to_ulaw_wav(tone_wav(0.5), "tone.wav")
    assert fmt(out) == (7, 1, 8000, 8)
    assert len(ulaw_payload(out)) == pytest.approx(4000, abs=20)


@needs_ffmpeg
def test_mp3_upload_is_converted() -> None:
    from pydub import AudioSegment

    mp3 = io.BytesIO()
    AudioSegment.from_file(io.BytesIO(tone_wav(1.0, 22050, 1))).export(mp3, format="mp3")
    out = to_ulaw_wav(mp3.getvalue(), "tone.mp3")
    assert fmt(out)[:3] == (7, 1, 8000)


@needs_ffmpeg
@pytest.mark.parametrize(("data", "message"), [
    (b"", "tone.wav: the file is empty"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 3, "tone.wav: not a readable audio file"),
    (b"\xff\xfb" + bytes(range(256)) * 4, "tone.wav: not a readable audio file"),
])
def test_broken_file_gets_a_readable_error(data: bytes, message: str) -> None:
    with pytest.raises(PromptError) as info:
        to_ulaw_wav(data, "tone.wav")
    assert str(info.value).startswith(message)
    assert "Traceback" not in str(info.value)


@needs_ffmpeg
def test_save_prompt_writes_the_file(tmp_path: Path) -> None:
    path = save_prompt(tmp_path, "welcome", tone_wav(0.2), "welcome.wav")
    assert path == tmp_path / "welcome.wav"
    assert fmt(path.read_bytes())[:3] == (7, 1, 8000)
    assert not list(tmp_path.glob("*.part"))


def test_prompt_ids_must_be_plain_names(tmp_path: Path) -> None:
    for bad in ("../etc/passwd", "a/b", "", ".hidden"):
        with pytest.raises(PromptError):
            prompt_path(tmp_path, bad)


def test_missing_prompts_of_the_default_menu(tmp_path: Path) -> None:
    menu = default_menu()
    ids = menu_prompt_ids(menu)
    assert {"welcome", "main_menu", "intake_phone", "digit_0", "digit_9", "goodbye"} <= set(ids)
    assert missing_prompts(menu, tmp_path) == ids
    (tmp_path / "welcome.wav").write_bytes(b"x")
    assert "welcome" not in missing_prompts(menu, tmp_path)


def test_ulaw_payload_refuses_pcm() -> None:
    with pytest.raises(PromptError, match="not 8 kHz mono"):
        ulaw_payload(tone_wav(0.1))


@needs_espeak
@needs_ffmpeg
def test_espeak_renders_mandarin() -> None:
    out = render_text("请输入您的联系电话，以井号键结束", IvrSettings())
    assert fmt(out)[:3] == (7, 1, 8000)
    assert len(ulaw_payload(out)) > 8000  # more than a second of speech


@needs_espeak
@needs_ffmpeg
def test_render_missing_digits(tmp_path: Path) -> None:
    menu = default_menu()
    digits = [f"digit_{d}" for d in "0123456789"]
    assert sorted(render_missing(menu, tmp_path, IvrSettings(), only=digits)) == sorted(digits)
    for pid in digits:
        assert fmt(prompt_path(tmp_path, pid).read_bytes())[:3] == (7, 1, 8000)
    assert not set(digits) & set(missing_prompts(menu, tmp_path))


@needs_ffmpeg
def test_tts_command_writing_a_file_and_reading_stdin(tmp_path: Path) -> None:
    # Any TTS works: here a "TTS" that ignores the text on stdin and copies a WAV to {out}.
    src = tmp_path / "tone.wav"
    src.write_bytes(tone_wav(0.3))
    settings = IvrSettings(tts_command=("cp", str(src), "{out}"))
    assert fmt(render_text("你好", settings))[:3] == (7, 1, 8000)


def test_tts_errors_are_readable() -> None:
    with pytest.raises(PromptError, match="not found"):
        render_text("你好", IvrSettings(tts_command=("no-such-tts-binary", "{text}")))
    with pytest.raises(PromptError, match="failed \\(exit 1\\)"):
        render_text("你好", IvrSettings(tts_command=("false",)))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_the_default_voice_reads_chinese_as_mandarin_not_as_english() -> None:
    """espeak-ng's plain ``cmn`` voice turns characters into pinyin with tone digits and
    reads them as English ("nin two hao three"); the default voice must not switch."""
    command = list(IvrSettings().tts_command)
    voice = command[command.index("-v") + 1]
    shown = subprocess.run(["espeak-ng", "-v", voice, "-q", "-x", "您好，这里是12345市民服务热线"],
                           capture_output=True, text=True, check=True).stdout
    assert "(en)" not in shown and shown.strip()
