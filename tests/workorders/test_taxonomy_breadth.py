"""The taxonomy generalizes: the common ways citizens put each kind of issue, generic words
that no longer pull a call into the wrong category, and the scoring rules that keep a
place name or a negated word from deciding the category.

The sentences are written for these tests from how 12345 work orders are usually worded;
none is taken from a held-out set.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from workorders import draft
from workorders.classify import appeal_type, classify, is_urgent
from workorders.knowledge import knowledge, load_taxonomy
from workorders.text import compact


def category(text: str) -> tuple[str | None, str | None]:
    found = classify(compact(text), knowledge().taxonomy)
    return found.category.value, found.subcategory.value


# (transcript, category, subcategory): a few everyday wordings per subcategory family.
BROAD = [
    # 城市管理
    ("人行道的地砖翘起来好几块 老人走路老绊倒", "城市管理", "市政设施"),
    ("过街天桥的台阶坏了 一个大豁口", "城市管理", "市政设施"),
    ("小区外面垃圾堆成山了 好几天没人清", "城市管理", "环境卫生"),
    ("有人半夜往路边偷倒建筑垃圾", "城市管理", "环境卫生"),
    ("邻居在院子里私自搭了个二层小楼", "城市管理", "违法建设"),
    ("村里有人在耕地上盖房子", "城市管理", "违法建设"),
    ("有人在宅基地上翻建了三层 把我家的光都挡了", "城市管理", "违法建设"),
    ("路边一排卖菜的小贩 把路堵得死死的", "城市管理", "占道经营"),
    ("门口的杨絮满天飞 能不能打点药", "城市管理", "园林绿化"),
    ("有人把绿地毁了种菜", "城市管理", "园林绿化"),
    ("单元门上贴满了办证小广告", "城市管理", "户外广告"),
    # 住房管理
    ("物业公司一年换了三拨保安 门禁也坏了没人修", "住房管理", "物业服务"),
    ("电梯维保不到位 老是突然停住", "住房管理", "电梯"),
    ("卫生间漏水漏到楼下 楼上的人不管", "住房管理", "房屋漏水"),
    ("二房东把房子隔成好几间出租", "住房管理", "房屋租赁"),
    ("我家墙上裂了好几道大缝 越来越宽", "住房管理", "房屋安全"),
    ("楼房的外墙砖老往下掉 是不是危楼", "住房管理", "房屋安全"),
    ("买的二手房过户办不下来 不动产登记说材料不对", "住房管理", "房产交易"),
    ("公租房摇号摇了三年都没摇上", "住房管理", "保障性住房"),
    ("拆迁补偿款到现在还没给我们", "住房管理", "拆迁征收"),
    # 公用事业
    ("家里暖气片冰凉 供热公司一直说在排查", "公用事业", "供暖"),
    ("一开水龙头出来的都是浑水", "公用事业", "供水"),
    ("燃气灶打不着火 燃气公司说要等一周", "公用事业", "燃气"),
    ("这个月电压老是不稳 灯一闪一闪的", "公用事业", "供电"),
    ("一下雨路口就积水 排不出去", "公用事业", "排水"),
    ("宽带三天两头断网 运营商也不来修", "公用事业", "通信"),
    # 环境保护
    ("楼下健身房每天晚上放音乐 咚咚的震得睡不着", "环境保护", "噪声污染"),
    ("附近的搅拌站罐车进进出出 路上全是灰", "环境保护", "扬尘"),
    ("汽修厂天天喷漆 味道呛得头疼", "环境保护", "大气污染"),
    ("村西头养猪场的粪水直接排进小河里", "环境保护", "水污染"),
    ("楼顶装了个信号塔 担心有辐射", "环境保护", "其他污染"),
    # 交通管理
    ("有人私装地锁 占了公共车位", "交通管理", "停车管理"),
    ("三百路公交经常甩站 等半天也不来", "交通管理", "公交"),
    ("地铁换乘通道太长了 早高峰挤不动", "交通管理", "地铁"),
    ("打车软件叫的车司机绕路多收了钱", "交通管理", "出租网约车"),
    ("这个路口没有红绿灯 行人过马路太危险", "交通管理", "道路交通"),
    # 市场管理
    ("在小吃店吃出了一根头发 老板还不认", "市场管理", "食品安全"),
    ("直播间买的衣服七天无理由不给退", "市场管理", "网络交易"),
    ("商场标的价签和结账的价格不一样", "市场管理", "价格收费"),
    ("美容院办了两万的卡 现在人去楼空跑路了", "市场管理", "消费纠纷"),
    # 劳动社保
    ("工地上的农民工被拖欠了半年工钱", "劳动社保", "拖欠工资"),
    ("单位不给交社保 还让我签自愿放弃的协议", "劳动社保", "社会保险"),
    ("公司无故把我辞退了 也不给经济补偿", "劳动社保", "劳动关系"),
    ("失业了想办失业登记 需要什么材料", "劳动社保", "就业服务"),
    # 教育培训
    ("小区里有人开了个小饭桌 没有资质", "教育培训", "社会办学"),
    ("非京籍孩子幼升小需要哪些证明", "教育培训", "入学"),
    ("学校食堂的饭菜不干净 孩子吃了吐", "教育培训", "学校管理"),
    # 卫生健康
    ("狂犬疫苗哪个接种点能打", "卫生健康", "疫苗接种"),
    ("社区卫生服务中心的大夫态度特别差", "卫生健康", "医疗服务"),
    ("村里有个黑诊所 无证行医给人输液", "卫生健康", "医疗服务"),
    ("医保异地就医备案怎么办", "卫生健康", "医疗保障"),
    ("饭店里有人抽烟 二手烟呛得不行", "卫生健康", "公共卫生"),
    ("孩子出生医学证明丢了怎么补办", "卫生健康", "妇幼生育"),
    # 民政服务
    ("社区新开了个老年食堂 饭菜太咸了", "民政服务", "养老服务"),
    ("我爸失能了 想申请居家养老上门服务", "民政服务", "养老服务"),
    ("孩子残疾 想问问残疾人两项补贴怎么申请", "民政服务", "社会救助"),
    ("居委会开个证明推来推去", "民政服务", "社区服务"),
    ("墓地价格太贵了 殡仪馆还乱收费", "民政服务", "婚姻殡葬"),
    ("我是退伍军人 优待证怎么办", "民政服务", "优抚安置"),
    # 公共安全
    ("楼道里堆满了纸箱子和旧家具 一点就着", "公共安全", "消防安全"),
    ("有人在小区里放高利贷 还暴力催收", "公共安全", "社会治安"),
    ("小区游乐场的健身器材坏了 螺丝都松了", "城市管理", "市政设施"),
    ("漫步机的脚踏板断了 断口特别锋利 小孩在上面玩", "城市管理", "市政设施"),
    ("院门口的大杨树有根树杈劈裂了 挂在半空 随时可能掉下来砸着人", "城市管理", "园林绿化"),
    ("村口一群野狗 把小孩腿咬了 马上就放学了", "公共安全", "动物管理"),
    ("河上冰裂了 有个小孩儿掉下去了 快来人", "公共安全", "紧急救助"),
    ("想申请低保 我俩就靠我那点退休金 药费都不够", "民政服务", "社会救助"),
    ("我一个人带着有残疾的儿子 那个补贴手续跑了好几趟", "民政服务", "社会救助"),
    ("老人刚走 殡仪服务那边骨灰盒一个就要一万八", "民政服务", "婚姻殡葬"),
    ("对门独居的老爷子三天没见着人了 敲门也没人应", "公共安全", "紧急救助"),
    ("想问问清明节放几天假 要不要调休", "其他", "政务服务"),
    ("包工头说等甲方结了款就给 现在工程完了人找不着了 我们十几个人二十多万", "劳动社保",
     "拖欠工资"),
    ("路边拉客的领到一家农家院 说好的一百块一位 走的时候一人三百多 不给钱不让走",
     "市场管理", "价格收费"),
    ("有人遛狗不拴绳 孩子被狗咬了", "公共安全", "动物管理"),
    ("孩子被锁在车里了 大人找不到", "公共安全", "紧急救助"),
    # 其他
    ("表扬一下政务服务中心窗口的工作人员 特别耐心", "其他", "政务服务"),
    ("上次打一二三四五反映的问题到现在没人回复", "其他", "政务服务"),
    ("村里的土地流转费好几年没给了", "其他", "农业农村"),
    ("身份证丢了在哪补办", "其他", "其他"),
    # Written after the set above, without tuning: what it missed.
    ("商场买的空调装上就不制冷 商家推给厂家", "市场管理", "消费纠纷"),
    ("灵活就业人员怎么交医保和养老", "劳动社保", "社会保险"),
    ("楼道里有人烧纸 烟很大", "公共安全", "消防安全"),
    ("这边手机信号特别差 打电话老断", "公用事业", "通信"),
    ("有人在村里开赌场", "公共安全", "社会治安"),
    ("旅游团的导游强制购物", "市场管理", "消费纠纷"),
    ("窗外的空调外机支架锈断了 随时可能掉下去", "公共安全", "安全隐患"),
    ("楼道里的感应灯坏了 晚上上楼摸黑", "住房管理", "物业服务"),
    ("村里好多人在河里电鱼", "环境保护", "水污染"),
    ("小区北门外那片树林被人砍了好多树", "城市管理", "园林绿化"),
    # Wordings a probe of 300 everyday descriptions (bench/data/category_probe.jsonl) found
    # missing, put here in other words.
    ("饭馆把桌椅全摆到便道上了 人都没法走", "城市管理", "占道经营"),
    ("一楼那家把厨房往院里外扩了好几米 私搭乱建", "城市管理", "违法建设"),
    ("单元门上天天有人贴小广告 撕了又贴", "城市管理", "户外广告"),
    ("家里人均面积不到十平米 属于住房困难吧", "住房管理", "保障性住房"),
    ("修理厂给我换的是拆车件 收的新件的钱", "市场管理", "消费纠纷"),
    ("同一箱牛奶他家比别家贵了一倍", "市场管理", "价格收费"),
    ("老板扣了我的身份证 不干了也不给", "劳动社保", "劳动关系"),
    ("报了驾校半年了一直约不上车", "教育培训", "社会办学"),
    ("社区卫生站缺药 老开不出来", "卫生健康", "医疗服务"),
    ("怀孕了想问问孕检在哪建档", "卫生健康", "妇幼生育"),
    ("退役回来说好的安置工作一直没信", "民政服务", "优抚安置"),
    ("河上的冰都化了 还有人在冰面上走", "公共安全", "安全隐患"),
    ("有人站在天台边上好像要往下跳", "公共安全", "紧急救助"),
    ("街上有伙人挨个店铺收保护费", "公共安全", "社会治安"),
]


@pytest.mark.parametrize(("text", "cat", "sub"), BROAD)
def test_everyday_wordings(text: str, cat: str, sub: str) -> None:
    assert category(text) == (cat, sub)


# Generic words (车, 老人, 养老, 服务, 公司, 医院, 食堂 …) that used to decide the category.
GENERIC = [
    ("我想问一下养老保险断了两年还能补缴吗", "劳动社保"),  # not 养老 (民政服务)
    ("退休以后养老金怎么算", "劳动社保"),
    ("表扬一下物业公司 下大雪那天一早就把路扫出来了 还帮老人把菜送上楼", "住房管理"),
    ("我家老人住的平房墙裂了一道大口子", "住房管理"),  # not 老人 (民政服务)
    ("停车场旁边有人私自盖了一排平房", "城市管理"),  # not 停车 (交通管理)
    ("大货车拉的渣土一路撒 尘土飞扬", "环境保护"),  # not 货车 (交通管理)
    ("卖水果的三轮车把路都占了 车开不过去", "城市管理"),  # not 车 (交通管理)
    ("孩子一个人被关在车里出不来", "公共安全"),
    ("医院门口天天有人摆摊卖水果", "城市管理"),  # the hospital only says where
    ("公交站旁边的井盖松了 一踩就响", "城市管理"),
    ("楼上新开的健身房天天咚咚响 吵得睡不着", "环境保护"),  # not 健身房 (消费纠纷)
    ("社区食堂的老年餐太贵了", "民政服务"),  # not 食堂 (学校管理)
    ("公交公司司机的服务态度特别好 我要表扬", "交通管理"),
]


@pytest.mark.parametrize(("text", "cat"), GENERIC)
def test_generic_words_do_not_decide(text: str, cat: str) -> None:
    assert category(text)[0] == cat


# -- the scoring rules, on a taxonomy of two subcategories ---------------------------------

def _toy(tmp_path: Path, body: str) -> None:
    (tmp_path / "taxonomy.toml").write_text(body, encoding="utf-8")


def _toy_category(tmp_path: Path, text: str) -> str | None:
    taxonomy = load_taxonomy(tmp_path / "taxonomy.toml")
    return classify(compact(text), taxonomy).subcategory.value


TWO = """
[categories."甲"."停车"]
keywords = ["停车场"]
[categories."乙"."违建"]
keywords = ["盖房"]
[categories."其他"."其他"]
keywords = ["户口"]
"""


def test_a_phrase_that_only_says_where_counts_less(tmp_path: Path) -> None:
    _toy(tmp_path, TWO)
    # Both phrases weigh 3 and 2; the parking lot only names the place.
    assert _toy_category(tmp_path, "停车场旁边有人盖房") == "违建"
    assert _toy_category(tmp_path, "停车场的旁边有人盖房") == "违建"
    assert _toy_category(tmp_path, "停车场有人盖房") == "停车"


def test_a_phrase_that_only_says_where_a_bus_goes_counts_less(tmp_path: Path) -> None:
    _toy(tmp_path, """
