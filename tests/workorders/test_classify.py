"""Category/subcategory, appeal type and urgency from the taxonomy's phrase rules."""

from __future__ import annotations

import pytest

from workorders.classify import appeal_type, classify, is_urgent
from workorders.knowledge import knowledge
from workorders.text import compact


def category(text: str) -> tuple[str | None, str | None]:
    found = classify(compact(text), knowledge().taxonomy)
    return found.category.value, found.subcategory.value


# (transcript, category, subcategory)
CATEGORIES = [
    ("小区的电梯又坏了 物业光说修也不见人", "住房管理", "电梯"),
    ("物业不作为 楼道里堆满了杂物也不清理", "住房管理", "物业服务"),
    ("物业乱收费 停车费一个月涨了三百", "住房管理", "物业服务"),
    ("楼顶一下雨就漏 家里天花板都泡了", "住房管理", "房屋漏水"),
    ("楼上卫生间往下渗水 我家墙皮都掉了", "住房管理", "房屋漏水"),
    ("房东不退押金 说好的合同到期就退", "住房管理", "房屋租赁"),
    ("开发商延期交房两年了", "住房管理", "房产交易"),
    ("暖气到现在还不热 屋里才十四度", "公用事业", "供暖"),
    ("我们小区停水两天了也没有通知", "公用事业", "供水"),
    ("自来水发黄 有股铁锈味", "公用事业", "供水"),
    ("燃气费交了但是卡里没显示气量", "公用事业", "燃气"),
    ("楼道里有股煤气味 怕是漏气了", "公用事业", "燃气"),
    ("一直停电 冰箱里的东西都坏了", "公用事业", "供电"),
    ("路边电线掉下来了还冒火花", "公用事业", "供电"),
    ("下水道堵了 污水都返到院子里", "公用事业", "排水"),
    ("井盖没了 就一个大窟窿", "城市管理", "市政设施"),
    ("路灯坏了好几个月了晚上黑漆漆的", "城市管理", "市政设施"),
    ("下水道井盖没了", "城市管理", "市政设施"),
    ("垃圾桶满了好几天没人收都溢出来了", "城市管理", "环境卫生"),
    ("楼下有人私搭乱建盖了个彩钢房", "城市管理", "违法建设"),
    ("地铁口好多摆摊的小商贩 占道经营", "城市管理", "占道经营"),
    ("小区门口的大树树枝快碰到电线了该修剪了", "城市管理", "园林绿化"),
    ("楼下KTV天天唱到后半夜 吵得睡不着", "环境保护", "噪声污染"),
    ("工地晚上十一点还在施工 噪音特别大", "环境保护", "噪声污染"),
    ("广场舞音响太大声 每天晚上都扰民", "环境保护", "噪声污染"),
    ("工地扬尘特别大 也不苫盖", "环境保护", "扬尘"),
    ("楼下烧烤店油烟太大 熏得没法开窗", "环境保护", "大气污染"),
    ("有人在村里焚烧垃圾 烟特别大", "环境保护", "大气污染"),
    ("有工厂往河里偷排污水 河水都发臭了", "环境保护", "水污染"),
    ("小区车位太少 外面的车都停进来", "交通管理", "停车管理"),
    ("门口天天有人乱停车 车都出不去", "交通管理", "停车管理"),
    ("建议九百一十路公交晚上延长运营时间", "交通管理", "公交"),
    ("出租车司机拒载还绕路", "交通管理", "出租网约车"),
    ("这个路口的红绿灯坏了 早晚高峰堵得厉害", "交通管理", "道路交通"),
    ("小饭馆卖过期的食品 吃完拉肚子了", "市场管理", "食品安全"),
    ("超市卖的肉是坏的", "市场管理", "食品安全"),
    ("在网上买了个电饭煲是坏的 商家不给退款", "市场管理", "网络交易"),
    ("健身房办了卡现在跑路了 钱退不回来", "市场管理", "消费纠纷"),
    ("菜市场缺斤短两", "市场管理", "消费纠纷"),
    ("餐馆打工老板三个月没发工资了", "劳动社保", "拖欠工资"),
    ("包工头拖欠我们工钱 快过年了还不给", "劳动社保", "拖欠工资"),
    ("公司不签劳动合同 还无故辞退我", "劳动社保", "劳动关系"),
    ("社保断交了怎么补缴", "劳动社保", "社会保险"),
    ("培训机构在学校附近违规开学科培训班", "教育培训", "社会办学"),
    ("孩子明年上小学 入学需要准备什么材料", "教育培训", "入学"),
    ("孩子打疫苗在哪里预约需要带什么证件", "卫生健康", "疫苗接种"),
    ("医院挂号太难了 排了一上午", "卫生健康", "医疗服务"),
    ("医保异地就医怎么报销", "卫生健康", "医疗保障"),
    ("社区工作人员帮我们老两口办了养老补贴", "民政服务", "养老服务"),
    ("高龄津贴怎么申请", "民政服务", "养老服务"),
    ("想问问低保怎么申请", "民政服务", "社会救助"),
    ("楼道里有人飞线充电 电动车停满了消防通道", "公共安全", "消防安全"),
    ("有人打着投资的名义搞诈骗", "公共安全", "社会治安"),
    ("楼上有人高空抛物差点砸到人", "公共安全", "安全隐患"),
]


@pytest.mark.parametrize(("text", "cat", "sub"), CATEGORIES)
def test_category(text: str, cat: str, sub: str) -> None:
    assert category(text) == (cat, sub)


@pytest.mark.parametrize(
    "text", ["喂 你好 我 我 想 问 一下 那个 那个 算了 没事", "我姓诸葛电话一三八一一二二三三四四"]
)
def test_no_category_without_content(text: str) -> None:
    assert category(text) == (None, None)


def test_unmatched_content_is_other_with_low_confidence() -> None:
    found = classify(compact("我家的猫跑到邻居家房顶上去了下不来怎么办呢"), knowledge().taxonomy)
    assert found.category.value == "其他"
    assert found.category.confidence < 0.5


