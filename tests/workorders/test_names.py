"""Caller name and surname: self-introductions only, spelled surnames, refusals."""

from __future__ import annotations

import pytest

from workorders.names import answer_name, find_name
from workorders.text import compact

# (transcript, name, surname)
CASES = [
    ("我姓黄 电话 幺三八", None, "黄"),
    ("我 姓 冯 电话 一五九", None, "冯"),
    ("免贵姓田", None, "田"),
    ("我信黄 电话一三八", None, "黄"),  # ASR: 姓 → 信
    ("我性梁电话一八六", None, "梁"),  # ASR: 姓 → 性
    ("我叫宋佳佳电话一五二", "宋佳佳", "宋"),
    ("我 叫 宋佳佳 电话 一五二", "宋佳佳", "宋"),
    ("我叫王强我住在三号楼", "王强", "王"),
    ("我的名字叫王小明电话", "王小明", "王"),
    ("我 叫 胡 小 兰", "胡小兰", "胡"),  # characters spaced out by the ASR
    ("我叫王家明住在通州", "王家明", "王"),
    ("我姓欧阳叫欧阳娜娜", "欧阳娜娜", "欧阳"),
    ("免贵姓司马叫司马光电话", "司马光", "司马"),
    ("我叫诸葛亮", "诸葛亮", "诸葛"),
    ("我 姓 张 弓长张 叫 张建华 我们", "张建华", "张"),
    ("我姓张 叫建华 电话", "张建华", "张"),
    ("我姓章 立早章 电话", None, "章"),
    ("我姓张 立早章", None, "章"),  # the spelling settles what ASR wrote
    ("我姓陈 耳东陈", None, "陈"),
    ("木子李 我姓李", None, "李"),
    ("我姓吴 口天吴 电话", None, "吴"),
    ("我姓林 双木林", None, "林"),
    ("我姓胡 古月胡", None, "胡"),
    ("我姓许 言午许", None, "许"),
    ("我姓张 不对 我是说 我姓章 立早章", None, "章"),
    ("我是王女士 电话", None, "王"),
    ("我是李女士我要投诉楼上漏水", None, "李"),
    ("你叫我李阿姨就行", None, "李"),
    ("联系人赵先生 电话", None, "赵"),
    ("叫我小王就行", None, "王"),
    ("姓温", None, "温"),
    ("姓侯 电话一五零", None, "侯"),
    ("我叫李 电话一三八", None, "李"),
]

# 我是 + surname + a plausible given name that ends the clause.
# Set Q's callers: a spelling before 叫 and the full name, surnames added (项, 贝), a
# compound surname described by a word that starts with it, a surname after 村里的.
CASES += [
    ("我 姓 覃 西 早 覃 叫 覃 海 燕 我 要 投诉", "覃海燕", "覃"),
    ("我 姓 项 项羽 的 项 电话", None, "项"),
    ("我姓项 方向的向 电话幺三", None, "向"),
    ("我 姓 贝 宝贝 的 贝 贝 晓 东 破晓 的 晓 东方 的 东", "贝晓东", "贝"),
    ("我 姓 诸葛 诸葛亮 的 诸葛 诸葛 明 远 明天 的 明 远方 的 远", "诸葛明远", "诸葛"),
    ("我 是 村里 的 姓 蔡 草头 蔡 电话", None, "蔡"),
    # a description of another surname that builds the written one: 鲍 stands
    ("我 姓 鲍 鲍 是 包子 的 包 加 个 鱼 字 旁 叫 鲍 桂琴 电话", "鲍桂琴", "鲍"),
]

# The read sets' callers (G, O, dev, R), as written and as heard.
CASES += [
    ("俺叫牛保国 我们八个工友", "牛保国", "牛"),  # 俺 for 我
    ("我是外地来旅游的 姓岳 岳飞的岳 岳振东 我手机 幺八二", "岳振东", "岳"),  # 的 姓岳, described
    ("我姓倪 单立人加一个儿童的儿 电话", None, "倪"),
    ("我姓弓 弓箭的弓 家里座机", None, "弓"),
    ("我叫王王建国 电话幺三八", "王建国", "王"),  # a stumble, then the name
    ("去哪儿办我叫刘洋丰台区卢沟桥街道", "刘洋", "刘"),  # a place starts in the run-on name
    ("楼上姓刘的那家 天天吵", None, None),
    # set R: 叫 and the full name after a spelling by parts, or a description in the span
    ("我 姓 阚 门 字 里面 一个 勇敢 的 敢 叫 阚建军 我们", "阚建军", "阚"),
    ("我 姓 牟 牛 上面 一个 私 字 边 叫 牟晓丽 我 想", "牟晓丽", "牟"),
    ("我 姓 车 汽车 的 车 车振华 电话 幺五二", "车振华", "车"),
    ("我 姓 那 就是 那个 的 那 叫 那英杰", "那英杰", "那"),
    ("我 姓 门 大门 的 门 叫 门杰 我 要 举报", "门杰", "门"),  # 门, described only
    ("我叫门卫来开的门 电话幺三八", None, None),
    # set R as heard: the cue misheard, the surname described, 叫 and a homophone of it
    ("雨水往我们这边流我新上高上的上叫上国强电话幺八五零", "尚国强", "尚"),
    ("我现摇时则庞一个摇手机要五八幺零", None, "饶"),  # 食字旁一个尧
    ("性猛牛上面一个丝丝边教猛小弟我想咨询一下", None, "牟"),  # 厶 over 牛
    # set S: rarer surnames, written, spelled by parts and described
    ("我 姓 宓 宝盖 下边 一个 必须 的 必", None, "宓"),
    ("姓密宝盖下边一个必须的必要50", None, "宓"),  # as heard: 宀 over 必
    ("我 姓 鄂 鄂尔多斯 的 鄂", None, "鄂"),
    ("我叫前书针前是金字旁的钱我向表扬", "钱淑珍", "钱"),  # the name, then its parts
    # a surname that is a province's one-character name, described by it (河北简称 → 冀)
    ("我 叫 冀长河 河北 简称 那个 冀", "冀长河", "冀"),
    ("期派人上来一趟我交机长河河北检称那个计谣310168", None, "冀"),  # as heard
    ("我姓纪 纪念的纪 河北人", None, "纪"),
]

