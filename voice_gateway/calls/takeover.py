"""A node that does not come back: its unfinished calls drafted by another node.

``voice-intake recover --node ID --data-dir PATH`` runs this on any node that can read the
dead node's data directory (its disk mounted, a copy, or the shared recordings directory).
The dead node must have stopped reporting (no heartbeat for ``cluster.dead_after_s``):
a live node recovers its own calls when it restarts. Its unfinished calls are moved to
this node in one UPDATE (two survivors never take the same call), each recording is looked
for under PATH by its file name, and the calls go through the same recovery as after a
crash of this node.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from storage.models import Call
from storage.nodes import Nodes
from voice_gateway.calls.recovery import recover_unfinished_calls
from voice_gateway.services import Services

log = logging.getLogger(__name__)


class NodeAlive(RuntimeError):
    """The node still reports: it recovers its own calls."""


@dataclass
class Takeover:
    node: str
    taken: list[str] = field(default_factory=list)
    drafted: list[str] = field(default_factory=list)
    recordings_missing: int = 0


def found_recording(stored: str | None, data_dir: Path | None) -> str | None:
    """Where this node reads a dead node's recording: under ``data_dir`` (its
    ``recordings/`` or anywhere below) by file name, else the stored path if readable."""
    if not stored:
        return None
    name = Path(stored).name
    if data_dir is not None:
        for candidate in (data_dir / "recordings" / name, data_dir / name):
            if candidate.is_file():
                return str(candidate)
        matches = sorted(data_dir.rglob(name))
        if matches:
            return str(matches[0])
    return stored if Path(stored).is_file() else None


async def take_over(services: Services, node: str, data_dir: Path | None, *,
                    force: bool = False) -> Takeover:
    """Draft ``node``'s unfinished calls here; ``NodeAlive`` if it still reports."""
    settings = services.settings
    nodes = Nodes(services.store.engine)
    if node == settings.node_id:
        raise NodeAlive("that is this node: its calls are recovered when it starts")
    if not force and not await nodes.is_silent(node, settings.cluster.dead_after_s):
        raise NodeAlive(f"node {node} reported within cluster.dead_after_s "
                        f"({settings.cluster.dead_after_s:g} s): it recovers its own calls "
                        "(drain or stop it first, or pass --force)")
    result = Takeover(node)
    result.taken = await nodes.take_over(node, settings.node_id)
    calls: list[Call] = []
    for call_id in result.taken:
        call = await services.store.get_call(call_id)
        if call is None:
            continue
        path = found_recording(call.recording_path, data_dir)
        if call.recording_path and path is None:
            result.recordings_missing += 1
            log.warning("call %s: recording not found under %s; drafted from what was "
                        "stored", call_id[:8], data_dir)
        if path is not None and path != call.recording_path:
            await nodes.move_recording(call_id, path)
            call.recording_path = path
        calls.append(call)
    if calls:
        result.drafted = await recover_unfinished_calls(services, calls)
    return result