def appeal(text: str, menu_choices: tuple[str, ...] = ()) -> str | None:
    c = compact(text)
    tax = knowledge().taxonomy
    has_category = classify(c, tax).category.value is not None
    urgent = bool(is_urgent(c, tax.urgent).value)
    return appeal_type(c, tax, urgent=urgent, has_category=has_category,
                       menu_choices=menu_choices).value


APPEALS = [
    ("我要举报我们楼下的小饭馆卖过期的食品", "举报"),
    ("有个培训机构违规开学科培训班 我要举报", "举报"),
    ("我想咨询一下孩子打疫苗在哪里预约", "咨询"),
    ("想问一下高龄津贴怎么申请", "咨询"),
    ("请问公租房怎么申请", "咨询"),
    ("楼下KTV天天唱到后半夜 我要投诉", "投诉"),
    ("我想投诉一下物业 不作为", "投诉"),
    ("建议搞个停车管理只让业主的车进", "建议"),
    ("我提个建议 公交晚上能不能延长运营时间", "建议"),
    ("表扬一下社区工作人员 特别热心", "表扬"),
    ("我想表扬一下派出所的民警", "表扬"),
    ("我不是要投诉 就是想咨询一下暖气什么时候来", "咨询"),
    ("我想咨询一下怎么投诉无证经营", "咨询"),
    ("我要反映一下 物业光说修也不见人", "投诉"),
    ("求助 家里老人摔倒了起不来", "求助"),
    ("暖气到现在还不热 屋里才十四度", "求助"),  # a problem to fix, nothing declared
    # 打听了 tells what the caller did; 打听一下 asks
    ("透析室要装修三个月 我打听了三家都说排满了 您帮我想想办法", "求助"),
    ("我想打听一下公租房排到哪儿了", "咨询"),
    # a favour asked for us as for me: 帮我们问问
    ("公司去年的租金到现在也没给 你们帮我们问问", "求助"),
]


@pytest.mark.parametrize(("text", "want"), APPEALS)
def test_appeal_type(text: str, want: str) -> None:
    assert appeal(text) == want


def test_no_appeal_type_for_an_empty_call() -> None:
    assert appeal("喂 你好 那个 算了") is None


MENU_APPEALS = [
    # (transcript, options chosen in the IVR, appeal type)
    ("暖气到现在还不热 屋里才十四度", ("投诉举报",), "投诉"),  # the key alone decides
    ("暖气到现在还不热 屋里才十四度", ("咨询",), "咨询"),
    ("有个黑作坊天天往河里偷排污水", ("投诉举报",), "举报"),  # a cue picks among the two
    ("我想咨询一下孩子打疫苗在哪里预约", ("投诉举报",), "咨询"),  # words said outright win
    ("楼下KTV天天唱到后半夜", ("建议表扬",), "建议"),
    ("表扬一下社区工作人员", ("建议表扬",), "表扬"),
    ("暖气不热", ("人工", "求助"), "求助"),  # the last choice that names a type
    ("暖气不热", ("人工",), "求助"),  # a label naming no type changes nothing
    # Many weak cues are still not the caller naming the type: the key stands.
    ("我反映一下 物业不作为 没人管 天天扰民", ("咨询",), "咨询"),
]


@pytest.mark.parametrize(("text", "choices", "want"), MENU_APPEALS)
def test_menu_choice_guides_the_appeal_type(text: str, choices: tuple[str, ...],
                                            want: str) -> None:
    assert appeal(text, choices) == want


def test_menu_choice_alone_gives_the_type_with_less_confidence_than_words() -> None:
    tax = knowledge().taxonomy
    keyed = appeal_type(compact("喂"), tax, urgent=False, has_category=False,
                        menu_choices=("投诉举报",))
    said = appeal_type(compact("我要投诉"), tax, urgent=False, has_category=False,
                       menu_choices=("投诉举报",))
    assert (keyed.value, keyed.span) == ("投诉", None)
    assert said.value == "投诉" and said.confidence > keyed.confidence


URGENT = [
    "电梯困人了 有个老人关在电梯里半个小时了",
    "我被困在电梯里了",
    "楼道里燃气泄漏 味道很大",
    "闻到很大的煤气味",
    "路边有根电线落地了还在冒火",
    "电线掉下来了 冒火花",
    "井盖没了 就一个大窟窿 太危险了",
    "路口的井盖丢了",
    "井盖被偷了 晚上看不见",
    "路面塌陷了一个大坑",
    "楼下着火了",
    "自来水管爆了 水都淹到楼道了",
    "污水井冒出来的水漫到路上结冰了 老人都滑倒了",
    "下水道的污水倒灌进家里 电箱就在旁边",
]
NOT_URGENT = [
    "小区的电梯又坏了 物业光说修",
    "电梯里没有人被困 就是坏了",
    "暖气不热 老人孩子都感冒了",
    "垃圾桶满了都溢出来了",
    "燃气费交了但是卡里没显示气量",
    "下水道有点堵 排水慢",
    "楼上装修太吵了",
    "路灯坏了",
]


@pytest.mark.parametrize("text", URGENT)
def test_urgent(text: str) -> None:
    found = is_urgent(compact(text), knowledge().taxonomy.urgent)
    assert found.value is True
    assert found.span is not None


@pytest.mark.parametrize("text", NOT_URGENT)
def test_not_urgent(text: str) -> None:
    assert is_urgent(compact(text), knowledge().taxonomy.urgent).value is False


@pytest.mark.parametrize(
    "text",
    [
        "电梯卡在三楼和四楼之间 里面有人出不来",
        "我妈被关在电梯里了",
        "家里煤气管道漏了 味道很大",
        "楼道里的天然气管子呲呲往外漏气",
        "电线耷拉到地上还在打火",
        "高压线断了掉在路边",
        "井盖不知道被谁拿走了",
        "人行道上的下水井没盖子 敞着",
        "污水井往外冒污水 流到马路上结冰了 老人路过滑倒了",
    ],
)
def test_urgent_however_it_is_put(text: str) -> None:
    assert is_urgent(compact(text), knowledge().taxonomy.urgent).value is True