[categories."甲"."医疗服务"]
keywords = ["卫生院"]
[categories."乙"."公交"]
keywords = ["加车"]
[categories."其他"."其他"]
keywords = ["户口"]
""")
    # 卫生院 weighs 3 and 加车 2; where the bus goes is not what the call is about.
    assert _toy_category(tmp_path, "到卫生院的车太少 能不能加车") == "公交"
    assert _toy_category(tmp_path, "去卫生院的班车太少 能不能加车") == "公交"
    assert _toy_category(tmp_path, "卫生院太远 能不能加车") == "医疗服务"


def test_a_phrase_inside_a_longer_phrase_of_another_kind_does_not_count(
        tmp_path: Path) -> None:
    _toy(tmp_path, """
[categories."甲"."养老服务"]
strong = ["养老"]
[categories."乙"."社会保险"]
keywords = ["养老保险"]
[categories."其他"."其他"]
keywords = ["户口"]
""")
    assert _toy_category(tmp_path, "养老保险断缴了怎么办") == "社会保险"
    assert _toy_category(tmp_path, "想找个养老院") == "养老服务"


def test_a_negated_phrase_counts_less(tmp_path: Path) -> None:
    _toy(tmp_path, """
[categories."甲"."供水"]
keywords = ["停水"]
[categories."乙"."供电"]
keywords = ["停电"]
[categories."其他"."其他"]
keywords = ["户口"]
""")
    assert _toy_category(tmp_path, "不是停水 是停电了") == "供电"
    assert _toy_category(tmp_path, "停水了 不是停电") == "供水"


def test_a_place_name_or_a_number_is_not_heard_as_a_phrase(tmp_path: Path) -> None:
    _toy(tmp_path, """
