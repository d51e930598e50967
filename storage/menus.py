"""IVR menu versions: drafts, publish, rollback, with every change in the audit log.

How it works. A menu slot (``menu_id``, ``default`` for the menu calls start with) has
numbered versions 1, 2, … Saving stores a new ``draft`` (any menu that parses: a draft may
still have graph problems, which are returned so the editor can show them). Publishing a
draft refuses a menu that :func:`ivr.validate` finds fault with (each error names its node);
it makes the version ``published`` and the previously published one ``retired``. Rollback
re-publishes a retired version the same way. Only one version of a slot is ever published;
:meth:`MenuVersions.published_menu` is what call handling reads. Calls in progress keep the
version they started with: the runtime state holds its own menu.

The stored JSON is the menu as :func:`ivr.serialize.menu_to_data` writes it (defaults
explicit, the texts of the prompts it uses included), with ``version`` set to the row's
number, so a call's analytics events name the version it walked.

Every change writes an :class:`~storage.models.AuditRow` in the same transaction (actions
``menu_save``, ``menu_publish``, ``menu_rollback``; ``before``/``after`` name the slot and
the versions involved; a save lists the nodes it changed against the published version).
Prompt audio lives on disk, not here, but its changes are audited the same way
(``prompt_upload``, ``prompt_render``: :meth:`MenuVersions.audit_prompts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ivr import Menu, parse_menu, validate
from ivr.errors import MenuFormatError, ValidationError
from ivr.loader import decode_menu_text, load_catalogue
from ivr.serialize import menu_to_data
from storage.db import WriteTransactions, session_factory
from storage.models import AuditRow, EventRow, MenuVersionRow

DEFAULT_MENU_ID = "default"
STATUSES = ("draft", "published", "retired")
MENU_ACTIONS = ("menu_save", "menu_publish", "menu_rollback", "prompt_upload", "prompt_render")
IVR_EVENT_KINDS = ("ivr_node", "ivr_exit", "ivr_input")
MAX_ID = 64


class MenuStoreError(Exception):
    """Base of this module's errors; the console turns each into an HTTP status."""