SELF_IS = [
    ("我是王小明 电话一三八", "王小明", "王"),
    ("你好我是张建国我想反映个事", "张建国", "张"),
    ("我是业主", None, None),
    ("我是马路对面的", None, None),
    ("我是万达的员工", None, None),
    ("我是王府井的", None, None),
    ("我是高中生", None, None),
    ("我是林业局的", None, None),
    ("我是路过的", None, None),
]

NEIGHBOURS = [
    ("隔壁张先生家漏水", None, None),
    ("楼上姓刘的天天吵 我姓王", None, "王"),
    ("我邻居叫张三天天在楼道堆东西 我姓马", None, "马"),
    ("物业经理姓王的态度很差 我姓赵 电话", None, "赵"),
    ("楼上那家姓刘的半夜装修", None, None),
    ("我叫了物业好几次 我姓赵", None, "赵"),
    ("我叫师傅来修", None, None),
    ("我信任物业", None, None),
    ("我叫他们来处理", None, None),
]

REFUSALS = [
    ("我不想留名字 电话一三八", None, None),
    ("不想留名字", None, None),
    ("名字就不留了", None, None),
    ("我匿名反映", None, None),
    ("我不方便透露姓名", None, None),
    ("名字就不留了 我姓王吧", None, "王"),
    ("全名就不想留了 免贵姓刘", None, "刘"),
]

NOTHING = [
    ("喂 你好 我 我 想 问 一下 那个 那个 算了 没事", None, None),
    ("楼下的饭馆天天排油烟", None, None),
]


@pytest.mark.parametrize(("text", "name", "surname"),
                         CASES + SELF_IS + NEIGHBOURS + REFUSALS + NOTHING)
def test_caller_name(text: str, name: str | None, surname: str | None) -> None:
    found = find_name(compact(text))
    assert (found.name.value, found.surname.value) == (name, surname)


def test_spans_point_at_the_introduction() -> None:
    text = "我 叫 宋佳佳 电话"
    found = find_name(compact(text))
    assert found.name.span is not None
    assert text[found.name.span[0] : found.name.span[1]] == "我 叫 宋佳佳"
    assert found.name.confidence > 0.8


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        ("我姓攀 电话", "潘"),  # ASR homophones of the surname itself
        ("我信量。电话186", "梁"),
        ("我信猴,电话", "侯"),
        ("我性观", "关"),
        ("我信张公长张", "张"),  # the spelling heard as homophones
        ("我姓陈 耳冬陈", "陈"),
        # the character heard, then described with it (the word itself misheard): as heard,
        # not its commoner homophone
        ("我星季季季的季 电话", "季"),
        # 路 is a surname only when described: 马路的路, not 马鹿的鹿
        ("我信路马路的路 电话", "路"),
        ("我 姓 满 满意 的 满 我 手机 幺三九", "满"),
    ],
)
def test_surname_heard_as_a_homophone(text: str, surname: str) -> None:
    found = find_name(compact(text)).surname
    assert found.value == surname
    assert found.confidence < 0.95


@pytest.mark.parametrize("text", ["我信不过物业", "我性子急", "我信他们了"])
def test_no_surname_from_ordinary_words(text: str) -> None:
    assert find_name(compact(text)).surname.value is None


@pytest.mark.parametrize(("text", "surname"),
                         [("我叫王剧强 电话", "王"), ("我叫马利坚就用这个号", "马"),
                          ("我姓张 叫张电梯", "张")])
def test_an_implausible_given_name_keeps_the_surname_at_low_confidence(
        text: str, surname: str) -> None:
    found = find_name(compact(text))
    assert found.surname.value == surname
    assert found.surname.confidence >= 0.8
    assert found.name.value is not None  # still shown, for the agent to check
    assert found.name.confidence <= 0.3


@pytest.mark.parametrize("text", ["我叫王志强 电话", "我姓张 叫张建华", "我叫周桂兰", "我叫刘晓东"])
def test_a_plausible_full_name_is_accepted(text: str) -> None:
    assert find_name(compact(text)).name.confidence >= 0.85


