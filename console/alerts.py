"""未诉先办 in the background: spikes checked every ``analytics.check_interval_s``; each new
alert is stored and published (the fan-out pushes it to admins' websockets) and POSTed as
JSON to ``analytics.alert_webhook`` when one is set.

A webhook that fails is logged (its status or the error's type) and not retried: the alert
is on the dashboard either way. Every node runs the check; an alert already raised is not
raised again for its window (see ``workorders.spikes``), though two nodes checking at the
same instant may both raise one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web

from config.settings import AnalyticsSettings
from console.analytics import ANALYTICS, Analytics, alert_payload
from console.context import ServicesGetter
from storage.analytics import AnalyticsStore
from workorders.knowledge import knowledge

log = logging.getLogger(__name__)


async def post_webhook(url: str, alert: dict[str, Any], timeout_s: float) -> bool:
    """POST one alert as JSON; True on a 2xx answer."""
    body = {"type": "spike_alert", **alert}
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http, \
                http.post(url, json=body) as resp:
            if 200 <= resp.status < 300:
                return True
            log.warning("alert webhook answered %d", resp.status)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.warning("alert webhook failed (%s)", type(exc).__name__)
    return False


async def check_and_notify(analytics: Analytics, settings: AnalyticsSettings) -> int:
    """One check: new alerts stored, published and sent; returns how many were raised."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    spikes = await analytics.check_spikes(now)
    if settings.alert_webhook:
        for spike in spikes:
            await post_webhook(settings.alert_webhook, alert_payload(spike, now),
                               settings.webhook_timeout_s)
    if spikes:
        log.info("未诉先办: %d new spike alert(s)", len(spikes))
    return len(spikes)


async def watch(analytics: Analytics, settings: AnalyticsSettings) -> None:
    """Check for spikes every interval until cancelled; a failed check is logged and the
    next one runs."""
    while True:
        await asyncio.sleep(settings.check_interval_s)
        try:
            await check_and_notify(analytics, settings)
        except Exception:
            log.exception("spike check failed")


def analytics_ctx(
    get_services: ServicesGetter,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The analytics of the running service, and its spike watch (``spikes_enabled``)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        res = get_services()
        settings = res.settings.analytics
        taxonomy = knowledge(res.settings.drafting).taxonomy
        keywords = frozenset(p for sub in taxonomy.subcategories for p, _w in sub.phrases)
        analytics = Analytics(AnalyticsStore(res.store), settings, keywords)
        app[ANALYTICS] = analytics
        task = asyncio.create_task(watch(analytics, settings)) if settings.spikes_enabled \
            else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return ctx
