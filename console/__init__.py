"""Layer 3: the agent console and admin web UI (routes, templates, websockets).

``setup(app)`` mounts the console on the service's aiohttp application. The console
itself is built in its own issue; today it mounts nothing.
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Mount the console's routes on ``app``."""
    del app
