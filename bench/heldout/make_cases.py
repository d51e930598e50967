"""Write the blind held-out cases H01-H40 to bench/heldout/cases.jsonl and check them.

    .venv/bin/python -m bench.heldout.make_cases [OUT.jsonl]
    .venv/bin/python -m bench.heldout.make_cases --set b [OUT.jsonl]

``--set c`` writes the third, H101-H160 (``third_set.py``), to ``cases_c.jsonl``, with the
same coverage against both earlier sets; ``--set d`` the fourth, H161-H220
(``fourth_set.py``, ``cases_d.jsonl``), against all three; ``--set e`` the fifth, H221-H280
(``fifth_set.py``, ``cases_e.jsonl``), against all four; ``--set f`` the sixth, H281-H340
(``sixth_set.py``, ``cases_f.jsonl``), against all five; ``--set g`` the seventh, H341-H400
(``seventh_set.py``, ``cases_g.jsonl``), against all six; ``--set h`` the eighth, H401-H460
(``eighth_set.py``, ``cases_h.jsonl``), against all seven; ``--set i`` the ninth, H461-H520
(``ninth_set.py``, ``cases_i.jsonl``), against all eight; ``--set j`` the tenth, H521-H580
(``tenth_set.py``, ``cases_j.jsonl``), against all nine; ``--set k`` the eleventh, H581-H640
(``eleventh_set.py``, ``cases_k.jsonl``), against all ten; ``--set l`` the twelfth, H641-H700
(``twelfth_set.py``, ``cases_l.jsonl``), against all eleven; ``--set m`` the thirteenth,
H701-H760 (``thirteenth_set.py``, ``cases_m.jsonl``), against all twelve; ``--set n`` the
fourteenth, H761-H820 (``fourteenth_set.py``, ``cases_n.jsonl``), against all thirteen; ``--set o``
the fifteenth, H821-H880 (``fifteenth_set.py``, ``cases_o.jsonl``), against all fourteen; ``--set p``
the sixteenth, H881-H940 (``sixteenth_set.py``, ``cases_p.jsonl``), against all fifteen; ``--set q``
the seventeenth, H941-H1000 (``seventeenth_set.py``, ``cases_q.jsonl``), against all sixteen; ``--set r``
the eighteenth, H1001-H1060 (``eighteenth_set.py``, ``cases_r.jsonl``), against all seventeen; ``--set s``
the nineteenth, H1061-H1120 (``nineteenth_set.py``, ``cases_s.jsonl``), against all eighteen; ``--set t``
the twentieth, H1121-H1180 (``twentieth_set.py``, ``cases_t.jsonl``), against all nineteen; ``--set u``
the twenty-first, H1181-H1240 (``twenty_first_set.py``, ``cases_u.jsonl``), against all twenty; ``--set v``
the twenty-second, H1241-H1300 (``twenty_second_set.py``, ``cases_v.jsonl``), against all twenty-one; ``--set w``
the twenty-third, H1301-H1360 (``twenty_third_set.py``, ``cases_w.jsonl``), against all twenty-two; ``--set x``
the twenty-fourth, H1361-H1420 (``twenty_fourth_set.py``, ``cases_x.jsonl``), against all twenty-three; ``--set y``
the twenty-fifth, H1421-H1480 (``twenty_fifth_set.py``, ``cases_y.jsonl``), against all twenty-four. ``--set b`` writes the second blind set, H41-H100 (``second_set.py``), to
``bench/heldout/cases_b.jsonl`` with the same checks, plus its coverage: all 16 districts,
every top-level category at least 4 times, every appeal type at least 6 times, 8-10 urgent
cases, and no id shared with the first set.

Hand-written, invented people and numbers, in the format of the shared dev cases
(``shared/samples/make_dev_cases.py``): each case is given as its spoken parts; the
monologue ``text`` joins them in ``order`` (P = problem, A = address, N = name, T = phone)
and ``turns`` holds the same parts as answers to the dialogue prompts. Text is ASR-style:
words separated by spaces, no punctuation, numbers spoken as Chinese characters (幺 for 1 in
phone numbers). Written without reading the drafter (see README.md). Where a caller uses
an alias of a unit (the 镇/乡 of a 地区, 喇叭沟门乡 for 喇叭沟门满族乡), both names are
accepted, as in the dev cases.

Every district and street is checked against ``config/data/beijing_gazetteer.json``, every
category against the taxonomy's top-level names, every phone against its caller number or
the digits said, and the text for Latin letters, Arabic digits and punctuation."""

# ruff: noqa: E501  (the cases are data: one spoken part per line)
from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APPEAL_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
OUTS = {"a": HERE / "cases.jsonl", "b": HERE / "cases_b.jsonl",  # set -> default output
        "c": HERE / "cases_c.jsonl", "d": HERE / "cases_d.jsonl",
        "e": HERE / "cases_e.jsonl", "f": HERE / "cases_f.jsonl",
        "g": HERE / "cases_g.jsonl", "h": HERE / "cases_h.jsonl",
        "i": HERE / "cases_i.jsonl", "j": HERE / "cases_j.jsonl",
        "k": HERE / "cases_k.jsonl", "l": HERE / "cases_l.jsonl",
        "m": HERE / "cases_m.jsonl", "n": HERE / "cases_n.jsonl",
        "o": HERE / "cases_o.jsonl", "p": HERE / "cases_p.jsonl",
        "q": HERE / "cases_q.jsonl", "r": HERE / "cases_r.jsonl",
        "s": HERE / "cases_s.jsonl", "t": HERE / "cases_t.jsonl",
        "u": HERE / "cases_u.jsonl", "v": HERE / "cases_v.jsonl",
        "w": HERE / "cases_w.jsonl", "x": HERE / "cases_x.jsonl",
        "y": HERE / "cases_y.jsonl"}

