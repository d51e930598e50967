"""``voice-intake learn --from-corrections``: the learning loop from the command line.

Lists the aliases proposed from agents' corrections (JSON), approves or rejects them by id,
or approves every proposal seen on at least ``--auto-approve-min`` drafts. Decisions are
stored as the console stores them: running nodes pick them up without a restart.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from config import Settings
from storage.learning import ProposalNotFound
from voice_gateway.services import open_services
from workorders.knowledge import knowledge


def add_parser(sub: Any) -> None:
    learn = sub.add_parser("learn", help="aliases learnt from agents' corrections: list "
                           "proposals, approve or reject them (JSON)")
    learn.add_argument("--from-corrections", action="store_true", required=True,
                       help="learn from the corrections agents made in the console")
    learn.add_argument("--min-count", type=int, default=None,
                       help="drafts a correction must recur on (default: "
                       "drafting.learn_min_count)")
    learn.add_argument("--status", choices=("proposed", "approved", "rejected", "all"),
                       default="proposed", help="which proposals to list (default: proposed)")
    learn.add_argument("--approve", action="append", default=[], metavar="ID")
    learn.add_argument("--reject", action="append", default=[], metavar="ID")
    learn.add_argument("--auto-approve-min", type=int, default=None, metavar="N",
                       help="approve every proposal seen on at least N drafts")
    learn.add_argument("--by", default="cli", help="the name decisions are recorded under")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Apply the decisions asked for, then print them and the proposals as one JSON object."""
    min_count = args.min_count or settings.drafting.learn_min_count
    out: dict[str, Any] = {"min_count": min_count, "approved": [], "rejected": []}
    async with open_services(settings, with_asr=False) as services:
        learning = services.store.learning
        approve = list(args.approve)
        if args.auto_approve_min is not None:
            for p in await learning.proposals(max(min_count, args.auto_approve_min)):
                approve.append(p.id)
        try:
            for pid in dict.fromkeys(approve):
                out["approved"].append(
                    (await learning.decide(pid, "approved", args.by, min_count)).to_json())
            for pid in dict.fromkeys(args.reject):
                out["rejected"].append(
                    (await learning.decide(pid, "rejected", args.by, min_count)).to_json())
        except ProposalNotFound as exc:
            print(f"voice-intake: error: no proposal {exc} (recurring on {min_count} drafts "
                  "or decided before)", file=sys.stderr)
            return 1
        status = None if args.status == "all" else args.status
        data = knowledge(settings.drafting)
        out["proposals"] = [p.to_json()
                            for p in await learning.proposals(min_count, status, data)]
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0
