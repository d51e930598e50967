"""Rebuild config/data/syllable_confusions.json: which syllables the ASR writes as which.

    .venv/bin/python scripts/build_confusions.py --cache /tmp/asr_cache/calls.json \\
        [--calls DIR ...] [--pairs REF_HYP.tsv ...] [--half a|b|all] [--add-to TABLE.json]
        [--out config/data/syllable_confusions.json]

Inputs are what the engine heard beside what was said: the transcript cache that
``python -m bench.intake --cache FILE`` keeps (its pipeline transcripts of the dev calls, or
of the call folders given with ``--calls``, scored against each call's ``calls.tsv`` text),
and any ``[id<TAB>]reference<TAB>hypothesis``
files (dev clips, dialogue turns; a line whose id is a call outside ``--half`` is skipped).
Both texts go through the CER scoring rule (digits read out), then to toneless pinyin
(pypinyin, in context), are aligned by edit distance over syllables (a substitution is
cheaper between syllables sharing an initial or a final, so 区/七 pair up rather than
shift), and every substitution said → written is counted. ``--half a``
uses the even-numbered calls only, so the other half stays unseen for measuring.
``--add-to TABLE`` adds the counts to those of an existing table (whose inputs may be gone)
rather than starting from none.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from pypinyin import Style, lazy_pinyin

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.asr.common import score_text  # noqa: E402
from bench.intake import CALL_DIRS, CASE_FILES, load_calls, split_half  # noqa: E402
from workorders.sound import split_syllable  # noqa: E402


def syllables(text: str) -> list[str]:
    text = score_text(text)
    return [s for s in lazy_pinyin(text, style=Style.NORMAL, errors="ignore") if s.isalpha()]


def _sub(a: str, b: str) -> float:
    if a == b:
        return 0.0
    ia, fa = split_syllable(a)
    ib, fb = split_syllable(b)
    return 0.5 if (ia and ia == ib) or fa == fb else 1.0


def align(ref: list[str], hyp: list[str]) -> list[tuple[str, str]]:
    """Substituted (said, written) syllable pairs of a minimum-cost alignment."""
    n, m = len(ref), len(hyp)
    d = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        d[i][0] = float(i)
    for j in range(1, m + 1):
        d[0][j] = float(j)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + _sub(ref[i - 1], hyp[j - 1]))
    out: list[tuple[str, str]] = []
    i, j = n, m
    while i > 0 and j > 0:
        if d[i][j] == d[i - 1][j - 1] + _sub(ref[i - 1], hyp[j - 1]):
            if ref[i - 1] != hyp[j - 1]:
                out.append((ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, action="append", default=[])
    parser.add_argument("--pairs", type=Path, action="append", default=[])
    parser.add_argument("--half", choices=("a", "b", "all"), default="all")
    parser.add_argument("--calls", type=Path, action="append", default=[],
                        help="call folders (calls.tsv, cases.jsonl); default the dev calls")
    parser.add_argument("--add-to", type=Path, help="a table whose counts to start from")
    parser.add_argument("--out", type=Path, default=REPO / "config/data/syllable_confusions.json")
    args = parser.parse_args(argv)

    texts: list[tuple[str, str]] = []
    calls = load_calls(args.calls or CALL_DIRS, CASE_FILES)
    keep = {c.id for c in split_half(calls, args.half)}
    reference = {c.id: c.reference for c in calls}
    for cache in args.cache:
        for entry in json.loads(cache.read_text(encoding="utf-8")).values():
            if entry.get("id") in keep and "pipeline" in entry:
                texts.append((reference[entry["id"]], entry["pipeline"]))
    for pairs in args.pairs:
        for line in pairs.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0] in reference and parts[0] not in keep:
                continue  # a turn of a call kept unseen
            if len(parts) >= 2:
                texts.append((parts[-2], parts[-1]))

    counts: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    source = f"{len(texts)} transcripts (calls half {args.half}"
    if args.calls:
        source += " of " + ", ".join(d.name for d in args.calls)
    source += f"{', ' + ', '.join(p.name for p in args.pairs) if args.pairs else ''})"
    if args.add_to is not None:
        base = json.loads(args.add_to.read_text(encoding="utf-8"))
        counts.update({(a, b): n for a, b, n in base["pairs"]})
        totals.update(base["totals"])
        source = f"{base['source']}; plus {source}"
    for ref, hyp in texts:
        said, written = syllables(ref), syllables(hyp)
        totals.update(said)
        counts.update(align(said, written))
    table = {
        "about": "Syllable substitutions of Whisper base on 8 kHz telephone audio: [said, "
                 "written, count]; totals: how often each syllable was said. Rebuilt by "
                 "scripts/build_confusions.py; read by workorders/sound.py.",
        "source": source,
        "pairs": [[a, b, n] for (a, b), n in sorted(counts.items(), key=lambda kv: -kv[1])],
        "totals": dict(sorted(totals.items())),
    }
    # One pair per line: diffs of a rebuilt table stay readable.
    lines = [f'"{k}": {json.dumps(v, ensure_ascii=False)},' for k, v in table.items()
             if k != "pairs"]
    pairs = ",\n".join(json.dumps(p, ensure_ascii=False) for p in table["pairs"])
    text = "{\n" + "\n".join(lines) + '\n"pairs": [\n' + pairs + "\n]\n}\n"
    json.loads(text)  # still JSON
    args.out.write_text(text, encoding="utf-8")
    print(f"{len(texts)} transcripts, {sum(totals.values())} syllables, "
          f"{sum(counts.values())} substitutions, {len(counts)} pairs → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
