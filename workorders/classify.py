"""Category, appeal type and urgency from the phrase rules of the taxonomy file.

All three are phrase look-ups in the compact transcript; the phrases and their weights
live in ``config/data/taxonomy.toml`` so that admins tune them without code. A trained
classifier was considered (the issue allows one if it measurably helps), but with fifteen
labelled calls there is nothing to measure it on, and phrase rules are what an admin can
read and correct.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from workorders.draft import FieldValue
from workorders.knowledge import AppealRule, Taxonomy, UrgentRules, common_words
from workorders.phone import DIGITS
from workorders.sound import Hit, SoundIndex, best_hits, char_cost, strict_budget
from workorders.text import Compact

# Below this many characters of content a transcript says too little to classify (喂 你好 …).
_MIN_CONTENT = 6
# Evidence weighing less than one two-character keyword (a generic word, or a short phrase
# heard only by sound) does not pick a category: the call is 其他 with a low confidence.
_MIN_SCORE = 2.0
_FILLER = "喂你好我想问一下那个嗯啊呃就是然后算了没事谢谢姓叫电话手机号码是"
_SELF = ("我要", "我想", "想", "要", "来", "我来")
_DENY = ("不是", "不想", "不要", "没想", "不用")
_ASK_FOR_ME = ("帮我", "帮着", "给我", "帮我们", "给我们")
# A phrase heard only by sound (物也 for 物业, 警盖 for 井盖) weighs this share of its
# weight, less its cost per character.
_SOUND_WEIGHT = 0.7
# Two syllables sound like other words far more often (网购 / 往沟, 门诊 / 门镇): a
# two-character phrase heard only by sound weighs less.
_SOUND_WEIGHT_TWO = 0.5
# After 我要/我想 a declared appeal type may be heard more loosely (去报, 寄报 → 举报).
_DECLARED_AFTER_SELF_COST = 0.8
# A question about a wrong done to the caller (这合法吗, 钱还能退吗, 有人管吗) is a
# complaint put as a question: where one is written, the question openers (想问, 请问 …)
# do not declare 咨询 and a 咨询 cue inside it (还能 in 还能退) does not count. The word
# 咨询 itself still declares. The same phrases are 投诉 cues in the taxonomy file.
_GRIEVANCE_QUESTIONS = ("合法吗", "合理吗", "合规吗", "违法吗", "正常吗", "能退吗", "还能退",
                        "能不能退", "给不给退", "退不退", "能要回", "有人管吗", "没人管吗",
                        "管不管", "这样对吗", "凭什么", "能不能把钱要", "钱要回来", "钱能要回",
                        "钱还能要", "还能不能把钱")
_CONSULT = "咨询"
# 想问问能不能请社区医生上门: a question that asks for something to be done is a request for
# help, not a question (能不能帮我们催一下, 能不能给我们这建个信号塔, 有没有办法能帮协调), when it
# follows the consult words within this many characters; it weighs two cues. Said without
# them (你们能帮我协调一下吗) it is one cue of 求助.
_HELP = "求助"
_SUGGEST = "建议"
_REQUEST = re.compile("(?:能不能|可不可以|能否|(?<![不只才])能)(?:帮|请|给|派|找人|安排|上门)")
_REQUEST_REACH = 15
# 我 (not 我们), maybe a modal and 实名, right before the heard phrase; not 我 as an object
# (冲我, 给我, 对我: 还冲我央一样 is no 倡议).
_SELF_BEFORE = re.compile("(?<![冲给对跟让帮叫朝向替被把和])我(?:要|想|得|来|就|是|也|还|"
                          "向|相|像|象|响)?(?:实名|识名)?$")  # 想 heard as 向, 相 …
# …一下 after the heard phrase asks for it; 一下 heard as 一向, 仪下 too.
_ASKED = "一下"
_ASKED_COST = 0.5


def _heard_by_sound(phrase: str, weight: float) -> bool:
    """A generic (weak) phrase counts only where it is written: heard by sound it is too
    little to go on (司机, 老人 are near too many other words)."""
    return weight >= len(phrase)


_INDEXES: dict[int, tuple[Taxonomy, SoundIndex, SoundIndex, SoundIndex]] = {}


def _indexes(taxonomy: Taxonomy) -> tuple[SoundIndex, SoundIndex, SoundIndex]:
    """Sound indexes of the category phrases, the appeal phrases and the urgent phrases."""
    held = _INDEXES.get(id(taxonomy))
    if held is None or held[0] is not taxonomy:
        phrases = SoundIndex((p for sub in taxonomy.subcategories for p, w in sub.phrases
                              if _heard_by_sound(p, w)),
                             limit=strict_budget, near_pairs=True)
        appeals = SoundIndex((p for rule in taxonomy.appeals for p in rule.declared),
                             limit=lambda p: max(strict_budget(p), _DECLARED_AFTER_SELF_COST))
        # Urgency heard only by sound escalates a call: two syllables are too often other
        # words (拉到 / 拿刀, 疑他 / 要塌), and a longer phrase must sound nearly the same
        # (它线了 is 塌陷了, 时多了 is no 失火了).
        urgent = SoundIndex((p for p in taxonomy.urgent.phrases if len(p) >= 3),
                            limit=lambda p: strict_budget(p) / 2, near_pairs=True)
        held = (taxonomy, phrases, appeals, urgent)
        _INDEXES[id(taxonomy)] = held
    return held[1], held[2], held[3]


# Words that say what the next words are (a name, a number, a place): a phrase heard by
# sound never takes their characters.
_CUE_WORDS = ("电话", "手机", "号码", "联系", "街道", "小区", "我姓", "我叫", "名字")


# Digits as callers say and Whisper writes them; a run of three or more is a number (a
# phone, a house number), and a phrase heard by sound never takes its characters (霸凌 is
# not 八零, 咬伤 not 幺三).
_NUMBER_CHARS = frozenset("0123456789零〇洞一幺二两三四五六七拐八九十百千万")
_NUMBER_RUN = 3


def cue_spans(text: str) -> list[tuple[int, int]]:
    """Where the cue words are written exactly in ``text``, and where numbers are."""
    spans: list[tuple[int, int]] = []
    for word in _CUE_WORDS:
        at = text.find(word)
        while at >= 0:
            spans.append((at, at + len(word)))
            at = text.find(word, at + 1)
    start = 0
    for i, ch in enumerate(text + " "):
        if ch not in _NUMBER_CHARS:
            if i - start >= _NUMBER_RUN:
                spans.append((start, i))
            start = i + 1
    return spans


def taken_spans(text: str, taxonomy: Taxonomy) -> list[tuple[int, int]]:
    """Characters a phrase heard by sound never takes: cue words, numbers (see
    :func:`cue_spans`) and the place names of the gazetteer written there."""
    spans = cue_spans(text)
    for name in taxonomy.places:
        at = text.find(name)
        while at >= 0:
            spans.append((at, at + len(name)))
            at = text.find(name, at + 1)
    return spans


def _sound_weight(weight: float, phrase: str, hit: Hit) -> float:
    share = _SOUND_WEIGHT_TWO if len(phrase) == 2 else _SOUND_WEIGHT
    return weight * share * (1.0 - hit.cost / len(phrase))


# Words after a phrase that make it say where, not what (停车场旁边, 医院门口, 学校的附近):
# the problem is something else near that place.
_PLACE_AFTER = ("旁边", "附近", "对面", "门口", "边上", "隔壁", "周边", "周围", "后面",
                "前面", "那边", "跟前", "外面",
                # directions from a landmark (地铁站往北两百米, 医院北边, 学校西侧)
                "往东", "往南", "往西", "往北", "东边", "南边", "西边", "北边",
                "东侧", "南侧", "西侧", "北侧",
                # an exit of a station (地铁站东南口那儿)
                "东口", "西口", "南口", "北口", "东南口", "东北口", "西南口", "西北口")
# Words after a phrase that make it the end of a bus route (医院的公交, 学校的班车, 到医院的车):
# the call is about the bus, the place only says where it goes.
_ROUTE_AFTER = ("公交", "班车", "线路", "专线", "趟车", "车次")
_ROUTE_AFTER_DE = "的车"
# 不是停水 … 是停电: a phrase the caller denies.
_DENIED_BEFORE = ("不是",)
# 这不是宰人吗: 不是 … 吗 asks, it does not deny.
_RHETORICAL = ("吗", "嘛")
# The share of its weight that a phrase naming a place, or denied, keeps.
_ASIDE_WEIGHT = 0.3


def _aside(text: str, at: int, end: int) -> bool:
    """Whether the phrase at ``text[at:end]`` only names a place (also where a bus goes)
    or is denied."""
    after = text[end:]
    if after.startswith(_ROUTE_AFTER_DE):
        return True
    if after.startswith("的"):
        after = after[1:]
    return (after.startswith(_PLACE_AFTER) or after.startswith(_ROUTE_AFTER)
            or (text[max(0, at - 2):at] in _DENIED_BEFORE
                and not text.startswith(_RHETORICAL, end)
                and text[max(0, at - 3):at] != "是不是"))  # 这是不是骗子: asked, not denied


# 停了三天水, 停了两个礼拜的电: an outage with its length said between the verb and the
# utility is that utility's outage phrase (停水, 停电 …) over the whole span.
_SPLIT_OUTAGE = re.compile("停了?[一二两三四五六七八九十几好半]+"
                           "(?:天|个?礼拜|个?星期|个?月|个?小时|个?钟头)的?([水电气暖])"
                           # …not a word the character starts (电梯, 电视, 气味, 暖和)
                           "(?![梯视动脑话器味温候费表线厂站车和])")


def _split_outages(text: str, taxonomy: Taxonomy,
                   counted: list[bool]) -> list[tuple[int, int, int, str, float]]:
    found: list[tuple[int, int, int, str, float]] = []
    for m in _SPLIT_OUTAGE.finditer(text):
        said = "停" + m.group(1)
        for sub_index, _pos, phrase, weight in taxonomy.phrases_by_first_char.get("停", ()):
            if phrase == said and counted[sub_index]:
                found.append((sub_index, m.start(), m.end(), phrase, weight))
    return found


def _occurrences(text: str, taxonomy: Taxonomy) -> list[tuple[int, int, int, str, float]]:
    """Every occurrence of every taxonomy phrase in ``text``, as (subcategory index, start,
    end, phrase, weight), in taxonomy order (subcategory, then phrase), then the outages
    said with their length in between (see :data:`_SPLIT_OUTAGE`); a praise-only
    subcategory's only where the call praises."""
    by_char = taxonomy.phrases_by_first_char
    candidates = sorted(e for ch in set(text) for e in by_char.get(ch, ()))
    counted = _counted(taxonomy, text)
    found: list[tuple[int, int, int, str, float]] = []
    for sub_index, _pos, phrase, weight in candidates:
        if not counted[sub_index]:
            continue
        at = text.find(phrase)
        while at >= 0:
            found.append((sub_index, at, at + len(phrase), phrase, weight))
            at = text.find(phrase, at + 1)
    return found + _split_outages(text, taxonomy, counted)