@pytest.mark.parametrize(
    "text",
    [
        "电梯老是坏 物业不修",
        "燃气费太贵了",
        "电线杆上贴满了小广告",
        "井盖一压就响 吵得睡不着",
        "污水处理费是怎么收的",
    ],
)
def test_not_urgent_when_the_hazard_words_are_not_there(text: str) -> None:
    assert is_urgent(compact(text), knowledge().taxonomy.urgent).value is False


# Paraphrases: other words for the same kinds of problem (top level only).
PARAPHRASES = [
    ("我们楼的电梯三天两头停运", "住房管理"),
    ("房子买了五年了还办不下来房产证", "住房管理"),
    ("家里水龙头一打开出来的都是黄水", "公用事业"),
    ("供热公司说管道有问题 家里暖气片冰凉", "公用事业"),
    ("天然气表不走字了", "公用事业"),
    ("我们这一片晚上经常断电", "公用事业"),
    ("楼下商铺的空调外机噪音特别大 晚上嗡嗡响", "环境保护"),
    ("附近的搅拌站粉尘特别大 衣服都不敢晒", "环境保护"),
    ("对面工厂烟囱冒黑烟 有股刺鼻的味道", "环境保护"),
    ("地铁站早高峰太挤了 建议加开班次", "交通管理"),
    ("小区门口的马路上天天有大货车超速", "交通管理"),
    ("网约车司机多收了我五十块钱", "交通管理"),
    ("超市里卖的鸡蛋过了保质期", "市场管理"),
    ("理发店办的会员卡现在不给用了", "市场管理"),
    ("直播间买的化妆品是假货 客服也不理", "市场管理"),
    ("公司不给交社保 还不签合同", "劳动社保"),
    ("干了半年活 工头一分钱没给", "劳动社保"),
    ("孩子学校乱收资料费", "教育培训"),
    ("小区里有人开了个补习班 没有资质", "教育培训"),
    ("社区医院开药太难了", "卫生健康"),
    ("孩子的预防针本丢了怎么补办", "卫生健康"),
    ("我妈想去养老院 不知道怎么申请", "民政服务"),
    ("我们家是低保户 补助这个月还没发", "民政服务"),
    ("楼道里堆满了纸箱子 堵住了消防通道", "公共安全"),
    ("有人冒充公检法打电话骗钱", "公共安全"),
    ("路边的垃圾好几天没人清理了 臭气熏天", "城市管理"),
    ("小区旁边有人私自盖房子", "城市管理"),
    ("马路上有个大坑 好几个人都摔了", "城市管理"),
    ("楼下早点摊占道经营 人都过不去", "城市管理"),
    ("快递员把我的快递弄丢了 快递公司也不赔", "市场管理"),
    ("邻居家装修把承重墙砸了", "住房管理"),
    ("小区充电桩坏了好久了", "住房管理"),
    # shared bikes left across the way: street order, as two blind sets label it
    ("共享单车把盲道都占满了", "城市管理"),
    ("我想问一下居住证怎么办理", "其他"),
    ("户口迁移需要什么材料", "其他"),
    # lost property found: where to hand it in, though it was found at the metro
    ("我今天在地铁口捡到一个钱包 是应该交给派出所还是交给地铁站", "其他"),
    # everyday wordings: watering the fields, a repair shop's bill, services moved online
    ("村里的沟渠让人堵上了 小麦浇不上水", "其他"),
    ("在电脑城修手机 说好换个屏三百 修完了非要一千八 不给钱不让走", "市场管理"),
    ("现在好多事都让在手机上办 我们岁数大的不会用手机 窗口能不能保留人工办理", "其他"),
    # more everyday wordings (category_probe3)
    ("叫了个开锁师傅上门 电话里说好五十 开完了说要三百", "市场管理"),
    ("有人在村边的空地上偷偷埋医疗垃圾 针头输液袋都露出来了", "环境保护"),
    ("我父亲退伍时候的档案转到地方以后找不着了", "民政服务"),
]


@pytest.mark.parametrize(("text", "cat"), PARAPHRASES)
def test_category_of_paraphrases(text: str, cat: str) -> None:
    assert category(text)[0] == cat


# Praise is about whom it is for, named just after the word of praise, not about the
# trouble they solved for the caller.
PRAISE = [
    ("我想表扬一下派出所户籍窗口的民警 我身份证过期了 他们帮我加急办了临时身份证", "公共安全"),
    ("我就想表扬一下你们的接线员 上次我反映楼下下水道堵了 她特别耐心 事情也解决了",
     "其他"),
    ("我想表扬一下我们社区的小孙 我感冒发烧 她天天给我送药还帮我联系医生", "民政服务"),
    # the property's repairman, however strong the burst pipe he mended (水管爆)
    ("我想表扬我们小区物业的一个维修师傅 前天半夜我家水管爆了 他十分钟就到了 一直忙到后半夜",
     "住房管理"),
]


@pytest.mark.parametrize(("text", "cat"), PRAISE)
def test_praise_is_about_whom_it_is_for(text: str, cat: str) -> None:
    assert category(text)[0] == cat


def test_the_praised_service_does_not_outweigh_a_complaint() -> None:
    # A word of praise only counts for what follows it: the complaint stays the call.
    assert category("楼上卫生间往下渗水 我家墙皮都掉了 感谢你们") == ("住房管理", "房屋漏水")


def test_what_follows_a_declared_complaint_names_its_matter() -> None:
    # 群租 right after 我要举报 outweighs the fire the caller fears at the end.
    text = ("我要举报我们楼上那户群租 一套两居室住了二十来个人 楼道里堆的全是电动车电池"
            " 我真怕哪天着火")
    assert category(text)[0] == "住房管理"