class MenuInvalid(MenuStoreError):
    """The menu does not parse (save) or does not validate (publish); ``errors`` name nodes."""

    def __init__(self, errors: Sequence[ValidationError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid menu")


class MenuVersionNotFound(MenuStoreError):
    pass


class MenuConflict(MenuStoreError):
    """The version is not in a state that allows this (publish a draft, roll back to a
    retired version)."""


def _aware(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _iso(t: datetime | None) -> str | None:
    t = _aware(t)
    return t.isoformat() if t else None


@dataclass(frozen=True)
class MenuVersion:
    menu_id: str
    version: int
    status: str
    created_by: str
    created_at: datetime
    published_by: str | None
    published_at: datetime | None
    comment: str | None
    data: dict[str, Any]

    def as_json(self, with_data: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "menu_id": self.menu_id, "version": self.version, "status": self.status,
            "created_by": self.created_by, "created_at": _iso(self.created_at),
            "published_by": self.published_by, "published_at": _iso(self.published_at),
            "comment": self.comment, "name": self.data.get("name"),
        }
        if with_data:
            out["data"] = self.data
        return out


@dataclass(frozen=True)
class SavedDraft:
    """A stored draft and what publishing it would refuse (empty: publishable)."""

    version: MenuVersion
    problems: list[ValidationError]


@dataclass(frozen=True)
class MenuAudit:
    at: datetime
    username: str
    action: str
    menu_id: str
    before: dict[str, Any]
    after: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "username": self.username, "action": self.action,
                "menu_id": self.menu_id, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class IvrCallLog:
    """One call's IVR analytics actions (``ivr.events.action_to_dict`` form), in order."""

    call_id: str
    menu: str | None
    menu_version: int | None
    actions: list[dict[str, Any]]


def check_menu(source: str | Mapping[str, Any]) -> tuple[Menu, list[ValidationError]]:
    """Parse menu JSON text (or decoded data) over the shipped prompt catalogue; return the
    menu and what :func:`ivr.validate` finds. Raises :class:`MenuInvalid` when it does not
    parse (bad JSON, duplicate keys, schema errors)."""
    try:
        data = decode_menu_text(source) if isinstance(source, str) else dict(source)
        menu = parse_menu(data, load_catalogue())
    except MenuFormatError as exc:
        raise MenuInvalid(exc.errors) from exc
    return menu, validate(menu)


def _version(row: MenuVersionRow) -> MenuVersion:
    created = _aware(row.created_at)
    assert created is not None
    return MenuVersion(row.menu_id, row.version, row.status, row.created_by, created,
                       row.published_by, _aware(row.published_at), row.comment, dict(row.data))


def _changed_nodes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    if old is None:
        return sorted(new.get("nodes", {}))
    before, after = old.get("nodes", {}), new.get("nodes", {})
    return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))


def _check_id(menu_id: str) -> None:
    if not menu_id or len(menu_id) > MAX_ID:
        raise MenuInvalid([ValidationError(None, "menu_id",
                                           f"menu id must be 1 to {MAX_ID} characters")])


class MenuVersions:
    """Menu versions and their audit; each method is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)
        self._write = WriteTransactions(engine)

    # ------------------------------------------------------------------ changes

    async def save_draft(self, menu_id: str, source: str | Mapping[str, Any], username: str,
                         comment: str | None = None) -> SavedDraft:
        """Store ``source`` (JSON text or data) as the next version, a draft. Raises
        :class:`MenuInvalid` when it does not parse; graph problems do not stop a draft
        and are returned in :attr:`SavedDraft.problems`."""
        _check_id(menu_id)
        menu, problems = check_menu(source)
        data = menu_to_data(menu)
        for attempt in range(3):
            try:
                return SavedDraft(await self._insert_draft(menu_id, data, username, comment,
                                                           len(problems)), problems)
            except IntegrityError:  # a concurrent save took the number: take the next one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _insert_draft(self, menu_id: str, data: dict[str, Any], username: str,
                            comment: str | None, problems: int) -> MenuVersion:
        now = datetime.now(UTC)
        async with self._write() as s:
            last = await s.scalar(select(func.max(MenuVersionRow.version))
                                  .where(MenuVersionRow.menu_id == menu_id))
            number = (last or 0) + 1
            published = await self._published_row(s, menu_id)
            data = {**data, "version": number}
            row = MenuVersionRow(menu_id=menu_id, version=number, status="draft", data=data,
                                 created_by=username, created_at=now, comment=comment or None)
            s.add(row)
            self._audit(s, username, "menu_save", now,
                        {"menu_id": menu_id,
                         "published": published.version if published else None},
                        {"menu_id": menu_id, "version": number, "status": "draft",
                         "comment": comment or None, "problems": problems,
                         "changed_nodes": _changed_nodes(
                             published.data if published else None, data)})
            await s.flush()
            return _version(row)

    async def publish(self, menu_id: str, version: int, username: str,
                      comment: str | None = None) -> MenuVersion:
        """Make a draft the published version (the one published before is retired).
        Raises :class:`MenuInvalid` with every validation error, each naming its node."""
        return await self._make_current(menu_id, version, username, comment, "draft",
                                        "menu_publish")

    async def rollback(self, menu_id: str, version: int, username: str,
                       comment: str | None = None) -> MenuVersion:
        """Publish an earlier (retired) version again as the current one."""
        return await self._make_current(menu_id, version, username, comment, "retired",
                                        "menu_rollback")

    async def _make_current(self, menu_id: str, version: int, username: str,
                            comment: str | None, required: str, action: str) -> MenuVersion:
        now = datetime.now(UTC)
        async with self._write() as s:
            # Lock the slot's rows (PostgreSQL): two publishes cannot both win.
            rows = (await s.scalars(select(MenuVersionRow)
                                    .where(MenuVersionRow.menu_id == menu_id)
                                    .order_by(MenuVersionRow.version).with_for_update())).all()
            target = next((r for r in rows if r.version == version), None)
            if target is None:
                raise MenuVersionNotFound(f"menu {menu_id!r} has no version {version}")
            if target.status != required:
                what = "only a draft can be published" if required == "draft" else \
                    "only an earlier published (retired) version can be rolled back to"
                raise MenuConflict(f"version {version} is {target.status}: {what}")
            _menu, problems = check_menu(target.data)
            if problems:
                raise MenuInvalid(problems)
            previous = next((r for r in rows if r.status == "published"), None)
            for r in rows:
                if r.status == "published":
                    r.status = "retired"
            target.status, target.published_by, target.published_at = "published", username, now
            self._audit(s, username, action, now,
                        {"menu_id": menu_id, "published": previous.version if previous else None},
                        {"menu_id": menu_id, "published": version, "comment": comment or None})
            return _version(target)

    async def audit_prompts(self, menu_id: str, username: str, action: str,
                            before: dict[str, Any], after: dict[str, Any]) -> None:
        """Record a change of prompt audio (an upload, a TTS rendering) for ``menu_id``."""
        if action not in ("prompt_upload", "prompt_render"):
            raise ValueError(f"not a prompt action: {action}")
        async with self._write() as s:
            self._audit(s, username, action, datetime.now(UTC), {"menu_id": menu_id, **before},
                        {"menu_id": menu_id, **after})

    @staticmethod
    def _audit(s: AsyncSession, username: str, action: str, now: datetime,
               before: dict[str, Any], after: dict[str, Any]) -> None:
        s.add(AuditRow(at=now, username=username, action=action, draft_id=None,
                       before=before, after=after))

    # ------------------------------------------------------------------ reads

    @staticmethod
    async def _published_row(s: AsyncSession, menu_id: str) -> MenuVersionRow | None:
        row: MenuVersionRow | None = await s.scalar(
            select(MenuVersionRow).where(MenuVersionRow.menu_id == menu_id,
                                         MenuVersionRow.status == "published")
            .order_by(MenuVersionRow.version.desc()).limit(1))
        return row

    async def versions(self, menu_id: str) -> list[MenuVersion]:
        """Every version of the slot, newest first."""
        async with self._sessions() as s:
            rows = await s.scalars(select(MenuVersionRow).where(MenuVersionRow.menu_id == menu_id)
                                   .order_by(MenuVersionRow.version.desc()))
            return [_version(r) for r in rows]

    async def get(self, menu_id: str, version: int) -> MenuVersion:
        async with self._sessions() as s:
            row = await s.scalar(select(MenuVersionRow).where(
                MenuVersionRow.menu_id == menu_id, MenuVersionRow.version == version))
        if row is None:
            raise MenuVersionNotFound(f"menu {menu_id!r} has no version {version}")
        return _version(row)

    async def published(self, menu_id: str = DEFAULT_MENU_ID) -> MenuVersion | None:
        async with self._sessions() as s:
            row = await self._published_row(s, menu_id)
        return _version(row) if row is not None else None

    async def published_menu(self, menu_id: str = DEFAULT_MENU_ID
                             ) -> tuple[dict[str, Any], int] | None:
        """The published menu's data (for :func:`ivr.parse_menu`) and its version number,
        or ``None`` when nothing is published (calls then use the configured file)."""
        current = await self.published(menu_id)
        return (current.data, current.version) if current is not None else None

    async def audit(self, menu_id: str, limit: int = 200) -> list[MenuAudit]:
        """The slot's changes, newest first."""
        async with self._sessions() as s:
            rows = (await s.scalars(select(AuditRow).where(AuditRow.action.in_(MENU_ACTIONS))
                                    .order_by(AuditRow.id.desc()).limit(limit * 4))).all()
        out = []
        for r in rows:
            if (r.after or {}).get("menu_id") != menu_id:
                continue
            at = _aware(r.at)
            assert at is not None
            out.append(MenuAudit(at, r.username, r.action, menu_id, dict(r.before or {}),
                                 dict(r.after or {})))
        return out[:limit]

    async def ivr_logs(self, since: datetime | None = None, until: datetime | None = None,
                       menu: str | None = None, version: int | None = None,
                       ) -> list[IvrCallLog]:
        """The stored IVR analytics events (``ivr_node``/``ivr_exit``/``ivr_input``) grouped
        by call, for :func:`ivr.analytics`: the events from ``since`` (inclusive) to ``until``
        (exclusive); ``menu`` (the menu data's id) and ``version`` filter on what the call
        walked."""
        query = select(EventRow).where(EventRow.kind.in_(IVR_EVENT_KINDS))
        if since is not None:
            query = query.where(EventRow.at >= since)
        if until is not None:
            query = query.where(EventRow.at < until)
        async with self._sessions() as s:
            rows = (await s.scalars(query.order_by(EventRow.id))).all()
        calls: dict[str, IvrCallLog] = {}
        order: dict[str, list[tuple[float, datetime, int, dict[str, Any]]]] = {}
        for r in rows:
            payload = dict(r.payload or {})
            call_menu, call_version = payload.pop("menu", None), payload.pop("menu_version", None)
            key = r.call_id or f"event-{r.id}"
            if key not in calls:
                calls[key] = IvrCallLog(key, call_menu, call_version, [])
            when = _aware(r.at)
            assert when is not None
            order.setdefault(key, []).append((float(payload.get("at") or 0.0), when, r.id, payload))
        for key, items in order.items():
            # A call's events are written by concurrent tasks, so row ids need not follow the
            # call: the IVR clock, then the time each event was made, restore the order.
            calls[key].actions.extend(p for *_k, p in sorted(items, key=lambda t: t[:3]))
        return [c for c in calls.values()
                if (menu is None or c.menu == menu)
                and (version is None or c.menu_version == version)]