[categories."甲"."医疗服务"]
strong = ["门诊"]
[categories."乙"."学校管理"]
strong = ["霸凌"]
[categories."其他"."其他"]
keywords = ["户口"]
""")
    taxonomy = load_taxonomy(tmp_path / "taxonomy.toml")
    text = "我住西红门镇那边有个事情想说"
    assert classify(compact(text), taxonomy).subcategory.value == "医疗服务"  # 门镇 ~ 门诊
    placed = replace(taxonomy, places=frozenset({"西红门镇"}))
    assert classify(compact(text), placed).subcategory.value != "医疗服务"
    # 八零 in a phone number is no 霸凌.
    number = "路上的事情 电话幺三八零幺零六五四三二"
    assert classify(compact(number), taxonomy).subcategory.value != "学校管理"


def test_the_shipped_taxonomy_knows_the_place_names() -> None:
    assert {"朝阳区", "朝阳", "西红门镇"} <= knowledge().taxonomy.places


def test_no_phrase_is_a_number() -> None:
    """Phone numbers hold every run of digits (12345 is in 01234567)."""
    digits = set("0123456789零〇一幺二两三四五六七八九")
    assert [p for sub in knowledge().taxonomy.subcategories for p, _ in sub.phrases
            if set(p) <= digits] == []


def test_weak_phrases_weigh_half_their_length(tmp_path: Path) -> None:
    _toy(tmp_path, """