# (id, caller_number, order, problem, address, name, phone_said, phone_keys, expect)
Case = tuple[str, str, str, str, str, str, str, str, dict[str, Any]]
CASES: list[Case] = [
 ("H01", "13810457726", "PANT",
  "喂 你好 我们 胡同 里 那棵 老 槐树 前 两 天 刮 大风 断 了 一 根 大 树杈 到 现在 还 挂 在 半空 底下 天天 有 人 走 万一 掉 下来 砸 着 人 可 怎么 办 麻烦 你们 找 人 来 锯 了",
  "东城区 景山 街道 黄化门 胡同", "我 姓 蒋 草头 蒋", "电话 幺三八 幺零四 五七 七二六", "13810457726#",
  dict(surname="蒋", phone="13810457726", district="东城区", street="景山街道", category="城市管理", appeal_type="求助")),
 ("H02", "13601098823", "PNAT",
  "我 想 表扬 一下 我们 社区 居委会 的 王 主任 上 个 月 我 老伴 住院 她 天天 帮 着 跑 前 跑 后 办 手续 还 帮 我们 找 了 护工 真 是 太 感谢 了",
  "东城区 永外 街道 安乐林 路", "我 叫 董秀英", "电话 就 打 这个 号 就 行", "#",
  dict(surname="董", name="董秀英", phone="13601098823", district="东城区", street="永定门外街道", category="民政服务", appeal_type="表扬", urgent=False)),
 ("H03", "13901186742", "PANT",
  "我 要 投诉 琉璃厂 附近 一家 饭馆 菜单 上 根本 没 标 价钱 结账 的 时候 一 盘 炒 青菜 收 我 八十八 这 不是 宰 人 吗 跟 他们 说 还 特别 横",
  "西城区 椿树 街道 琉璃厂 西街", "我 姓 沈", "手机 幺三九 零幺 幺八 六七 四二", "13901186742#",
  dict(surname="沈", phone="13901186742", district="西城区", street="椿树街道", category="市场管理", appeal_type="投诉", urgent=False)),
 ("H04", "18612093345", "NPAT",
  "我 提 个 建议 啊 我们 这 边 小学 下午 三点 半 就 放学 了 家长 都 还 在 上班 根本 接 不 了 孩子 能 不 能 让 学校 搞 个 课后 托管 让 孩子 在 学校 多 待 一会儿",
  "西城区 新街口 街道 赵登禹 路", "我 叫 邓晓燕", "家里 座机 零幺零 八三二二 五六七四", "01083225674#",
  dict(surname="邓", name="邓晓燕", phone=["01083225674", "010-83225674"], district="西城区", street="新街口街道", category="教育培训", appeal_type="建议", urgent=False)),
 ("H05", "13520771468", "APNT",
  "楼下 新 开 了 一家 健身房 晚上 十点 多 了 还 在 放 那种 动感 音乐 还 砸 杠铃 咚咚 的 整 栋 楼 都 跟着 震 孩子 根本 没法 睡觉 我 要 投诉 他们",
  "我 家 在 朝阳区 麦子店 街道 枣营 北里 十六 号楼", "我 姓 曾 曾经 的 曾", "电话 幺三五 二零七 七幺四 六八", "13520771468#",
  dict(surname="曾", phone="13520771468", district="朝阳区", street="麦子店街道", category="环境保护", appeal_type="投诉")),
 ("H06", "18110634927", "PANT",
  "同志 你们 快 帮 我们 想想 办法 我 家 老 爷子 九十 岁 了 暖气 从 前天 开始 就 不 热 了 屋里 才 十 度 老人 冻 得 直 哆嗦 物业 说 是 热力 公司 的 事 热力 公司 电话 又 打 不 通",
  "朝阳区 十八里店 乡 吕家营 村 南区", "我 叫 姚建华", "手机 幺八幺 幺零 六三 四九 二七", "18110634927#",
  dict(surname="姚", name="姚建华", phone="18110634927", district="朝阳区", street=["十八里店地区", "十八里店乡"], category="公用事业", appeal_type="求助", urgent=True)),
 ("H07", "15120036881", "PNAT",
  "我 来 举报 一下 我们 小区 外面 马路 上 有 人 私自 装 地锁 把 车位 都 占 了 还 找 人 收 停车费 一 个 月 三百 不 交 钱 谁 也 不 让 停",
  "朝阳区 来广营 地区 北苑 家园 清友 园", "名字 就 不 留 了", "电话 是 幺五幺 二零零 三六 八八幺", "15120036881#",
  dict(surname=None, name=None, phone="15120036881", district="朝阳区", street="来广营地区", category="交通管理", appeal_type="举报")),
 ("H08", "13716629045", "NAPT",
  "我 要 举报 我们 村 西边 有 人 天天 晚上 烧 垃圾 烧 塑料 那 股 味儿 呛 得 人 喘 不 上 气 窗户 都 不 敢 开",
  "丰台区 北宫镇 大灰厂 村", "我 姓 汤 喝 汤 的 汤", "联系 电话 幺三七 幺六六 二九 零四五", "13716629045#",
  dict(surname="汤", phone="13716629045", district="丰台区", street="北宫镇", category="环境保护", appeal_type="举报")),
 ("H09", "15810023344", "PTAN",
  "楼上 的 水管 爆 了 水 顺着 我 家 屋顶 的 灯 往 下 流 地上 已经 淹 了 楼上 没 人 在家 也 联系 不 上 赶紧 派 人 来 把 总 阀门 关 了",
  "丰台区 成寿寺 街道 成仪 路 一 号院 五 号楼", "我 叫 韩立新", "电话 幺三六 零幺二四 八五五七 哎 不对 是 幺三六 零幺二四 八五七七", "13601248577#",
  dict(surname="韩", name="韩立新", phone="13601248577", district="丰台区", street="成寿寺街道", category=["住房管理", "公用事业"], appeal_type="求助", urgent=True)),
 ("H10", "17701320658", "NPAT",
  "建议 从 苹果园 地铁站 到 我们 小区 加 一 条 社区 公交 现在 老人 出门 走到 地铁 得 二十 多 分钟 腿脚 不好 的 根本 走 不 了",
  "石景山区 苹果园 街道 西黄村 那 一片", "我 姓 熊 狗熊 的 熊", "就 用 这个 号码", "#",
  dict(surname="熊", phone="17701320658", district="石景山区", street="苹果园街道", category="交通管理", appeal_type="建议", urgent=False)),
 ("H11", "18610123308", "PATN",
  "想 问 一下 六十 岁 以上 的 老人 打 流感 疫苗 是不是 免费 的 在 哪儿 打 要 不 要 提前 预约",
  "我 是 石景山区 五里坨 街道 隆恩寺 新区 的", "我 叫 白玉兰", "电话 幺八六幺 零幺二 三三零八", "18610123308#",
  dict(surname="白", name="白玉兰", phone="18610123308", district="石景山区", street="五里坨街道", category="卫生健康", appeal_type="咨询", urgent=False)),
 ("H12", "13120884691", "PANT",
  "我 在 一个 饭店 当 服务员 干 了 三 个 月 了 老板 一直 说 生意 不好 压 着 工资 不 发 现在 人 都 找 不 着 了 我们 七八 个 人 一 分 钱 都 没 拿 到 求 你们 帮帮 忙",
  "海淀区 曙光 街道 蓝靛厂 南路 那个 饭店", "我 姓 龚 上面 一个 龙 下面 一个 共", "电话 幺三幺 二零 八八 四六 九幺", "13120884691#",
  dict(surname="龚", phone="13120884691", district="海淀区", street="曙光街道", category="劳动社保", appeal_type="求助")),
 ("H13", "15001377826", "PANT",
  "我们 村 从 昨天 晚上 就 停电 了 到 现在 还 没 来 我 母亲 在 家 一直 用 着 制氧机 离 不 了 电 求求 你们 赶紧 让 供电 的 来 修",
  "海淀区 上庄 镇 西辛力屯 村", "我 叫 钟伟", "我 手机 是 幺五零零 幺三七七 八二六", "15001377826#",
  dict(surname="钟", name="钟伟", phone="15001377826", district="海淀区", street=["上庄地区", "上庄镇"], category="公用事业", appeal_type="求助", urgent=True)),
 ("H14", "13488217703", "NPAT",
  "我 想 表扬 一下 区 政务 服务 中心 的 一 位 窗口 工作人员 姓 刘 我 去 办 事 材料 没 带 齐 她 中午 都 没 休息 一直 帮 我 想 办法 最后 给 我 办 下来 了",
  "我 住 海淀区 青龙桥 街道 功德寺 那边", "我 叫 苏明哲", "电话 幺三四 八八二 幺七 七零三", "13488217703#",
  dict(surname="苏", name="苏明哲", phone="13488217703", district="海淀区", street="青龙桥街道", category="其他", appeal_type="表扬", urgent=False)),
 ("H15", "13911640258", "PANT",
  "我 举报 一下 村 口 有 人 占 了 村 里 集体 的 地 盖 了 两 层 小楼 说 是 要 开 农家乐 村 里 也 没 人 管 一直 在 那 盖",
  "门头沟区 潭柘寺镇 鲁家滩 村", "我 姓 谭", "电话 幺三九 幺幺六 四零 二五八", "13911640258#",
  dict(surname="谭", phone="13911640258", district="门头沟区", street="潭柘寺镇", category="城市管理", appeal_type="举报")),
 ("H16", "18911375560", "PANT",
  "我们 楼道 里 堆 满 了 纸箱子 还有 旧 沙发 旧 柜子 今天 还 有人 在 那 抽烟 差点 点着 了 这 要是 着 起来 楼上 的 人 都 跑 不 出去 这 事 我 得 举报",
  "门头沟区 永定 镇 冯村 小区 四 号楼", "我 姓 张 弓长 张", "电话 幺八九 幺幺三七 五五六零", "18911375560#",
  dict(surname="张", phone="18911375560", district="门头沟区", street=["永定地区", "永定镇"], category="公共安全", appeal_type="举报")),
 ("H17", "15701286634", "NPAT",
  "我 要 反映 村 东头 那个 养猪场 把 粪水 直接 往 河沟 里 排 一 到 夏天 臭 得 没法 待 找 了 村委会 好几 次 也 没 用",
  "房山区 琉璃河 镇 务滋 村", "我 叫 孔德顺", "电话 幺五七 零幺二八 六六三四", "15701286634#",
  dict(surname="孔", name="孔德顺", phone="15701286634", district="房山区", street=["琉璃河地区", "琉璃河镇"], category="环境保护", appeal_type=["投诉", "举报"])),
 ("H18", "13601225519", "NAPT",
  "我 是 村 里 的 五保户 年纪 大 了 一个人 住 想 问问 能 不 能 去 乡 里 的 敬老院 住 要 办 什么 手续",
  "房山区 霞云岭 乡 堂上 村", "我 叫 石长贵", "家里 电话 零幺零 六零三幺 五八二六", "01060315826#",
  dict(surname="石", name="石长贵", phone=["01060315826", "010-60315826"], district="房山区", street="霞云岭乡", category="民政服务", appeal_type="咨询", urgent=False)),
 ("H19", "18701552093", "PANT",
  "我 想 问 一下 我们 村 的 自来水 这 半 个 月 老 是 发黄 还 有 股 怪 味儿 烧 开 了 底下 全 是 沉淀 到底 还 能 不 能 喝 该 找 哪个 部门 来 检测",
  "房山区 青龙湖 镇 坨里 村", "姓 阎", "电话 幺八七 零幺五五 二零九三", "18701552093#",
  dict(surname="阎", phone="18701552093", district="房山区", street="青龙湖镇", category="公用事业", appeal_type="咨询")),
 ("H20", "15910478812", "NPAT",
  "我 以前 单位 给 交 了 十 年 养老 保险 现在 辞职 了 想 自己 接着 交 不 知道 一 个 月 交 多少 在 哪儿 办",
  "通州区 漷县 镇 漷县 村", "我 叫 林晓红 双木 林", "电话 幺五九 幺零 四七 八八 幺二", "15910478812#",
  dict(surname="林", name="林晓红", phone="15910478812", district="通州区", street="漷县镇", category="劳动社保", appeal_type="咨询", urgent=False)),
 ("H21", "13910264475", "PANT",
  "我 投诉 我们 小区 的 物业 物业费 年年 涨 小区 里 的 卫生 没 人 打扫 楼道 灯 坏 了 半年 也 没 人 修 业主 都 不 想 交 物业费 了",
  "通州区 九棵树 街道 翠屏里 小区", "我 姓 徐 双人 徐", "电话 幺三八 不对 是 幺三九 幺零二六 四四七五", "13910264475#",
  dict(surname="徐", phone="13910264475", district="通州区", street="九棵树街道", category="住房管理", appeal_type="投诉", urgent=False)),
 ("H22", "13301058847", "NPAT",
  "我 想 提 个 建议 孩子 在 乡 中心 小学 上学 今年 校车 取消 了 我们 家 离 学校 十几 里 地 每天 接送 特别 难 希望 学校 能 把 校车 恢复 了",
  "通州区 于家务 乡 于家务 村", "我 叫 陈思远 耳东 陈", "电话 幺三三 零幺零五 八八四七", "13301058847#",
  dict(surname="陈", name="陈思远", phone="13301058847", district="通州区", street=["于家务回族乡", "于家务乡"], category="教育培训", appeal_type="建议", urgent=False)),
 ("H23", "15652318870", "PANT",
  "我 在 小区 门口 的 理发店 办 了 一 张 三千 块 的 卡 才 用 了 两 次 店 就 关门 了 老板 电话 也 打 不 通 钱 也 不 退 我 要 投诉",
  "顺义区 后沙峪 镇 吉祥 庄园", "我 姓 蔡", "电话 幺五六 五二三 幺八 八七零", "15652318870#",
  dict(surname="蔡", phone="15652318870", district="顺义区", street=["后沙峪地区", "后沙峪镇"], category="市场管理", appeal_type="投诉")),
 ("H24", "13718460092", "PANT",
  "我 想 表扬 一下 杨镇 卫生院 的 李 大夫 我 父亲 半夜 心脏 不 舒服 她 一直 守 在 旁边 还 亲自 跟着 救护车 把 人 送 到 城 里 的 医院",
  "顺义区 杨 镇", "我 叫 任国庆", "就 用 我 现在 打 的 这个 手机", "#",
  dict(surname="任", name="任国庆", phone="13718460092", district="顺义区", street=["杨镇地区", "杨镇"], category="卫生健康", appeal_type="表扬", urgent=False)),
 ("H25", "18518227364", "APNT",
  "人行道 上 有 个 井盖 没 了 就 剩 一个 黑 窟窿 晚上 根本 看 不 见 已经 有 人 崴 了 脚 我 举报 一下 赶紧 找 人 来 盖 上",
  "顺义区 石园 街道 石园 北区 十二 号楼 门口", "我 叫 毛小军", "电话 幺八五 幺八二 二七 三六四", "18518227364#",
  dict(surname="毛", name="毛小军", phone="18518227364", district="顺义区", street="石园街道", category="城市管理", appeal_type=["举报", "求助"])),
 ("H26", "13810925517", "PANT",
  "我们 村 旁边 有 个 搅拌站 拉 沙子 的 大 货车 天天 进进出出 路 上 的 土 有 一 寸 厚 车 一 过 漫天 都 是 灰 衣服 都 不 敢 晾 在 外面 我 要 投诉",
  "昌平区 小汤山镇 大东流 村", "我 姓 章 立早 章", "电话 幺三八幺 零九二 五五幺七", "13810925517#",
  dict(surname="章", phone="13810925517", district="昌平区", street="小汤山镇", category="环境保护", appeal_type="投诉")),
 ("H27", "15321774406", "PAT",
  "我 实名 举报 啊 不对 名字 就 不 留 了 我们 这儿 有 个 棋牌室 其实 是 聚众 赌博 的 天天 晚上 好多 人 进进出出 输 了 钱 的 还 在 门口 打架",
  "昌平区 沙河 镇 于辛庄 村", "不 方便 说 名字", "电话 幺五三 二幺七 七四 四零六", "15321774406#",
  dict(surname=None, name=None, phone="15321774406", district="昌平区", street=["沙河地区", "沙河镇"], category="公共安全", appeal_type="举报")),
 ("H28", "13693017742", "NPAT",
  "龙泽 地铁站 东边 那个 路口 没有 红绿灯 早 晚 高峰 车 和 人 抢 着 走 太 危险 了 建议 在 那儿 装 个 信号灯",
  "昌平区 龙泽园 街道 龙泽苑 东区", "我 叫 许嘉 言午 许", "电话 幺三六 九三零 幺七 七四二", "13693017742#",
  dict(surname="许", name="许嘉", phone="13693017742", district="昌平区", street="龙泽园街道", category="交通管理", appeal_type="建议", urgent=False)),
 ("H29", "18201146635", "NPAT",
  "我 想 表扬 一下 亦庄 的 劳动 监察 大队 我们 公司 欠 了 我们 半年 的 工资 他们 接 到 反映 以后 一 个 礼拜 就 帮 我们 全 要 回来 了",
  "大兴区 亦庄 镇 亦庄 村", "我 叫 程志刚", "电话 幺八二 零幺幺 四六 六三五", "18201146635#",
  dict(surname="程", name="程志刚", phone="18201146635", district="大兴区", street=["亦庄地区", "亦庄镇"], category="劳动社保", appeal_type="表扬", urgent=False)),
 ("H30", "13552860314", "PTAN",
  "喂 我 刚 回 家 一 开门 就 闻到 一股 特别 冲 的 燃气 味儿 我 已经 把 阀门 关 了 窗户 也 都 打开 了 灯 都 不 敢 开 你们 快 派 人 来 看看",
  "大兴区 庞各庄 镇 赵村 二 区 七 号", "我 姓 魏", "电话 就 打 我 这个 手机", "#",
  dict(surname="魏", phone="13552860314", district="大兴区", street="庞各庄镇", category="公用事业", appeal_type="求助", urgent=True)),
 ("H31", "17310452286", "APNT",
  "我们 小区 里 有 个 人 在 家里 开 了 个 托管 班 没有 任何 手续 一 屋子 二十 多 个 孩子 也 没 有 灭火器 什么 的 我 要 举报",
  "大兴区 高米店 街道 郁花园 二 里", "我 姓 吴 口天 吴", "电话 幺七三 幺零 四五 二二八六", "17310452286#",
  dict(surname="吴", phone="17310452286", district="大兴区", street="高米店街道", category="教育培训", appeal_type="举报")),
 ("H32", "13366190487", "PANT",
  "连着 下 了 三 天 雨 我 家 老房子 的 后墙 裂 了 一 道 大 缝 还 一直 往 下 掉 土 屋里 住 着 两 个 老人 就 怕 墙 塌 了 砸 着 人 求 你们 赶紧 来 看看",
  "怀柔区 雁栖 镇 北湾 村", "我 叫 郝桂芝", "电话 幺三三 六六幺 九零 四八七", "13366190487#",
  dict(surname="郝", name="郝桂芝", phone="13366190487", district="怀柔区", street=["雁栖地区", "雁栖镇"], category="住房管理", appeal_type="求助", urgent=True)),
 ("H33", "15201335820", "NPAT",
  "我 在 外地 住院 花 了 两万 多 想 问 一下 回来 报销 医保 需要 准备 哪些 单子 是 去 镇 上 办 还是 去 区 里 办",
  "怀柔区 汤河口镇", "我 叫 于海燕", "电话 幺五二 零幺三三 五八二 说 错 了 是 五八二零", "15201335820#",
  dict(surname="于", name="于海燕", phone="15201335820", district="怀柔区", street="汤河口镇", category="卫生健康", appeal_type="咨询", urgent=False)),
 ("H34", "18810667253", "NAPT",
  "我 想 咨询 一下 办 护照 得 去 哪儿 办 在 我们 区 能 办 吗 要 带 什么 东西 要 多 长 时间",
  "我 住 平谷区", "我 叫 万佳怡", "电话 幺八八 幺零六 六七 二五三", "18810667253#",
  dict(surname="万", name="万佳怡", phone="18810667253", district="平谷区", street=None, category="其他", appeal_type="咨询", urgent=False)),
 ("H35", "13811062479", "PATN",
  "快 快 快 有 个 小孩 被 锁 在 车 里 了 车 停 在 太阳 底下 孩子 一直 在 哭 找 不 到 车主 你们 赶紧 派 人 来",
  "平谷区 渔阳 地区 府前 街 那个 停车场", "我 姓 侯", "就 这个 号", "#",
  dict(surname="侯", phone="13811062479", district="平谷区", street="渔阳地区", category="公共安全", appeal_type="求助", urgent=True)),
 ("H36", "15811930648", "NPAT",
  "我 想 表扬 一下 镇 上 市场 监管所 的 工作人员 我 上 周 在 超市 买 到 过期 的 牛奶 跟 他们 一 说 第二 天 就 去 查 了 还 帮 我 把 钱 要 回来 了",
  "密云区 溪翁庄镇 溪翁庄 村", "我 叫 尹红霞", "电话 幺五八 幺幺九 三零 六四八", "15811930648#",
  dict(surname="尹", name="尹红霞", phone="15811930648", district="密云区", street="溪翁庄镇", category="市场管理", appeal_type="表扬", urgent=False)),
 ("H37", "13910372281", "PANT",
  "建议 在 我们 这 边 办 个 老年 食堂 村 里 好多 老人 都 是 自己 一个人 在家 做饭 特别 不 方便 吃 得 也 不 好",
  "密云区 檀营 乡", "我 姓 贾", "电话 零幺零 六九零幺 二四七三", "01069012473#",
  dict(surname="贾", phone=["01069012473", "010-69012473"], district="密云区", street=["檀营地区", "檀营乡"], category="民政服务", appeal_type="建议", urgent=False)),
 ("H38", "18612457719", "PANT",
  "长城 脚下 停车场 那 一 片 好多 小贩 拉 着 游客 卖 东西 摊子 把 路 都 占 了 车 也 过 不去 人 也 走 不 了 我 要 投诉",
  "延庆区 八达岭镇 岔道 村", "免贵 姓 胡 古月 胡", "电话 幺八六 幺二四 五七 七幺九", "18612457719#",
  dict(surname="胡", phone="18612457719", district="延庆区", street="八达岭镇", category="城市管理", appeal_type="投诉")),
 ("H39", "13501246607", "PANT",
  "表扬 一下 我们 小区 的 物业 下 大 雪 那 天 他们 一 大早 就 把 路 上 的 雪 全 扫 干净 了 还 给 每个 单元 门口 撒 了 盐 老人 出门 也 不 怕 滑",
  "延庆区 康庄 镇 榆林堡 村 新区", "我 叫 陆文博", "电话 就 用 这个 号码 吧", "#",
  dict(surname="陆", name="陆文博", phone="13501246607", district="延庆区", street="康庄镇", category="住房管理", appeal_type="表扬", urgent=False)),
 ("H40", "18001157392", "PNT",
  "给 你们 热线 提 个 建议 我 打 了 四五 次 都 是 占线 等 了 半天 也 没 人 接 能 不 能 多 安排 点 人 接 电话 或者 弄 个 回拨 的",
  "", "我 姓 秦", "电话 幺八零 零幺幺 五七 三九二", "18001157392#",
  dict(surname="秦", phone="18001157392", district=None, street=None, category="其他", appeal_type="建议", urgent=False)),
]

