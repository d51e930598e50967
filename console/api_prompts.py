"""Admin: prompt audio of a menu. Which prompts have no audio yet, uploads (any common
format, streamed to a temp file, its duration checked from the headers, then converted to
8 kHz μ-law by a capped ffmpeg decode in a worker thread), rendering the missing ones
with the offline TTS command, and playback in the browser.

Audio is ``<prompt dir>/<prompt id>.wav`` (see :mod:`ivr.prompts`); every change is audited.
Browsers do not all play μ-law WAV, so playback sends the same samples as 16-bit PCM.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import io
import tempfile
import wave
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path

from aiohttp import BodyPartReader, web

from console.api_ivr import menu_id_of, menus_of, working_menu
from console.context import CONSOLE
from console.http import json_error, ok
from ivr import Menu, parse_menu
from ivr.errors import MenuFormatError, PromptError
from ivr.loader import load_catalogue
from ivr.model import prompt_refs
from ivr.prompts import (
    MAX_SECONDS,
    SAMPLE_RATE,
    file_to_ulaw_wav,
    menu_prompt_ids,
    missing_prompts,
    prompt_path,
    render_missing,
    save_raw,
    ulaw_payload,
)
from storage.accounts import ActiveSession
from storage.menus import MenuVersionNotFound

MAX_UPLOAD = 25 * 1024 * 1024  # five minutes of MP3, with room to spare


async def _menu(request: web.Request, menu_id: str) -> Menu:
    """The menu whose prompts are listed: ``?version=N``, else the editor's working menu."""
    raw = request.query.get("version", "")
    try:
        if raw:
            data = (await menus_of(request).get(menu_id, int(raw))).data
        else:
            data = (await working_menu(request, menu_id))["data"]
        return parse_menu(data, load_catalogue())
    except ValueError as exc:  # a bad number, or (MenuFormatError) a stored menu gone bad
        raise json_error(400, f"menu unusable: {exc}") from exc
    except MenuVersionNotFound as exc:
        raise json_error(404, str(exc)) from exc


def _prompt_id(request: web.Request) -> str:
    prompt_id = request.match_info["prompt"]
    try:
        prompt_path(request.app[CONSOLE].settings.prompt_dir, prompt_id)
    except PromptError as exc:
        raise json_error(400, str(exc)) from exc
    return prompt_id


