"""Log output: the classic text line, or one JSON object a line (``log.format = json``).

How it works. A call's runner sets :data:`CALL_ID` when its task starts; asyncio copies
the context into every task the runner spawns (its writer, prompts, drafting), so each
record logged on a call's behalf, by any module, carries that call's id. A record may
also name one itself (``extra={"call_id": ...}``), for callbacks that run outside the
call's task. JSON lines hold ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``event``
(the message), ``call_id`` (or null), ``node`` (``log.node`` or the host name), the
IVR node the call is at (``ivr_node``, once it has entered one) and, on errors, ``exc``.
Messages are the same as in text: phone numbers masked, no names, no transcript text.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

from config import Settings

CALL_ID: ContextVar[str | None] = ContextVar("call_id", default=None)
IVR_NODE: ContextVar[str | None] = ContextVar("ivr_node", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside are escaped)."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        call_id = getattr(record, "call_id", None) or CALL_ID.get()
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "call_id": call_id,
            "node": self.node,
        }
        if (ivr_node := IVR_NODE.get()) is not None:
            line["ivr_node"] = ivr_node
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(settings: Settings) -> logging.Formatter:
    if settings.log.format == "json":
        return JsonLineFormatter(settings.log.node or socket.gethostname())
    return logging.Formatter(TEXT_FORMAT)


def configure(settings: Settings, *, verbose: bool = False,
              stream: TextIO | None = None) -> None:
    """Send the root logger's records to ``stream`` (stderr) in the configured format."""
    root = logging.getLogger()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel("DEBUG" if verbose else settings.log_level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
