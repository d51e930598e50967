"""The learning loop measured: learn from one half of the dev calls, evaluate on the other.

    .venv/bin/python -m bench.learning --cache FILE [--calls DIR ...] [--learn a|b]
                                       [--min-count N] [--show]

Each call of the learning half runs through the pipeline (``bench.intake``: transcripts
from audio, cached in ``--cache``), is drafted, stored, and every field whose draft differs
from the case's expected value is corrected as an agent would (``DraftWorkflow.edit``: the
real pairs, in a throwaway SQLite database). Every proposal recurring on ``--min-count``
drafts is approved (``Learning.decide``), and both halves are drafted again with the
approved aliases. Printed: per field, accuracy from audio on the other half before and
after, and the same on the learning half (what the aliases fix where they came from).
Drafts here do not read n-best alternatives (the same for before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.intake import (
    CALL_DIRS,
    CASE_FILES,
    FIELDS,
    NOW,
    Call,
    _cache_key,
    _load_cache,
    _matches,
    _model_path,
    _overall,
    _pct,
    _pipeline_transcripts,
    load_calls,
    split_half,
)
from storage import DraftWorkflow, EventBus, Store, create_engine, upgrade
from storage.learning import Proposal
from workorders import draft
from workorders.learned import LEARNED_FIELDS, LearnedAliases


def _want(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def _drafted(call: Call, text: str, learned: LearnedAliases | None) -> dict[str, Any]:
    return draft(text, call.caller, NOW, learned=learned).to_dict(call.id)


async def learn(calls: list[Call], heard: dict[str, str],
                min_count: int) -> tuple[LearnedAliases, list[Proposal], int]:
    """Correct the drafts of ``calls`` as agents would; approve what recurs."""
    with tempfile.TemporaryDirectory(prefix="bench-learning-") as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'learn.db'}")
        try:
            await upgrade(engine)
            store = Store(engine, EventBus())
            flow = DraftWorkflow(engine, store.bus)
            edits = 0
            for call in calls:
                made = draft(heard[call.id], call.caller, NOW)
                got = made.to_dict()
                fixes = {f: _want(w) for f, w in call.expect.items()
                         if f in LEARNED_FIELDS and not _matches(got.get(f), w)}
                call_id = await store.create_call("file", None, None, "bench")
                stored = await store.save_draft(call_id, heard[call.id], got, made.evidence(),
                                                [], False)
                if fixes:
                    await flow.claim(stored["id"], "bench")
                    await flow.edit(stored["id"], "bench", fixes)
                    edits += len(fixes)
            proposals = await store.learning.proposals(min_count)
            for p in proposals:
                await store.learning.decide(p.id, "approved", "bench", min_count)
            return store.learning.current, proposals, edits
        finally:
            await engine.dispose()


def score(calls: list[Call], texts: dict[str, str],
          learned: LearnedAliases | None) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {f: [0, 0] for f in FIELDS}
    for call in calls:
        got = _drafted(call, texts[call.id], learned)
        for field, want in call.expect.items():
            if field in out:
                out[field][1] += 1
                out[field][0] += int(_matches(got.get(field), want))
    return {f: (r, t) for f, (r, t) in out.items() if t}


def _table(title: str, before: dict[str, tuple[int, int]],
           after: dict[str, tuple[int, int]]) -> None:
    print(title)
    print(f"{'field':<12} {'before':>16} {'after':>16}")
    print(f"{'overall':<12} {_pct(_overall(before)):>16} {_pct(_overall(after)):>16}")
    for f in FIELDS:
        if f in before:
            print(f"{f:<12} {_pct(before[f]):>16} {_pct(after[f]):>16}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, action="append", default=None)
    parser.add_argument("--cache", type=Path, required=True,
                        help="bench.intake's transcript cache (decodes what it lacks)")
    parser.add_argument("--learn", choices=("a", "b"), default="a",
                        help="the half corrections are learnt from (the other is evaluated)")
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--show", action="store_true", help="print the approved aliases")
    args = parser.parse_args(argv)

    every = load_calls(args.calls or CALL_DIRS, CASE_FILES)
    train = split_half(every, args.learn)
    test = split_half(every, "b" if args.learn == "a" else "a")
    if not train or not test:
        print("bench.learning: no calls found", file=sys.stderr)
        return 2
    model = _model_path()
    cache = _load_cache(args.cache)
    asyncio.run(_pipeline_transcripts(train + test, cache, model, args.cache))
    heard = {c.id: cache[_cache_key(c, model)]["pipeline"] for c in train + test}

    learned, proposals, edits = asyncio.run(learn(train, heard, args.min_count))
    print(f"learnt from half {args.learn}: {len(train)} calls, {edits} corrected fields, "
          f"{len(proposals)} proposals approved (min count {args.min_count})")
    if args.show:
        for p in proposals:
            print(f"  {p.kind:<8} {p.field:<12} {p.heard or '-'} -> {p.value} ({p.count})")
    other = "b" if args.learn == "a" else "a"
    _table(f"\nhalf {other} (not learnt from), {len(test)} calls, from audio:",
           score(test, heard, None), score(test, heard, learned))
    _table(f"\nhalf {args.learn} (learnt from), {len(train)} calls, from audio:",
           score(train, heard, None), score(train, heard, learned))
    return 0


if __name__ == "__main__":
    sys.exit(main())