def test_an_alternative_with_a_plausible_given_name_wins() -> None:
    from datetime import datetime

    from workorders import draft, utterance_alternatives

    transcript = "我叫王剧强电话13800001111"
    alts = utterance_alternatives(transcript, [(transcript, ["我叫王志强电话13800001111"])])
    got = draft(transcript, None, datetime(2024, 5, 1), alternatives=alts)
    assert got.name.value == "王志强"
    assert got.name.span is not None
    assert transcript[got.name.span[0] : got.name.span[1]] == "我叫王剧强"
    assert draft(transcript, None, datetime(2024, 5, 1)).name.confidence <= 0.3


@pytest.mark.parametrize(
    ("text", "name", "surname"),
    [
        # After 我叫 the ASR wrote a homophone of the surname that is no surname (引 for 尹,
        # 好 for 郝); a plausible given name follows: the name with the surname put back.
        ("我叫引建国 电话一三九", "尹建国", "尹"),
        ("我叫好桂兰电话一三八", "郝桂兰", "郝"),
        # Among surnames that sound alike, the one with the tone heard (路 lu4 → 陆 lu4,
        # not the commoner 卢 lu2; 使 shi3 → 史, not 石 shi2).
        ("我叫路明 电话", "陆明", "陆"),
        ("我信使 电话一三八", None, "史"),
        # 我叫 heard loosely (较) and a homophone, with the number right after.
        ("我较中伟我手机是一三八", None, "钟"),
        # 姓 without 我, a homophone, then the number.
        ("姓菜 电话一五六", None, "蔡"),
        # 我叫 and an exact homophone, then two characters that sound like a common given
        # name, whatever follows: the surname, and the name with the common spelling.
        ("医保能报吗我叫隔离评我们住丰台区", "葛丽萍", "葛"),
    ],
)
def test_a_surname_heard_as_a_homophone_that_is_no_surname(
        text: str, name: str | None, surname: str) -> None:
    found = find_name(compact(text))
    assert (found.name.value, found.surname.value) == (name, surname)
    assert found.surname.confidence < 0.8  # heard by sound: for the agent to check


def test_a_homophone_and_a_common_given_name_heard_after_a_loose_cue() -> None:
    # 我叫 heard 我交, 阮 as 软, 晓峰 as 小风; the spelling after it is heard too badly to count
    found = find_name(compact("救护车来才走我交软小风二度旁一个远旦的原东城区前门"))
    assert (found.name.value, found.surname.value) == ("阮晓峰", "阮")
    assert found.name.confidence <= 0.6


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # ASR text has no spaces: a full name runs straight into what follows it.
        ("顺义区杨镇我叫任国庆里就用我现在打的这个手机", "任国庆"),
        ("我叫林晓红双木林我以前单位给交了十年养老保险", "林晓红"),
        ("我叫董秀英东城区永外街道安乐林路", "董秀英"),
    ],
)
def test_a_full_name_followed_by_more_words(text: str, name: str) -> None:
    found = find_name(compact(text))
    assert found.name.value == name
    assert 0.5 <= found.name.confidence < 0.9  # no word end heard: a little less sure


def test_a_name_said_again_with_its_end_wins_over_a_stumble() -> None:
    found = find_name(compact("青春路那个小区我叫龙龙龙海龙我叫龙海波电话13510983620"))
    assert (found.name.value, found.name.confidence) == ("龙海波", 0.9)


@pytest.mark.parametrize("text", ["我叫王师傅过来修", "我叫张大爷下来", "我叫李老师来看看"])
def test_no_three_character_name_from_a_surname_and_a_title(text: str) -> None:
    assert find_name(compact(text)).name.value is None


@pytest.mark.parametrize("text", ["我叫物业来修", "我叫人来修", "我叫救护车", "我叫外卖",
                                  "我叫不动他", "我叫醒他了", "我叫开锁的来", "我叫了好几次"])
def test_no_name_from_what_the_caller_called(text: str) -> None:
    found = find_name(compact(text))
    assert (found.name.value, found.surname.value) == (None, None)


@pytest.mark.parametrize(("text", "surname"),
                         [("我姓佟 电话", "佟"), ("我姓逯 电话", "逯"), ("我姓仝 电话", "仝"),
                          ("我姓覃 电话", "覃"), ("我信逯 电话", "逯")])
def test_a_surname_only_character_is_kept_as_written(text: str, surname: str) -> None:
    # No commoner homophone is taken for a character that is hardly ever anything but a
    # surname (佟 is not 童, 逯 not 陆): the ASR wrote it because it heard it.
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize(
    ("text", "name", "surname"),
    [
        # Surnames that are everyday words (叫车, 叫房东, 解 read jiě) stand when the caller
        # describes the character by a word it is in, and never by sound alone.
        ("我 姓 解 解放 的 解 住 在 通州", None, "解"),
        ("我 姓 车 汽车 的 车 家 住 大兴", None, "车"),
        ("我叫房立军 房子的房 电话幺三九", "房立军", "房"),
        ("我 叫 边建国 边疆 的 边 电话 幺三九", "边建国", "边"),
        # A rarer surname described so is not its commoner homophone either.
        ("我 姓 甘 甘甜 的 甘 电话 幺三九", None, "甘"),
        # 续 and 寿 are words as often as surnames; named by a word they are surnames.
        ("我 姓 续 继续 的 续 幺三三", None, "续"),
        ("我 叫 寿海涛 寿命 的 寿 电话 幺五二", "寿海涛", "寿"),
        ("我 姓 水 山水 的 水 电话 幺三九", None, "水"),
        # as heard: the surname and the character after 的 both misheard, the word right
        ("镇西口外村我叫瘦海桃寿命的手电话15210938765", None, "寿"),
    ],
)
def test_a_surname_described_by_a_word_stands_as_written(
        text: str, name: str | None, surname: str) -> None:
    got = find_name(compact(text))
    assert (got.name.value, got.surname.value) == (name, surname)


