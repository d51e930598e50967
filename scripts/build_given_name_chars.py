"""Build config/data/given_name_chars.json: how often each character is used in given names.

    python scripts/build_given_name_chars.py [--csv FILE.csv ...] [--out PATH]

The drafter (workorders/names.py) accepts a full name only when every character of the
given name is in this list. The shipped list is counted from Faker's zh_CN and zh_TW
person providers (MIT licence; zh_TW's lists are the 2023 national name statistics of
the ROC household registration office, with their shares), which Faker must be
importable for (``pip install faker`` in any environment: it is not a dependency of the
service). Traditional characters are folded to Simplified with OpenCC, as the ASR output
is.

That list is small (about two hundred characters), so common mainland name characters it
lacks are added from ``COMMON_GIVEN`` below, written for this project. A larger
frequency list can be added with
``--csv``: a CSV with a ``character`` column and a count column (``n.male`` +
``n.female``, or ``count``), such as the ChineseNames database's givenname.csv (NCIIC
statistics of 1.2 billion people; GPL-3 and CC BY-NC-SA, so it is not shipped here: an
operator who may use it under those terms builds their own file with it).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "config" / "data" / "given_name_chars.json"

# Written for this project (Apache-2.0, like the rest of it): characters common in
# mainland given names that the Faker lists lack (晓, 立, 新, 光, 福, 生 …), each counted
# once. Function words and characters ASR output is full of (的, 了, 是, 不, 没) are kept
# out on purpose: they are what an implausible name is made of.
COMMON_GIVEN = (
    "伟芳娜敏静英丽强磊洋艳勇军杰娟涛超明霞兰刚平燕辉玲桂丹萍鹏华红玉飞梅鑫波斌莉宇浩凯"
    "珍健俊帆雪帅慧旭宁婷龙林晶欢颖佳倩阳亮成琴畅建云洁峰国淑春海冬荣瑞莹志博彬坤岩文"
    "利楠瑜璐凤晓立新光天庆福生振德永金力胜贵富财发达宝安康乐喜祥吉寿长秋东南北中山川"
    "江河泉清源冰霜雨露虹彩晨曦晖晴朗星辰月日松柏竹菊荷莲芝兴旺昌盛隆鸿泰豪雄威武刚毅"
    "卫兵民学良忠孝仁义礼智信诚贤德才俊秀杰英豪壮伯仲叔季元亨一二三小大少宗祖家嘉佳可"
    "欣怡悦乐笑颜容蓉芸芬芳香菲萱茜莎娅婉婕嫣妍媛娴姝姣娇妮娥嫦翠碧青蓝紫丹彤红朱珊琳"
    "琪瑶璇瑾瑛瑗璐珺琦琼玮瑞琛瑜环佩钰铭锋钢铁锦鑫铮镇锡键雯霖霏震雷霆露霄静婧靖敬"
    "晶景京经菁精锦劲进晋金津今巾谨瑾尽近军钧均君俊峻骏竣浚郡凯楷恺锴铠开康慷抗亢科柯"
    "可克恪坤昆琨鲲焜磊蕾垒雷黎丽莉俐利力立励荔历丽莉琳霖麟林临凌玲灵龄岭领令柳六龙隆"
    "陇珑露鹭禄路璐鲁伦仑纶论罗洛骆玛满曼蔓漫茂懋枚玫眉梅媚美萌蒙梦孟盟弥米敏闵民岷明"
    "鸣铭茗名默慕牧木穆睦娜纳乃南楠妮霓倪年念宁凝农浓诺欧鹏朋彭蓬芃佩沛培裴平萍苹坪屏"
    "颇珀普朴圃溥浦琦琪奇齐祺骐麒启绮千倩茜谦乾强蔷乔巧俏琴勤秦沁青清晴庆琼秋求全泉群"
    "然冉染燃让仁任荣容融蓉榕如儒汝瑞锐芮润若森山珊善尚韶邵绍深申莘慎升生声胜晟盛诗"
    "石实世仕守寿书舒淑树帅双爽顺硕思斯松嵩颂素肃涛韬腾天添田恬婷霆廷庭同桐彤童统拓婉"
    "琬万旺威巍薇维伟苇玮卫蔚文雯闻稳武舞务希熙曦溪锡喜霞夏先贤娴显宪献香湘祥翔向潇萧"
    "小晓孝笑效心欣新鑫信星兴幸雄秀绣旭轩萱宣璇炫学雪勋循迅雅亚娅烟嫣延言岩研彦艳雁燕"
    "阳扬杨洋仰瑶耀业叶一伊依怡宜仪义艺亦奕益逸翊毅意溢懿因茵音银寅英莺瑛樱鹰颖影映永"
    "勇咏泳悠优友有佑宇羽雨语玉郁育昱煜钰毓渊元园沅源远苑媛月悦越跃岳云芸昀允运韵泽增"
    "展湛章彰昭照哲喆真珍振镇征正政峥铮之芝枝知志智致中忠钟仲洲舟周朱珠竹筑庄壮卓灼子"
    "梓紫宗祖尊遵作卓琢洪柱根保宾恒虎鹤久和通功"
)


def _faker_counts() -> tuple[Counter[str], str]:
    import faker
    import opencc
    from faker.providers.person.zh_CN import Provider as Mainland
    from faker.providers.person.zh_TW import Provider as Taiwan

    t2s = opencc.OpenCC("t2s")
    counts: Counter[str] = Counter()
    # zh_CN: a plain list of common names, each counted once per character.
    for name in Mainland.first_names:
        for ch in name:
            counts[ch] += 1
    # zh_TW: names with their share of the population (percent); weighted so that the
    # commonest name counts about as much as a zh_CN name ten times over.
    for table in (Taiwan.first_names_male, Taiwan.first_names_female):
        for name, share in table.items():
            for ch in t2s.convert(name):
                counts[ch] += max(1, round(float(share) * 100))
    for ch in dict.fromkeys(COMMON_GIVEN):
        counts[ch] += 1
    return counts, (f"Faker {faker.VERSION} zh_CN and zh_TW person providers (MIT licence), "
                    "plus COMMON_GIVEN of the script (written for this project)")


def _csv_counts(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ch = row.get("character", "").strip()
            if len(ch) != 1:
                continue
            if "count" in row:
                n = int(float(row["count"]))
            else:
                n = int(float(row.get("n.male") or 0)) + int(float(row.get("n.female") or 0))
            counts[ch] += n
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    counts, source = _faker_counts()
    sources = [source]
    for path in args.csv:
        extra = _csv_counts(path)
        # Scale the extra list to the same total, so that neither swamps the other.
        scale = sum(counts.values()) / max(1, sum(extra.values()))
        for ch, n in extra.items():
            counts[ch] += max(1, round(n * scale))
        sources.append(f"{path.name} (see its own licence)")
    data = {
        "about": "Characters of Chinese given names with relative counts; a full name is "
                 "accepted only when every character of its given name is listed. Rebuilt "
                 "by scripts/build_given_name_chars.py; read by workorders/names.py.",
        "source": "; ".join(sources),
        "licence": "MIT (Faker, Copyright (c) 2012 Daniele Faraglia) and Apache-2.0 "
                   "(COMMON_GIVEN)"
                   + ("; plus the licences of the added lists" if args.csv else ""),
        "chars": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n",
                        encoding="utf-8")
    print(f"{len(counts)} characters -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