def test_variant_characters_the_asr_writes_are_read_as_the_usual_ones() -> None:
    # 安全帐户 (帐 for 账) is the 安全账户 of a scam; 亮著 the 亮着 of 灯一直亮着
    text = "有人打电话说我的医保卡被冒用了 让我把钱转到安全帐户"
    found = appeal_type(compact(text), knowledge().taxonomy, urgent=False, has_category=True)
    assert found.value == "举报"
    assert compact("灯一直亮著").text == "灯一直亮着"
    span = compact("转到安全帐户").span(2, 6)
    assert span == (2, 6)  # spans still point at what the ASR wrote


# Danger now, put in ways the phrase list did not have (set H's misses, read as dev data).
@pytest.mark.parametrize(
    "text",
    [
        "楼道里有辆电动车在充电 电池那儿冒白烟了 还有一股焦糊味",
        "楼上水管好像爆了 水顺着天花板往下流",
        "暖气管子崩了 水往外喷",
        "暖气停了 屋里才十度 家里有个刚满月的孩子冻得直哭",
        "对方说是公安局的 让我爸把钱转到安全账户 他已经转了五万 现在还在跟人打电话",
        "刚下完雨 山上塌下来一大堆石头 把路堵了",
        # someone vulnerable not seen for days, no sound behind the door
        "对门老太太一个人住 这都三天没见着她了 敲了半天门里头一点动静都没有",
    ],
)
def test_urgent_danger_put_in_everyday_words(text: str) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is True


@pytest.mark.parametrize(
    "text",
    [
        # praise for a repair: the burst pipe is over
        "我就想夸夸物业的维修师傅 前天我家暖气管子突然爆了 他们十分钟就到了",
        # a scam the caller reports, no money moving now
        "有人搞健康讲座卖保健品 我爸已经被骗进去两万多了 拦都拦不住",
        "烟囱天天冒黑烟 呛得人睡不着",
    ],
)
def test_not_urgent_where_the_danger_is_past_or_no_danger(text: str) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is False


@pytest.mark.parametrize(
    ("text", "cat"),
    [
        # what the caller asks how to do is the matter, not the insurance named in passing
        ("我们是外地户口 在北京交社保五年了 孩子明年该上小学了 需要准备哪些材料", "教育培训"),
        # an e-bike smoking while it charges is a fire, not air pollution
        ("楼道里有辆电动车在充电 电池那儿冒白烟了 还有一股焦糊味 我让邻居都往楼下跑了",
         "公共安全"),
        # a river dredged and planted: the environment
        ("我想表扬一下镇政府 那条河以前又脏又臭 这两年清淤种树 现在水清了", "环境保护"),
        # a free class at the culture station, not a training school
        ("我们这儿有满族剪纸那个非遗 听说镇上文化站有免费的培训班 我退休了想去学 去哪儿报名",
         "其他"),
        # shared bikes heaped up in the lane: street order
        ("胡同口的共享单车堆得跟小山似的 把路都堵死了", "城市管理"),
    ],
)
def test_category_of_set_h_wordings(text: str, cat: str) -> None:
    assert category(text)[0] == cat


def test_a_rhetorical_bushi_denies_nothing_and_feiyao_is_no_feiyi() -> None:
    # 这不是宰人吗 asks, it does not deny; 非要 sounds like 非遗, counted only where written
    assert category("蹬三轮的说一个人三十 拉我们转了一圈下来非要六百 这不是宰人吗")[0] \
        == "市场管理"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # a question that asks for something to be done asks for help
        ("我母亲卧床下不了楼 想问问能不能请社区医生上门给换胃管", "求助"),
        ("垃圾站半个月没人拉了 想问问能不能帮我们催一下", "求助"),
        # a question about how things are done stays a question
        ("想问问营业执照能不能网上办", "咨询"),
        ("我想问问低保怎么申请 要准备什么材料", "咨询"),
    ],
)
def test_a_question_asking_for_something_to_be_done(text: str, want: str) -> None:
    found = appeal_type(compact(text), knowledge().taxonomy, urgent=False, has_category=True)
    assert found.value == want


@pytest.mark.parametrize(
    "text",
    [
        # a remedy tried that failed, nobody answering for it, money gone: a complaint
        "给孩子报了英语课 交了两万八 现在门都锁了 钱一分都退不回来",
        "暖气一直不热 找了热力公司来放了放气 还是不热",
        "采石场天天放炮 我家墙都震裂了 这房子要是塌了谁负责",
    ],
)
def test_a_grievance_never_called_a_complaint(text: str) -> None:
    found = appeal_type(compact(text), knowledge().taxonomy, urgent=False, has_category=True)
    assert found.value == "投诉"


@pytest.mark.parametrize(
    ("text", "cat"),
    [
        # 楼上水管: no 上水 (water supply) in it; the flat's pipe burst is the housing's
        ("楼上水管爆了 水顺着天花板往下流 吊灯里都在滴水", "住房管理"),
        # a gas cylinder named as a hazard does not make a kindergarten a gas supply matter
        ("村口有个小院挂着双语幼儿园的牌子 根本没有办学资质 做饭用的液化气罐就堆在院里",
         "教育培训"),
        # a child locked in a car in a car park is an emergency, not parking
        ("超市的露天停车场有辆车里锁着一个小孩 车窗关得严严实实 孩子哭得满头大汗", "公共安全"),
        # thanks to the hotline's staff: the praise is for them, not the street light
        ("上回反映村里路灯不亮 现在路灯都亮了 我就想说一声谢谢你们这个热线的工作人员", "其他"),
    ],
)
def test_category_of_set_i_wordings(text: str, cat: str) -> None:
    assert category(text)[0] == cat


def test_asking_for_help_in_other_words() -> None:
    text = "我想求个帮助 借给老乡五万块钱 他一直拖着不还 听说有免费的法律援助"
    found = appeal_type(compact(text), knowledge().taxonomy, urgent=False, has_category=True)
    assert found.value == "求助"