# What a caller says they want names what the call is about just after the word: praise
# whom it is for (表扬一下派出所的民警, 夸夸我们村卫生室的大夫, 感谢你们的接线员: that service,
# not the trouble it solved), a complaint, report or question its matter (我要举报 群租房 …).
# A phrase starting that close after such a word weighs so many times its weight.
_PRAISE = "表扬"
_PRAISE_MORE = ("感谢", "谢谢")
_PRAISED_WINDOW = 12
_PRAISED_WEIGHT = 6.0
_DECLARED_WINDOW = 10
_DECLARED_WEIGHT = 1.5


def _declared_from(text: str, taxonomy: Taxonomy) -> list[tuple[int, int, float]]:
    """Where the words declaring an appeal end in ``text`` (each rule's declared phrases,
    and 感谢 for praise), with the window after them and the weight it gives."""
    out: list[tuple[int, int, float]] = []
    for rule in taxonomy.appeals:
        praise = rule.name == _PRAISE
        words = (*rule.declared, *_PRAISE_MORE) if praise else rule.declared
        window, weight = ((_PRAISED_WINDOW, _PRAISED_WEIGHT) if praise
                          else (_DECLARED_WINDOW, _DECLARED_WEIGHT))
        for word in words:
            at = text.find(word)
            while at >= 0:
                out.append((at + len(word), window, weight))
                at = text.find(word, at + 1)
    return out


