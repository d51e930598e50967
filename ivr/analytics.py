"""Per-node analytics computed from nothing but the runtime's action logs.

For each node: entries, exits by key (DTMF key or spoken option) or by reason, timeouts and
invalid inputs (every one, retries included), hang-ups (callers who dropped off there) and
the average time spent from entry to exit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.events import Action, InputFailed, NodeEntered, NodeExited, action_from_dict


@dataclass
class NodeStats:
    entries: int = 0
    exits: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    invalid_inputs: int = 0
    hangups: int = 0
    total_time_s: float = 0.0
    timed_visits: int = 0

    @property
    def average_time_s(self) -> float | None:
        """Mean time from entry to exit, ``None`` before any visit ended."""
        return self.total_time_s / self.timed_visits if self.timed_visits else None

    @property
    def drop_off(self) -> float:
        """Share of entries that ended with the caller hanging up here."""
        return self.hangups / self.entries if self.entries else 0.0

    def as_dict(self) -> dict[str, Any]:
        avg = self.average_time_s
        return {"entries": self.entries, "exits": dict(self.exits), "timeouts": self.timeouts,
                "invalid_inputs": self.invalid_inputs, "hangups": self.hangups,
                "drop_off": round(self.drop_off, 4),
                "average_time_s": None if avg is None else round(avg, 3)}


def analytics(logs: Iterable[Iterable[Action | Mapping[str, Any]]]) -> dict[str, NodeStats]:
    """Stats per node id over the action logs of many calls (one log per call; actions as
    objects or as :func:`ivr.events.action_to_dict` dicts read back from storage)."""
    stats: dict[str, NodeStats] = {}
    for log in logs:
        entered: dict[str, float] = {}
        for item in log:
            action = action_from_dict(dict(item)) if isinstance(item, Mapping) else item
            match action:
                case NodeEntered():
                    stats.setdefault(action.node_id, NodeStats()).entries += 1
                    entered[action.node_id] = action.at
                case NodeExited():
                    s = stats.setdefault(action.node_id, NodeStats())
                    s.exits[action.key if action.key is not None else action.reason] += 1
                    if action.reason == "hangup":
                        s.hangups += 1
                    start = entered.pop(action.node_id, None)
                    if start is not None:
                        s.total_time_s += max(0.0, action.at - start)
                        s.timed_visits += 1
                case InputFailed():
                    s = stats.setdefault(action.node_id, NodeStats())
                    if action.reason == "timeout":
                        s.timeouts += 1
                    else:
                        s.invalid_inputs += 1
                case _:
                    pass
    return stats
