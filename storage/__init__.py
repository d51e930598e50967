"""Layer 2: database models and repository, migrations, recordings, the event bus."""

from storage.accounts import Account, AccountError, Accounts, SessionPolicy
from storage.db import StorageStalled, create_engine, ping
from storage.events import Event, EventBus
from storage.menus import MenuVersions
from storage.migrate import upgrade
from storage.recordings import DISK_HEALTH, DiskHealth, RecordingWriter
from storage.reports import Reports
from storage.repository import Store, StoredUtterance
from storage.retry import with_retries
from storage.workflow import DraftWorkflow

__all__ = [
    "DISK_HEALTH",
    "Account",
    "AccountError",
    "Accounts",
    "DiskHealth",
    "DraftWorkflow",
    "Event",
    "EventBus",
    "MenuVersions",
    "RecordingWriter",
    "Reports",
    "SessionPolicy",
    "StorageStalled",
    "Store",
    "StoredUtterance",
    "create_engine",
    "ping",
    "upgrade",
    "with_retries",
]