# What the caller asks how to do is what the call is about: 低保怎么申请 (not the pension
# they live on, named in passing). A phrase followed within two characters by one of the
# question cues (咨询's cues: 怎么申请, 去哪办, 需要什么 …) weighs this many times more.
_ASKED_ABOUT_GAP = 2
_ASKED_ABOUT_WEIGHT = 1.5


# 感谢一个小伙子, 谢谢那位大姐: thanks to someone, not the 谢谢 that ends a call.
_THANKS_TO_SOMEONE = re.compile("(?:感谢|谢谢)(?:一下)?(?:一个|一位|那个|那位|这个|这位)")


def _praises(text: str, taxonomy: Taxonomy) -> bool:
    """Whether the call praises: a word declaring praise (表扬, 夸夸, 打电话谢谢 …) or thanks
    to someone (感谢一个小伙子) is written; a courtesy 谢谢 or 谢谢你们 is not enough."""
    words = [w for rule in taxonomy.appeals if rule.name == _PRAISE for w in rule.declared]
    return any(word in text for word in words) or _THANKS_TO_SOMEONE.search(text) is not None


def _counted(taxonomy: Taxonomy, text: str) -> list[bool]:
    """Per subcategory, whether its phrases count in ``text``: a praise-only one (a good
    deed done by a passer-by) only in a call that praises (see :func:`_praises`)."""
    subs = taxonomy.subcategories
    praises = any(sub.praise_only for sub in subs) and _praises(text, taxonomy)
    return [not sub.praise_only or praises for sub in subs]