DIGITS = {"零": "0", "幺": "1", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
          "六": "6", "七": "7", "八": "8", "九": "9"}


def build(source: list[Case] = CASES) -> list[dict[str, Any]]:
    out = []
    for cid, caller, order, prob, addr, name, tel, keys, expect in source:
        part = {"P": prob, "A": addr, "N": name, "T": tel}
        text = " ".join(part[k] for k in order if part[k])
        out.append({"id": cid, "caller_number": caller, "text": text, "expect": expect,
                    "turns": {"problem": prob, "name": name, "phone_keys": keys, "address": addr}})
    return out


def _gazetteer() -> dict[str, dict[str, set[str]]]:
    """District -> unit name -> the unit's name and its aliases."""
    data = json.loads((REPO / "config/data/beijing_gazetteer.json").read_text(encoding="utf-8"))
    units: dict[str, dict[str, set[str]]] = {}
    for d in data["districts"]:
        names = units.setdefault(d["name"], {})
        for u in d["units"]:
            if isinstance(u, str):
                names[u] = {u}
            else:
                names[u["name"]] = {u["name"], *u.get("aka", [])}
                for alias in u.get("aka", []):
                    names[alias] = names[u["name"]]
    return units


def _aliases() -> dict[str, set[str]]:
    """District -> the other names (aka) of its units."""
    data = json.loads((REPO / "config/data/beijing_gazetteer.json").read_text(encoding="utf-8"))
    return {d["name"]: {a for u in d["units"] if not isinstance(u, str) for a in u.get("aka", [])}
            for d in data["districts"]}