@pytest.mark.parametrize("text",
                         ["我叫车过来拉一下", "我叫房东来看看", "我姓解放军的", "车子的车灯坏了"])
def test_no_surname_from_those_words_without_a_description(text: str) -> None:
    got = find_name(compact(text))
    assert got.surname.value is None


@pytest.mark.parametrize(("text", "surname"), [
    # The caller said 甘 甘心的甘 and the ASR wrote 干 both times: 干心 is no word, so 干 is
    # not taken as described; it is heard as the surname it sounds like.
    ("我姓干干心的干电话", "甘"),
    ("我姓从从零的从电话打这个就可以", "丛"),
])
def test_a_description_by_no_real_word_names_no_word_surname(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize(("text", "surname"), [("我 姓 郦 郦道元 的 郦 电话", "郦"),
                                               ("我 姓 庹 西城区", "庹")])
def test_rare_surnames_written_stand(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname



@pytest.mark.parametrize(("text", "name"), [("我叫边志强 电话", "卞志强"),
                                            ("我叫花晓红 电话", "华晓红"),
                                            ("我叫房立军 方向的方 电话", "方立军")])
def test_without_a_description_those_names_are_heard_as_before(text: str, name: str) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(
    ("text", "name", "surname"),
    [
        # The ASR wrote the word the caller names the character by with the commoner
        # homophones; the real word it sounds like settles the surname.
        ("我姓李李明的李 电话幺三九", None, "黎"),  # 黎明
        ("我叫齐向东齐联山的齐 电话幺三九", "祁向东", "祁"),  # 祁连山
        ("我姓马之马的马 电话幺三九", None, "麻"),  # 芝麻
        ("我信沾沾天佑的沾 电话幺三九", None, "詹"),  # 詹天佑
        ("我叫古春生 山谷的谷 电话幺三九", "谷春生", "谷"),  # the description after the name
        # The surname read by its sound or after a misheard cue, then described.
        ("我叫李芳李明的李 家住朝阳", "黎芳", "黎"),  # the description ends the name
        ("我姓英英秦的英 电话幺三九", None, "殷"),  # 殷勤, though 英 alone reads 杨
        ("我线七七级光的七 电话幺三九", None, "戚"),  # 戚继光, after 我姓 heard 我线
        ("我先车起车的车 电话幺三九", None, "车"),  # 汽车, with no cue heard at all
        # 鞠躬 heard 机工: ü written i, and 机 is no surname
        ("在那烧铜线我性机机工的机子", None, "鞠"),
        ("我姓机机工的机 电话幺三九", None, "鞠"),
        # A spelling the caller denies names nothing.
        ("我姓李李明的李不是木子李 电话幺三九", None, "黎"),
    ],
)
def test_a_description_heard_by_sound_settles_the_surname(
        text: str, name: str | None, surname: str) -> None:
    got = find_name(compact(text))
    assert (got.name.value, got.surname.value) == (name, surname)


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        # not 何谈的谈: a surname heard gives way only to an exact homophone
        ("我 姓 汤 喝 汤 的 汤 电话 幺三九", "汤"),
        ("我姓姜生姜的姜 电话幺三九", "姜"),
        ("我姓郭城郭的郭 电话幺三九", "郭"),
        ("我叫罗振宇 玉石的玉 电话幺三九", "罗"),  # the given name's character described
    ],
)
def test_a_description_of_the_heard_surname_keeps_it(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        ("免贵 复姓 司马 电话 幺七八", "司马"),
        ("我 复姓 上官 幺三六六", "上官"),
        ("你好我复兴欧阳我想咨询一下", "欧阳"),  # 复姓 heard 复兴
        ("免贵附近诸葛要七八零", "诸葛"),  # 复姓 heard 附近
        # the compound heard as its exact homophone right after 我姓: 斯 alone is no answer
        ("我姓斯徒复姓斯徒司令的斯徒弟的徒密云区", "司徒"),
        ("你好我叫朱葛文君我想表扬一下", "诸葛"),  # 诸 heard 朱, 葛 as said
    ],
)
def test_a_compound_surname_after_fuxing(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize("text", ["我附近有个超市 电话幺三九", "我复习上官网 电话幺三九"])
def test_no_compound_surname_without_fuxing(text: str) -> None:
    assert find_name(compact(text)).surname.value is None


@pytest.mark.parametrize(("text", "surname"),
                         [("我姓朱 哥哥在外地", "朱"), ("我姓黄 父亲住院了", "黄"),
                          ("我姓夏 后天再来", "夏"), ("我姓于 文化路", "于"),
                          ("我姓司 图书馆", "司"), ("我姓尚 关门了", "尚")])
def test_no_compound_surname_from_a_surname_and_the_next_word(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize("text", ["我是小王 丽华小区的", "叫我老张 建国路那边"])
def test_no_given_name_after_a_surname_written_as_itself(text: str) -> None:
    assert find_name(compact(text)).name.value is None


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        ("免贵姓假教假德福 电话幺五五", "贾"),  # 姓 itself, the name runs on: an exact homophone
        ("我叫项饼方向的项 电话幺五六", "向"),  # the word written right, its character misheard
        ("我是孩子他妈姓风亮点水一个马的冯 想问问", "冯"),  # 姓 + a spelling by parts
    ],
)
def test_a_surname_heard_where_the_name_runs_on(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize("text", ["我姓名不方便说", "免贵姓名就不留了 电话幺三八"])
def test_no_surname_from_the_word_xingming(text: str) -> None:
    assert find_name(compact(text)).surname.value is None


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        # 我先找 (我姓赵?) that nothing confirms, then 我先攀 spelled by its parts
        ("我先找了个人看着 你们快来 我先攀三点水一个翻 电话幺八六", "潘"),
        ("我叫正国栋官买正电话幺三六", "郑"),  # the spelling ends with the surname again
        ("我叫鱼晓敢勾鱼要三幺二", "于"),
        ("我交编晓明边疆的边电话幺八九", "边"),  # a description, its word right
    ],
)
def test_a_surname_the_caller_goes_on_to_spell(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize("text", ["我叫人来修了好几个人", "我叫人来看看人家怎么说 电话幺三八"])
def test_no_spelling_tail_in_other_words(text: str) -> None:
    assert find_name(compact(text)).surname.value is None


@pytest.mark.parametrize(
    ("text", "surname", "name"),
    [
        ("嗯 王建国", "王", "王建国"),  # the name alone, no 我叫
        ("耳东 陈 陈建军", "陈", "陈建军"),  # spelled, then the full name
        ("宋朝 的 宋", "宋", None),  # described by a word it is in
        ("三点水 一个 工", "江", None),  # spelled by its parts
        ("就 写 刘 女士 吧", "刘", None),  # with a title
        ("免贵 姓 冯 冯立新", "冯", "冯立新"),  # the full name after the surname
        ("我 叫 陈 陈 陈立强", "陈", "陈立强"),  # not 陈陈
        ("名字 就 不 留 了", None, None),
    ],
)
def test_an_answer_to_the_name_question(text: str, surname: str | None, name: str | None
                                        ) -> None:
    got = answer_name(text)
    assert (got.surname.value, got.name.value) == (surname, name)


@pytest.mark.parametrize("text", ["李家村 那边", "王府井 那块儿", "王师傅 明天 来"])
def test_without_bare_a_short_utterance_is_no_name(text: str) -> None:
    assert answer_name(text, bare=False).surname.value is None


# The given name runs on unspaced into a description of the surname: the description ends
# the name and confirms the surname; no spelling heard by sound over the name and the
# description (燕武术 as 言午许) changes it.
@pytest.mark.parametrize(("text", "surname", "name"), [
    ("我叫武海燕武术的武我想咨询一下", "武", "武海燕"),
    ("我叫五海燕武术的五我想自行以下", "武", "武海燕"),
    ("我叫李明黎明的黎电话", "黎", "黎明"),
])
def test_a_description_right_after_the_name_ends_it(text: str, surname: str,
                                                    name: str) -> None:
    found = find_name(compact(text))
    assert (found.surname.value, found.name.value) == (surname, name)


def test_a_spelling_by_parts_that_confirms_the_surname_makes_it_surer() -> None:
    # 金字旁一个中 is 钟: the heard 中 is confirmed, surer than a biased reading's 周.
    found = find_name(compact("我叫中秀兰中士金字旁一个中午我打这个电话"))
    assert found.surname.value == "钟"
    assert (found.surname.confidence or 0) >= 0.9


@pytest.mark.parametrize(("text", "surname"), [
    ("我心令令相辱的力我们家暖气不热", "蔺"),  # 蔺相如的蔺, the last character misheard
    ("我 姓 王 三横 一竖 的 王 幺五六", "王"),  # two characters (一竖) are no such word
    ("我先报告一的报我想咨询", "鲍"),
])
def test_a_three_character_description_heard_nearly_as_itself(text: str,
                                                                surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize(("text", "surname"), [
    # 草字头那个肖: the grass radical over the 肖 it sounds like is 萧, whatever was written
    ("我姓肖草字头那个肖我只抱我们村北边", "萧"),
    ("我心夜口十夜我向表洋衣向", "叶"),  # 口十叶, heard with the 叶 as 夜
    ("脸跪性侯我想问问低保怎么申请", "侯"),  # 免贵姓侯, 免贵 heard as 脸跪
    ("连贵姓侯我想问问", "侯"),
])
def test_surnames_described_or_introduced_as_set_h_heard_them(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize(("text", "surname"), [
    ("家园我先欧阳要88104", "欧阳"),  # 我姓欧阳 with 姓 heard as 先: the compound, not 欧
    ("你好我新诸葛诸葛亮的诸葛我们", "诸葛"),
])
def test_a_compound_surname_written_after_a_cue_heard_by_sound(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


def test_a_description_by_a_compound_word_is_no_compound_surname() -> None:
    assert find_name(compact("我姓东东方的东")).surname.value != "东方"


def test_no_surname_from_a_bare_guixing() -> None:
    for text in ("贵姓", "请问贵姓", "跪性"):
        assert find_name(compact(text)).surname.value is None


@pytest.mark.parametrize("text", ["不能办正我姓一一五二一一七零九三", "我姓幺三八零幺二"])
def test_no_surname_from_the_number_said_after_xing(text: str) -> None:
    # 我姓尹 … with the surname lost and the number heard at once: 一 is no 易, 幺 no 姚
    assert find_name(compact(text)).surname.value is None


def test_a_familiar_form_the_caller_asks_to_be_written_down() -> None:
    # 你就写老薛: how to put the caller down on the order
    found = find_name(compact("店就在方庄那边 你就写老薛就行 草字头那个薛"))
    assert found.surname.value == "薛"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # the ASR wrote a homophone of a common given name: the common one is meant
        ("我叫孙贵英 住在三楼", "孙桂英"),
        ("我叫何小燕 电话幺三八", "何晓燕"),
        ("我叫吕红眉 电话幺三九", "吕红梅"),
        ("我叫钱舒芬 电话幺五八", "钱淑芬"),
        ("我叫贺立尾 电话幺八六", "贺立伟"),
        # no homophone, but one by the input methods' fuzzy pairs (n/l, in/ing)
        ("我叫秦玉南 电话幺三六", "秦玉兰"),
        ("我叫邵健兴 电话幺三六", "邵建新"),
    ],
)
def test_a_given_name_heard_as_a_homophone_of_a_common_one(text: str, name: str) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("我叫王秀英 电话幺三八", "王秀英"),  # listed: as written
        ("我叫许嘉 电话幺三八", "许嘉"),  # one plausible character stands
        ("我叫孟凡华 电话幺三八", "孟凡华"),  # no common name sounds like it
        ("我叫田小军 电话幺三八", "田小军"),  # a man's 小 name of his generation
    ],
)
def test_a_given_name_stays_as_written_unless_a_common_one_sounds_the_same(
        text: str, name: str) -> None:
    assert find_name(compact(text)).name.value == name