def test_a_child_locked_in_a_car_is_urgent() -> None:
    taxonomy = knowledge().taxonomy
    text = compact("停车场有辆车里锁着一个小孩 车窗关得严严实实")
    assert is_urgent(text, taxonomy.urgent, taxonomy).value is True


def _appeal(text: str, *, urgent: bool = False) -> str | None:
    return appeal_type(compact(text), knowledge().taxonomy, urgent=urgent,
                       has_category=True).value


def test_a_stretch_of_text_is_one_cue_however_many_cues_it_holds() -> None:
    # 该找谁 holds 找谁: one question, not two, against two signs of distress
    text = "房东扣着押金 我特别着急 这事该找谁 你们能派人来吗"
    assert _appeal(text) == "求助"


def test_a_surname_spelled_with_jiage_proposes_nothing() -> None:
    # 革字旁加个斤: the caller spells 靳; 加个 is not a proposal here
    text = "我们村停了好几回电 每回都没通知 冰箱东西都坏了 我姓靳 革字旁加个斤两的斤"
    assert _appeal(text) == "投诉"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # asked outright: help me
        ("我在工地摔伤了老板不给报销 这算不算工伤 该找谁 您帮帮我", "求助"),
        # a thought offered, or a proposal with its own fallback, is a suggestion
        ("我说说想法啊 社区图书室晚上七点就关了 上班族根本赶不上", "建议"),
        ("办证大厅周末不开门 能不能星期天也开半天 哪怕就一个窗口也行", "建议"),
        ("渣土车路上掉土 能不能让他们盖严实点 再不行就别让白天走了", "建议"),
        # the call is made to thank: the trouble it tells of was solved
        ("楼下超市卖的米一直拖着不给退 后来街道的刘干事帮我协调好了 "
         "我打电话来谢谢他", "表扬"),
        # told that nobody can stop it, or asked what sort of treatment this is
        ("楼下饭馆油烟直冲我家窗户 跟老板说了 他说手续齐全谁也管不着", "投诉"),
        ("半个月停了六回电 每次都不说一声 你说这算怎么回事", "投诉"),
        # wrongdoing a citizen tells on, and asks the authority to look into
        ("孩子的班主任周末在家里搞有偿补课 不去的孩子就被冷落", "举报"),
        ("对面楼好几户从窗户里飞线给电动车充电 电线就在外面吊着", "举报"),
    ],
)
def test_appeal_type_from_what_the_caller_wants(text: str, want: str) -> None:
    assert _appeal(text) == want


@pytest.mark.parametrize(
    "text",
    [
        # a person lying out in the cold, or frozen stiff
        "地铁口台阶上躺着个老太太 今晚零下十几度 她冻得直哆嗦",
        "路边有个人冻僵了 一动不动",
    ],
)
def test_exposure_to_the_cold_is_urgent(text: str) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is True


@pytest.mark.parametrize(
    "text",
    [
        # a stove that will not light is no fire
        "家里燃气灶打不着火了 想让燃气公司来看看",
        # wind, not water, blows into the village yards
        "废品站天天烧塑料 黑烟顺着风往村里灌 院子里晾的衣服全是味儿",
    ],
)
def test_not_urgent_where_the_words_only_look_like_danger(text: str) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is False


@pytest.mark.parametrize(
    ("text", "cat"),
    [
        # a stall's scale checked at the market's fair scale: short weight is the market's
        ("早市卖肉的那个摊秤有问题 我拿到公平秤上一称少了三两", "市场管理"),
        # a flooded underpass with a car stuck in it: the road must be closed
        ("铁路桥底下的涵洞积水一米多深 有辆车熄火了 赶紧封路吧", "交通管理"),
    ],
)
def test_category_of_set_j_wordings(text: str, cat: str) -> None:
    assert category(text)[0] == cat


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # a question the caller reports having asked someone is no question to us
        ("楼下工地天天夜里施工 吵得睡不着 我问过他们有没有许可 我问他们还要多久 他们也不理",
         "投诉"),
        # a favour asked: find out for me
        ("我在工地摔伤了腿 老板不管了 你们能帮我问问这算不算工伤吗", "求助"),
        # 加个 on a surname's spelling proposes nothing
        ("小区停水了也没通知 我姓邬 乌鸦的乌加个耳朵旁", "投诉"),
        # an account demanded, rudeness, the same failure again
        ("一个月停了五回电 总得给个说法吧", "投诉"),
        ("去医院开药 那护士爱理不理的 态度也太差了", "投诉"),
        ("这趟公交又是过站不停 这都不是第一回了", "投诉"),
        # a wrong done that the caller tells on
        ("楼顶那户搭了个彩钢房 这明摆着是违建", "举报"),
        ("地铁口全是拉黑活的车 一个人要四十", "举报"),
        # something to be made into something better
        ("河边那块荒地能不能弄成个小公园 大家也有个遛弯的地方", "建议"),
    ],
)
def test_appeal_type_from_set_k_wordings(text: str, want: str) -> None:
    assert _appeal(text) == want


@pytest.mark.parametrize("text", ["孩子明年该上小鞋了 户口不在这边 要什么手续",
                                  "转过来以后协级一直转不过来 两头踢皮球"])
def test_school_words_as_whisper_writes_them_on_the_phone(text: str) -> None:
    # 学 heard as 鞋 / 协: what the ASR writes for 上小学, 学籍 on telephone audio
    assert category(text)[0] == "教育培训"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # a proposal with its own fallback is a suggestion; a favour for oneself is not
        ("图书室周末不开门 能不能周六也开 哪怕开半天也行", "建议"),
        ("我八十多了做不动饭 能不能给我也安排上送餐 哪怕一天送一顿呢", "求助"),
        # asked to find someone
        ("我想找一个失散多年的老战友 你们能不能帮着打听打听", "求助"),
        # reported again and again to no use
        ("暖气一直不热 给热力公司报了好几回 来人看一眼就走了 一点用没有", "投诉"),
        # dirty water into the storm drains; wires let down to charge e-bikes; anonymity
        ("洗车店天天把脏水往雨水篦子里排", "举报"),
        ("楼上好几户从窗户往下吊电线给电动车充电", "举报"),
        ("厂里让十五六岁的孩子扛包 一天干十几个小时 你们别说是我打的电话", "举报"),
    ],
)
def test_appeal_type_from_set_l_wordings(text: str, want: str) -> None:
    assert _appeal(text) == want