def _categories() -> set[str]:
    """The taxonomy's top-level category names (its table keys only)."""
    with open(REPO / "config/data/taxonomy.toml", "rb") as f:
        return set(tomllib.load(f)["categories"])


def _said_digits(tel: str) -> str:
    """The number a phone answer finally gives: after a self-correction, the corrected
    reading; a short correction replaces as many trailing digit groups as it has."""
    readings = []
    for part in re.split(r"不 ?对|说 ?错 ?了", tel):
        groups = [w for w in part.split() if w and all(ch in DIGITS for ch in w)]
        readings.append(groups)
    number = readings[0]
    for fix in readings[1:]:
        if not fix:
            continue  # 不对 不对 是 …: a correction said twice has nothing between
        digits = sum(len(g) for g in fix)
        # A correction that goes on to the end (幺八八 零幺 哦 不对 零七 幺二 五五 四六)
        # replaces the trailing groups that leave an eleven-digit number.
        whole = [k for k in range(1, len(number) + 1)
                 if sum(len(g) for g in number[:-k]) + digits == 11]
        if digits < 10 and whole:
            number = number[:-whole[0]] + fix
        elif digits > 11:
            # 最后两位是三八 完整的是 幺三五…: a full number said again ends the correction
            tail = [k for k in range(1, len(fix) + 1) if sum(len(g) for g in fix[-k:]) == 11]
            number = fix[-tail[0]:] if tail else fix
        else:
            number = fix if digits >= 10 or len(fix) >= len(number) else number[:-len(fix)] + fix
    return "".join(DIGITS[ch] for g in number for ch in g)