def test_the_surname_said_twice_is_not_read_as_a_given_name() -> None:
    found = answer_name("我叫陈 陈 陈志强")
    assert found.name.value != "陈晨"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # a common given name runs on into the address, even where it is also a word
        ("我叫罗长春门头沟城子街道", "罗长春"),
        # or one that sounds like a common name (淑芬)
        ("我叫唐叔分通州永顺镇", "唐淑芬"),
    ],
)
def test_a_common_given_name_running_on_into_the_next_words(text: str, name: str) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        # one part over another, top first, bottom first, or the bottom named by a word
        ("我姓栗 西字头下面一个木 电话幺三八", "栗"),
        ("姓娄 米字底下一个女 电话幺三八", "娄"),
        ("我姓翁 羽字上头一个公 电话幺三八", "翁"),
        ("我姓岑 山字头下面一个今天的今", "岑"),
        # a radical, then a rest spelled in its turn
        ("我姓谭 言字旁 右边上面一个西下面一个早", "谭"),
        # a spelling by parts is not 木子李 heard by sound
        ("我姓查 木字底下一个旦 念渣", "查"),
        # rare surnames written, spelled by their radical
        ("我姓仉 单立人加一个茶几的几", "仉"),
        ("我姓濮 三点水一个仆人的仆", "濮"),
    ],
)
def test_rare_surnames_spelled_by_their_parts(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize(("text", "surname"),
                         [("我姓拓 开拓的拓 手机幺三八", "拓"), ("我姓步 步行的步", "步"),
                          ("我姓商 商量的商", "商"), ("我姓那 那个的那 我们是满族", "那")])
def test_surnames_that_are_everyday_words_when_described(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize("text", ["我那个房子漏水了", "我叫商场的人来看看", "我子女都不在身边"])
def test_no_surname_from_those_words_said_in_passing(text: str) -> None:
    assert find_name(compact(text)).surname.value is None


@pytest.mark.parametrize(
    ("text", "name", "surname"),
    [
        # a spelling after the full name settles the homophone it was written with
        ("我叫张雅琪 立早章 电话幺三八", "章雅琪", "章"),
        ("我叫章雅琪 弓长张", "张雅琪", "张"),
        # 门里 names the door radical as 门里面 does
        ("我叫严秀兰 门里一个三 电话幺三八", "闫秀兰", "闫"),
    ],
)
def test_the_spelling_after_a_full_name_settles_its_surname(
        text: str, name: str, surname: str) -> None:
    found = find_name(compact(text))
    assert (found.name.value, found.surname.value) == (name, surname)


def test_a_radical_then_the_surname_itself_names_it() -> None:
    # 草字头那个蔡: the 蔡 with the grass radical, not a rest to compose with it
    found = find_name(compact("我叫蔡雨萱 草字头那个蔡 下雨的雨"))
    assert (found.name.value, found.surname.value) == ("蔡雨萱", "蔡")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # the surname described, then 叫 and the full name
        ("我 姓 马 马 是 骑马 的 马 叫 马 富 贵 工地 在 海淀区", "马福贵"),
        ("我 姓 穆 禾木 旁 的 那个 穆 叫 穆 秀 英 手机 号", "穆秀英"),
        ("我 姓 佟 单立人 一个 冬天 的 冬 叫 佟振山 我 想 问问", "佟振山"),
        # the full name right after the spelling
        ("我 姓 徐 双人 徐 徐国强", "徐国强"),
        # the full name right after a word that names the surname's character
        ("我 姓 宋 宋朝 的 宋 宋海燕 家 在 通州区", "宋海燕"),
        ("我姓柳 柳树的柳 柳明远 手机幺三九", "柳明远"),
        # heard as a homophone after the description: the surname as said
        ("我 性 苗 和描 的 描 描 桂兰 电话", "苗桂兰"),
        # the surname described at length, then said again starting the full name
        ("我姓邸 就是左边一个氐 右边一个耳刀的那个邸 邸国强 手机号", "邸国强"),
        ("我姓单 单位的单 念善 单明华 电话", "单明华"),
        ("我姓郝 赤耳郝 郝春生 电话打我这个就行", "郝春生"),
        ("我姓靳 革字旁一个斤两的斤 靳海波", "靳海波"),
        # the usual spellings of 谢 and 杜, then the name
        ("我 姓 谢 言 身 寸 谢 谢 丽华 电话 幺三六", "谢丽华"),
        ("我 姓 杜 木 土 杜 叫 杜 建军 我 的 电话", "杜建军"),
        # 一 starting a common given name is no digit
        ("我 姓 章 立早 章 叫 章 一 鸣 幺八五 零幺 三二", "章一鸣"),
    ],
)
def test_a_full_name_after_the_surname_and_its_description(text: str, name: str) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize("text", ["我 姓 徐 双人 徐 徐州 那边 的", "我叫王一三八六二七",
                                  "我 姓 宋 宋朝 的 宋 宋庄镇 那边"])