def _consult(taxonomy: Taxonomy) -> AppealRule | None:
    return next((rule for rule in taxonomy.appeals if rule.name == _CONSULT), None)


def _asked_about(text: str, end: int, cues: tuple[str, ...]) -> bool:
    """Whether one of ``cues`` starts within :data:`_ASKED_ABOUT_GAP` characters of ``end``
    (and ends within four more)."""
    after = text[end:end + _ASKED_ABOUT_GAP + 4]
    return any(after.find(cue, 0, _ASKED_ABOUT_GAP + len(cue)) >= 0 for cue in cues)


# 表扬一下你们 … 上个月我反映我们院门口下水道堵的事: thanks to the hotline itself; the matter
# it once took is recounted, not what this call is about.
_HOTLINE_PRAISED = re.compile("(?:表扬|感谢|谢谢)(?:一下)?你们")
_RECOUNTED = re.compile("(?:上个月|上个礼拜|上礼拜|上个星期|上星期|上周|上次|上回|前段时间|前些天|"
                        "前几天|去年)我?(?:打电话|打过电话|来电话)?(?:反映|说|问|报|打过)")
_RECOUNTED_REACH = 16


def _recounted(text: str) -> list[tuple[int, int]]:
    """Where a caller thanking the hotline recounts the matter it once took: after the
    thanks (谢谢你们 at the end of a complaint is a courtesy, not the reason for the call)."""
    praised = _HOTLINE_PRAISED.search(text)
    if praised is None:
        return []
    spans: list[tuple[int, int]] = []
    for m in _RECOUNTED.finditer(text, praised.end()):
        told = text.find("事", m.end(), m.end() + _RECOUNTED_REACH)  # …堵的事儿: it ends there
        spans.append((m.end(), told if told >= 0 else m.end() + _RECOUNTED_REACH))
    return spans


def written_phrases(text: str, taxonomy: Taxonomy) -> list[tuple[int, int, int, float]]:
    """The taxonomy phrases written in ``text``, each once, as (subcategory index, start,
    end, weight), in taxonomy order.

    An occurrence inside a longer phrase of another subcategory is that phrase's (养老 in
    养老保险, 服务中心 in 社区卫生服务中心) and does not count. One that only names a place
    or is denied (see :func:`_aside`) keeps a share of its weight; one right after the
    words declaring the appeal weighs more (see :func:`_declared_from`). A phrase written
    more than once counts once, at its best occurrence.
    """
    found = _occurrences(text, taxonomy)
    declared = _declared_from(text, taxonomy)
    consult = _consult(taxonomy)
    questions = consult.cues if consult is not None else ()
    recounted = _recounted(text)
    out: list[tuple[int, int, int, float]] = []
    best: dict[tuple[int, str], int] = {}
    for sub_index, at, end, phrase, weight in found:
        around = [(other, o_at, o_end) for other, o_at, o_end, _p, _w in found
                  if o_at <= at and end <= o_end]
        if any(other != sub_index and o_end - o_at > end - at for other, o_at, o_end in around):
            continue
        # (地铁 in 地铁站旁边: where the longest phrase around it ends says whether it is aside)
        outer = max(o_end for _o, _a, o_end in around)
        w = weight * (_ASIDE_WEIGHT if _aside(text, at, outer) else 1.0)
        if any(r_at <= at < r_end for r_at, r_end in recounted):
            w *= _ASIDE_WEIGHT
        elif taxonomy.subcategories[sub_index].praise_only:
            pass  # the deed is praised anyway: the window names whom the praise is for
        else:
            w *= max((weight for p, window, weight in declared if p <= at < p + window),
                     default=1.0)
        if _asked_about(text, end, questions):
            w *= _ASKED_ABOUT_WEIGHT
        key = (sub_index, phrase)
        if key in best:
            i = best[key]
            if w > out[i][3]:
                out[i] = (sub_index, at, end, w)
            continue
        best[key] = len(out)
        out.append((sub_index, at, end, w))
    return out


