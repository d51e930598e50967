"""Drafter throughput: drafts per second on one core, against a bare regex baseline.

    .venv/bin/python bench/drafter.py [--seconds 3] [--samples ../shared/samples/drafting_dev.jsonl]

The baseline, measured in the same run over the same texts, is one compiled regex pass
looking for an 11-digit mobile number: the cheapest thing a drafter could possibly do. The
ratio tells whether a slow result is this code or this machine. Target: ≥1000 drafts/s.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from workorders import draft
from workorders.knowledge import knowledge

_DEFAULT_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared/samples/drafting_dev.jsonl"
# Used as well as (or instead of) the shared samples, so the bench runs without them.
_BUILT_IN = [
    "我 要 投诉 我们 小区 物业 不 管事 海淀区 清和 街道 安宁 庄 小区 五 号楼 我 姓 刘"
    " 电话 幺三九 幺零零 二三 四五六",
    "石景山区鲁古街道重聚园小区楼下烧烤店油烟太大熏得没法开窗我是王女士电话一三五一二三四五六七八",
    "你好我们楼电梯困人了有个老人关在电梯里半个小时了大兴区旧宫镇德茂家园我姓吴口天吴",
    "朝阳七双井接到富力城有燃气泄漏的味道很大赶紧派人来看看我信郑电话138 1122 3344",
    "喂 你好 我 我 想 问 一下 那个 那个 算了 没事",
]


def _texts(samples: Path) -> list[tuple[str, str | None]]:
    texts: list[tuple[str, str | None]] = [(t, "13900000000") for t in _BUILT_IN]
    if samples.exists():
        for line in samples.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts.append((record["text"], record.get("caller_number")))
    return texts


def _rate(
    work: Callable[[str, str | None], object], texts: list[tuple[str, str | None]], seconds: float
) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text, caller in texts:
            work(text, caller)
        done += len(texts)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--samples", type=Path, default=_DEFAULT_SAMPLES)
    args = parser.parse_args()
    texts = _texts(args.samples)
    now = datetime(2024, 5, 1, 9, 0)
    knowledge()  # data files load once per process; keep that out of the measurement
    for text, caller in texts:
        draft(text, caller, now)  # warm the per-character pinyin cache

    mobile = re.compile(r"1[3-9]\d{9}")
    baseline = _rate(lambda text, _caller: mobile.findall(text), texts, args.seconds)
    drafter = _rate(lambda text, caller: draft(text, caller, now), texts, args.seconds)
    print(f"texts:            {len(texts)}")
    print(f"baseline regex:   {baseline:12,.0f} texts/s")
    print(f"drafter:          {drafter:12,.0f} drafts/s  ({1e3 / drafter:.3f} ms/draft)")
    print(f"drafter/baseline: {drafter / baseline:.4f}")
    print("target 1000 drafts/s:", "met" if drafter >= 1000 else "NOT met")


if __name__ == "__main__":
    main()
