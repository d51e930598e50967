"""SQLAlchemy 2 models: calls, their utterances, work-order drafts, events, console accounts
and audit, IVR menu versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # file | sip | webrtc
    caller_number: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)  # active | ended | drafted
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    recording_path: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    asr_engine: Mapped[str | None] = mapped_column(String(64))
    # Whether the recording holds the whole call (migration 0004): False after a disk
    # failure, None while the call runs and for calls ended before 0004 (unknown).
    recording_complete: Mapped[bool | None] = mapped_column(Boolean)
    # The node that took the call (migration 0005); NULL for calls stored before it.
    node_id: Mapped[str | None] = mapped_column(String(64), index=True)

    utterances: Mapped[list[UtteranceRow]] = relationship(
        back_populates="call", order_by="UtteranceRow.seq", cascade="all, delete-orphan"
    )


class UtteranceRow(Base):
    __tablename__ = "utterances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    words: Mapped[list[Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # The recognizer's other hypotheses (n-best), best first; the drafter's, not shown.
    alternatives: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)

    call: Mapped[Call] = relationship(back_populates="utterances")


class DraftRow(Base):
    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_id: Mapped[str | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), index=True)  # new | ...
    transcript: Mapped[str] = mapped_column(Text)
    # The draft's JSON form (DESIGN.md keys) and each field's transcript span.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Copies of fields that queues filter and sort on.
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    street: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(16), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    related: Mapped[list[Any]] = mapped_column(JSON)
    escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    # Review (migration 0002): the claim that locks a draft to one agent, and the outcome.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(String(32))
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    # The work order once dispatched, and its follow-up (响应率, 解决率, 满意率).
    dispatched_to: Mapped[str | None] = mapped_column(Text)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction: Mapped[str | None] = mapped_column(String(16))  # satisfied|basic|dissatisfied
    # 重办 (migration 0006): a callback heard "unresolved" or "dissatisfied"; the order is
    # back in the agents' queue, flagged.
    rework: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CallbackRow(Base):
    """A 回访 survey callback of one order (migration 0006): queued when the order was
    responded to or resolved, claimed by one node to dial, retried, then done."""

    __tablename__ = "callbacks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"),
                                          unique=True)
    number: Mapped[str] = mapped_column(String(64))  # a phone number or a SIP URI
    # queued | dialling | done | exhausted | cancelled | refused (do-not-call)
    status: Mapped[str] = mapped_column(String(16), index=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))  # the last attempt's
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    call_id: Mapped[str | None] = mapped_column(String(32))  # the answered call (recording)
    log: Mapped[list[Any]] = mapped_column(JSON)  # one object per attempt
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NodeRow(Base):
    """A node of the cluster (migration 0005): its heartbeat, updated every
    ``cluster.heartbeat_interval_s``, and where the other nodes reach it."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    internal_url: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # running | draining | stopped
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str | None] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- console: accounts, login sessions, audit log (migration 0002) -----------------------


class User(Base):
    """A console account: an agent or an admin. Passwords are stored as argon2 hashes."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))  # agent | admin
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginSession(Base):
    """A server-side login session; the cookie holds a random token, the table its sha256."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    user: Mapped[User] = relationship()


class AuditRow(Base):
    """One change made in the console: who, when, what, and the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    draft_id: Mapped[str | None] = mapped_column(String(32), index=True)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)



# --- IVR menus (migration 0003) ---------------------------------------------------------


class MenuVersionRow(Base):
    """One version of an IVR menu: a draft, the published one, or a retired earlier one.

    ``menu_id`` names the menu slot calls start with (``default``); ``data`` is the menu as
    :func:`ivr.serialize.menu_to_data` writes it, self-contained (prompt texts included),
    with ``version`` set to this row's number so calls log which version they walked.
    """

    __tablename__ = "menu_versions"
    __table_args__ = (UniqueConstraint("menu_id", "version", name="uq_menu_versions_menu_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    menu_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # draft | published | retired
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)


# --- the learning loop from agents' corrections (migration 0008) ------------------------


class CorrectionPairRow(Base):
    """One field an agent corrected: what the drafter read it from (the evidence span's
    compact text; NULL when it found nothing) and the value the agent gave."""

    __tablename__ = "correction_pairs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"),
                                          index=True)
    call_id: Mapped[str | None] = mapped_column(String(32))
    field: Mapped[str] = mapped_column(String(16))
    heard: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(64))
    drafted: Mapped[str | None] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))


class AliasDecisionRow(Base):
    """An admin's decision on a proposed alias (``approved`` or ``rejected``); the id is
    the proposal's (:func:`workorders.learned.proposal_id`)."""

    __tablename__ = "alias_decisions"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    field: Mapped[str] = mapped_column(String(16))
    heard: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    count: Mapped[int] = mapped_column(Integer)  # the pairs seen when it was decided
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