def check(cases: list[dict[str, Any]], source: list[Case] = CASES) -> list[str]:
    errors = []
    units, cats = _gazetteer(), _categories()
    for c in cases:
        cid, e = c["id"], c["expect"]
        if re.search(r"[A-Za-z0-9０-９，。,.!?！？、；;：:]", c["text"]):
            errors.append(f"{cid}: Latin letter, Arabic digit or punctuation in text")
        if not re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", c["caller_number"]):
            errors.append(f"{cid}: caller_number {c['caller_number']} not a phone number")
        dist, streets = e.get("district"), e.get("street")
        if dist is not None and dist not in units:
            errors.append(f"{cid}: district {dist} not in the gazetteer")
        for s in streets if isinstance(streets, list) else [streets]:
            if s is None:
                continue
            if dist is None or s not in units.get(dist, {}):
                errors.append(f"{cid}: street {s} not a unit of {dist}")
            elif not any(re.sub("(街道|地区|镇|乡)$", "", n) in c["text"].replace(" ", "")
                         for n in units[dist][s]):
                errors.append(f"{cid}: street {s} not said")
        if isinstance(streets, str) and streets in _aliases().get(dist or "", set()):
            errors.append(f"{cid}: street {streets} is an alias: give the unit's name too")
        if isinstance(streets, str) and dist in units and streets in units[dist]:
            # 黄村镇 said for 黄村地区: both names accepted (see the docstring); a short form
            # (永外街道) is the full name's
            said = [n for n in sorted(units[dist][streets]) if n != streets
                    and n.endswith(("镇", "乡")) and streets.endswith(("地区", "街道"))
                    and n in c["text"].replace(" ", "") and streets not in c["text"]]
            if said:
                errors.append(f"{cid}: street {streets} said as {said[0]}: give both names")
        if dist is not None and dist.removesuffix("区") not in c["text"].replace(" ", ""):
            errors.append(f"{cid}: district {dist} not said")
        for k in ("category",):
            for v in e[k] if isinstance(e[k], list) else [e[k]]:
                if v not in cats:
                    errors.append(f"{cid}: category {v} not in the taxonomy")
        for v in e["appeal_type"] if isinstance(e["appeal_type"], list) else [e["appeal_type"]]:
            if v not in APPEAL_TYPES:
                errors.append(f"{cid}: appeal type {v}")
        phones = e["phone"] if isinstance(e["phone"], list) else [e["phone"]]
        keys = c["turns"]["phone_keys"]
        if keys == "#":
            if phones != [c["caller_number"]]:
                errors.append(f"{cid}: phone keys '#' but phone is not the caller number")
        elif keys[:-1] not in phones:
            errors.append(f"{cid}: phone keys {keys} not the expected phone")
        said = next(p[6] for p in source if p[0] == cid)
        if keys != "#" and keys[:-1] != _said_digits(said):
            errors.append(f"{cid}: said {_said_digits(said)} != keys {keys[:-1]}")
        surname, name = e.get("surname"), e.get("name")
        if name and not (surname and name.startswith(surname)):
            errors.append(f"{cid}: name {name} does not start with surname {surname}")
        if surname and surname not in c["turns"]["name"]:
            errors.append(f"{cid}: surname {surname} not said")
        if name and name not in c["turns"]["name"].replace(" ", ""):
            errors.append(f"{cid}: name {name} not said")
    return errors