@dataclass(frozen=True)
class Classification:
    category: FieldValue[str]
    subcategory: FieldValue[str]
    # The compact-text span of the strongest phrase, for the summary.
    evidence: tuple[int, int] | None = None


def classify(compact: Compact, taxonomy: Taxonomy,
             names: Sequence[tuple[int, int]] = ()) -> Classification:
    """Pick the subcategory whose phrases weigh most in the transcript. ``names`` are the
    spans (in ``compact.text``) where the caller said their name: no phrase is heard by
    sound there (我姓宫 宫殿的宫 叫宫德全 holds no 公交)."""
    text = compact.text
    scores: dict[int, float] = {}
    evidence: dict[int, tuple[int, int, float]] = {}
    taken = taken_spans(text, taxonomy) + list(names)
    for sub_index, at, end, w in written_phrases(text, taxonomy):
        scores[sub_index] = scores.get(sub_index, 0.0) + w
        if sub_index not in evidence or w > evidence[sub_index][2]:
            evidence[sub_index] = (at, end, w)
    # Phrases heard only by sound (物也 → 物业, 亭水 → 停水, 地宝 → 低保) count too, at a
    # discount; a phrase written as such counted above, and a phrase of another kind
    # written there takes its characters (红绿灯 holds no 路灯).
    heard = best_hits(_indexes(taxonomy)[0], text, taken)
    written = [(sub_index, at, end) for sub_index, at, end, _p, _w in _occurrences(text, taxonomy)]
    counted = _counted(taxonomy, text)
    for sub_index, sub in enumerate(taxonomy.subcategories):
        if not counted[sub_index]:
            continue
        for phrase, weight in sub.phrases:
            hit = heard.get(phrase)
            if hit is None or phrase in text:
                continue
            if any(other != sub_index and at < hit.end and hit.start < end
                   for other, at, end in written):
                continue
            w = _sound_weight(weight, phrase, hit)
            scores[sub_index] = scores.get(sub_index, 0.0) + w
            if sub_index not in evidence or w > evidence[sub_index][2]:
                evidence[sub_index] = (hit.start, hit.end, w)
    best: tuple[float, int] | None = None
    by_category: dict[str, float] = {}
    for sub_index in sorted(scores):
        score = scores[sub_index]
        if score < _MIN_SCORE:
            continue
        sub = taxonomy.subcategories[sub_index]
        by_category[sub.category] = max(by_category.get(sub.category, 0.0), score)
        if best is None or score > best[0]:
            best = (score, sub_index)
    if best is None:
        # Name and number do not say what the call is about: count the rest.
        content = sum(1 for ch in text if ch not in _FILLER and ch not in DIGITS)
        if content < _MIN_CONTENT:
            return Classification(FieldValue(), FieldValue())
        other = taxonomy.subcategories[-1]
        return Classification(FieldValue(other.category, 0.3), FieldValue(other.name, 0.3))
    score, index = best
    sub = taxonomy.subcategories[index]
    rival = max((s for c, s in by_category.items() if c != sub.category), default=0.0)
    margin = (score - rival) / score
    confidence = round(min(0.95, 0.5 + 0.45 * margin + min(score, 12.0) / 60), 3)
    at, end, _ = evidence[index]
    span = compact.span(at, end)
    return Classification(
        FieldValue(sub.category, confidence, span),
        FieldValue(sub.name, round(confidence * 0.9, 3), span),
        (at, end),
    )


def _asked(text: str, at: int) -> bool:
    """Whether 一下 (or what sounds like it: 一向, 仪下) follows at ``at``."""
    after = text[at : at + len(_ASKED)]
    return len(after) == len(_ASKED) and (after == _ASKED or sum(
        char_cost(a, b) for a, b in zip(_ASKED, after, strict=True)) <= _ASKED_COST)


# 哪怕半天也行: a proposal that offers its own fallback.
_FALLBACK = re.compile("哪怕.{0,10}也(?:行|好|可以)")

# The part of a character a caller names when spelling a surname (革字旁加个斤, 木字底,
# 乌鸦的乌加个耳朵旁).
_SPELLING_PART = ("字旁", "字头", "字底", "偏旁", "字边", "框")
_SPELLING_NEXT = ("耳朵", "耳刀", "字旁", "字头", "字底", "偏旁", "点水", "单立人")
_SPELLING_REACH = 5


