"""Prometheus metrics: every family the service exports, defined in one place.

How it works. The families live in one registry of their own (``REGISTRY``), served at
``/metrics`` by :mod:`voice_gateway.app`. Code of this package increments them where
things happen, once per call or per utterance, never per RTP packet: per-packet figures
(packets lost) are counted by the call's endpoint and added when the call ends. Layers
below (``asr``, ``storage``, ``console``) do not import this module: the composition root
hands them a plain callable (``on_write`` of the database's write gate, the ASR pool's
``on_queue_wait`` / ``on_decode``), and figures they already keep (worker restarts,
backlog, websocket clients, disk) are read when Prometheus scrapes, through
:func:`attach`. ASR workers are separate processes but hold no metrics: the parent times
each utterance from the moment it queues to its worker's answer, so one registry sees
every worker's decodes and nothing needs aggregating across processes.

Labels carry only small fixed sets (channel, end reason, category, field, refusal
reason), never a phone number, a call id, or free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

CHANNELS = ("sip", "webrtc", "file")
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

CALLS_ACTIVE = Gauge("voice_intake_calls_active", "Calls in progress.", ["channel"],
                     registry=REGISTRY)
CALLS = Counter("voice_intake_calls_total", "Calls ended, by channel and end reason.",
                ["channel", "end_reason"], registry=REGISTRY)
CALL_SETUP = Histogram("voice_intake_call_setup_seconds",
                       "Time from a call's INVITE to its 200 OK.",
                       buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0),
                       registry=REGISTRY)
RTP_LOST = Counter("voice_intake_rtp_packets_lost_total",
                   "RTP packets never received (jitter buffer gaps), added as each call ends.",
                   registry=REGISTRY)
ASR_QUEUE = Histogram("voice_intake_asr_queue_seconds",
                      "Time an utterance waited for an ASR worker.", buckets=_SECONDS,
                      registry=REGISTRY)
ASR_DECODE = Histogram("voice_intake_asr_decode_seconds",
                       "Time an ASR worker took on an utterance (its batch, for Whisper).",
                       buckets=_SECONDS, registry=REGISTRY)
DRAFTS = Counter("voice_intake_drafts_total", "Work-order drafts stored, by category.",
                 ["category"], registry=REGISTRY)
DRAFTER_FAILURES = Counter("voice_intake_drafter_failures_total",
                           "Transcripts the drafter raised on (the call was drafted from "
                           "its caller ID and keypad only).", registry=REGISTRY)
DRAFT_CONFIDENCE = Histogram("voice_intake_draft_field_confidence",
                             "Confidence of each field of the stored drafts (fields found).",
                             ["field"], buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                                 0.9, 0.95, 1.0), registry=REGISTRY)
REFUSALS = Counter("voice_intake_admission_refusals_total",
                   "New calls and requests refused, by reason.", ["reason"],
                   registry=REGISTRY)
DB_WRITE = Histogram("voice_intake_db_write_seconds",
                     "Time a database write took, its wait for the write gate included.",
                     buckets=_SECONDS, registry=REGISTRY)
CALLBACK_ATTEMPTS = Counter("voice_intake_callback_attempts_total",
                            "回访 callback attempts placed, by outcome.", ["outcome"],
                            registry=REGISTRY)
CALLBACK_SURVEYS = Gauge("voice_intake_callback_surveys_active",
                         "回访 survey calls answered and still under way.", registry=REGISTRY)
CALLBACK_ANSWERS = Counter("voice_intake_callback_answers_total",
                           "Answers heard in 回访 surveys, by question and value.",
                           ["question", "answer"], registry=REGISTRY)
CALLBACK_OUTCOMES = ("answered", "busy", "no-answer", "rejected", "cancelled", "failed")
_CALLBACK_ANSWERS = (("resolved", "yes"), ("resolved", "no"), ("satisfaction", "satisfied"),
                     ("satisfaction", "basic"), ("satisfaction", "dissatisfied"),
                     ("do_not_call", "yes"))

# End reasons and categories come from code and the taxonomy; anything else (a value read
# back from an old database row, a taxonomy file edited on the fly) is not a label.
_LABEL = re.compile(r"[a-z][a-z0-9_-]{0,31}")
DRAFT_FIELDS = ("name", "surname", "phone", "district", "street", "address", "category",
                "subcategory", "appeal_type", "urgent", "summary", "dispatch_to", "due_at")
for _channel in CHANNELS:
    CALLS_ACTIVE.labels(_channel)
for _outcome in CALLBACK_OUTCOMES:
    CALLBACK_ATTEMPTS.labels(_outcome)
for _question, _answer in _CALLBACK_ANSWERS:
    CALLBACK_ANSWERS.labels(_question, _answer)
for _reason in ("not_allowed", "rate_limit", "draining", "max_calls", "asr_backlog",
                "storage"):
    REFUSALS.labels(_reason)


def _label(value: str | None) -> str:
    return value if value and _LABEL.fullmatch(value) else "other"


def call_started(channel: str) -> None:
    CALLS_ACTIVE.labels(_label(channel)).inc()


def call_ended(channel: str, end_reason: str | None) -> None:
    channel = _label(channel)
    CALLS_ACTIVE.labels(channel).dec()
    CALLS.labels(channel, _label(end_reason or "none")).inc()


def refused(reason: str) -> None:
    REFUSALS.labels(_label(reason)).inc()


def callback_attempt(outcome: str) -> None:
    """Count one callback attempt by its outcome (a fixed set; anything else ``other``)."""
    CALLBACK_ATTEMPTS.labels(outcome if outcome in CALLBACK_OUTCOMES else "other").inc()


def callback_answers(resolved: bool | None, satisfaction: str | None,
                     do_not_call: bool) -> None:  # fmt: skip
    """Count what one survey heard (nothing for a question left unanswered)."""
    if resolved is not None:
        CALLBACK_ANSWERS.labels("resolved", "yes" if resolved else "no").inc()
    if satisfaction is not None:
        label = satisfaction if ("satisfaction", satisfaction) in _CALLBACK_ANSWERS else "other"
        CALLBACK_ANSWERS.labels("satisfaction", label).inc()
    if do_not_call:
        CALLBACK_ANSWERS.labels("do_not_call", "yes").inc()


_categories: set[str] = set()
MAX_CATEGORIES = 64  # the taxonomy's categories are a dozen; a bound all the same


def _category(value: object) -> str:
    if value is None:
        return "none"
    if not isinstance(value, str) or not 0 < len(value) <= 16 or not value.isprintable():
        return "other"
    if value not in _categories and len(_categories) >= MAX_CATEGORIES:
        return "other"
    _categories.add(value)
    return value


def drafter_failed() -> None:
    DRAFTER_FAILURES.inc()


def draft_stored(fields: Mapping[str, object]) -> None:
    """Count a stored draft by category (from the taxonomy; ``none`` when absent) and
    observe each found field's confidence."""
    DRAFTS.labels(_category(fields.get("category"))).inc()
    confidence = fields.get("confidence")
    if isinstance(confidence, Mapping):
        for name in DRAFT_FIELDS:
            value = confidence.get(name)
            if isinstance(value, int | float) and fields.get(name) is not None:
                DRAFT_CONFIDENCE.labels(name).observe(float(value))