[categories."甲"."公交"]
keywords = ["公交"]
weak = ["司机"]
strong = ["末班车"]
[categories."其他"."其他"]
keywords = ["户口"]
""")
    weights = dict(load_taxonomy(tmp_path / "taxonomy.toml").subcategories[0].phrases)
    assert weights == {"公交": 2.0, "司机": 1.0, "末班车": 9.0}


# -- urgency ---------------------------------------------------------------------------------

def urgent(text: str) -> bool:
    tax = knowledge().taxonomy
    return bool(is_urgent(compact(text), tax.urgent, tax).value)


URGENT = [
    "门口的奶也没拿 敲门没人应 打她电话没人接",  # 没 denies 拿, not the knocking
    "红绿灯全灭了 车都往里挤 刚才一辆电动车差点让大货车给刮了",
    "有三四个孩子跑到冰面上去滑冰了 开春了冰都化了 刚还听见咔嚓一声",
    "楼上漏水了 水哗哗的从天花板往下流 这水越来越大了",
    "电梯把人困里头了 孩子在里面一直哭",
    "山上往下掉石头 滚到路中间了 后面车开过来看不见",
    "孩子被锁在车里了 车在太阳底下晒着",
    "停电了 我爸在家一直靠制氧机吸氧",
    "家里没电了 我妈每天要用呼吸机",
    "暖气一直不热 家里九十岁的老人冻得直哆嗦",
    "供暖停了 家里有刚出生的婴儿 屋里才十度",
    "卧室的墙裂开一道大缝 随时可能塌 里面住着两个老人",
    "下暴雨雨水倒灌进家里了 地下室全淹了",
    "有人站在楼顶要跳楼",
    "楼下有人拿刀砍人",
    "我爸突然晕倒了 叫不醒",
    "孩子掉进河里了",
    "我家老人在卫生间摔倒了起不来",
    "楼下的变压器冒烟了还啪啪响",
    "地下室进水了 水已经没过膝盖",
    "有个小孩爬到窗台上了",
    "老人走丢了两个小时了 他有老年痴呆",
    "有人钓鱼掉到水里了",
    "路面它线了出现一个大坑",  # 塌陷了, heard by sound
    "小区门口次来水馆包了 水一直往外冒",  # 水管爆 heard; 来水 written shares only 水
    # The caller asks for someone to be sent at once.
    "快来人啊 这边出事了",
    "你们快派人来看看吧",
    "求求你们快想想办法",
    # Through ice, into a pond.
    "冰面裂了 有人掉下去了",
    # Several people taken ill at once.
    "单位食堂吃完饭好几个人又吐又拉",
    "工地上十几个人中毒了 已经往医院送了",
    # A frail person not back.
    "我母亲有点糊涂 早上出门到现在还没回来",
    # Water pouring into a yard and home.
    "雨水往院子里灌 家里也进水了",
    # No heat for someone in their eighties, or with a heart or lung illness.
    "我妈今年八十七了 家里暖气不热 屋里就十来度",
    "暖气坏了两天了 我爸有心脏病 屋里冷得不行",
    # A frail neighbour who lives alone not seen for days.
    "隔壁的老爷子一个人过 两天没见着人了 敲门也没动静",
    "楼下残疾的大爷好几天没见到人了",
]
NOT_URGENT = [
    "公交站夏天没有遮阳的棚子 前两天还有一个大爷差点中暑 能不能加个候车亭",
    "我想问一下养老保险断了两年还能补缴吗",
    "退休金什么时候发 每个月几号到账",
    "医保卡丢了怎么补办",
    "楼道里堆满了杂物 万一着火了怎么办",
    "电动车在楼道充电 很容易引发火灾",
    "暖气不热 老人孩子都感冒了",
    "买的制氧机质量不好 商家不给退",
    "墙上有点裂缝 想问问找谁鉴定",
    "小区门口天天有人乱停车 我的车出不来",
    "表扬一下民警 帮我们找到了走丢的老人",
    "我想表扬一下消防员 上次我家着火他们五分钟就到了",  # thanks: the danger is over
    "请问燃气费在哪里交",  # 燃气费 is written, not 燃气味 misheard
    "我们村有人把废旧轮胎拉到地里烧",  # 拉到 is no 拿刀: two syllables by sound
    "这个月电费比平时多了三百多",  # 时多了 is no 失火了
    "给孩子报的培训班 老板联系不上了",
    "孩子的出生证明找不到了",
    "电梯坏了 老人上下楼特别困难",  # 困难 is nobody trapped
    "垃圾三天没人清了 你们尽快处理一下",  # impatience about a lasting problem
    "孩子放学还没回来吃饭我就打电话问问学校的课后班怎么报名",
    "我家老人吃了那家的菜也吐了一次 想问问怎么投诉",
    "暖气费一平米八十多块 比去年贵了 想问问怎么回事",  # 八十 is a price, nobody cold
    "老爷子一个人住 想问问能不能申请上门送餐",
]


@pytest.mark.parametrize("text", URGENT)
def test_life_or_safety_at_risk_now_is_urgent(text: str) -> None:
    assert urgent(text)


@pytest.mark.parametrize("text", NOT_URGENT)
def test_questions_and_hypothetical_risks_are_not_urgent(text: str) -> None:
    assert not urgent(text)


# -- appeal type -----------------------------------------------------------------------------

def appeal(text: str) -> str | None:
    c = compact(text)
    tax = knowledge().taxonomy
    return appeal_type(c, tax, urgent=bool(is_urgent(c, tax.urgent, tax).value),
                       has_category=classify(c, tax).category.value is not None).value


APPEALS = [
    ("暖气一直不热 家里太冷了 快帮我们想想办法", "求助"),  # 帮我们 is not praise
    ("下水道堵了好几天 麻烦你们赶快派人来通一下", "求助"),
    ("医院的大夫态度特别差 问两句就不耐烦", "投诉"),
    ("中介扣了我三千押金 一分都不退", "投诉"),
    ("超市价签九块九 结账收了我十二块 还不承认", "投诉"),
    ("培训机构关门了 老板联系不上 要求退费", "投诉"),
    ("酒吧天天放音乐到两三点 根本睡不着", "投诉"),
    ("小区旁边有个黑作坊 没有营业执照 偷偷生产", "举报"),
    ("希望能在我们小区门口增设一个公交站", "建议"),
    ("物业的小王特别负责 大半夜来帮我们修水管 太感谢了", "表扬"),
    ("养老保险断了两年 还能补缴吗", "咨询"),
    ("公租房需要满足什么条件才能申请", "咨询"),
    ("办居住证需要准备哪些材料 在哪办", "咨询"),
    ("物业的保安对业主大呼小叫 还动手推人", "投诉"),
    ("电梯天天坏 物业就是不修", "投诉"),
    ("村口有个黑加油站在卖假油", "举报"),
    ("我觉得小区旁边应该建个公共厕所", "建议"),
    ("能不能把公交站往前挪一点 离路口太近了", "建议"),
    ("谢谢你们上次帮我们把路灯修好了 效率很高", "表扬"),
    ("社区书记帮我们协调好了停车的问题 大家都很满意", "表扬"),
    ("楼下酒吧每天晚上放音乐 声音特别大", "投诉"),  # a noise problem is a complaint
    ("我想执行一下 高龄津贴怎么申请", "咨询"),  # 执行 is no 致谢 (nobody says 致谢)
    # Done at night so that nobody sees it: a report, 举报 unsaid.
    ("村后面有人烧垃圾 白天不烧 专门挑晚上 就是怕人管", "举报"),
    # Overcharging old people is a complaint, however it is put.
    ("一盒降压药医院二十多 门口药店卖八十九 这不是坑我们老人嘛", "投诉"),
    # 我 as an object (冲我) does not make a sound-alike a declared appeal (央一 ≠ 倡议).
    ("大夫态度特别差 问两句就不耐烦 还冲我央一样", "投诉"),
    # An emergency is a call for help, whatever complaint it hints at; said outright, a
    # complaint stays one.
    ("我妈八十七了 暖气不热屋里就十来度 给供暖公司打电话一直没人接 你们赶紧帮着找人去看看",
     "求助"),
    ("我要投诉 燃气公司 楼道里一股煤气味 打电话一直没人接", "投诉"),
    # 态度 heard as 太赌: one character is no cue of gambling.
    ("看病排了两个小时的队 大夫太赌特别差 问两句就不耐烦", "投诉"),
    # Asking whether the money can be got back from a business that vanished.
    ("培训机构门锁了人都跑了 我们到底还能不能把钱要回来", "投诉"),
]


@pytest.mark.parametrize(("text", "want"), APPEALS)
def test_appeal_type_of_everyday_wordings(text: str, want: str) -> None:
    assert appeal(text) == want


def test_no_phrase_is_part_of_a_place_name() -> None:
    """A caller who names their street (天桥街道, 苹果园街道, 临河里街道) says nothing about
    the problem: no taxonomy phrase may sit inside a district or a township's name."""
    data = knowledge()
    names = set(data.gazetteer.districts)
    for unit in data.gazetteer.units:
        names.update(form.full for form in unit.forms)
        names.add(unit.name)
    inside = sorted({(p, n) for sub in data.taxonomy.subcategories for p, _ in sub.phrases
                     for n in names if p in n})
    assert inside == []


