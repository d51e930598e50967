"""Layer 2: database models and repository, migrations, recordings, the event bus."""

from storage.db import create_engine, ping
from storage.events import Event, EventBus
from storage.migrate import upgrade
from storage.recordings import RecordingWriter
from storage.repository import Store, StoredUtterance

__all__ = [
    "Event",
    "EventBus",
    "RecordingWriter",
    "Store",
    "StoredUtterance",
    "create_engine",
    "ping",
    "upgrade",
]