def test_traffic_lights_out_with_near_misses_are_urgent() -> None:
    taxonomy = knowledge().taxonomy
    text = compact("这个路口的红绿灯全灭了 车全挤在一块 刚才差点撞上一个骑车的")
    assert is_urgent(text, taxonomy.urgent, taxonomy).value is True


@pytest.mark.parametrize(
    ("text", "cat"),
    [
        # a homeless old man at a bus stop: the bus stop only says where
        ("公交站的长椅上躺着一个老大爷 看着像是流浪的 能不能让救助站来人接走", "民政服务"),
        # the hotline's own operator praised
        ("上回接电话的接线员特别耐心 还专门回电话问路灯修好没有", "其他"),
    ],
)
def test_category_of_set_l_wordings(text: str, cat: str) -> None:
    assert category(text)[0] == cat


def test_a_word_the_heard_appeal_word_runs_into_is_that_word() -> None:
    # 想申请: 想申 sounds like 想问, but 申请 is the word said; an exact homophone stands
    assert _appeal("工地老板不给报销 我想申请工伤认定 不知道该咋办") != "咨询"
    assert _appeal("我想提个建一天一日的村里路灯") == "建议"


def test_the_common_words_are_two_characters_each() -> None:
    from workorders.classify import common_words

    words = common_words()
    assert {"申请", "问题", "一天"} <= words and all(len(w) == 2 for w in words)


@pytest.mark.parametrize(
    ("text", "usual"),
    [
        # someone else's violation, described, nothing asked for: a report
        ("楼顶那家搭了一间彩钢房 还砌了墙", "举报"),
        # a nuisance the caller suffers, nothing asked for: a complaint
        ("楼上那家天天半夜在家蹦迪 咚咚的", "投诉"),
    ],
)
def test_a_kind_of_problem_gives_its_usual_appeal_type_where_the_caller_names_none(
        text: str, usual: str) -> None:
    from datetime import datetime

    from workorders import draft

    found = draft(text, None, datetime(2026, 12, 7, 10, 0)).appeal_type
    assert (found.value, found.confidence) == (usual, 0.4)
    # words that name the appeal still win over the kind's usual type
    assert draft(text + " 你们能派人来帮帮忙吗", None,
                 datetime(2026, 12, 7, 10, 0)).appeal_type.value == "求助"


def test_a_hint_of_another_grievance_weighs_no_more_than_the_kind_of_problem() -> None:
    from datetime import datetime

    from workorders import draft

    when = datetime(2026, 12, 7, 10, 0)
    # 一到晚上就 hints at a report, 又回来了 at a complaint: the noise suffered decides
    text = "楼上那家一到晚上就蹦迪 咚咚的 说了他们两天又回来了"
    assert draft(text, None, when).appeal_type.value == "投诉"
    # praise is not a kind of problem: the kind's usual type does not outweigh it
    text = "楼上那家天天半夜在家蹦迪 咚咚的 后来社区的同志为老百姓办实事给解决了"
    assert draft(text, None, when).appeal_type.value == "表扬"


def test_a_landmark_with_a_direction_after_it_only_says_where() -> None:
    # 地铁站往北两百米: the subway station says where the missing manhole cover is
    text = "马路上有个景盖没了就一个大黑窟龙 就在苹果园地铁站往北两百米路东边"
    assert category(text) == ("城市管理", "市政设施")


def test_not_daring_to_switch_on_a_light_is_a_gas_leak() -> None:
    taxonomy = knowledge().taxonomy
    # 燃气味儿 heard as 人气位而, 漏气了 as 漏气冷: what the caller dares not do says it
    text = compact("楼道里人气位而特别大 不知道是谁家漏气冷 我不敢按电梯也不敢开灯")
    assert is_urgent(text, taxonomy.urgent, taxonomy).value is True


@pytest.mark.parametrize("text", [
    "对门的老大爷好几天没出门了 敲门没人应",
    "大风把树刮歪了 整个斜着压在电线上 底下就是幼儿园门口 随时可能砸下来",
])
def test_someone_perhaps_fallen_at_home_or_something_about_to_fall_is_urgent(text: str) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is True


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # never told when: a grievance, not a question (什么时候 after 没说)
        ("小区突然停电了 一点儿通知都没有 也没说什么时候来电", "投诉"),
        # a fee charged on top, against the contract: 什么手续 there asks nothing
        ("健身卡说好随时能退 现在只给退一半 还扣什么手续费 合同上写的根本不是这样", "投诉"),
        # who could bear it: a nuisance complained of
        ("楼下的垃圾桶好几天没人清了 臭得不行 这谁受得了", "投诉"),
        # still a question when the caller asks it
        ("我想问一下社保卡丢了什么时候能补好", "咨询"),
        # asking for help in so many words, though the rest asks questions
        ("我想求个助 家里看病把钱都花光了 听说能申请低保 也不知道该找谁", "求助"),
    ],
)
def test_appeal_type_from_set_n_wordings(text: str, want: str) -> None:
    assert _appeal(text) == want


@pytest.mark.parametrize(
    ("text", "cat"),
    [
        # conscription: government services, though it mentions a medical check
        ("我孙子想去参军 征兵体检在哪儿做 报名怎么报", "其他"),
        # beauty injections by someone who is no doctor: medicine without a licence
        ("隔壁开了个美容店 给人打玻尿酸 打瘦脸针 也没有营业执照 那人也不是医生", "卫生健康"),
        # flood water rising into the yard, old people inside
        ("雨下了一宿 河沟里的水漫上来了 已经进院子了 老两口出不来", "公共安全"),
    ],
)
def test_category_of_set_n_wordings(text: str, cat: str) -> None:
    assert category(text)[0] == cat