# -- appeal type, as callers put it without naming it ----------------------------------------

def drafted(text: str) -> tuple[str | None, str | None]:
    """(category, appeal type) of the whole draft."""
    got = draft(text, None, datetime(2024, 5, 1, 9, 0))
    return got.category.value, got.appeal_type.value


UNNAMED_APPEALS = [
    # Asked what can be done, then asked to do it: help, not a question; asked without
    # the question words too.
    ("孩子该上幼儿园了 没摇上 想问问有没有什么办法能帮协调一个学位", "求助"),
    ("在网上买了一台净化器 到手就是坏的 找商家退货 他们一直拖 说是我人为损坏 不给退 "
     "客服也就会说帮您催促 我真没办法了 你们能帮我协调一下吗", "求助"),
    # A complaint that never says 投诉: worn down, a party that does as it likes.
    ("对面工地天天连轴转 实在受不了了 昨天后半夜还在干", "投诉"),
    ("楼下那家饭馆的排风机吵得人没法休息 天天如此", "投诉"),
    ("门口卖早点的推车把路占了 城管来了就跑 城管一走又回来了", "投诉"),
    ("我们的房子交了好几年了 开发商一拖再拖 房本还是没给办", "投诉"),
    ("我们这站公交说撤就撤 也没征求过老百姓的意见", "投诉"),
    ("物业擅自把小区的绿地改成了停车位 收费还不合理", "投诉"),
    ("这家装修公司收了钱就开始忽悠 活干得一塌糊涂 还不给赔", "投诉"),
    ("我们反映过多少回了 还是不闻不问", "投诉"),
    ("保健品店搞虚假宣传 专门骗老人买东西", "投诉"),
    # A question about a wrong done is a complaint put as a question.
    ("游泳馆突然关门了 我想问问卡里剩的钱还能退吗", "投诉"),
    ("请问物业不给业主开收据 这合法吗", "投诉"),
    ("我想问一下 他们凭什么多收我们两百块", "投诉"),
    # Telling on wrongdoing without saying 举报.
    ("那个化工厂一到晚上就偷着往沟里放废水", "举报"),
    ("我们村有个小诊所 大夫没执照 还给人打吊瓶", "举报"),
    ("刚接到个电话 自称是公安局的 让我把钱转到安全账户", "举报"),
    ("有人在镇上卖假化肥 好多农户都上当了", "举报"),
    ("路口那家小饭馆后面有人聚赌 天天晚上一屋子人", "举报"),
    ("工地上用的都是童工 最小的才十四岁", "举报"),
    # Praise however it is put.
    ("我想夸一夸我们楼的保洁阿姨 每天把楼道擦得干干净净", "表扬"),
    ("必须得夸夸供电所的师傅 大冷天爬杆子给我们抢修", "表扬"),
    ("真得谢谢社区的王主任 帮我们把低保的事办下来了", "表扬"),
    ("给咱们小区的保安竖个大拇指 帮老太太把走丢的孙子找回来了", "表扬"),
    ("派出所的小刘同志帮了我们大忙 真是好样的", "表扬"),
    # Proposals without the word 建议.
    ("我有个想法 小区门口的公交站要是能往南挪一挪该多好", "建议"),
    ("早高峰那趟车能不能多开几趟 是不是可以加密一下班次", "建议"),
    # Questions stay questions.
    ("退役军人的优待证是不是需要本人去办 找哪个部门", "咨询"),
    ("孩子上学需要符合条件的话 要交几年社保 有什么规定", "咨询"),
    # Asking for something to be fixed.
    ("家里下水道堵了 能不能派个人来看看 给疏通一下", "求助"),
    # Written after the set above: told them and nothing happens, thanks, a wish, a question.
    ("跟饭馆老板说了多少次了 油烟还是往我家窗户里灌 都没用", "投诉"),
    ("物业一年收好几千 什么都不干 楼道都没人扫", "投诉"),
    ("快递员从来不送上门 打他电话也不接", "投诉"),
    ("想跟消防队的同志说声谢谢 那天救了我们一家", "表扬"),
    ("我们这片老人多 社区能办个老年食堂吗", "建议"),
    ("退休了以后医保还用接着交吗", "咨询"),
    ("我一个人带俩孩子 家里实在困难 不知道该怎么办", "求助"),
]