@dataclass
class LiveFigures:
    """Figures read at scrape time from one running service (see :func:`attach`)."""

    worker_restarts: Callable[[], int] = lambda: 0
    asr_backlog_s: Callable[[], float] = lambda: 0.0
    asr_workers_ready: Callable[[], int] = lambda: 0
    websocket_clients: Callable[[], int] = lambda: 0
    disk_ok: Callable[[], bool] = lambda: True
    disk_free_bytes: Callable[[], int | None] = lambda: None


class _LiveCollector(Collector):
    def __init__(self) -> None:
        self.sources: list[LiveFigures] = []

    def collect(self) -> Iterator[Metric]:
        sources = list(self.sources)
        restarts = CounterMetricFamily(
            "voice_intake_asr_worker_restarts", "ASR worker processes replaced after a crash "
            "or a hang.")
        restarts.add_metric([], sum(s.worker_restarts() for s in sources))
        yield restarts
        for name, doc, read in (
            ("voice_intake_asr_backlog_seconds",
             "Seconds of caller audio waiting to be recognized.",
             lambda s: s.asr_backlog_s()),
            ("voice_intake_asr_workers_ready", "ASR workers with their model loaded.",
             lambda s: s.asr_workers_ready()),
            ("voice_intake_websocket_clients", "Console websockets connected.",
             lambda s: s.websocket_clients()),
            ("voice_intake_recordings_disk_ok",
             "1 unless a recording write failed in the last minute.",
             lambda s: float(s.disk_ok())),
        ):
            gauge = GaugeMetricFamily(name, doc)
            gauge.add_metric([], sum(float(read(s)) for s in sources))
            yield gauge
        free = [f for s in sources if (f := s.disk_free_bytes()) is not None]
        if free:
            gauge = GaugeMetricFamily("voice_intake_data_disk_free_bytes",
                                      "Free bytes on the data directory's file system.")
            gauge.add_metric([], float(min(free)))
            yield gauge


_LIVE = _LiveCollector()
REGISTRY.register(_LIVE)


def attach(figures: LiveFigures) -> Callable[[], None]:
    """Report ``figures`` of a running service at each scrape; returns the detach."""
    _LIVE.sources.append(figures)

    def detach() -> None:
        if figures in _LIVE.sources:
            _LIVE.sources.remove(figures)

    return detach