def _first(v: Any) -> Any:
    return v[0] if isinstance(v, list) else v


def coverage(cases: list[dict[str, Any]], others: list[Case]) -> list[str]:
    """What the second set must cover: every district, every top-level category at least
    4 times and every appeal type at least 6 times (by the first accepted value), 8-10
    urgent cases, ids unique and not used by the other set."""
    errors = []
    ids = [c["id"] for c in cases]
    if len(set(ids)) != len(ids):
        errors.append("ids not unique")
    if taken := set(ids) & {p[0] for p in others}:
        errors.append(f"ids also in an earlier set: {sorted(taken)}")
    districts = {c["expect"].get("district") for c in cases}
    if missing := set(_gazetteer()) - districts:
        errors.append(f"districts not covered: {sorted(missing)}")
    cats = Counter(_first(c["expect"]["category"]) for c in cases)
    errors += [f"category {k} only {cats[k]} times" for k in sorted(_categories()) if cats[k] < 4]
    types = Counter(_first(c["expect"]["appeal_type"]) for c in cases)
    errors += [f"appeal type {k} only {types[k]} times" for k in APPEAL_TYPES if types[k] < 6]
    urgent = sum(1 for c in cases if c["expect"].get("urgent") is True)
    if not 8 <= urgent <= 10:
        errors.append(f"{urgent} urgent cases, not 8-10")
    return errors


