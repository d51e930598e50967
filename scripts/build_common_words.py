"""Build config/data/common_words.json: common two-character words.

    python scripts/build_common_words.py [--dict PATH/dict.txt] [--min-count N] [--out PATH]

The drafter hears the words that name an appeal type by sound as well as written
(:mod:`workorders.classify`: 我想自行一下 is 咨询). A stretch that sounds like one may
instead start a real word with the character after it (我想申请工伤: 想申 sounds like 想问,
but 申请 is the word said); this list says which two characters make a common word.

The words are those of jieba's dictionary (``jieba/dict.txt``: about 350,000 words with
counts from a large corpus; MIT licence) of two characters counted at least
``--min-count`` times. jieba is needed only to build the file (``pip install jieba`` in any
environment): it is not a dependency of the service.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "config" / "data" / "common_words.json"
MIN_COUNT = 100
PER_LINE = 40


def _jieba_dict() -> Path:
    import jieba  # type: ignore[import-not-found]

    return Path(jieba.__file__).parent / "dict.txt"


def build(dict_path: Path, min_count: int) -> list[str]:
    words: list[str] = []
    for line in dict_path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 2 and int(parts[1]) >= min_count:
            words.append(parts[0])
    return sorted(set(words))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dict", type=Path, default=None, help="jieba's dict.txt")
    parser.add_argument("--min-count", type=int, default=MIN_COUNT)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    words = build(args.dict or _jieba_dict(), args.min_count)
    data = {
        "about": f"Two-character words counted at least {args.min_count} times in jieba's "
                 "dictionary, one string of words per line. Rebuilt by "
                 "scripts/build_common_words.py; read by workorders/knowledge.py.",
        "source": "jieba 0.42.1 dict.txt",
        "licence": "MIT (jieba, Copyright (c) 2013 Sun Junyi)",
        "words": [" ".join(words[i : i + PER_LINE]) for i in range(0, len(words), PER_LINE)],
    }
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(words)} words -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