@pytest.mark.parametrize(
    "text",
    [
        # not daring to switch on the light, said the other way round
        "楼道里一股味儿 我们窗户都打开了 灯都不敢开",
        # an old woman living alone does not open to knocking
        "对门独居的老大爷 好几天没见了 敲门也不开",
        # a wire hanging down to the ground, as Whisper writes 耷拉
        "村口的电线让风刮断了 电线搭拉到地上了",
    ],
)
def test_set_n_dangers_are_urgent(text: str) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is True


def test_the_market_regulator_named_makes_it_a_market_matter() -> None:
    # the caller turned to the market regulator over a deposit a decorator kept
    text = "之前那个公司不退钱 后来是市场监管所的同志帮我们调解 都退回来了 我想表扬一下"
    assert category(text)[0] == "市场管理"


def test_an_old_person_living_alone_is_a_matter_for_civil_affairs() -> None:
    text = "对门一个人住的老大爷 八十多了 好几天没见着了 我们怕他出事"
    assert category(text)[0] == "民政服务"


def test_traffic_lights_out_and_a_near_miss_said_with_er_is_urgent() -> None:
    taxonomy = knowledge().taxonomy
    text = compact("路口红绿灯全灭了 车全堵在路口 刚才差点儿撞一个骑车的")
    assert is_urgent(text, taxonomy.urgent, taxonomy).value is True


@pytest.mark.parametrize(
    "text",
    [
        # a smell so bad one can hardly breathe: a nuisance, not someone choking
        "天天有人烧垃圾 黑烟滚滚的 味儿呛得人喘不上气",
        # the water mains to be renewed: 管道 was said, not 管爆 misheard
        "我们小期贴了个通知说要改造自来水管道要停水",
    ],
)
def test_not_urgent_where_only_the_words_are_strong(text: str) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is False


@pytest.mark.parametrize(("text", "urgent"), [
    ("楼道里有辆电动车 电瓶在冒烟 我已经喊邻居往下跑了", True),
    # 电瓶 heard 电品, 冒 heard 茂: by sound
    ("快点 我们楼道里有辆电动车电品在茂烟 你们赶紧叫消防来", True),
    # a chimney smoking is pollution, not a fire about to start
    ("工厂烟囱天天冒烟", False),
])
def test_an_e_bike_battery_smoking_is_urgent(text: str, urgent: bool) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is urgent


def test_a_power_cut_where_someone_depends_on_a_machine_is_urgent() -> None:
    taxonomy = knowledge().taxonomy
    text = compact("家里突然停电了 我父亲离不开那个机器 现在机器停了 喘得厉害")
    assert is_urgent(text, taxonomy.urgent, taxonomy).value is True


@pytest.mark.parametrize(("text", "urgent"), [
    # 没 denies the power, not the freezing after it
    ("村里停电了 家家都是电采暖 好多七八十岁的老人 再没电要冻坏了", True),
    # 没有 before the danger itself still denies it
    ("电梯停了 还好没有人被困在里面", False),
])
def test_a_thing_lacked_ends_the_negation(text: str, urgent: bool) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is urgent


@pytest.mark.parametrize(("text", "urgent"), [
    ("我父亲从昨天晚上开始发高烧 烧到四十度了 现在人都有点迷糊了", True),
    ("孩子前两天发高烧 现在退了 想问问社区医院几点开门", False),
    # an ambulance that once could not get in is a parking complaint, not an emergency
    ("消防通道天天被车堵着 有一回救护车来接人都进不来", False),
])
def test_a_high_fever_with_confusion_is_urgent(text: str, urgent: bool) -> None:
    taxonomy = knowledge().taxonomy
    assert is_urgent(compact(text), taxonomy.urgent, taxonomy).value is urgent


@pytest.mark.parametrize(("text", "cat"), [
    ("镇上往北那段山路有好几个急弯 晚上特别黑 护栏上也没有反光的东西 上个月就有个车冲出去了",
     "交通管理"),
    ("村北边修车的小作坊天天把换下来的废机油往排水沟里倒 沟里的水都是黑的", "环境保护"),
])
def test_a_dangerous_bend_and_waste_oil(text: str, cat: str) -> None:
    assert classify(compact(text), knowledge().taxonomy).category.value == cat


@pytest.mark.parametrize(("text", "cat"), [
    ("我是个透析病人 一个礼拜得透三次 现在他们透析室要装修三个月", "卫生健康"),
    ("小区地库出口那个防火卷帘门坏了 掉下来一半卡在那儿", "公共安全"),
    ("我是村里文艺队的 我们唱戏用的音响设备坏了 想问问能不能申请点文化器材的支持", "其他"),
    ("今年什刹海那个冰场什么时候开 我孙子放寒假想带他去滑冰 票是网上买还是到那儿现场买",
     "其他"),
    ("我要举报一家小卖店专门卖电子烟给中学生 老板根本不看年龄", "市场管理"),
])
def test_set_u_kinds_of_call(text: str, cat: str) -> None:
    assert classify(compact(text), knowledge().taxonomy).category.value == cat


def test_a_lift_that_traps_a_dialysis_patient_is_about_the_lift() -> None:
    # category_probe R019: the patient's dialysis says who was trapped, not what is wrong
    text = compact("我家住十八楼，单元这台梯这个月已经困了三次人了，"
                   "上周我爸去医院透析回来被关在里面快四十分钟，打物业电话半天才有人来，维保公司来了也就重启一下，"
                   "求你们派人查查这台梯到底有没有毛病。")
    assert classify(text, knowledge().taxonomy).category.value == "住房管理"


