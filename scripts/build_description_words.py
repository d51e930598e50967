"""Build config/data/description_words.json: words callers name a surname's character by.

    python scripts/build_description_words.py [--dict PATH/dict.txt] [--min-count N] [--out PATH]

Callers tell homophone surnames apart by a word the character is in: 黎明的黎, 祁连山的祁,
芝麻的麻, 詹天佑的詹. Whisper writes the word with the commoner homophones (李明的李,
齐联山的齐, 马之马的马, 沾天佑的沾), so the drafter (workorders/names.py) looks the heard
word up by sound among real words and takes the character of the word it most likely was.

The words are those of jieba's dictionary (``jieba/dict.txt``: about 350,000 words with
counts from a large corpus; MIT licence) of two or three characters that hold a surname
(or a character in ``DESCRIBED_ONLY``) and are counted at least ``--min-count`` times,
with their count and their toneless reading in context. jieba is needed only to build
the file (``pip install jieba`` in any environment): it is not a dependency of the service.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workorders.names import DESCRIBED_ONLY, SURNAMES  # noqa: E402
from workorders.sound import context_readings  # noqa: E402

OUT = ROOT / "config" / "data" / "description_words.json"
MIN_COUNT = 10


def _jieba_dict() -> Path:
    import jieba  # type: ignore[import-not-found]

    return Path(jieba.__file__).parent / "dict.txt"


def build(dict_path: Path, min_count: int) -> dict[str, list[object]]:
    wanted = SURNAMES | DESCRIBED_ONLY
    words: dict[str, list[object]] = {}
    for line in dict_path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        word, count = parts[0], int(parts[1])
        if not 2 <= len(word) <= 3 or count < min_count:
            continue
        if not any(ch in wanted for ch in word):
            continue
        readings = context_readings(word)
        if len(readings) != len(word) or not all(r.isascii() and r.isalpha() for r in readings):
            continue  # a letter or a digit in the word
        words[word] = [count, " ".join(readings)]
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dict", type=Path, help="jieba's dict.txt (default: the installed one)")
    parser.add_argument("--min-count", type=int, default=MIN_COUNT)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    dict_path = args.dict or _jieba_dict()
    words = build(dict_path, args.min_count)
    data = {
        "about": "Words of two or three characters holding a surname, with their corpus count "
                 "and toneless reading: callers describe a surname's character by one "
                 "(黎明的黎). Rebuilt by scripts/build_description_words.py; read by "
                 "workorders/names.py.",
        "source": "jieba 0.42.1 dict.txt, words counted at least "
                  f"{args.min_count} times",
        "licence": "MIT (jieba, Copyright (c) 2013 Sun Junyi)",
        "words": words,
    }
    with args.out.open("w", encoding="utf-8") as out:
        out.write("{\n")
        for key in ("about", "source", "licence"):
            out.write(f"{json.dumps(key)}: {json.dumps(data[key], ensure_ascii=False)},\n")
        out.write('"words": {\n')
        out.write(",\n".join(f"{json.dumps(w, ensure_ascii=False)}: "
                             f"{json.dumps(v, ensure_ascii=False)}" for w, v in words.items()))
        out.write("\n}\n}\n")
    print(f"{len(words)} words -> {args.out}")


if __name__ == "__main__":
    main()
