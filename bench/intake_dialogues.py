"""``python -m bench.intake --dialogues``: per-field accuracy of dialogue calls, with
per-question decoding off and on, beside the same calls as monologues.

Each dialogue (``shared/audio/dialogues/dev/<id>/turns.json``, the cases with ``turns`` in
``shared/samples/drafting_dev*.jsonl``) is played through the real IVR and call machine,
as ``voice-intake call --script TURNS.json --caller NUMBER`` does, with
``asr.question_decoding`` on: each call gives its free transcript and the biased readings
of its answers, so both drafts come from one decode. Off: the draft of the free
transcript (with the keypad number the IVR confirmed). On: the same, with the answered
questions' fields read from the biased readings (:func:`workorders.questions.
draft_with_answers`). The monologues are the same calls in ``shared/audio/calls/dev2``,
drafted from the pipeline transcripts of ``bench.intake``'s cache. Drafts here read the
first hypothesis only (no n-best), so that the columns differ by per-question decoding
alone.

``--cache FILE`` keeps each dialogue's decodes (keyed by folder, script and model), so a
later run decodes only what is new and drafter changes are measured in seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.intake import (
    CALL_DIRS,
    CASE_FILES,
    FIELDS,
    NOW,
    SHARED,
    Call,
    _matches,
    _overall,
    _pct,
    load_calls,
)

DIALOGUE_DIR = SHARED / "audio" / "dialogues" / "dev"


@dataclass(frozen=True)
class Dialogue:
    id: str
    script: Path
    text: str
    expect: dict[str, Any]
    caller: str | None


def load_dialogues(folder: Path = DIALOGUE_DIR) -> list[Dialogue]:
    cases: dict[str, dict[str, Any]] = {}
    for f in CASE_FILES:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                cases[rec["id"]] = rec
    out = []
    for script in sorted(folder.glob("*/turns.json")):
        case = cases.get(script.parent.name)
        if case is None or "turns" not in case:
            print(f"bench.intake: no dialogue case for {script.parent.name}", file=sys.stderr)
            continue
        out.append(Dialogue(case["id"], script, case["text"], case["expect"],
                            case.get("caller_number")))
    return out


def _key(d: Dialogue, model: str) -> str:
    stamp = max(int(p.stat().st_mtime) for p in d.script.parent.iterdir())
    return f"{d.script.parent.resolve()}|{stamp}|{model}"


async def decode_dialogues(dialogues: list[Dialogue], cache: dict[str, Any], model: str,
                           save: Any) -> None:
    """Play each dialogue not yet cached, with per-question decoding on."""
    from config import load_settings
    from voice_gateway.calls.dialogue import call_with_script
    from voice_gateway.calls.file_call import configured_menu
    from voice_gateway.services import open_services

    todo = [d for d in dialogues if _key(d, model) not in cache]
    if not todo:
        return
    with tempfile.TemporaryDirectory(prefix="bench-dialogues-") as tmp:
        env = dict(os.environ)
        env["VOICE_INTAKE_DATA_DIR"] = tmp
        env["VOICE_INTAKE_ASR_QUESTION_DECODING"] = "true"
        env.setdefault("VOICE_INTAKE_SIP_PORT", "0")
        settings = load_settings(environ=env)
        async with open_services(settings) as services:
            menu = await configured_menu(services)
            assert menu is not None, "the dialogues need the IVR"
            for i, d in enumerate(todo, 1):
                r = await call_with_script(services, d.script, d.caller, menu)
                cache[_key(d, model)] = {
                    "id": d.id, "transcript": r.outcome.transcript,
                    "utterances": [u.text for u in r.outcome.utterances],
                    "answers": [list(a) for a in r.answers],
                    "keypad_phone": r.keypad_phone, "menu_choices": list(r.menu_choices)}
                save()
                print(f"  dialogue {i}/{len(todo)} {d.id}", file=sys.stderr)


def _dialogue_draft(d: Dialogue, entry: dict[str, Any], biased: bool) -> dict[str, Any]:
    from workorders import draft
    from workorders.questions import Answer, draft_with_answers

    options: dict[str, Any] = {"keypad_phone": entry.get("keypad_phone"),
                               "menu_choices": tuple(entry.get("menu_choices", ()))}
    text = entry["transcript"]
    free = draft(text, d.caller, NOW, **options)
    if biased and entry.get("answers"):
        answers = [Answer(*a) for a in entry["answers"]]
        free = draft_with_answers(free, text, answers, d.caller, NOW, **options)
    return free.to_dict(d.id)


def _score(expects: list[dict[str, Any]], drafts: list[dict[str, Any]],
           ) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {f: [0, 0] for f in FIELDS}
    for want, got in zip(expects, drafts, strict=True):
        for field, value in want.items():
            if field in out:
                out[field][1] += 1
                out[field][0] += _matches(got.get(field), value)
    return {f: (r, t) for f, (r, t) in out.items() if t}


def _monologue_drafts(calls: list[Call], cache: dict[str, Any], model: str,
                      ) -> dict[str, dict[str, Any]]:
    """Drafts of the monologue calls' cached pipeline transcripts. A file touched since it
    was decoded (same path and size, newer mtime) keeps its transcript."""
    from workorders import draft

    out = {}
    for c in calls:
        prefix, suffix = f"{c.wav.resolve()}|{c.wav.stat().st_size}|", f"|{model}"
        for key, entry in cache.items():
            if key.startswith(prefix) and key.endswith(suffix) and "pipeline" in entry:
                out[c.id] = draft(entry["pipeline"], c.caller, NOW).to_dict(c.id)
    return out


def run(args: Any, model: str) -> int:
    """The ``--dialogues`` table (see the module docstring)."""
    from bench.intake import _load_cache, _save_cache, split_half

    dialogues = load_dialogues()
    if args.half != "all":
        keep = {c.id for c in split_half(
            [Call(d.id, d.script, "", d.text, d.expect, d.caller) for d in dialogues],
            args.half)}
        dialogues = [d for d in dialogues if d.id in keep]
    if not dialogues:
        print("bench.intake: no dialogues found", file=sys.stderr)
        return 2
    cache = _load_cache(args.cache)
    asyncio.run(decode_dialogues(dialogues, cache, model,
                                 lambda: _save_cache(args.cache, cache)))
    if args.asr_only:
        return 0
    entries = [cache[_key(d, model)] for d in dialogues]
    expects = [d.expect for d in dialogues]
    off = _score(expects, [_dialogue_draft(d, e, False) for d, e in zip(dialogues, entries,
                                                                         strict=True)])
    on = _score(expects, [_dialogue_draft(d, e, True) for d, e in zip(dialogues, entries,
                                                                       strict=True)])
    from workorders import draft

    text = _score(expects, [draft(d.text, d.caller, NOW).to_dict(d.id) for d in dialogues])
    monologue_calls = [c for c in load_calls(CALL_DIRS, CASE_FILES)
                       if c.id in {d.id for d in dialogues}]
    mono = _monologue_drafts(monologue_calls, cache, model)
    have = [d for d in dialogues if d.id in mono]
    columns = [("dialogue off", off), ("dialogue on", on)]
    if have:
        columns.append((f"monologue ({len(have)})",
                        _score([d.expect for d in have], [mono[d.id] for d in have])))
    columns.append(("from text", text))
    print(f"dialogue calls: {len(dialogues)} (half {args.half}); per-question decoding "
          f"off / on; the same calls as monologues (bench.intake cache); the case text")
    print(f"{'field':<12}" + "".join(f"{name:>18}" for name, _ in columns))
    print(f"{'overall':<12}" + "".join(f"{_pct(_overall(s)):>18}" for _, s in columns))
    for f in FIELDS:
        if f in text:
            print(f"{f:<12}" + "".join(f"{_pct(s.get(f, (0, 0))):>18}" for _, s in columns))
    if args.show_misses:
        for d, e in zip(dialogues, entries, strict=True):
            a, b = _dialogue_draft(d, e, False), _dialogue_draft(d, e, True)
            diff = [f"{f}: {a.get(f)!r} -> {b.get(f)!r} (want {w!r})"
                    for f, w in d.expect.items() if f in FIELDS and a.get(f) != b.get(f)]
            if diff:
                print(f"{d.id} answers={e.get('answers')}\n    " + "\n    ".join(diff))
    return 0