def test_no_full_name_from_a_place_or_a_number_after_the_surname(text: str) -> None:
    assert find_name(compact(text)).name.value is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # the surname said again, then the word that names it: a one-character given name
        ("我 叫 魏 然 魏 是 魏国 的 魏", "魏然"),
        ("我叫魏然魏是魏国的魏", "魏然"),
        # a stumble on the surname, then the name said whole
        ("我 叫 龙 龙 龙海 嗯 我 叫 龙海波 电话 幺三五", "龙海波"),
    ],
)
def test_a_name_before_its_surnames_description_or_after_a_stumble(text: str, name: str) -> None:
    assert find_name(compact(text)).name.value == name


def test_a_described_surname_after_xing_as_heard_without_wo() -> None:
    # 姓方 方圆的方, said without 我, heard 性方 方言的方
    assert find_name(compact("电话就打这个二八性方方言的方")).surname.value == "方"
    # no description, no surname: 性 is a word's end as often as 姓
    assert find_name(compact("这个安全性方面的问题")).surname.value is None


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        ("房子在这条路性神手机幺八六", "沈"),  # 姓沈 手机…, both heard as homophones
        ("我收到一条短信息电话打不通", None),  # 信息 is a word
        ("人家幸好手机没丢", None),  # 幸好 is a word
    ],
)
def test_a_bare_xing_heard_as_a_homophone_before_contact_details(
        text: str, surname: str | None) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize(("text", "name"), [
    # 叫 heard as 教 after a spelling, the surname said again (D11)
    ("我信张宫长张教张健华我们楼顶一下", "张建华"),
    # the surname's spelling right after a run-on name ends it (D17)
    ("我叫吴敏口天吴敏杰的名后海边声音", "吴敏"),
])
def test_a_full_name_heard_around_a_spelling(text: str, name: str) -> None:
    assert find_name(compact(text)).name.value == name