def summary(cases: list[dict[str, Any]]) -> str:
    def count(field: str) -> Counter[str]:
        out: Counter[str] = Counter()
        for c in cases:
            v = c["expect"].get(field)
            out[str(v[0] if isinstance(v, list) else v)] += 1
        return out
    return "\n".join(f"{f}: {dict(count(f))}" for f in
                     ("district", "category", "appeal_type", "urgent"))


# set -> (module, list name) of its cases; each later set is checked against all before it
SOURCES = {"a": ("bench.heldout.make_cases", "CASES"),
           "b": ("bench.heldout.second_set", "CASES_B"),
           "c": ("bench.heldout.third_set", "CASES_C"),
           "d": ("bench.heldout.fourth_set", "CASES_D"),
           "e": ("bench.heldout.fifth_set", "CASES_E"),
           "f": ("bench.heldout.sixth_set", "CASES_F"),
           "g": ("bench.heldout.seventh_set", "CASES_G"),
           "h": ("bench.heldout.eighth_set", "CASES_H"),
           "i": ("bench.heldout.ninth_set", "CASES_I"),
           "j": ("bench.heldout.tenth_set", "CASES_J"),
           "k": ("bench.heldout.eleventh_set", "CASES_K"),
           "l": ("bench.heldout.twelfth_set", "CASES_L"),
           "m": ("bench.heldout.thirteenth_set", "CASES_M"),
           "n": ("bench.heldout.fourteenth_set", "CASES_N"),
           "o": ("bench.heldout.fifteenth_set", "CASES_O"),
           "p": ("bench.heldout.sixteenth_set", "CASES_P"),
           "q": ("bench.heldout.seventeenth_set", "CASES_Q"),
           "r": ("bench.heldout.eighteenth_set", "CASES_R"),
           "s": ("bench.heldout.nineteenth_set", "CASES_S"),
           "t": ("bench.heldout.twentieth_set", "CASES_T"),
           "u": ("bench.heldout.twenty_first_set", "CASES_U"),
           "v": ("bench.heldout.twenty_second_set", "CASES_V"),
           "w": ("bench.heldout.twenty_third_set", "CASES_W"),
           "x": ("bench.heldout.twenty_fourth_set", "CASES_X"),
           "y": ("bench.heldout.twenty_fifth_set", "CASES_Y")}


