"""A Whisper prompt of hot words: Beijing districts and streets, hotline vocabulary.

Whisper conditions on its prompt as if it were the text before the utterance, so names
that appear there are spelt right more often (区 heard as 七 becomes 区 again). The prompt
has room for about 220 tokens; districts go first, then the taxonomy's strong phrases,
then street names, until ``max_chars``. Read from the shipped ``config/data`` files (or
the drafting overrides); a missing or unreadable file just contributes nothing.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from config import Settings
from config.data import shipped

log = logging.getLogger(__name__)

BASE_PROMPT = "以下是北京12345市民热线的来电，普通话。"
# Words every call has and Whisper base often mishears (街道→接到, 姓→信).
HOTLINE_WORDS = ("街道", "小区", "物业", "我姓", "电话", "投诉", "举报", "反映")
# Whisper base: prompt tokens are capped at 223; a Chinese character is 1-2 tokens.
MAX_PROMPT_CHARS = 120


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("hot words: cannot read %s: %s", path, exc)
        return {}


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("hot words: cannot read %s: %s", path, exc)
        return {}


def gazetteer_terms(data: Any) -> tuple[list[str], list[str]]:
    """(district names, unit names) from the gazetteer JSON."""
    districts: list[str] = []
    units: list[str] = []
    for d in data.get("districts", []) if isinstance(data, dict) else []:
        if isinstance(d, dict) and isinstance(d.get("name"), str):
            districts.append(d["name"])
            for u in d.get("units", []):
                name = u.get("name") if isinstance(u, dict) else u
                if isinstance(name, str):
                    units.append(name)
    return districts, units


def taxonomy_terms(data: dict[str, Any]) -> list[str]:
    """The first strong phrase of each subcategory, then the subcategory names."""
    strong: list[str] = []
    names: list[str] = []
    for subs in data.get("categories", {}).values():
        if not isinstance(subs, dict):
            continue
        for sub, body in subs.items():
            names.append(sub)
            phrases = body.get("strong", []) if isinstance(body, dict) else []
            strong.extend(p for p in phrases[:1] if isinstance(p, str))
    return strong + names


def _unique(items: Iterable[str]) -> Iterator[str]:
    seen: set[str] = set()
    for item in items:
        if item and item not in seen:
            seen.add(item)
            yield item


def build_prompt(
    gazetteer: Path | None = None,
    taxonomy: Path | None = None,
    max_chars: int = MAX_PROMPT_CHARS,
    extra: Sequence[str] = (),
) -> str:
    """The hot-word prompt: a short framing sentence, then terms separated by 、; the
    ``extra`` terms (hot-words admins approved from agents' corrections) first."""
    districts, units = gazetteer_terms(_load_json(gazetteer or shipped("beijing_gazetteer.json")))
    topics = taxonomy_terms(_load_toml(taxonomy or shipped("taxonomy.toml")))
    prompt = BASE_PROMPT
    chosen: list[str] = []
    for term in _unique([*extra, *districts, *HOTLINE_WORDS, *topics, *units]):
        if any(c in term for c in chosen):
            continue  # 井盖没 adds nothing once 井盖 is there
        if len(prompt) + len(term) + 1 > max_chars:
            break
        chosen.append(term)
        prompt += term + "、"
    return prompt.rstrip("、") + "。"


def engine_prompt(settings: Settings, extra: Sequence[str] = ()) -> str | None:
    """The prompt to put in ``EngineSpec.prompt``, or None when hot words are off."""
    if not settings.asr.whisper_hotwords:
        return None
    return build_prompt(settings.drafting.gazetteer_file, settings.drafting.taxonomy_file,
                        extra=extra)