def _asked_for_me(text: str, at: int, phrase: str) -> bool:
    """帮我问问 / 帮着打听打听: a favour asked, the phrase maybe said twice."""
    if text[max(0, at - len(phrase)) : at] == phrase:
        at -= len(phrase)
    return _preceded_by(text, at, _ASK_FOR_ME, window=3)


# A question the caller reports having asked someone (我问过他们有没有许可, 我问什么时候到货).
_REPORTED = ("我问", "问过", "问他", "问她", "问了")
_REPORTED_REACH = 6
# …and one the caller was never answered (也没说什么时候来, 没告诉我们多少钱): a grievance
# told, not a question asked, when right before the cue.
_NOT_TOLD = ("没说", "不说", "没告诉", "不告诉", "没讲", "没通知")
_NOT_TOLD_REACH = 3


def _reported(text: str, at: int) -> bool:
    return any(w in text[max(0, at - _REPORTED_REACH) : at] for w in _REPORTED) or any(
        text[max(0, at - _NOT_TOLD_REACH) : at].endswith(w) for w in _NOT_TOLD)


def _spelling_before(text: str, at: int, end: int) -> bool:
    """Whether the cue at ``at`` goes on a surname's spelling (…字旁 加个 斤, …加个耳朵旁)."""
    return text[max(0, at - 3) : at].endswith(_SPELLING_PART) or any(
        p in text[end : end + _SPELLING_REACH] for p in _SPELLING_NEXT)


def _preceded_by(text: str, at: int, words: tuple[str, ...], window: int = 3) -> bool:
    before = text[max(0, at - window) : at]
    return any(before.endswith(w) or w in before for w in words)


# The usual appeal type of the kind of problem (taxonomy ``appeal``) counts as this many
# cues of it, where the caller's words hint at it (see :func:`appeal_type`).
_USUAL_BONUS = 1.0
# Appeal types that say what the caller wants rather than what is wrong.
_INTENTS = frozenset({"表扬", "建议"})