async def list_prompts(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Every prompt the menu may play: its text, the nodes using it, whether it has audio."""
    menu_id = menu_id_of(request)
    menu = await _menu(request, menu_id)
    prompt_dir = request.app[CONSOLE].settings.prompt_dir
    missing = set(await asyncio.to_thread(missing_prompts, menu, prompt_dir))
    used: dict[str, list[str]] = {}
    for node in menu.nodes.values():
        for pid in prompt_refs(node):
            used.setdefault(pid, [])
            if node.id not in used[pid]:
                used[pid].append(node.id)
    items = [{"id": pid, "text": menu.prompts.get(pid), "has_audio": pid not in missing,
              "used_by": used.get(pid, [])} for pid in menu_prompt_ids(menu)]
    return ok({"menu_id": menu_id, "menu": menu.id, "version": menu.version,
               "missing": [i["id"] for i in items if not i["has_audio"]], "prompts": items})


@contextlib.asynccontextmanager
async def _upload_file(request: web.Request) -> AsyncIterator[tuple[Path, str]]:
    """The multipart ``file`` field, streamed to a private temp file (at most
    ``MAX_UPLOAD``: 413 past it); the file is removed afterwards."""
    if not request.content_type.startswith("multipart/"):
        raise json_error(415, "expected multipart/form-data with a file field")
    if request.content_length is not None and request.content_length > MAX_UPLOAD + 64 * 1024:
        raise json_error(413, f"文件过大（最多 {MAX_UPLOAD // 1024 // 1024} MB）")
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        with tempfile.TemporaryDirectory(prefix="vi-upload-") as tmp:
            path = Path(tmp) / "upload"
            size = 0
            with path.open("wb") as out:
                while chunk := await part.read_chunk(256 * 1024):
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        raise json_error(413, f"文件过大（最多 {MAX_UPLOAD // 1024 // 1024} MB）")
                    await asyncio.to_thread(out.write, chunk)
            yield path, (part.filename or "upload")[-80:]
        return
    raise json_error(400, "no file field in the upload")


async def upload_prompt(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Convert an upload (WAV, MP3, M4A, OGG …) to 8 kHz μ-law and store it as the
    prompt's audio; a file ffmpeg cannot read, or longer than ``MAX_SECONDS`` (read from its
    headers before decoding, and capped while decoding), is a 422 with a message."""
    prompt_id = _prompt_id(request)
    menu_id = request.query.get("menu", "default")
    async with _upload_file(request) as (path, name):
        try:
            wav = await asyncio.to_thread(file_to_ulaw_wav, path, name)
        except PromptError as exc:
            raise json_error(422, f"无法转换音频：{exc}") from exc
    prompt_dir = request.app[CONSOLE].settings.prompt_dir
    existed = prompt_path(prompt_dir, prompt_id).is_file()
    await asyncio.to_thread(save_raw, prompt_dir, prompt_id, wav)
    seconds = round(len(ulaw_payload(wav)) / SAMPLE_RATE, 2)
    await menus_of(request).audit_prompts(
        menu_id, session.account.username, "prompt_upload",
        {"prompt": prompt_id, "had_audio": existed},
        {"prompt": prompt_id, "file": name, "seconds": seconds})
    return ok({"prompt": prompt_id, "seconds": seconds, "replaced": existed}, status=201)


async def render_prompts(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """Speak every prompt of the menu that has no audio yet with the TTS command."""
    menu_id = menu_id_of(request)
    menu = await _menu(request, menu_id)
    settings = request.app[CONSOLE].settings
    try:
        rendered = await asyncio.to_thread(render_missing, menu, settings.prompt_dir,
                                           settings.ivr)
    except PromptError as exc:
        raise json_error(422, f"语音合成失败：{exc}") from exc
    except MenuFormatError as exc:  # pragma: no cover - parse_menu ran above
        raise json_error(400, str(exc)) from exc
    missing = await asyncio.to_thread(missing_prompts, menu, settings.prompt_dir)
    if rendered:
        await menus_of(request).audit_prompts(
            menu_id, session.account.username, "prompt_render", {"missing": rendered + missing},
            {"rendered": rendered, "missing": missing})
    return ok({"rendered": rendered, "missing": missing})


async def prompt_audio(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    """The prompt's audio as 16-bit PCM WAV (what every browser plays)."""
    prompt_id = _prompt_id(request)
    path = prompt_path(request.app[CONSOLE].settings.prompt_dir, prompt_id)
    try:
        raw = await asyncio.to_thread(path.read_bytes)
        samples = ulaw_payload(raw)
    except FileNotFoundError as exc:
        raise json_error(404, f"prompt {prompt_id} has no audio yet") from exc
    except PromptError as exc:
        raise json_error(422, f"stored audio unusable: {exc}") from exc
    return web.Response(body=pcm_wav(samples[: int(MAX_SECONDS * SAMPLE_RATE)]),
                        content_type="audio/wav", headers={"Cache-Control": "no-store"})


@lru_cache(maxsize=1)
def _ulaw_table() -> bytes:
    """G.711 μ-law byte → little-endian 16-bit linear sample (ITU-T G.711)."""
    out = array.array("h")
    for byte in range(256):
        u = ~byte & 0xFF
        t = ((u & 0x0F) << 3) + 0x84
        t <<= (u & 0x70) >> 4
        out.append(0x84 - t if u & 0x80 else t - 0x84)
    return out.tobytes()


def pcm_wav(ulaw: bytes) -> bytes:
    table = _ulaw_table()
    pcm = b"".join(table[2 * b : 2 * b + 2] for b in ulaw)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return buf.getvalue()
