"""Prompt audio for calls: loaded in a thread, reloaded when the file changes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from asr.audio import PcmAudio
from voice_gateway.calls import prompts as prompts_module
from voice_gateway.calls.prompts import PromptLibrary


def write_wav(path: Path, samples: int, value: int = 100) -> None:
    from storage import RecordingWriter

    writer = RecordingWriter(path, 8000)
    writer.write(value.to_bytes(2, "little", signed=True) * samples)
    writer.close()


async def test_prompts_load_off_the_loop_and_an_upload_is_heard_without_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = prompts_module._load

    def spy(path: Path) -> bytes:
        threads.append(threading.current_thread().name)
        return real(path)

    monkeypatch.setattr(prompts_module, "_load", spy)
    library = PromptLibrary(tmp_path)
    write_wav(tmp_path / "welcome.wav", 800)
    first = await library.pcm("welcome")
    assert first is not None and len(first) == 1600
    assert await library.pcm("welcome") == first and library.loads == 1  # cached
    assert threads and threads[0] != threading.main_thread().name
    # An admin uploads a new recording: the next play has it, no restart.
    write_wav(tmp_path / "welcome.wav", 1600, value=-5)
    stat = (tmp_path / "welcome.wav").stat()
    os.utime(tmp_path / "welcome.wav", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = await library.pcm("welcome")
    assert second is not None and len(second) == 3200 and library.loads == 2


async def test_a_missing_or_broken_prompt_is_skipped_not_cached(tmp_path: Path) -> None:
    library = PromptLibrary(tmp_path)
    assert await library.pcm("nothing") is None
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    assert await library.pcm("broken") is None
    write_wav(tmp_path / "broken.wav", 80)
    assert await library.pcm("broken") == PcmAudio(b"d\x00" * 80, 8000).pcm


async def test_a_shutdown_stops_rendering_prompts_after_the_one_being_spoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service stopped while it speaks its menu's missing prompts (the first start, with
    espeak-ng) does not wait for the whole menu: the thread ends after its current prompt."""
    import asyncio

    from config import load_settings
    from ivr import default_menu
    from ivr import prompts as ivr_prompts
    from voice_gateway.calls.lifecycle import render_prompts

    started = threading.Event()
    release = threading.Event()
    spoken: list[str] = []

    def slow_render(text: str, _settings: object) -> bytes:
        spoken.append(text)
        started.set()
        release.wait(5)
        return b"RIFF"

    monkeypatch.setattr(ivr_prompts, "render_text", slow_render)
    monkeypatch.setattr(ivr_prompts, "save_raw", lambda *_a: None)
    settings = load_settings(environ={"VOICE_INTAKE_DATA_DIR": str(tmp_path)})
    menu = default_menu()
    task = asyncio.ensure_future(render_prompts(settings, menu))
    assert await asyncio.to_thread(started.wait, 5)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)  # the thread sees the stop before its next prompt
    assert len(spoken) == 1 < len(ivr_prompts.missing_prompts(menu, settings.prompt_dir))
