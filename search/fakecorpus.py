"""Synthetic dossier pages for the search contract tests and the search benchmark.

Realistic enough to exercise the engine: form titles and keywords from the taxonomy, people with
valid 公民身份号码, units with valid 统一社会信用代码, 档号, 业务编号, dates, amounts, and the stray
spaces OCR puts inside Chinese text.
"""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Iterator

from archive.identifiers import id_check_digit, uscc_check_char
from archive.taxonomy import load_taxonomy

from .base import PageDoc
from .text import is_cjk

OFFICES: tuple[str, ...] = ("OF01", "OF02", "OF03", "OF04")
STATUSES: tuple[str, ...] = ("archived", "pending_review", "returned")
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"  # noqa: E501
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊梅琳素云莲真环雪荣爱妹香月莺媛瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝丽阳妮宝贝初程梵罡恒鸿桦骅剑娇纪宽苛灵玛媚琪晴容睿烁堂唯威韦雯苇萱阅彦宇雨洋忠宗曼紫逸贤蝶菡绿蓝儿翠烟"  # noqa: E501
_REGIONS = ("110101", "110105", "310104", "320106", "330106", "440305", "510107", "420106")
_CITIES = "北京上海南京杭州深圳成都武汉西安重庆天津苏州长沙郑州青岛宁波无锡合肥福州厦门济南"
_TRADES = ("科技", "建设", "物流", "贸易", "食品", "机械", "电子", "医药", "餐饮", "纺织", "文化", "环保")
_FILLER = (
    "经办人已核对申报材料原件与复印件一致",
    "参保人员基本信息如有变更应及时办理变更登记",
    "本表一式三份经办机构单位个人各执一份",
    "缴费基数按上年度职工月平均工资核定",
    "以上信息真实有效如有虚假愿承担相应法律责任",
    "审核意见同意办理",
    "待遇自次月起按月发放",
    "社会保险经办机构盖章",
    "申请人签字确认",
    "单位经办人联系电话",
)


def _id_number(rng: random.Random) -> str:
    born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 50))
    first17 = f"{rng.choice(_REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_digit(first17)


def _uscc(rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    first17 = "91" + rng.choice(_REGIONS) + "".join(rng.choice(alphabet) for _ in range(9))
    return first17 + uscc_check_char(first17)


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2, 3))))


def _ocr_spaces(text: str, rng: random.Random) -> str:
    return "".join(c + (" " if is_cjk(c) and rng.random() < 0.03 else "") for c in text)


class _Prose:
    """Running text from a Zipf-distributed lexicon of 1–4-character words over 2,500 characters, so
    long pages have the many distinct character grams of real prose rather than a few repeated lines."""

    def __init__(self, rng: random.Random, words: int = 8_000) -> None:
        chars = [chr(c) for c in rng.sample(range(0x4E00, 0x9FA6), 2_500)]
        self._words = ["".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2, 2, 3, 4)))) for _ in range(words)]
        self._cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(words)))
        self._rng = rng

    def sentence(self) -> str:
        count = self._rng.randint(6, 16)
        return "".join(self._rng.choices(self._words, cum_weights=self._cumulative, k=count)) + "。"


def generate_pages(
    dossiers: int, seed: int = 7, max_pages: int = 4, page_chars: int | None = None
) -> Iterator[PageDoc]:
    """Pages of ``dossiers`` synthetic dossiers, deterministic for a seed.  With ``page_chars``, each
    page is filled up with prose to about that many characters (form pages carry ~100 by default)."""
    rng = random.Random(seed)
    prose = _Prose(random.Random(seed + 1)) if page_chars else None
    types = list(load_taxonomy())
    people = [(_name(rng), _id_number(rng)) for _ in range(max(8, dossiers // 3))]
    units = [
        (rng.choice(_CITIES[::2]) + rng.choice(_CITIES[1::2]) + rng.choice(_TRADES) + "有限公司", _uscc(rng))
        for _ in range(max(4, dossiers // 10))
    ]
    for n in range(dossiers):
        bt = rng.choice(types)
        office = rng.choice(OFFICES)
        person, id_number = rng.choice(people)
        unit, uscc = rng.choice(units)
        start = datetime.date(2005, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 18))
        end = start + datetime.timedelta(days=rng.randrange(400))
        archive_number = f"{office}-{start.year}-{bt.code}-{n:06d}"
        business_number = f"YW{start.year}{n:08d}"
        common = {
            "dossier_id": f"d{n:07d}",
            "archive_number": archive_number,
            "business_type": bt.name,
            "category": bt.category,
            "office": office,
            "status": rng.choice(STATUSES),
            "retention": bt.retention,
            "date_start": start,
            "date_end": end,
            "person_id_number": id_number,
            "person_name": person,
            "unit_uscc": uscc,
            "unit_name": unit,
            "business_number": business_number,
        }
        for page in range(1, rng.randint(1, max_pages) + 1):
            if page == 1:
                lines = [
                    rng.choice(bt.form_titles),
                    f"姓名：{person} 公民身份号码：{id_number}",
                    f"单位名称：{unit} 统一社会信用代码：{uscc}",
                    f"业务编号：{business_number} 办理日期：{start.year}年{start.month}月{start.day}日",
                ]
            else:
                lines = [
                    f"第{page}页 {rng.choice(bt.keywords)}",
                    f"金额：{rng.randrange(100, 99999)}.{rng.randrange(100):02d}元",
                ]
            lines += [rng.choice(_FILLER) + "。" for _ in range(rng.randint(2, 6))]
            lines.append(f"{rng.choice(bt.keywords)}，{person}。")
            if prose is not None and page_chars is not None:
                size = sum(map(len, lines))
                while size < page_chars:
                    lines.append(prose.sentence())
                    size += len(lines[-1])
            yield PageDoc(page=page, text=_ocr_spaces("\n".join(lines), rng), **common)