def test_jiao_is_no_cue_without_a_spelling() -> None:
    assert find_name(compact("我姓张 教张老师的课")).name.value is None


@pytest.mark.parametrize(("text", "surname"), [
    # a surname described as itself, the cue misheard (商 is described only, never by sound)
    ("问问到底什么时候能接上我现商商量的商电话幺五九零", "商"),
    # no cue heard at all, the description right before the contact details
    ("我不说名字了究竟包包子的包电话用这个就行", "包"),
    # 字 heard as 自 in a stacked spelling; the rest named first, then 一个 and the radical
    ("我姓龙米自底下一个女电话要三九", "娄"),
    ("小区我信上照字旁边一个耳刀电话就打这个", "邵"),
])
def test_surnames_as_set_q_was_heard(text: str, surname: str) -> None:
    assert find_name(compact(text)).surname.value == surname


def test_a_described_word_before_the_contact_details_needs_a_surname() -> None:
    assert find_name(compact("楼下卖包子的包子铺 电话幺三八")).surname.value is None


def test_a_description_word_heard_exactly_names_a_surname_one_fuzzy_pair_away() -> None:
    # 我姓宁 安宁的宁 as heard: the surname as 营, the character after 的 as 您 (nin, not
    # ning); 安宁 itself was heard right and comes straight after the surname.
    found = find_name(compact("我是跑运输的我姓营安宁的您想提各建议"))
    assert found.surname.value == "宁"


