"""Reference data for filters and field editors: taxonomy, districts, streets, units."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from config import DraftingSettings
from console.context import CONSOLE
from console.http import ok
from storage.accounts import ActiveSession
from storage.workflow import REJECT_REASONS, SATISFACTION, STATUSES
from workorders.knowledge import knowledge


def _options(settings: DraftingSettings) -> dict[str, Any]:
    k = knowledge(settings)
    subcategories: dict[str, list[str]] = {}
    for sub in k.taxonomy.subcategories:
        subcategories.setdefault(sub.category, []).append(sub.name)
    departments = sorted(set(k.dispatch.categories.values())
                         | set(k.dispatch.subcategories.values()))
    return {
        "statuses": list(STATUSES), "reject_reasons": list(REJECT_REASONS),
        "satisfaction": list(SATISFACTION),
        "categories": list(k.taxonomy.categories), "subcategories": subcategories,
        "districts": list(k.gazetteer.districts),
        "streets": {d: [u.name for u in units]
                    for d, units in k.gazetteer.units_by_district.items()},
        "departments": departments,
    }


async def options(request: web.Request, session: ActiveSession) -> web.StreamResponse:
    return ok(_options(request.app[CONSOLE].settings.drafting))