@pytest.mark.parametrize(("text", "want"), UNNAMED_APPEALS)
def test_appeal_types_not_named_by_the_caller(text: str, want: str) -> None:
    assert drafted(text)[1] == want


# Broader phrases that must not win where they do not fit.
NOT_THESE_APPEALS = [
    ("楼道灯坏了 麻烦你们尽快处理一下 谢谢你们", "求助"),  # polite thanks are not praise
    ("我想问一下 退休金还能补发吗", "咨询"),  # 还能 about a right, not a wrong done
    ("请问公租房申请需要什么条件", "咨询"),
    ("暖气到现在还不热 屋里才十四度", "求助"),  # a failure, not a party's wrong
    ("保健品店夸大宣传 忽悠老人买", "投诉"),  # 夸大 is no praise
    ("物业的服务态度很好 我就想问问停车费怎么交", "咨询"),
    ("我想咨询一下 押金不退合法吗", "咨询"),  # 咨询 said outright still declares
    ("暖气不热 屋里才十二度 老人冻得受不了", "求助"),  # cold is no grievance
    ("社区能不能给开个证明 我要办低保", "求助"),  # 开个 asks for a paper, not a facility
]


@pytest.mark.parametrize(("text", "want"), NOT_THESE_APPEALS)
def test_broader_appeal_phrases_do_not_overreach(text: str, want: str) -> None:
    assert drafted(text)[1] == want