def test_someone_lying_under_a_bridge_in_the_frost_is_urgent() -> None:
    taxonomy = knowledge().taxonomy
    text = compact("我在桥底下看见一个老人 躺在那儿不怎么动 今天晚上说是零下十来度")
    assert is_urgent(text, taxonomy.urgent, taxonomy).value is True


def test_no_phrase_is_heard_by_sound_in_the_callers_name() -> None:
    # 宫宫 sounds like 供 …, 宫叫 like 公交: the name is no evidence of the kind of problem.
    text = compact("你好我姓宫宫殿的宫叫宫德全我提个建议")
    taxonomy = knowledge().taxonomy
    assert classify(text, taxonomy).category.value != "其他"
    assert classify(text, taxonomy, [(4, 13)]).category.value == "其他"


def test_the_draft_reads_no_category_into_the_callers_name() -> None:
    from datetime import datetime

    from workorders import draft

    got = draft("你好我姓宫宫殿的宫叫宫德全我提个建议 电话幺五六零幺零九三八幺五", None,
                datetime(2024, 5, 1, 9))
    assert got.category.value == "其他"


def test_short_weight_found_on_the_callers_own_scale_is_a_market_matter() -> None:
    text = compact("我今天在菜市场买了二斤排骨回家用我自己的秤一称才一斤半多一点 差了小半斤呢 "
                   "你们要回电话就打我闺女的吧")
    assert classify(text, knowledge().taxonomy).category.value == "市场管理"


@pytest.mark.parametrize(("text", "wanted"), [
    # a station named to say where: 地铁 inside 地铁站边上 is as much aside as 地铁站
    ("我在健身房办了年卡 上周突然关门了 钱还能要回来吗 昌平区 霍营 那个 地铁站 边上 的 商场 三层",
     "市场管理"),
    ("健身房办的年卡 突然关门了 就在 崇文门 地铁站 东南口 那儿", "市场管理"),
    # the station itself is what the call is about
    ("地铁站的扶梯坏了好几天了 也没人修", "交通管理"),
])
def test_a_station_named_only_to_say_where(text: str, wanted: str) -> None:
    assert category(text)[0] == wanted


@pytest.mark.parametrize(("text", "urgent"), [
    # children on a pond whose ice is melting
    ("村南边那个大坑塘 冰都化了一半了 现在有四五个小孩在上面跑 太危险了", True),
    # someone lying on a bench at a bus stop on a freezing night
    ("公交站的长椅上躺着个老头 穿得特别单薄 今天晚上零下好几度", True),
    # the ice melting with nobody on it, or a bench in summer, is no emergency
    ("冰都化了 冰场什么时候关", False),
    ("公交站的长椅坏了 坐不了人", False),
])
def test_danger_out_in_the_cold(text: str, urgent: bool) -> None:
    assert bool(is_urgent(compact(text), knowledge().taxonomy.urgent).value) is urgent


@pytest.mark.parametrize(("text", "wanted"), [
    # thanks to the hotline: the matter it once took is only recounted
    ("我就是想打个电话谢谢你们 上个月我反映我们楼下那个井盖松了的事 "
     "你们这个热线的人还回访了 服务真好", "其他"),
    # a complaint about a matter reported before is about that matter
    ("上个月我反映我们楼下那个井盖松了 到现在也没人来修", "城市管理"),
])
def test_a_matter_recounted_in_thanks_to_the_hotline(text: str, wanted: str) -> None:
    assert category(text)[0] == wanted


@pytest.mark.parametrize(("text", "urgent"), [
    ("快来人啊 救救我们 我家老人倒在地上了", True),
    # 救救 as the ASR writes other words (九价 → 救救架, 就走人 → 救救人)
    ("我闺女今年十四想打那个攻击来一秒救救架的在社区卫生服务中心能打吗", False),
    ("天天加班到晚上十点钟末还得来加班费没有谁提谁救救人公司", False),
])
def test_救救_asks_for_someone(text: str, urgent: bool) -> None:
    assert bool(is_urgent(compact(text), knowledge().taxonomy.urgent).value) is urgent


@pytest.mark.parametrize(("text", "urgent"), [
    # a long urgent phrase heard as its exact homophone (起步 for 起不), a word or not
    ("打电话一直没人接 屋里好像有人哼哼 就是不开门 我怕她是摔倒了起步来了", True),
    # a short one is not: 自来水管道 is said, not 自来水管爆
    ("我想问一下自来水管道改造的事", False),
])
def test_a_long_urgent_phrase_heard_as_its_homophone(text: str, urgent: bool) -> None:
    tax = knowledge().taxonomy
    assert bool(is_urgent(compact(text), tax.urgent, tax).value) is urgent


@pytest.mark.parametrize(("text", "wanted"), [
    # 是不是骗子 asks, it does not deny: a call about a swindle dressed up as the health
    # insurance office
    ("刚才有个电话说是什么医保局的 说我医保卡在外地有违规消费 要冻结 让我加一个什么警官的微信"
     "配合调查 我觉得不太对劲 这是不是骗子啊", "公共安全"),
    # 不是 before it still denies
    ("不是骗子的事 我就想问问医保卡怎么在外地用", "卫生健康"),
])
def test_a_swindle_asked_about(text: str, wanted: str) -> None:
    assert category(text)[0] == wanted


@pytest.mark.parametrize(("text", "wanted"), [
    # thanks at the end of a complaint about a matter reported before is a courtesy
    ("上个月我反映我们院门口下水道堵了 到现在还没人来修 麻烦你们了 谢谢你们", "公用事业"),
    # a subject said as "X那儿" is still the subject
    ("我们楼下路灯那儿黑乎乎的 灯不亮好几天了", "城市管理"),
])
def test_courtesy_and_there_are_no_asides(text: str, wanted: str) -> None:
    assert category(text)[0] == wanted


def test_waiting_at_a_bus_stop_in_the_cold_is_no_emergency() -> None:
    text = "我坐在公交站等了一个小时 冻得直哆嗦 这个公交车怎么老不来"
    assert is_urgent(compact(text), knowledge().taxonomy.urgent).value is False