def appeal_type(
    compact: Compact,
    taxonomy: Taxonomy,
    *,
    urgent: bool,
    has_category: bool,
    menu_choices: tuple[str, ...] = (),
    usual: str | None = None,
) -> FieldValue[str]:
    """咨询/求助/投诉/举报/建议/表扬: what the caller says they want, else the best hint.

    ``menu_choices`` are the labels of the IVR options the caller chose (``投诉举报``): the
    appeal types a label names narrow the choice. Words the caller says outright (我要投诉)
    still win; a weaker cue in the text only picks among the types the menu allows.
    """
    text = compact.text
    heard = best_hits(_indexes(taxonomy)[1], text, taken_spans(text, taxonomy))
    said_outright = any(p in text for rule in taxonomy.appeals for p in rule.declared)
    grievances = [(at, at + len(q)) for q in _GRIEVANCE_QUESTIONS
                  for at in [text.find(q)] if at >= 0]
    consult = _consult(taxonomy)
    asking = consult.declared if consult is not None else ()
    requests = [(m.start(), m.end()) for m in _REQUEST.finditer(text)
                if any(p in text[max(0, m.start() - _REQUEST_REACH):m.start()] for p in asking)]
    scored: list[tuple[float, int, str, int, int, bool]] = []
    for order, rule in enumerate(taxonomy.appeals):
        score = 0.0
        declared = False
        span: tuple[int, int] | None = None
        for phrase in rule.declared:
            at = text.find(phrase)
            while at >= 0 and (_preceded_by(text, at, _DENY) or (
                    rule.name == _CONSULT and _asked_for_me(text, at, phrase))):
                # 不是投诉 … 就是想咨询: skip the denial; 帮我问问: a favour asked, not a question
                at = text.find(phrase, at + 1)
            if at < 0:
                continue
            if (grievances or requests) and rule.name == _CONSULT and phrase != _CONSULT:
                span = span or (at, at + len(phrase))  # 想问问 … 这合法吗: not a question
                continue
            weight = 5.0 if _preceded_by(text, at, _SELF) else 4.0
            declared = True
            if weight > score:
                score, span = weight, (at, at + len(phrase))
        if not said_outright:
            # 我要去报 / 我想自行 / 我只抱一下 / 我得起报: a declared type heard by sound, in
            # the caller's own statement (我 just before it) or asked for (…一下).
            for phrase in rule.declared:
                hit = heard.get(phrase)
                if hit is None or not (_SELF_BEFORE.search(text, max(0, hit.start - 5),
                                                           hit.start)
                                       or _asked(text, hit.end)):
                    continue
                if hit.cost > 0 and text[hit.end - 1 : hit.end + 1] in common_words():
                    # 我想申请: 申 starts the word 申请; no 问 was misheard (an exact
                    # homophone stands: 提个建一天 is 提个建议)
                    continue
                weight = 4.5 - hit.cost
                declared = True
                if weight > score:
                    score, span = weight, (hit.start, hit.end)
        if rule.name == _HELP and requests:
            score += 2.0
            span = span or requests[0]
        elif rule.name == _HELP and (m := _REQUEST.search(text)):
            score += 1.0
            span = span or (m.start(), m.end())
        if rule.name == _SUGGEST and (fallback := _FALLBACK.search(text)):
            score += 1.0
            span = span or (fallback.start(), fallback.end())
        counted: list[tuple[int, int]] = []
        for phrase in rule.cues:
            at = text.find(phrase)
            if at >= 0 and rule.name == _CONSULT and any(
                    g_at <= at and at + len(phrase) <= g_end for g_at, g_end in grievances):
                continue
            if at >= 0 and rule.name == _CONSULT and _reported(text, at):
                continue  # 我问过他们有没有许可: the caller's question to them, not to us
            if at >= 0 and _spelling_before(text, at, at + len(phrase)):
                continue  # 革字旁加个斤: a surname spelled, not 加个 asked for
            if at >= 0 and not any(at < c_end and c_at < at + len(phrase)
                                   for c_at, c_end in counted):
                # one point per stretch of text: 该找谁 is not also 找谁, 一直拖着 not 拖着
                counted.append((at, at + len(phrase)))
                score += 1.0
                span = span or (at, at + len(phrase))
        if span:
            scored.append((score, order, rule.name, span[0], span[1], declared))
    if usual is not None and not any(s[2] in _INTENTS for s in scored):
        # A hint of another grievance (管管, 反映) weighs no more than the kind of problem:
        # a violation described (违建, 消防通道被堵) is reported, a nuisance suffered
        # complained of. Not against praise or a proposal: the kind does not say those.
        scored = [(s[0] + _USUAL_BONUS if s[2] == usual and not s[5] else s[0], *s[1:])
                  for s in scored]
    scored.sort(key=lambda s: (-s[0], s[1]))
    if urgent and scored and not scored[0][5]:
        # An emergency is a call for help: a hint of another type (没人接 of a complaint)
        # does not outweigh it; only a type said outright does.
        scored = [s for s in scored if s[2] == "求助"]
    chosen = menu_appeal_types(menu_choices, taxonomy)
    if scored and (not chosen or scored[0][5]):  # no menu choice, or a type said outright
        score, _, name, at, end, _declared = scored[0]
        confidence = 0.9 if score >= 4 else 0.45 + 0.1 * min(score, 3)
        if name in chosen:
            confidence = 0.95  # said and keyed: both agree
        return FieldValue(name, round(confidence, 3), compact.span(at, end))
    if chosen:
        for _score, _, name, at, end, _declared in scored:
            if name in chosen:  # 投诉举报 pressed, 有人偷倒渣土 heard: 举报
                return FieldValue(name, 0.9, compact.span(at, end))
        return FieldValue(chosen[0], 0.8)  # the menu key alone: deliberate, but no words
    if urgent:
        return FieldValue("求助", 0.6)
    if has_category:
        # A problem reported without naming the appeal asks for it to be solved.
        return FieldValue(usual or "求助", 0.4)
    return FieldValue()


def menu_appeal_types(menu_choices: tuple[str, ...], taxonomy: Taxonomy) -> tuple[str, ...]:
    """The appeal types named by the last menu choice that names any (``投诉举报`` → both)."""
    for label in reversed(menu_choices):
        found = sorted((label.find(rule.name), rule.name) for rule in taxonomy.appeals
                       if rule.name in label)
        if found:
            return tuple(name for _, name in found)
    return ()


def _contradicts(text: str, phrase: str, hit: Hit, at: int, end: int, written: str) -> bool:
    """Whether the phrase ``written`` at ``text[at:end]`` says something else where
    ``phrase`` was heard by sound: it overlaps a character the hit heard differently
    (燃气费 against 燃气味), not only characters they share (来水 against 水管爆 heard as
    水馆包)."""
    if not (at < hit.end and hit.start < end):
        return False
    if hit.end - hit.start != len(phrase):
        return written not in phrase
    return any(text[i] != phrase[i - hit.start]
               for i in range(max(at, hit.start), min(end, hit.end)))


# An urgent phrase this long heard as its exact homophone (tones aside) is the phrase.
_LONG_HOMOPHONE = 5