# More ways each kind of problem is put; (transcript, category) through the whole draft.
CATEGORY_WORDINGS = [
    # The social-security office's hall by its short name (人社) is that office's, not the
    # general government-service hall.
    ("我想表扬一下人社服务大厅的工作人员 帮我把老档案找出来了", "劳动社保"),
    ("我去人社大厅办失业登记 排了一上午队 窗口就开了一个", "劳动社保"),
    # Lost property found: where to hand it in, whoever is named as a place to take it.
    ("我在公交站捡了一个钱包 里面有卡有现金 该交给派出所还是居委会", "其他"),
    ("早上遛弯捡着一个钱包 想还给人家 不知道交到哪", "其他"),
    # An outage with its length said in between (停了三天水) is the utility's outage.
    ("我们村已经停了三天水了 事先一点通知都没有 问村委会说在等配件", "公用事业"),
    ("这个月停了两个礼拜的电 冰箱里东西都坏了", "公用事业"),
    ("我们楼停了三天电梯了 老人上不去楼 物业也不管", "住房管理"),  # 电梯 is no 电
    # The district said with the city (北京通州) is no services app.
    ("我家在北京通州 楼下饭馆油烟太大", "环境保护"),
    # The city's services app and a street office's hall are the general desk's.
    ("现在好多事都得在北京通上办 我注册了一晚上也没弄成 能不能出个老年版", "其他"),
    ("我投诉办事处大厅的一个工作人员 让我开个证明跑了三趟都没给开", "其他"),
    # …but the city's name is no part of the app's name heard by sound (来北京工作).
    ("我刚来北京工作 想问问社保的事 是在网上办还是得跑窗口", "劳动社保"),
    # A restaurant's flue pointed at the windows.
    ("楼底下烤肉店的排烟管直接对着我家窗户 一到饭点烟就往屋里灌", "环境保护"),
    # A bank's counter: the banking regulator's, through the general desk.
    ("那个银行网点只开一个窗口 老人取钱排一上午 柜台还让去机器上自己弄", "其他"),
    # Where to get a licence to trade: the market regulator's.
    ("我想在镇上开个小面馆 营业执照跟食品经营许可证要去哪儿办", "市场管理"),
    # A price said as numbers is no phrase heard by sound (一晚五 is no 易燃物); a village
    # clinic; a seller's guarantee; a shop that keeps tourists until they buy.
    ("一晚五百八包早餐 退房的时候加价另收钱", "市场管理"),
    ("村卫生室就一个大夫 好多人发烧", "卫生健康"),
    ("说是和田玉的镯子 老板说假一赔十 一鉴定是玻璃的", "市场管理"),
    ("停车场旁边有拉客的 把我们拉到一个店里 不买东西不让走", "市场管理"),
    # A bus route or more buses, even where the bus goes to a hospital or a school.
    ("去区医院的公交车太少了 老人看病得等一个钟头 能不能多开几趟", "交通管理"),
    ("我们村到镇卫生院没有直达的车 希望能开通一趟班车", "交通管理"),
    ("早上那趟车发车间隔太长 孩子上学老迟到", "交通管理"),
    ("三四五路车的司机开车太猛 一脚急刹车老人差点摔了", "交通管理"),
    # School enrolment, even where social insurance is a condition.
    ("孩子明年上一年级 我们是外地的 社保交了三年够不够", "教育培训"),
    ("我家老二该上幼儿园了 社区说得有社保证明才能报名", "教育培训"),
    ("非京籍的孩子要满足什么条件才能上学 社保要交多久", "教育培训"),
    # Fraud by telephone or online, however the swindler presents himself.
    ("有人打电话自称是公安局的 说我涉嫌洗钱 让我转到安全账户", "公共安全"),
    ("我妈在网上碰上刷单返利 被人骗了两万多", "公共安全"),
    ("有个人冒充我儿子的领导 让我往他卡里转钱", "公共安全"),
    # Electric bikes kept and charged indoors: a fire risk.
    ("好几户把电动车推进楼道里 晚上就在楼道里充电", "公共安全"),
    ("二楼那家从窗户私拉电线下来给电瓶车充电", "公共安全"),
    ("邻居天天把电瓶拎回家充 楼里的人都担心", "公共安全"),
    # Rocks and earth coming down on homes.
    ("后山上的石头滚下来 把我家后墙砸了个大口子", "公共安全"),
    ("连着下了几天雨 房后的山坡滑坡了 泥都堆到窗户底下", "公共安全"),
    ("村口那片山体有落石 下面就住着好几户", "公共安全"),
    # Someone missing.
    ("我父亲有老年痴呆 早上出去遛弯到现在人找不着", "公共安全"),
    ("我妈出门买菜一直没回来 手机也没带 人不见了", "公共安全"),
    # Benches, pavilions, public toilets.
    ("街心公园的长椅坏了好几个 木条都掉了", "城市管理"),
    ("小广场的凉亭顶漏了 石凳也碎了", "城市管理"),
    ("路边那个公共卫生间脏得没法进 好几天没人打扫", "城市管理"),
    ("村里的旱厕夏天臭得不行 苍蝇乱飞", "城市管理"),
    ("马路上全是坑 骑车都得绕着走", "城市管理"),
    ("门口天天有人推着小推车卖煎饼 城管来了就跑", "城市管理"),
    # Blowing sand and dust from bare ground.
    ("村东那片地光秃秃的 一刮风沙土漫天 窗台上一层土", "环境保护"),
    ("旁边空地上的土方没苫盖 风一吹眼都睁不开", "环境保护"),
    ("开春以后天天刮风 附近的荒地扬沙特别厉害", "环境保护"),
    ("工地晚上施工 灰尘特别大", "环境保护"),
    # Noise, by its sound and its hour.
    ("对面工地晚上十一点了还在打桩 哐哐的", "环境保护"),
    ("楼上天天半夜拖东西 咣当咣当的 孩子都被吵醒了", "环境保护"),
    ("厂子里的机器嗡嗡响 一直响到半夜", "环境保护"),
    ("村后那条河黑臭黑臭的 上面还漂着死鱼", "环境保护"),
    ("附近那个厂子一股塑料味 熏得人头疼", "环境保护"),
    # Fake goods and farm inputs.
    ("在镇上农资店买的化肥是假的 庄稼全烧了", "市场管理"),
    ("买的种子是假种子 种下去一棵苗都没出来", "市场管理"),
    ("在商场买的名牌包是假名牌 商家不认", "市场管理"),
    ("健身房换了老板 卡里还有三千块 新老板不认了", "市场管理"),
    # Other everyday wordings.
    ("开发商拖了三年 房本还是没下来", "住房管理"),
    ("楼顶防水坏了 一下雨墙就往下渗水", "住房管理"),
    ("高层水压不够 到了晚上根本上不去水", "公用事业"),
    ("家里的灯忽明忽暗的 电线老化了好多年", "公用事业"),
    ("宽带的光猫老掉线 营业厅也不管", "公用事业"),
    ("路口的绿灯时间太短 老人过不去马路", "交通管理"),
    ("有辆车在小区门口长期停放 落满了灰", "交通管理"),
    ("楼下小卖部卖过期的药", "卫生健康"),
    ("村里有个小诊所 没执照还给人挂吊瓶", "卫生健康"),
    ("楼上有人往下扔垃圾 差点砸到人", "公共安全"),
    ("村里的集体收入好几年都没公开过", "其他"),
    # Written after the set above, without tuning: what it missed.
    ("居委会给开个居住证明 推三阻四的", "民政服务"),  # not 居住证 (其他)
    ("老板一直不给我们上保险 干了两年了", "劳动社保"),
    ("干了五年 单位突然不让我干了 一分钱补偿都没有", "劳动社保"),
    ("楼上洗澡的水渗到我家 墙发霉了", "住房管理"),  # not 发霉 of food
    ("一下暴雨小区门口就成河了", "公用事业"),
    ("对方说是医保局的 说我的医保卡违规了 让我转账", "公共安全"),
    ("饭店包间里老有人抽烟 服务员也不管", "卫生健康"),  # 饭店 only says where
]