def _source(which: str) -> list[Case]:
    module, name = SOURCES[which]
    cases: list[Case] = getattr(importlib.import_module(module), name)
    return cases


def main(path: Path, which: str = "a") -> int:
    source = _source(which)
    cases = build(source)
    errors = check(cases, source)
    if which != "a":
        order = list(SOURCES)
        earlier = [c for w in order[:order.index(which)] for c in _source(w)]
        errors += coverage(cases, earlier)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    with open(path, "w", encoding="utf-8") as f:
        for d in cases:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(summary(cases))
    print(f"{len(cases)} cases -> {path}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=None,
                        help="output file (default bench/heldout/cases.jsonl, or cases_b.jsonl for --set b)")
    parser.add_argument("--set", choices=tuple(SOURCES), default="a",
                        help="a: the first set H01-H40; b: the second set H41-H100; "
                             "c: the third set H101-H160; d: the fourth, H161-H220; "
                             "e: the fifth, H221-H280; f: the sixth, H281-H340; "
                             "g: the seventh, H341-H400; h: the eighth, H401-H460; "
                             "i: the ninth, H461-H520; j: the tenth, H521-H580; "
                             "k: the eleventh, H581-H640; l: the twelfth, H641-H700; "
                             "m: the thirteenth, H701-H760; n: the fourteenth, H761-H820; "
                             "o: the fifteenth, H821-H880; p: the sixteenth, H881-H940; "
                             "q: the seventeenth, H941-H1000; "
                             "r: the eighteenth, H1001-H1060; "
                             "s: the nineteenth, H1061-H1120; "
                             "t: the twentieth, H1121-H1180; "
                             "u: the twenty-first, H1181-H1240; "
                             "v: the twenty-second, H1241-H1300; "
                             "w: the twenty-third, H1301-H1360; "
                             "x: the twenty-fourth, H1361-H1420; "
                             "y: the twenty-fifth, H1421-H1480")
    args = parser.parse_args()
    sys.exit(main(args.out or OUTS[args.set], args.set))