def _misheard_into_word(text: str, phrase: str, hit: Hit) -> bool:
    """Whether a character the hit heard differently from ``phrase`` makes a common word
    with its neighbour in the hit that the phrase does not hold (管道 in 自来水管道 heard
    for 自来水管爆): then that word was said."""
    heard = text[hit.start : hit.end]
    if len(heard) != len(phrase):
        return False
    words = common_words()
    for i, (h, p) in enumerate(zip(heard, phrase, strict=True)):
        if h == p:
            continue
        for pair in (heard[i - 1 : i + 1] if i > 0 else "", heard[i : i + 2]):
            if len(pair) == 2 and pair in words and pair not in phrase:
                return True
    return False


# What a caller is without (没电, 没水, 没暖气): 没 denies that, not what comes after it
# (再没电要冻坏了 is someone freezing; 没有人被困 is no one trapped).
_LACKED = ("电", "水", "暖气", "气", "车", "钱", "信号", "网")


def _unnegated(text: str, phrase: str, negations: tuple[str, ...]) -> int:
    """First occurrence of ``phrase`` not just after a negation (没有人被困), or -1."""
    at = text.find(phrase)
    while at >= 0 and any(w in _before_unlacked(text, at) for w in negations):
        at = text.find(phrase, at + 1)
    return at


def _before_unlacked(text: str, at: int, window: int = 4) -> str:
    """The ``window`` characters before ``at``, each 没 / 没有 + a thing lacked that ends
    before ``at`` blanked out."""
    start = max(0, at - window)
    before = list(text[start:at])
    for i in range(start, at):
        if text[i] != "没":
            continue
        j = i + 2 if text.startswith("没有", i) else i + 1
        lacked = next((w for w in _LACKED if text.startswith(w, j)), None)
        if lacked is not None and j + len(lacked) < at:
            before[i - start : j - start] = " " * (j - i)
    return "".join(before)


def _negated(text: str, at: int, negations: tuple[str, ...]) -> bool:
    """Whether a negation comes just before ``at`` (没有人 被困, 不是 着火): a
    one-character one (没, 怕) right before it; a longer one within two characters. 奶也没拿
    敲门没人应: the 没 denies 拿, not the knocking."""
    before = text[max(0, at - 2) : at]
    return any(before.endswith(w) or (len(w) > 1 and w in before) for w in negations)


def is_urgent(compact: Compact, rules: UrgentRules,
              taxonomy: Taxonomy | None = None) -> FieldValue[bool]:
    """Danger to life or property now (电梯困人, 燃气泄漏, 井盖缺失 …). With ``taxonomy``
    (whose urgent rules these are), phrases heard by sound count too (警盖没了, 它线了)."""
    text = compact.text
    if any(p in text for p in rules.past):
        return FieldValue(False, 0.7)  # thanks for a rescue: the danger is over
    for phrase in rules.phrases:
        at = text.find(phrase)
        while at >= 0:
            if not _negated(text, at, rules.negations):
                return FieldValue(True, 0.9, compact.span(at, at + len(phrase)))
            at = text.find(phrase, at + 1)
    for lists in rules.all_of:
        spans: list[int] = []
        for options in lists:
            found = [h for o in options if (h := _unnegated(text, o, rules.negations)) >= 0]
            if not found:
                break
            spans.append(min(found))
        else:
            return FieldValue(True, 0.75, compact.span(min(spans), max(spans) + 1))
    if taxonomy is not None and taxonomy.urgent is rules:
        heard = best_hits(_indexes(taxonomy)[2], text, taken_spans(text, taxonomy))
        written = _occurrences(text, taxonomy)
        for phrase, hit in sorted(heard.items(), key=lambda kv: kv[1].start):
            if text.startswith(phrase, hit.start):
                continue  # written as the phrase: the exact look-up above decided it
            if any(_contradicts(text, phrase, hit, at, end, p) for _s, at, end, p, _w in written):
                continue  # 燃气费 is written there, not 燃气味 misheard
            if _misheard_into_word(text, phrase, hit) and not (
                    hit.cost == 0 and len(phrase) >= _LONG_HOMOPHONE):
                # 自来水管道 is the word said, not 自来水管爆 misheard; a long phrase heard
                # as its exact homophone was said (摔倒了起步来 is 摔倒了起不来)
                continue
            if not _preceded_by(text, hit.start, rules.negations, window=2):
                confidence = round(0.8 - 0.3 * hit.cost / len(phrase), 3)
                return FieldValue(True, confidence, compact.span(hit.start, hit.end))
    return FieldValue(False, 0.8)