@pytest.mark.parametrize(("text", "cat"), CATEGORY_WORDINGS)
def test_category_of_more_everyday_wordings(text: str, cat: str) -> None:
    assert drafted(text)[0] == cat


# Broader category phrases that must not take a call that is about something else.
NOT_THESE_CATEGORIES = [
    ("好多电动车在马路上逆行 还闯红灯", "交通管理"),  # 电动车 only hints at fire
    ("我的电动车在楼下被偷了", "公共安全"),
    ("门口的杨絮满天飞 迷得睁不开眼", "城市管理"),  # trees, not blowing dust
    ("孩子上学路上有个井盖没了", "城市管理"),  # 上学 only says why they pass there
    ("公司天天让我们干到半夜 也不给加班费", "劳动社保"),  # no noise complaint
    ("我家卫生间的马桶堵了 下水不通", "公用事业"),  # a toilet at home is no public toilet
    ("请问晚点再打过来可以吗 我要问社保的事", "劳动社保"),  # 晚点 is no late bus
    ("我家的猫跑到邻居家房顶上去了下不来", "其他"),
    ("有人冒充物业上门收费", "公共安全"),  # the swindle, not the property company
    ("我们楼是八十年代的老楼 六层没电梯 大家想加装个电梯 找谁申请 政府给不给补贴", "住房管理"),
    ("院里有间出租房 天天晚上一帮人打牌赌钱", "公共安全"),  # gambling, not the rental
    # someone sleeping rough in the cold: social assistance (救助), not health or heating
    ("桥底下有个老大爷就穿一件单褂子 身上冰凉冰凉的 你们赶紧派救助的人来", "民政服务"),
]


@pytest.mark.parametrize(("text", "cat"), NOT_THESE_CATEGORIES)
def test_broader_category_phrases_do_not_overreach(text: str, cat: str) -> None:
    assert drafted(text)[0] == cat


# A good deed done by a member of the public, praised: no service's department is asked to
# do anything, so the call is 其他 (好人好事), not the scene of the deed (a bus stop, a fall).
GOOD_DEEDS = [
    "我想表扬一个路过的小伙子 昨天我在公交站摔了 他把我扶起来还给我叫了车 连名字都没留",
    "打电话谢谢一个送外卖的小伙子 我妈在菜市场门口晕了 他一直陪着等救护车来",
    "我要表扬一个快递小哥 我的钱包掉在小区门口 他捡到以后原封不动给我送回来了",
    "想夸夸一位好心人 前天我家孩子在公园跟我走散了 是她领着孩子找到我的 连名字都没留",
]
# The same words in calls that praise no one are part of another story.
NOT_GOOD_DEEDS = [
    ("快递小哥天天把快递扔在楼下 丢了好几个也没人管", "市场管理"),
    ("小区门口有个老人摔倒了 路过的小伙子把他扶起来 可老人头上一直流血 叫也叫不醒", "公共安全"),
    # …nor is the 谢谢 that ends a call praise.
    ("小区门口有个老人摔倒了 路过的小伙子把他扶起来 可老人头上一直流血 叫也叫不醒 你们快派人来"
     " 谢谢", "公共安全"),
    ("路上有个老人晕倒了 好心人正在做心肺复苏 你们赶紧来 谢谢", "公共安全"),
]


@pytest.mark.parametrize("text", GOOD_DEEDS)
def test_a_passers_good_deed_praised_is_for_no_department(text: str) -> None:
    assert category(text) == ("其他", "好人好事")


@pytest.mark.parametrize(("text", "cat"), NOT_GOOD_DEEDS)
def test_a_good_deeds_words_count_only_in_praise(text: str, cat: str) -> None:
    assert category(text)[0] == cat


@pytest.mark.parametrize(("text", "cat"), [
    ("感谢街道办的工作人员 二话不说就帮我办好了", "其他"),  # 政务服务, not 好人好事
    ("谢谢物业的维修师傅 二话不说就把水管修好了", "住房管理"),
    ("表扬一下我们小区的物业小伙子 下大雪 他们二话不说把路都扫出来了", "住房管理"),
])
def test_a_good_deed_by_a_service_is_that_services(text: str, cat: str) -> None:
    assert category(text)[1] != "好人好事"
    assert category(text)[0] == cat


def test_a_praised_service_is_still_its_department() -> None:
    assert category("我想表扬一位公交司机 我妈下车的时候差点摔了 司机师傅把她扶起来送到路边")[0] \
        == "交通管理"
    assert category("表扬一下派出所的民警 我家老人走丢了 一个小伙子民警找了一宿")[0] == "公共安全"
