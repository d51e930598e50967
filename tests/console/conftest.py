"""Console fixtures: the real app on loopback with SQLite, users, logged-in clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings
from console import CONSOLE
from tests.conftest import MODEL_DIR
from voice_gateway.app import SERVICES, init_app
from voice_gateway.calls.drafting import draft_and_store
from voice_gateway.services import Services, open_services

PASSWORD = "s3cret-pass-12345"
D01 = ("你好 我 想 反映 一下 我们 小区 的 电梯 又 坏 了 这 个 月 都 第三 次 了 物业 光 说 修 也 "
       "不 见 人 我 住 十八 楼 腿脚 不好 下不去 朝阳区 双井街道 九龙 花园 三 号楼 我 姓 黄 "
       "电话 幺三八 幺幺二二 三三四四")
URGENT = "西城区广安门外街道有个井盖没了晚上有人掉下去受伤了很危险我姓冯电话一五九一零二零三零四零"


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    return load_settings(environ={
        "VOICE_INTAKE_DATA_DIR": str(tmp_path / "data"),
        "VOICE_INTAKE_MODEL_DIR": str(MODEL_DIR),
        "VOICE_INTAKE_SIP_ENABLED": "false",
        # No call gateway at all: with SIP off, the WebRTC gateway would speak the menu's
        # missing prompts at start, and these tests look at prompts as an admin left them.
        "VOICE_INTAKE_WEBRTC_ENABLED": "false",
    })


@contextlib.asynccontextmanager
async def _no_asr(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings, with_asr=False) as services:
        yield services


@pytest.fixture
async def app_client(aiohttp_client: Any, console_settings: Settings) -> Any:
    """The whole app (no ASR workers) with an agent ``alice``, a second agent ``bob`` and
    an admin ``root``, all with password ``PASSWORD``."""
    client = await aiohttp_client(init_app(console_settings, _no_asr))
    accounts = client.server.app[CONSOLE].accounts
    for name, role in (("alice", "agent"), ("bob", "agent"), ("root", "admin")):
        await accounts.add_user(name, PASSWORD, role)
    return client


def services_of(client: Any) -> Services:
    services: Services = client.server.app[SERVICES]
    return services


LoginFn = Callable[[Any, str], Awaitable[str]]


async def login(client: Any, username: str) -> str:
    """Log ``client`` in; return the CSRF token."""
    resp = await client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    token: str = (await resp.json())["csrf_token"]
    return token


async def new_draft(client: Any, transcript: str = D01,
                    caller: str | None = "13811223344") -> dict[str, Any]:
    services = services_of(client)
    call_id = await services.store.create_call("file", caller, None, "fake:none")
    await services.store.end_call(call_id, "hangup", 12.0)
    return await draft_and_store(services, call_id, transcript, caller)
