"""Alembic migrations, run programmatically (``voice-intake db upgrade``, and at start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x766F6963  # the advisory lock `db upgrade` holds on PostgreSQL


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database at ``engine`` up to ``revision``."""

    def _upgrade(connection: object) -> None:
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # nodes upgrading at once: one at a time
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


class SchemaOutdated(RuntimeError):
    """The database's schema is older than this version needs: ``voice-intake db upgrade``
    must run first (once, from one node)."""


def _revisions(connection: object) -> tuple[str | None, str | None, bool]:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    current = MigrationContext.configure(connection).get_current_revision()  # type: ignore[arg-type]
    known = current is None or script.get_revision(current) is not None
    return current, script.get_current_head(), known


async def require_current(engine: AsyncEngine) -> None:
    """Refuse an older schema (``SchemaOutdated``, naming both revisions and the command).

    A schema newer than this version knows (a rolling upgrade: another node's newer
    release ran its migrations) is accepted: migrations only add.
    """
    from alembic.util.exc import CommandError

    async with engine.connect() as conn:
        try:
            current, head, known = await conn.run_sync(_revisions)
        except CommandError:  # a revision id this release does not have: newer
            return
    if current == head or not known:
        return
    raise SchemaOutdated(
        f"the database schema is at revision {current or 'none (empty database)'}, this "
        f"release needs {head}: run `voice-intake db upgrade` once, from one node, then "
        "start the nodes")


async def prepare(engine: AsyncEngine) -> None:
    """At start-up: SQLite (one node) is migrated to head; a shared database is only
    checked (``require_current``), its migrations being run once by ``db upgrade``."""
    if engine.dialect.name == "sqlite":
        await upgrade(engine)
    else:
        await require_current(engine)
