"""The admin's IVR pages: JSON editor, prompts, simulator, per-node analytics.

Like every page, fixed markup around data the page's script fetches from ``/api/ivr``.
"""

from __future__ import annotations

from aiohttp import web

from console.pages import _render
from storage.accounts import ActiveSession


async def editor(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "ivr_editor", "语音导航 · 菜单编辑", True)


async def prompts(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "ivr_prompts", "语音导航 · 提示音", True)


async def simulator(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "ivr_simulator", "语音导航 · 模拟器", True)


async def analytics(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return _render(request, "ivr_analytics", "语音导航 · 节点分析", True)