@pytest.mark.parametrize(("text", "name"), [
    # as heard: the surname an exact homophone, the given name in characters no name uses
    # but each a homophone of a common given name's
    ("我七十多岁的人跑一趟容易吗我叫行跪放你打我儿子手机", "邢桂芳"),
    ("容易吗我叫刑贵方你打网儿子手机", "邢桂芳"),
    # not where the surname and what follows are a word (师傅来 is no 石福来)
    ("我叫师傅来修 电话幺三九", None),
])
def test_a_heard_name_that_sounds_like_a_common_one(text: str, name: str | None) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(("text", "name"), [
    ("电话就打我这个手机就行我姓刘 刘建军", "刘建军"),
    ("我 姓 马 马秀英 幺三零五 幺幺七七", "马秀英"),
    # a place or a description that starts with the surname is no name
    ("我姓王 王府井那边", None),
    ("我姓张 张家口的张", None),
])
def test_the_full_name_said_straight_after_the_surname(text: str, name: str | None) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(("text", "name"), [
    ("地下室还住着人呢 赶紧派人来 幺三五二零八四三幺七六汪建新三点水一个王", "汪建新"),
    ("幺三五二零八四三幺七六 汪建新 三点水一个王", "汪建新"),
    # a spelling with no name said before it names no one here
    ("我们那条河三点水一个王", None),
])
def test_a_bare_name_spelled_by_its_parts(text: str, name: str | None) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(("text", "name"), [
    # a common surname and a common given name, a word of its own, nothing else naming anyone
    ("村里的坑塘冰化了 孩子在上面跑 电话 幺五幺 六二零三 九七八八 孙德旺", "孙德旺"),
    ("能赶紧派人来锯了吗 高建军 幺三七 幺七二零 六零四八", "高建军"),
    ("房山区 拱辰街道 赵桂英 您打家里这个电话就行", "赵桂英"),
    # the surname described right after: the name starts there, heard with no pause
    ("小区南边隔着一条马路黄志远黄色的黄幺八八", "黄志远"),
    # a place that starts like a name, a word, or particles are no one's name
    ("丰台区 马家堡 那个公交站", None),
    ("输 了 钱 的 还 在 门口 打架", None),
    ("我们 这 有 个 王府井 的 店", None),
    # two different bare names: no telling which is the caller's
    ("刘建军 说 找 王秀英 去", None),
])
def test_a_bare_name(text: str, name: str | None) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(("text", "name"), [
    # a spelling by parts we cannot compose still says the name follows
    ("我 姓栾 亦 字 下面 一个 木 栾淑华 我 这 是 座机", "栾淑华"),
    # 干钩于 is how callers spell 于
    ("我 姓于 干钩 于 于洪波 旁边 那 几家 酒吧", "于洪波"),
    # 我是 with a surname that is an everyday word, described by a real word after it
    ("喂 我 是 满桂芬 满 是 满意 的 满 我 在 怀柔区", "满桂芬"),
    ("我是满桂芬满是满意的满我在怀柔", "满桂芬"),
    # …but a word (房东) is no name, described or not
    ("我是房东 房子的房", None),
    ("我是满桂芬 我在", None),
])
def test_a_name_with_its_surname_described(text: str, name: str | None) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(("text", "name"), [
    # after the surname and its description, a given name heard as a homophone of a common
    # one (袖枝 for 秀芝, 奉银 for 凤英) is that common one
    ("爱您好我姓白白天的白白袖枝我上礼拜在家门口一个小", "白秀芝"),
    ("我姓苗和苗的苗苗奉银我就是打个电话", "苗凤英"),
    # a word is not a name however it sounds
    ("我姓马 马路的马 马上就到", None),
])
def test_a_given_name_heard_as_a_homophone_after_the_described_surname(
        text: str, name: str | None) -> None:
    assert find_name(compact(text)).name.value == name


@pytest.mark.parametrize(("text", "surname"), [
    # 我信息 is no 我姓奚: the misheard cue makes a word with what follows
    ("我就不说名字了 你们别透露我信息就行 我举报一下", None),
    ("我信王 电话", "王"),
    # a described surname that is an everyday word, said again with 就是 before its word
    ("我 叫 那文斌 那 就是 那个 的 那 满族 的 姓 延庆", "那"),
])
def test_a_surname_cue_and_its_description(text: str, surname: str | None) -> None:
    assert find_name(compact(text)).surname.value == surname


@pytest.mark.parametrize("text", [
    # someone else named bare: after a title or a role, or talked about after
    "物业 王建军要收我们钱",
    "村支书 李建国 他贪污",
    # 要 alone is no number to stand beside
    "我们这儿 王建军要 来",
])
def test_a_bare_name_of_someone_else_is_not_the_callers(text: str) -> None:
    assert find_name(compact(text)).name.value is None


@pytest.mark.parametrize(
    ("text", "surname"),
    [
        ("我叫英国华 应该得应 电话幺三五", "应"),  # 应该的应, 的 written as 得
        ("我信宁 安宁地宁 手机幺三八", "宁"),  # …and as 地
        ("我觉得得找人来修一下 电话幺三五", None),  # 得得 describes nothing
    ],
)
def test_a_description_with_de_written_as_a_homophone(text: str, surname: str | None) -> None:
    assert find_name(compact(text)).surname.value == surname
