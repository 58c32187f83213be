"""Labelled training text for the business-type classifier (业务类型分类训练语料).

Each example is one dossier as OCR would read it: a list of pages, each page its text lines joined
by ``\\n``, and the business type (a taxonomy name, or 未分类).  The dossiers vary the way real
ones do:

- the main form, titled with one of the taxonomy's official title variants, sometimes only a
  generic title (申请表, 登记表) or no title at all because the top of the page was cut off;
  label–value lines in several layouts (one pair a line, several pairs a row, label and value on
  separate lines as table cells are read), with names, 公民身份号码 and 统一社会信用代码 that pass
  their check characters, dates and amounts;
- supporting pages (身份证复印件, 劳动合同, 营业执照, 医院发票, 诊断证明, 银行卡复印件, 工资明细,
  情况说明 …) whose prose mentions other business types (a 退工备案 dossier's 情况说明 talks about
  失业保险金) to teach the model that such mentions are not evidence;
- a cover page (社会保险业务档案 / 档号 / 案卷题名 / 保管期限 / 本卷共N件M页) and a catalogue
  (卷内目录), both, one or neither: about 40 % of the dossiers are loose papers without either;
- OCR noise at a per-character rate drawn per dossier from 0 to 4 %: look-alike substitutions
  (己/已, 未/末, 0/O, 1/l, 人/入, 日/曰 …), dropped and doubled characters, stray spaces and lines
  split in two.  Digits and Latin letters are only ever substituted or split, never dropped or
  doubled, so an 18-digit run in the text is always an unaltered (valid) ID number.

未分类 examples are unrelated office papers (会议通知, 采购合同, 工作总结 …).

Everything is drawn from one ``random.Random`` per call, so a seed gives the same corpus.  The text
is composed from general knowledge of these forms; nothing is taken from the development set.

Usage::

    python scripts/generate_corpus.py OUT.jsonl --per-type 200 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.taxonomy import UNCLASSIFIED, BusinessType, Taxonomy, load_taxonomy  # noqa: E402
from scripts.generate_fixtures import valid_id_number, valid_uscc  # noqa: E402

MAX_NOISE = 0.04
NO_COVER_SHARE = 0.40

# -- people, units, places ---------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰文斌波宇浩凯鹏辉晓东海燕雪梅丹宁雷鑫"
    "欣怡子涵梓萱俊杰思远嘉琪雨婷佳慧立新晨阳天翼春生秋菊冬梅德胜永福瑞祥振宇书航若曦一鸣浩然亦凡"
)
# (province, city, district) — place names only; ID region codes come from generate_fixtures.
_PLACES = (
    ("山东省", "淄博市", "张店区"),
    ("山东省", "济南市", "历城区"),
    ("山东省", "潍坊市", "奎文区"),
    ("江苏省", "苏州市", "姑苏区"),
    ("浙江省", "宁波市", "鄞州区"),
    ("河南省", "郑州市", "金水区"),
    ("河北省", "石家庄市", "长安区"),
    ("安徽省", "合肥市", "蜀山区"),
    ("湖南省", "长沙市", "岳麓区"),
    ("福建省", "厦门市", "思明区"),
    ("辽宁省", "沈阳市", "和平区"),
    ("陕西省", "西安市", "雁塔区"),
    ("广东省", "深圳市", "南山区"),
    ("四川省", "绵阳市", "涪城区"),
    ("重庆市", "重庆市", "渝中区"),
    ("天津市", "天津市", "河西区"),
)
_TRADE_WORDS = (
    "华瑞",
    "鑫恒",
    "泰宏",
    "达金",
    "诚丰",
    "盛天",
    "成嘉",
    "禾博",
    "远锐",
    "立德",
    "正和",
    "信安",
    "康利",
    "源通",
    "明辉",
    "长城",
    "东方",
    "海纳",
    "中科",
    "联创",
    "新峰",
    "永顺",
    "佳美",
    "润泽",
    "同心",
    "宇航",
    "金桥",
    "鼎盛",
)
_INDUSTRY = (
    "机械制造",
    "商贸",
    "物流",
    "建筑安装",
    "食品",
    "电子科技",
    "纺织服装",
    "精细化工",
    "软件",
    "餐饮管理",
    "医药",
    "物业服务",
    "汽车销售",
    "环保工程",
    "广告传媒",
    "农业开发",
)
_COMPANY_FORM = ("有限公司", "有限公司", "有限责任公司", "股份有限公司", "有限公司")
_STREET = (
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "和平路",
    "新华街",
    "文化路",
    "胜利街",
    "光明路",
    "振兴路",
    "迎宾大道",
)
_BANKS = (
    "中国工商银行",
    "中国农业银行",
    "中国银行",
    "中国建设银行",
    "交通银行",
    "中国邮政储蓄银行",
    "招商银行",
    "农村商业银行",
)
_HOSPITALS = ("市第一人民医院", "市中心医院", "中医院", "妇幼保健院", "人民医院", "第二人民医院", "大学附属医院")
_POSTS = (
    "操作工",
    "技术员",
    "会计",
    "销售代表",
    "仓库管理员",
    "司机",
    "行政专员",
    "质检员",
    "电工",
    "厨师",
    "保安",
    "文员",
)
_EDU = ("初中", "高中", "中专", "大专", "本科", "硕士研究生")
_ETHNIC = ("汉族", "汉族", "汉族", "汉族", "回族", "满族", "蒙古族", "壮族")
_HUKOU = ("本市城镇", "本市农村", "外埠城镇", "外埠农村", "非农业户口", "农业户口")
_INJURIES = (
    ("右手食指", "右手食指末节离断伤"),
    ("左小腿", "左胫骨骨折"),
    ("腰部", "腰椎压缩性骨折"),
    ("头部", "头皮裂伤、轻型颅脑损伤"),
    ("右足", "右足跟骨骨折"),
    ("左手腕", "左桡骨远端骨折"),
)
_DISEASES = (
    "急性阑尾炎",
    "2型糖尿病",
    "冠状动脉粥样硬化性心脏病",
    "肺炎",
    "腰椎间盘突出症",
    "高血压病3级",
    "胆囊结石伴胆囊炎",
    "脑梗死",
)

GENERIC_TITLES = ("申请表", "登记表", "审批表", "审核表", "业务申请表", "登记表(一)", "申报表", "业务办理单", "信息表")
_CONFUSERS: dict[str, tuple[str, ...]] = {
    "单位参保登记": ("职工参保登记", "缴费基数核定", "用工备案"),
    "职工参保登记": ("用工备案", "社会保障卡申领", "单位参保登记"),
    "用工备案": ("职工参保登记", "退工备案"),
    "退工备案": ("失业保险金申领", "用工备案", "养老保险关系转移接续"),
    "缴费基数核定": ("单位参保登记", "职工参保登记", "养老保险待遇核定"),
    "失业保险金申领": ("退工备案", "医疗费用报销"),
    "养老保险待遇核定": ("养老保险关系转移接续", "缴费基数核定", "医疗费用报销"),
    "养老保险关系转移接续": ("养老保险待遇核定", "退工备案", "职工参保登记"),
    "工伤认定": ("医疗费用报销", "退工备案"),
    "医疗费用报销": ("生育保险待遇申领", "工伤认定"),
    "生育保险待遇申领": ("医疗费用报销", "职工参保登记"),
    "社会保障卡申领": ("职工参保登记", "医疗费用报销"),
}

# Look-alike characters an OCR engine confuses (each group is one confusion set).
_CONFUSABLE_GROUPS = (
    "己已巳",
    "未末",
    "0OD",
    "1lI",
    "人入八",
    "日曰目",
    "土士",
    "干千于",
    "天夭",
    "王玉",
    "大太犬",
    "刀力",
    "申由甲",
    "贝见",
    "问间",
    "准淮",
    "历厉",
    "拨拔",
    "候侯",
    "戊戌戍",
    "免兔",
    "析折",
    "治冶",
    "5S",
    "8B",
    "2Z",
    "6b",
    "\uff1a:",
    "\uff0c,",
    "\uff08(",
    "\uff09)",
    "\u3002.",
    "口囗",
    "工丁",
    "办为",
    "码玛",
    "险硷",
    "保促",
    "登凳",
    "缴徼",
    "待侍",
    "遇過",
    "费贽",
    "记讫",
    "核孩",
    "定淀",
    "业亚",
    "务各",
    "名各",
    "号弓",
    "期朋",
    "金全",
    "额颔",
    "住往",
    "单芈",
    "位伍",
    "书韦",
    "表衣",
    "年午",
    "月冃",
    "元兀",
)
_FULLWIDTH = str.maketrans({",": "\uff0c", ":": "\uff1a", ";": "\uff1b", "(": "\uff08", ")": "\uff09"})
_CONFUSABLE: dict[str, str] = {}
for _group in _CONFUSABLE_GROUPS:
    for _ch in _group:
        _CONFUSABLE.setdefault(_ch, _group.replace(_ch, ""))


# -- small builders ----------------------------------------------------------------------------


def _person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
    return rng.choice(_SURNAMES) + given


def _cn_date(rng: random.Random, d: date) -> str:
    style = rng.random()
    if style < 0.45:
        return f"{d.year}年{d.month}月{d.day}日"
    if style < 0.6:
        return f"{d.year}年{d.month:02d}月{d.day:02d}日"
    if style < 0.75:
        return f"{d:%Y-%m-%d}"
    if style < 0.85:
        return f"{d:%Y.%m.%d}"
    if style < 0.93:
        return f"{d.year}/{d.month}/{d.day}"
    return f"{d:%Y%m%d}"


def _cn_month(rng: random.Random, d: date) -> str:
    return rng.choice((f"{d.year}年{d.month}月", f"{d:%Y%m}", f"{d:%Y-%m}", f"{d:%Y.%m}"))


def _money(rng: random.Random, value: float) -> str:
    style = rng.random()
    if style < 0.35:
        return f"{value:.2f}"
    if style < 0.6:
        return f"{value:.2f}元"
    if style < 0.75:
        return f"{value:,.2f}"
    if style < 0.88:
        return f"¥{value:,.2f}"
    return f"{value:.2f} 元"


def _phone(rng: random.Random) -> str:
    return rng.choice(("13", "15", "18", "17", "19")) + "".join(rng.choice("0123456789") for _ in range(9))


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 1))


def _bank_card(rng: random.Random) -> str:
    """16 digits, or 19 in groups of four as printed on the card.

    No run of 18 or more digits: a stray OCR space could cut 18 digits out of it, which would
    look like an (invalid) ID number.
    """
    if rng.random() < 0.6:
        return "62" + _digits(rng, 14)
    number = "62" + _digits(rng, 17)
    return " ".join(number[i : i + 4] for i in range(0, 19, 4))


def _sep(rng: random.Random) -> str:
    return rng.choice(("\uff1a", "\uff1a", ":", " ", "  ", "\uff1a ", ":", ""))


def _random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange(max(1, (last - first).days)))


def _checkbox(rng: random.Random, options: Sequence[str], chosen: str) -> str:
    on, off = rng.choice((("☑", "□"), ("√", "□"), ("■", "□"), ("(√)", "( )")))
    return " ".join(f"{on if o == chosen else off}{o}" for o in options)


@dataclass
class Person:
    name: str
    gender: str
    id_number: str
    born: date
    phone: str
    address: str
    ethnic: str


@dataclass
class Unit:
    name: str
    uscc: str
    address: str
    legal_rep: str
    legal_rep_id: str
    contact: str
    phone: str
    bank: str
    account: str
    number: str


@dataclass
class Ctx:
    """Everything one dossier talks about."""

    rng: random.Random
    btype: BusinessType | None
    person: Person
    unit: Unit
    place: tuple[str, str, str]
    formed: date
    business_number: str
    office: str
    clerk: str
    reviewer: str
    extra: dict[str, Any] = field(default_factory=dict)


def _make_person(rng: random.Random, place: tuple[str, str, str], born: tuple[date, date]) -> Person:
    id_number = valid_id_number(rng, born_between=born)
    gender = "男" if int(id_number[16]) % 2 else "女"
    birth = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    address = f"{place[0]}{place[1]}{place[2]}{rng.choice(_STREET)}{rng.randint(1, 300)}号{rng.randint(1, 30)}单元{rng.randint(101, 2605)}"
    return Person(_person_name(rng), gender, id_number, birth, _phone(rng), address, rng.choice(_ETHNIC))


def _make_unit(rng: random.Random, place: tuple[str, str, str]) -> Unit:
    city = place[1].removesuffix("市")
    trade = rng.choice(_TRADE_WORDS) + rng.choice(_TRADE_WORDS)
    name = f"{city}{trade}{rng.choice(_INDUSTRY)}{rng.choice(_COMPANY_FORM)}"
    if rng.random() < 0.12:
        name = f"{place[1]}{place[2]}{rng.choice(('社区卫生服务中心', '第三小学', '市政工程管理处', '农业技术推广站'))}"
    rep = _person_name(rng)
    return Unit(
        name=name,
        uscc=valid_uscc(rng),
        address=f"{place[1]}{place[2]}{rng.choice(_STREET)}{rng.randint(1, 999)}号",
        legal_rep=rep,
        legal_rep_id=valid_id_number(rng, born_between=(date(1955, 1, 1), date(1990, 12, 31))),
        contact=_person_name(rng),
        phone=rng.choice((_phone(rng), f"0{rng.randint(100, 999)}-{_digits(rng, 7)}")),
        bank=rng.choice(_BANKS),
        account=_digits(rng, rng.choice((12, 13, 15, 16, 17))),
        number=_digits(rng, rng.choice((8, 10, 12))),
    )


def _office(rng: random.Random, place: tuple[str, str, str]) -> str:
    return rng.choice(
        (
            f"{place[1]}社会保险事业中心",
            f"{place[1]}{place[2]}社会保险事业中心",
            f"{place[1]}人力资源和社会保障局",
            f"{place[1]}{place[2]}人力资源和社会保障局",
            f"{place[1]}医疗保障局",
            f"{place[1]}社会保险基金管理中心",
            f"{place[2]}就业和社会保障服务中心",
        )
    )


def _business_number(rng: random.Random, year: int) -> str:
    style = rng.random()
    if style < 0.4:
        return f"{year}{_digits(rng, 10)}"
    if style < 0.7:
        return f"YW{year}{rng.randint(1, 12):02d}{_digits(rng, 6)}"
    return f"{rng.choice('ABCDEFGHJK')}{_digits(rng, 11)}"


# -- label–value rendering ---------------------------------------------------------------------


def _render_fields(rng: random.Random, fields: list[tuple[str, str]]) -> list[str]:
    """Label–value pairs in one of the layouts OCR produces from a form grid."""
    fields = [f for f in fields if f[1] and rng.random() > 0.08]  # an unfilled box now and then
    for i in range(len(fields) - 1):  # regional forms order the boxes a little differently
        if rng.random() < 0.12:
            fields[i], fields[i + 1] = fields[i + 1], fields[i]
    layout = rng.random()
    lines: list[str] = []
    if layout < 0.4:  # one pair a line
        lines = [f"{label}{_sep(rng)}{value}" for label, value in fields]
    elif layout < 0.75:  # rows of two or three pairs
        i = 0
        while i < len(fields):
            k = rng.choice((1, 2, 2, 3))
            row = fields[i : i + k]
            gap = rng.choice(("  ", "   ", " ", "    "))
            lines.append(gap.join(f"{label}{_sep(rng)}{value}" for label, value in row))
            i += k
    else:  # table cells read one by one: label, then value
        for label, value in fields:
            lines.append(label)
            lines.append(value)
    return lines


def _title_lines(ctx: Ctx, official: Sequence[str]) -> tuple[list[str], str]:
    """Header lines above the form and the title used ('' when none is visible)."""
    rng = ctx.rng
    mode = rng.random()
    lines: list[str] = []
    if rng.random() < 0.25:
        lines.append(rng.choice((f"附件{rng.randint(1, 9)}", f"表{rng.randint(1, 12)}", "(此表一式两份)", "")))
    if mode < 0.72:
        title = rng.choice(official)
        r = rng.random()
        if r < 0.2:
            title = ctx.place[rng.choice((0, 1))] + title
        elif r < 0.3:
            title = f"{title}({ctx.formed.year - rng.randint(0, 6)}版)"
        elif r < 0.36:
            title = " ".join(title)  # letter-spaced title
        lines.append(title)
    elif mode < 0.86:
        title = rng.choice(GENERIC_TITLES)
        lines.append(title)
    else:  # the top of the page was cut off or folded under: no title
        return [], ""
    lines = [ln for ln in lines if ln]
    if rng.random() < 0.5:
        lines.append(
            rng.choice(
                (
                    f"业务流水号{_sep(rng)}{ctx.business_number}",
                    f"编号{_sep(rng)}{ctx.business_number}",
                    f"受理编号{_sep(rng)}{ctx.business_number}",
                    f"填报日期{_sep(rng)}{_cn_date(rng, ctx.formed)}",
                )
            )
        )
    return lines, title


def _signoff(ctx: Ctx, applicant: str) -> list[str]:
    rng = ctx.rng
    lines = []
    if rng.random() < 0.8:
        lines.append(
            rng.choice(
                (
                    "本人(单位)承诺以上填报内容真实、准确、完整,如有虚假愿承担相应法律责任。",
                    "以上信息经核对无误。",
                    "申请人承诺:所提供材料真实有效。",
                    "本单位保证所填信息真实,并承担相应责任。",
                )
            )
        )
    lines.append(f"{rng.choice(('申请人签字', '经办人', '单位经办人', '本人签名', '填表人'))}{_sep(rng)}{applicant}")
    if rng.random() < 0.6:
        lines.append(f"{rng.choice(('单位(盖章)', '用人单位(章)', '申请单位盖章'))}")
    lines.append(f"{rng.choice(('日期', '申请日期', '填表日期'))}{_sep(rng)}{_cn_date(rng, ctx.formed)}")
    if rng.random() < 0.75:
        lines.append(rng.choice(("经办机构审核意见", "社保经办机构意见", "审核意见", "以下由经办机构填写")))
        lines.append(
            rng.choice(("经审核,符合规定,同意办理。", "材料齐全,同意。", "情况属实,予以核准。", "同意", "审核通过"))
        )
        lines.append(f"经办人{_sep(rng)}{ctx.clerk}  复核人{_sep(rng)}{ctx.reviewer}")
        lines.append(
            f"{ctx.office}(业务专用章)"
            if rng.random() < 0.5
            else f"{_cn_date(rng, ctx.formed + timedelta(days=rng.randint(0, 9)))}"
        )
    return lines


# -- main forms, one builder per business type ------------------------------------------------------


def _person_fields(ctx: Ctx, *, with_unit: bool = True) -> list[tuple[str, str]]:
    rng, p = ctx.rng, ctx.person
    fields = [
        (rng.choice(("姓名", "职工姓名", "参保人姓名", "申请人姓名")), p.name),
        ("性别", p.gender),
        (rng.choice(("公民身份号码", "身份证号码", "社会保障号码", "身份证件号码", "证件号码")), p.id_number),
    ]
    if rng.random() < 0.5:
        fields.append(("出生日期", _cn_date(rng, p.born)))
    if rng.random() < 0.4:
        fields.append(("民族", p.ethnic))
    if with_unit:
        fields.append((rng.choice(("单位名称", "工作单位", "所在单位", "用人单位名称")), ctx.unit.name))
    if rng.random() < 0.5:
        fields.append((rng.choice(("联系电话", "手机号码", "联系方式")), p.phone))
    return fields


def _form_unit_enrol(ctx: Ctx) -> list[list[str]]:
    rng, u = ctx.rng, ctx.unit
    founded = ctx.formed - timedelta(days=rng.randint(10, 4000))
    fields = [
        (rng.choice(("单位名称", "参保单位名称", "用人单位名称")), u.name),
        (rng.choice(("统一社会信用代码", "社会信用代码", "统一社会信用代码(组织机构代码)")), u.uscc),
        ("单位类型", rng.choice(("企业", "事业单位", "民办非企业单位", "个体工商户", "社会团体"))),
        ("登记注册类型", rng.choice(("有限责任公司", "私营企业", "股份有限公司", "国有企业", "外商投资企业"))),
        ("法定代表人", u.legal_rep),
        (rng.choice(("法定代表人身份证号码", "负责人身份证号")), u.legal_rep_id),
        (rng.choice(("注册地址", "单位地址", "住所")), u.address),
        ("所属行业", rng.choice(_INDUSTRY)),
        ("成立日期", _cn_date(rng, founded)),
        ("开户银行", u.bank),
        ("银行账号", u.account),
        ("联系人", u.contact),
        ("联系电话", u.phone),
        ("职工人数", f"{rng.randint(3, 900)}人"),
        (rng.choice(("参保日期", "申请参保日期", "首次参保年月")), _cn_date(rng, ctx.formed)),
    ]
    lines = _render_fields(rng, fields)
    lines.append(
        "参保险种" + _sep(rng) + " ".join(f"{rng.choice('☑√■')}{x}" for x in ("养老", "医疗", "失业", "工伤", "生育"))
    )
    if rng.random() < 0.5:
        lines.append(
            rng.choice(("登记事项:新参保登记", "登记类别:参保登记", "业务类型:单位新参保", "申请事项:社会保险登记"))
        )
    if rng.random() < 0.5:
        lines.append("随表提交:营业执照副本复印件、法定代表人身份证复印件、银行开户证明。")
    return [lines + _signoff(ctx, u.contact)]


def _form_staff_enrol(ctx: Ctx) -> list[list[str]]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    start = ctx.formed - timedelta(days=rng.randint(0, 40))
    fields = [
        (rng.choice(("单位名称", "参保单位")), u.name),
        (rng.choice(("单位编号", "单位社保编号", "单位代码")), u.number),
        *_person_fields(ctx, with_unit=False),
        ("户籍性质", rng.choice(_HUKOU)),
        ("户口所在地", p.address[: rng.randint(6, 12)]),
        ("文化程度", rng.choice(_EDU)),
        ("参加工作时间", _cn_month(rng, start - timedelta(days=rng.randint(0, 9000)))),
        (rng.choice(("本单位参保日期", "参保年月", "增员日期")), _cn_date(rng, start)),
        ("用工形式", rng.choice(("合同制", "劳务派遣", "非全日制", "合同制"))),
        (rng.choice(("月缴费工资", "缴费工资", "申报工资")), _money(rng, rng.randint(2800, 18000))),
    ]
    lines = _render_fields(rng, fields)
    lines.append(
        "参保险种" + _sep(rng) + _checkbox(rng, ("养老", "医疗", "失业", "工伤", "生育"), rng.choice(("养老", "医疗")))
    )
    if rng.random() < 0.5:
        lines.append(rng.choice(("增员原因:新招录", "变动类型:新参保", "增减标志:增加", "参保状态:正常参保")))
    return [lines + _signoff(ctx, u.contact)]


def _form_hire(ctx: Ctx) -> list[list[str]]:
    rng, u = ctx.rng, ctx.unit
    begin = ctx.formed - timedelta(days=rng.randint(0, 25))
    years = rng.choice((1, 2, 3, 3, 5))
    end = begin + timedelta(days=365 * years - 1)
    kind = rng.choice(("固定期限", "无固定期限", "以完成一定工作任务为期限"))
    fields = [
        ("用人单位名称", u.name),
        ("统一社会信用代码", u.uscc),
        *_person_fields(ctx, with_unit=False),
        ("文化程度", rng.choice(_EDU)),
        ("劳动合同类型", kind),
        ("合同起始日期", _cn_date(rng, begin)),
        ("合同终止日期", "" if kind != "固定期限" else _cn_date(rng, end)),
        ("试用期", rng.choice(("无", "1个月", "2个月", "3个月", "6个月"))),
        ("工作岗位", rng.choice(_POSTS)),
        ("月工资", _money(rng, rng.randint(2500, 15000))),
        (rng.choice(("招用日期", "用工日期", "录用日期")), _cn_date(rng, begin)),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.6:
        lines.append(
            rng.choice(("招用人员来源:应届毕业生", "招用来源:社会招聘", "人员类别:城镇失业人员", "人员类别:农村劳动力"))
        )
    if rng.random() < 0.4:
        lines.append("用人单位应自用工之日起三十日内办理用工备案(就业登记)。")
    return [lines + _signoff(ctx, u.contact)]


def _form_separation(ctx: Ctx) -> list[list[str]]:
    rng, u = ctx.rng, ctx.unit
    left = ctx.formed - timedelta(days=rng.randint(0, 14))
    hired = left - timedelta(days=rng.randint(200, 5000))
    reason = rng.choice(
        ("劳动合同期满终止", "协商一致解除", "劳动者提出解除", "用人单位提出解除", "单位依法解除", "个人辞职")
    )
    fields = [
        ("用人单位名称", u.name),
        ("统一社会信用代码", u.uscc),
        *_person_fields(ctx, with_unit=False),
        (rng.choice(("入职日期", "合同起始日期", "招用日期")), _cn_date(rng, hired)),
        (rng.choice(("终止(解除)日期", "退工日期", "离职日期", "解除日期")), _cn_date(rng, left)),
        (rng.choice(("终止(解除)原因", "解除原因", "退工原因")), reason),
        ("本单位工作年限", f"{(left - hired).days // 365}年"),
        ("经济补偿金", _money(rng, rng.randint(0, 60000)) if rng.random() < 0.6 else "无"),
        (rng.choice(("退工证明编号", "备案编号")), _digits(rng, rng.choice((8, 10, 12)))),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.5:
        lines.append(f"兹证明{ctx.person.name}同志与我单位的劳动关系已于{_cn_date(rng, left)}终止(解除)。")
    return [lines + _signoff(ctx, u.contact)]


def _form_contrib_base(ctx: Ctx) -> list[list[str]]:
    rng, u = ctx.rng, ctx.unit
    year = ctx.formed.year
    avg = rng.randint(5500, 9500)
    lo, hi = round(avg * 0.6), avg * 3
    head = _render_fields(
        rng,
        [
            ("单位名称", u.name),
            ("统一社会信用代码", u.uscc),
            ("单位编号", u.number),
            ("申报年度", f"{year}年度" if rng.random() < 0.5 else str(year)),
            ("职工人数", f"{rng.randint(2, 400)}"),
            ("上年度工资总额", _money(rng, rng.randint(200000, 30000000))),
            ("缴费基数下限", _money(rng, lo)),
            ("缴费基数上限", _money(rng, hi)),
        ],
    )
    table = [
        rng.choice(
            ("序号 姓名 公民身份号码 上年月平均工资 核定缴费基数", "序号  姓名  身份证号码  申报工资  核定基数  备注")
        )
    ]
    people = [ctx.person] + [
        _make_person(rng, ctx.place, (date(1965, 1, 1), date(2003, 12, 31))) for _ in range(rng.randint(1, 5))
    ]
    for i, p in enumerate(people, 1):
        wage = rng.randint(2000, 25000)
        base = min(max(wage, lo), hi)
        table.append(f"{i} {p.name} {p.id_number} {wage:.2f} {base:.2f}")
    table.append(f"合计 {len(people)}人")
    tail = [
        rng.choice(
            (
                "缴费基数按上年度本人月平均工资申报,低于下限的按下限核定,高于上限的按上限核定。",
                f"经核定,{year}年度单位缴费基数合计{_money(rng, rng.randint(20000, 900000))}。",
                "请于规定期限内完成年度缴费基数申报。",
            )
        )
    ]
    pages = [head + table + tail + _signoff(ctx, u.contact)]
    if rng.random() < 0.25:  # a long roster runs onto a second page
        more = [
            f"{i} {p.name} {p.id_number} {rng.randint(3000, 12000):.2f}"
            for i, p in enumerate(
                [
                    _make_person(rng, ctx.place, (date(1965, 1, 1), date(2003, 12, 31)))
                    for _ in range(rng.randint(3, 8))
                ],
                len(people) + 1,
            )
        ]
        pages.append(["(续表)", *more, f"制表人:{u.contact}"])
    return pages


def _form_unemployment(ctx: Ctx) -> list[list[str]]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    left = ctx.formed - timedelta(days=rng.randint(5, 60))
    months = rng.randint(12, 240)
    period = min(24, 3 + months // 12 * 3) if rng.random() < 0.5 else rng.choice((3, 6, 12, 18, 24))
    fields = [
        *_person_fields(ctx, with_unit=False),
        (rng.choice(("原工作单位", "失业前工作单位")), u.name),
        (rng.choice(("失业日期", "终止(解除)劳动合同日期")), _cn_date(rng, left)),
        ("失业原因", rng.choice(("劳动合同期满终止", "用人单位解除劳动合同", "单位破产", "协商一致解除"))),
        (rng.choice(("累计缴费时间", "累计缴费月数", "失业保险缴费年限")), f"{months}个月"),
        (rng.choice(("领取期限", "可领取月数")), f"{period}个月"),
        (rng.choice(("月领取标准", "失业保险金标准", "月发放标准")), _money(rng, rng.randint(1200, 2400))),
        (rng.choice(("失业登记日期", "失业登记时间")), _cn_date(rng, left + timedelta(days=rng.randint(1, 20)))),
        ("开户银行", rng.choice(_BANKS)),
        (rng.choice(("银行卡号", "社会保障卡银行账号")), _bank_card(rng)),
        ("求职意愿", rng.choice(("有", "有,希望从事原岗位", "暂无", "有就业意愿"))),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.5:
        lines.append(
            rng.choice(
                (
                    "本人非因本人意愿中断就业,已进行失业登记并有求职要求。",
                    "申领期间如实现就业,应及时告知经办机构停发失业保险金。",
                )
            )
        )
    return [lines + _signoff(ctx, p.name)]


def _form_pension(ctx: Ctx) -> list[list[str]]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    retire = date(p.born.year + (60 if p.gender == "男" else rng.choice((50, 55))), p.born.month, 1)
    deemed = rng.randint(0, 20) * 12 + rng.randint(0, 11)
    actual = rng.randint(180, 420)
    account = rng.randint(40000, 300000)
    basic = rng.uniform(900, 2600)
    personal = account / 139
    trans = rng.uniform(0, 900)
    fields = [
        *_person_fields(ctx),
        ("参加工作时间", _cn_month(rng, date(p.born.year + rng.randint(17, 24), rng.randint(1, 12), 1))),
        (rng.choice(("退休时间", "退休日期", "待遇领取起始年月", "离退休时间")), _cn_month(rng, retire)),
        ("退休类别", rng.choice(("正常退休", "正常退休", "特殊工种提前退休", "因病提前退休"))),
        ("视同缴费年限", f"{deemed // 12}年{deemed % 12}个月"),
        ("实际缴费年限", f"{actual // 12}年{actual % 12}个月"),
        (rng.choice(("个人账户储存额", "个人账户累计储存额")), _money(rng, account)),
        ("平均缴费指数", f"{rng.uniform(0.6, 2.5):.4f}"),
        ("基础养老金", _money(rng, basic)),
        ("个人账户养老金", _money(rng, personal)),
        ("过渡性养老金", _money(rng, trans)),
        (rng.choice(("月基本养老金合计", "基本养老金月标准", "核定月养老金")), _money(rng, basic + personal + trans)),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.5:
        lines.append(f"计发月数:139  养老金自{_cn_month(rng, retire + timedelta(days=31))}起按月发放。")
    return [lines + _signoff(ctx, rng.choice((p.name, u.contact)))]


def _form_transfer(ctx: Ctx) -> list[list[str]]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    src, dst = rng.sample(_PLACES, 2)
    start = date(rng.randint(1995, ctx.formed.year - 2), rng.randint(1, 12), 1)
    months = (ctx.formed.year - start.year) * 12 + rng.randint(-11, 0) + 12
    pool = rng.randint(5000, 120000)
    account = rng.randint(3000, 90000)
    fields = [
        *_person_fields(ctx, with_unit=False),
        (rng.choice(("转出地", "原参保地", "转出地社会保险经办机构")), f"{src[0]}{src[1]}社会保险事业中心"),
        (rng.choice(("转入地", "现参保地", "转入地社会保险经办机构")), f"{dst[0]}{dst[1]}社会保险事业中心"),
        (rng.choice(("原参保单位", "转出单位")), u.name),
        ("参保缴费起止时间", f"{_cn_month(rng, start)}至{_cn_month(rng, ctx.formed)}"),
        ("累计缴费月数", f"{max(months, 1)}"),
        (rng.choice(("统筹基金转移额", "转移统筹基金")), _money(rng, pool)),
        (rng.choice(("个人账户转移额", "个人账户储存额")), _money(rng, account)),
        (rng.choice(("联系函编号", "转移编号")), f"{ctx.formed.year}{_digits(rng, 8)}"),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.5:
        lines.append(
            rng.choice(
                (
                    "请转出地社会保险经办机构办理基本养老保险关系转移手续。",
                    "本人申请将基本养老保险关系转入现就业地。",
                    "经审核,同意接收其基本养老保险关系及转移资金。",
                )
            )
        )
    return [lines + _signoff(ctx, p.name)]


def _form_injury(ctx: Ctx) -> list[list[str]]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    when = ctx.formed - timedelta(days=rng.randint(5, 300))
    part, diag = rng.choice(_INJURIES)
    decision = rng.random() < 0.3
    fields = [
        (rng.choice(("受伤害职工姓名", "职工姓名", "申请人")), p.name),
        ("性别", p.gender),
        ("身份证号码", p.id_number),
        ("用人单位", u.name),
        ("统一社会信用代码", u.uscc),
        ("职业(工种)", rng.choice(_POSTS)),
        (rng.choice(("事故发生时间", "事故时间", "受伤时间")), f"{_cn_date(rng, when)}{rng.randint(6, 22)}时"),
        ("事故地点", f"{u.name}{rng.choice(('车间', '仓库', '工地', '厂区道路', '办公楼'))}"),
        ("受伤部位", part),
        (rng.choice(("诊断结论", "诊断时间及结论")), diag),
        ("申请日期", _cn_date(rng, ctx.formed - timedelta(days=rng.randint(20, 60)))),
    ]
    lines = []
    if decision:
        lines.append(f"{ctx.place[1][:1]}人社工认字〔{ctx.formed.year}〕{rng.randint(1, 2000)}号")
    lines += _render_fields(rng, fields)
    lines.append(
        rng.choice(
            (
                f"事故经过:{_cn_date(rng, when)},{p.name}在工作中不慎受伤,被同事送往医院救治。",
                f"受伤害经过简述:该职工在{rng.choice(('搬运货物', '操作机床', '检修设备', '上班途中'))}时受到事故伤害。",
            )
        )
    )
    if decision or rng.random() < 0.4:
        lines.append(
            rng.choice(
                (
                    f"根据《工伤保险条例》第十四条第(一)项之规定,认定{p.name}受到的事故伤害为工伤。",
                    "经调查核实,符合《工伤保险条例》规定的工伤认定范围,现予以认定为工伤。",
                    "如对本工伤认定决定不服,可自收到之日起60日内申请行政复议。",
                )
            )
        )
    return [lines + _signoff(ctx, rng.choice((p.name, u.contact)))]


def _form_medical(ctx: Ctx) -> list[list[str]]:
    rng, p = ctx.rng, ctx.person
    admitted = ctx.formed - timedelta(days=rng.randint(10, 200))
    discharged = admitted + timedelta(days=rng.randint(1, 25))
    total = rng.uniform(800, 90000)
    pooled = total * rng.uniform(0.4, 0.85)
    fields = [
        *_person_fields(ctx),
        ("人员类别", rng.choice(("在职", "退休", "在职", "灵活就业"))),
        ("社会保障卡号", f"{rng.choice('ABCDEFGH')}{_digits(rng, 8)}"),
        (rng.choice(("就诊医院", "就医医院", "医疗机构名称")), f"{rng.choice(_PLACES)[1]}{rng.choice(_HOSPITALS)}"),
        ("就诊类型", rng.choice(("住院", "门诊", "门诊慢特病", "异地住院"))),
        (rng.choice(("入院日期", "就诊日期")), _cn_date(rng, admitted)),
        ("出院日期", _cn_date(rng, discharged)),
        (rng.choice(("诊断", "疾病诊断", "出院诊断")), rng.choice(_DISEASES)),
        (rng.choice(("医疗费用总额", "费用总额", "发票金额合计")), _money(rng, total)),
        ("统筹基金支付", _money(rng, pooled)),
        ("个人自付", _money(rng, total - pooled)),
        ("起付标准", _money(rng, rng.choice((300, 500, 600, 800, 1000)))),
        (rng.choice(("报销金额", "核定支付金额", "应付金额")), _money(rng, pooled)),
        ("开户银行", rng.choice(_BANKS)),
        ("银行账号", _bank_card(rng)),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.5:
        lines.append(rng.choice(("报销类别:异地就医手工报销", "报销原因:未能直接结算", "附发票 张,费用明细清单 份")))
    return [lines + _signoff(ctx, p.name)]


def _form_maternity(ctx: Ctx) -> list[list[str]]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    born = ctx.formed - timedelta(days=rng.randint(20, 300))
    mode = rng.choice(("顺产", "剖宫产", "顺产", "助产"))
    days = 98 + (15 if mode == "剖宫产" else 0) + rng.choice((0, 0, 60, 60, 30))
    daily = rng.uniform(120, 600)
    fields = [
        *_person_fields(ctx),
        ("统一社会信用代码", u.uscc),
        (rng.choice(("分娩日期", "生育日期")), _cn_date(rng, born)),
        ("分娩方式", mode),
        ("孕周", f"{rng.randint(36, 41)}周"),
        (rng.choice(("分娩医院", "生育医疗机构")), f"{ctx.place[1]}{rng.choice(_HOSPITALS)}"),
        ("配偶姓名", _person_name(rng)),
        (rng.choice(("产假天数", "享受产假天数")), f"{days}天"),
        ("日生育津贴标准", _money(rng, daily)),
        (rng.choice(("生育津贴", "生育津贴金额")), _money(rng, daily * days)),
        ("生育医疗费", _money(rng, rng.uniform(1500, 12000))),
        ("银行账号", _bank_card(rng)),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.5:
        lines.append(
            rng.choice(("生育津贴按用人单位上年度职工月平均工资除以30天计发。", "附出生医学证明复印件、分娩出院记录。"))
        )
    return [lines + _signoff(ctx, p.name)]


def _form_sscard(ctx: Ctx) -> list[list[str]]:
    rng, p = ctx.rng, ctx.person
    kind = rng.choice(("首次申领", "补领", "换领", "首次申领"))
    fields = [
        *_person_fields(ctx, with_unit=rng.random() < 0.4),
        ("国籍", "中国"),
        ("通讯地址", p.address),
        (rng.choice(("申领类型", "业务类型", "申请事项")), kind),
        ("补换原因", rng.choice(("遗失", "损坏", "卡面信息变更", "过期")) if kind != "首次申领" else ""),
        (rng.choice(("照片回执号", "相片受理号")), _digits(rng, 12)),
        (rng.choice(("金融功能开通银行", "合作银行")), rng.choice(_BANKS)),
        ("领卡方式", rng.choice(("网点领取", "邮寄", "即时制卡"))),
        (rng.choice(("领卡网点", "受理网点")), f"{rng.choice(_BANKS)}{ctx.place[2]}支行"),
    ]
    lines = _render_fields(rng, fields)
    if rng.random() < 0.5:
        lines.append(
            rng.choice(
                (
                    "社会保障卡遗失后请及时挂失,挂失后可申请补领。",
                    "本人同意开通社会保障卡金融功能。",
                    "监护人(代办人)签字:",
                )
            )
        )
    return [lines + _signoff(ctx, p.name)]


_FORMS: dict[str, Callable[[Ctx], list[list[str]]]] = {
    "单位参保登记": _form_unit_enrol,
    "职工参保登记": _form_staff_enrol,
    "用工备案": _form_hire,
    "退工备案": _form_separation,
    "缴费基数核定": _form_contrib_base,
    "失业保险金申领": _form_unemployment,
    "养老保险待遇核定": _form_pension,
    "养老保险关系转移接续": _form_transfer,
    "工伤认定": _form_injury,
    "医疗费用报销": _form_medical,
    "生育保险待遇申领": _form_maternity,
    "社会保障卡申领": _form_sscard,
}

# -- supporting pages --------------------------------------------------------------------------


def _distractor(ctx: Ctx, other: BusinessType) -> str:
    """A sentence of prose that mentions another business type."""
    rng = ctx.rng
    word = rng.choice(other.keywords) if other.keywords and rng.random() < 0.6 else other.name
    p = ctx.person.name
    return rng.choice(
        (
            f"本人知悉,{word}相关事项须另行申请,本材料不作为办理{other.name}的依据。",
            f"备注:如需办理{other.name},请持相关材料至服务大厅{rng.randint(1, 20)}号窗口。",
            f"经了解,{p}此前已办理{other.name}手续。",
            f"{p}表示今后将另行咨询{word}事宜。",
            f"根据规定,{other.name}与本次业务分别受理、分别归档。",
            f"附:{other.name}所需材料清单见背面。",
            f"温馨提示:{word}可通过网上经办大厅办理。",
            f"单位同时询问了{word}的办理流程,已一并告知。",
            f"因{word}问题,{p}曾于{_cn_date(rng, ctx.formed - timedelta(days=rng.randint(30, 900)))}来电咨询。",
        )
    )


def _others(ctx: Ctx, tax: Taxonomy) -> list[BusinessType]:
    rng = ctx.rng
    name = ctx.btype.name if ctx.btype else ""
    pool = [t for t in tax.types if t.name != name]
    picks: list[BusinessType] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        confusers = [tax.by_name(n) for n in _CONFUSERS.get(name, ()) if n in tax]
        picks.append(rng.choice(confusers) if confusers and rng.random() < 0.6 else rng.choice(pool))
    return picks


def _page_id_copy(ctx: Ctx) -> list[str]:
    rng, p = ctx.rng, ctx.person
    issued = ctx.formed - timedelta(days=rng.randint(100, 3600))
    lines = [
        rng.choice(("居民身份证复印件", "身份证复印件(正反面)", "")),
        f"姓名 {p.name}",
        f"性别 {p.gender}  民族 {p.ethnic.removesuffix('族')}",
        f"出生 {p.born.year}年{p.born.month}月{p.born.day}日",
        f"住址 {p.address}",
        f"公民身份号码 {p.id_number}",
        "中华人民共和国",
        "居民身份证",
        f"签发机关 {ctx.place[1]}公安局{ctx.place[2]}分局",
        f"有效期限 {issued:%Y.%m.%d}-{issued.year + rng.choice((10, 20))}.{issued:%m.%d}",
    ]
    if rng.random() < 0.6:
        lines.append(rng.choice(("此复印件仅供办理社保业务使用", "与原件核对一致", "复印件与原件相符 经办人核")))
    return [ln for ln in lines if ln]


def _page_contract(ctx: Ctx) -> list[str]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    begin = ctx.formed - timedelta(days=rng.randint(0, 3000))
    return [
        "劳动合同书",
        f"甲方(用人单位):{u.name}",
        f"法定代表人:{u.legal_rep}",
        f"乙方(劳动者):{p.name}  身份证号码:{p.id_number}",
        "根据《中华人民共和国劳动合同法》等法律法规,甲乙双方经平等协商,订立本合同。",
        f"第一条 合同期限自{_cn_date(rng, begin)}起至{_cn_date(rng, begin + timedelta(days=365 * rng.choice((1, 2, 3))))}止。",
        f"第二条 乙方从事{rng.choice(_POSTS)}岗位工作,工作地点为{ctx.place[1]}。",
        f"第三条 乙方月工资为{rng.randint(2500, 15000)}元,甲方每月{rng.randint(5, 20)}日前以货币形式支付。",
        "第四条 甲方依法为乙方缴纳各项社会保险费。",
        "第五条 本合同一式两份,甲乙双方各执一份。",
    ]


def _page_licence(ctx: Ctx) -> list[str]:
    rng, u = ctx.rng, ctx.unit
    return [
        "营业执照",
        "(副本)" if rng.random() < 0.6 else "",
        f"统一社会信用代码 {u.uscc}",
        f"名称 {u.name}",
        f"类型 {rng.choice(('有限责任公司(自然人投资或控股)', '股份有限公司', '其他有限责任公司'))}",
        f"法定代表人 {u.legal_rep}",
        f"注册资本 {rng.choice((50, 100, 200, 500, 1000, 3000))}万元整",
        f"成立日期 {_cn_date(rng, ctx.formed - timedelta(days=rng.randint(30, 6000)))}",
        f"住所 {u.address}",
        f"经营范围 {rng.choice(_INDUSTRY)}产品的研发、销售;技术服务。(依法须经批准的项目,经相关部门批准后方可开展经营活动)",
        f"登记机关 {ctx.place[1]}市场监督管理局",
    ]


def _page_invoice(ctx: Ctx) -> list[str]:
    rng, p = ctx.rng, ctx.person
    items = rng.sample(("西药费", "中成药费", "检查费", "化验费", "治疗费", "手术费", "床位费", "护理费", "材料费"), 4)
    lines = [
        rng.choice((f"{ctx.place[0]}医疗收费票据", "医疗住院收费票据(电子)", "门诊收费票据")),
        f"票据号码 {_digits(rng, 10)}",
        f"交款人 {p.name}",
        f"开票日期 {_cn_date(rng, ctx.formed - timedelta(days=rng.randint(5, 120)))}",
        "项目名称 金额",
    ]
    total = 0.0
    for item in items:
        amount = rng.uniform(20, 6000)
        total += amount
        lines.append(f"{item} {amount:.2f}")
    lines += [
        f"合计(小写) {total:.2f}",
        f"医保统筹支付 {total * rng.uniform(0.3, 0.8):.2f}",
        f"收款单位 {ctx.place[1]}{rng.choice(_HOSPITALS)}",
    ]
    return lines


def _page_diagnosis(ctx: Ctx) -> list[str]:
    rng, p = ctx.rng, ctx.person
    what = rng.choice((*_DISEASES, *(d for _, d in _INJURIES)))
    return [
        f"{ctx.place[1]}{rng.choice(_HOSPITALS)}",
        rng.choice(("诊断证明书", "疾病诊断证明", "出院记录")),
        f"姓名:{p.name} 性别:{p.gender} 年龄:{ctx.formed.year - p.born.year}岁",
        f"科别:{rng.choice(('骨科', '普外科', '心内科', '产科', '神经内科', '急诊科'))}  住院号:{_digits(rng, 7)}",
        f"诊断:{what}",
        f"建议:{rng.choice(('休息二周', '定期复查', '住院治疗', '避免劳累,门诊随访'))}",
        f"医师签名:{_person_name(rng)}",
        _cn_date(rng, ctx.formed - timedelta(days=rng.randint(3, 90))),
    ]


def _page_bank_card(ctx: Ctx) -> list[str]:
    rng = ctx.rng
    return [
        rng.choice(("银行卡复印件", "银行账户信息", "存折复印件")),
        rng.choice(_BANKS),
        rng.choice(("借记卡", "储蓄卡", "社会保障卡(金融账户)")),
        _bank_card(rng),
        f"户名:{ctx.person.name}",
        f"开户行:{rng.choice(_BANKS)}{ctx.place[2]}支行",
    ]


def _page_payslip(ctx: Ctx) -> list[str]:
    rng = ctx.rng
    lines = [
        f"{ctx.unit.name}",
        rng.choice(("工资发放明细表", "职工工资表", "工资明细")),
        f"所属期间:{_cn_month(rng, ctx.formed - timedelta(days=40))}",
    ]
    lines.append("姓名 应发工资 养老保险 医疗保险 失业保险 住房公积金 实发工资")
    for _ in range(rng.randint(2, 7)):
        wage = rng.randint(3000, 16000)
        lines.append(
            f"{_person_name(rng)} {wage} {wage * 0.08:.2f} {wage * 0.02:.2f} {wage * 0.005:.2f} {wage * 0.07:.2f} {wage * 0.825:.2f}"
        )
    lines.append(f"制表:{ctx.unit.contact}  审核:{_person_name(rng)}")
    return lines


def _page_statement(ctx: Ctx, others: list[BusinessType]) -> list[str]:
    rng, p = ctx.rng, ctx.person
    lines = [
        rng.choice(("情况说明", "说明", "个人承诺书", "申请书", "关于有关情况的说明")),
        rng.choice((f"{ctx.office}:", "社会保险经办机构:", "致经办机构:")),
        f"本人{p.name},身份证号码{p.id_number},现在{ctx.unit.name}工作(或曾在该单位工作)。",
    ]
    for other in others:
        lines.append(_distractor(ctx, other))
    lines.append(rng.choice(("特此说明。", "以上情况属实,如有不实愿承担法律责任。", "请予办理为盼。")))
    lines.append(f"说明人:{p.name}")
    lines.append(_cn_date(rng, ctx.formed))
    return lines


def _page_resignation(ctx: Ctx) -> list[str]:
    rng, p, u = ctx.rng, ctx.person, ctx.unit
    return [
        rng.choice(("离职证明", "解除劳动合同证明书", "终止劳动关系通知书")),
        f"兹证明{p.name}(身份证号码:{p.id_number})自{_cn_date(rng, ctx.formed - timedelta(days=rng.randint(400, 3000)))}起在我单位任{rng.choice(_POSTS)}。",
        f"因{rng.choice(('合同期满', '个人原因', '双方协商一致', '单位经营调整'))},双方已于{_cn_date(rng, ctx.formed - timedelta(days=rng.randint(0, 30)))}解除劳动关系。",
        f"{u.name}(盖章)",
        _cn_date(rng, ctx.formed),
    ]


def _page_household(ctx: Ctx) -> list[str]:
    rng, p = ctx.rng, ctx.person
    return [
        "常住人口登记卡",
        f"户主或与户主关系 {rng.choice(('户主', '子', '女', '妻', '夫'))}",
        f"姓名 {p.name}  性别 {p.gender}",
        f"出生地 {ctx.place[0]}{ctx.place[1]}",
        f"公民身份号码 {p.id_number}",
        f"文化程度 {rng.choice(_EDU)}  婚姻状况 {rng.choice(('已婚', '未婚'))}",
        f"何时由何地迁来本址 {rng.choice(('出生', ctx.place[1]))}",
        "承办人签章",
    ]


def _page_notice(ctx: Ctx, others: list[BusinessType], own: BusinessType | None) -> list[str]:
    """An office leaflet that lists several businesses — prose full of other types' names."""
    rng = ctx.rng
    names = [o.name for o in others]
    if own is not None and rng.random() < 0.5:
        names.append(own.name)
    rng.shuffle(names)
    lines = [rng.choice(("办事指南", "一次性告知单", "社会保险业务办理须知", "温馨提示"))]
    for i, name in enumerate(dict.fromkeys(names), 1):
        lines.append(
            f"{i}.{name}:{rng.choice(('携带本人身份证原件', '提交申请表及相关证明', '可网上办理', '即时办结'))}。"
        )
    lines.append(f"咨询电话:{ctx.place[1][:2]}{rng.choice(('12333', '12393'))}")
    return lines


def _page_power_of_attorney(ctx: Ctx) -> list[str]:
    rng = ctx.rng
    return [
        "授权委托书",
        f"委托人:{ctx.unit.name if rng.random() < 0.5 else ctx.person.name}",
        f"受托人:{ctx.unit.contact}  身份证号码:{ctx.unit.legal_rep_id}",
        "现委托上述受托人代为办理社会保险相关业务,受托人在办理过程中签署的有关文件,委托人均予以承认。",
        f"委托期限:自{_cn_date(rng, ctx.formed)}起三个月。",
        "委托人(签章):",
    ]


def _page_birth_cert(ctx: Ctx) -> list[str]:
    rng, p = ctx.rng, ctx.person
    return [
        "出生医学证明",
        f"新生儿姓名 {_person_name(rng)}  性别 {rng.choice('男女')}",
        f"出生时间 {_cn_date(rng, ctx.formed - timedelta(days=rng.randint(20, 300)))}",
        f"出生孕周 {rng.randint(36, 41)}周  体重 {rng.randint(2500, 4200)}克",
        f"母亲姓名 {p.name}  身份证件号码 {p.id_number}",
        f"接生机构名称 {ctx.place[1]}{rng.choice(_HOSPITALS)}",
        f"出生证编号 {rng.choice('ABCDEFGHJKLMNOPQRS')}{_digits(rng, 9)}",
    ]


def _page_accident(ctx: Ctx) -> list[str]:
    rng, p = ctx.rng, ctx.person
    return [
        rng.choice(("事故经过说明", "证人证言", "事故调查报告")),
        f"{_cn_date(rng, ctx.formed - timedelta(days=rng.randint(20, 200)))}上午,{p.name}在{ctx.unit.name}车间作业时受伤。",
        f"证人:{_person_name(rng)}  联系电话:{_phone(rng)}",
        "以上情况属实,证人愿承担相应法律责任。",
    ]


def _page_payment_record(ctx: Ctx) -> list[str]:
    rng, p = ctx.rng, ctx.person
    lines = [
        rng.choice(("个人权益记录单", "参保缴费明细", "社会保险个人缴费记录")),
        f"姓名:{p.name}  社会保障号码:{p.id_number}",
        "年度 缴费月数 缴费基数 个人缴费",
    ]
    year = ctx.formed.year
    for y in range(year - rng.randint(2, 6), year):
        base = rng.randint(3000, 12000)
        lines.append(f"{y} 12 {base} {base * 0.08 * 12:.2f}")
    return lines


_SUPPORT: dict[str, tuple[str, ...]] = {
    "单位参保登记": ("licence", "id_copy", "power_of_attorney", "bank_card", "statement", "notice"),
    "职工参保登记": ("id_copy", "contract", "household", "statement", "payslip"),
    "用工备案": ("contract", "id_copy", "statement", "household", "notice"),
    "退工备案": ("resignation", "id_copy", "statement", "contract", "notice"),
    "缴费基数核定": ("payslip", "licence", "statement", "power_of_attorney"),
    "失业保险金申领": ("resignation", "id_copy", "bank_card", "statement", "notice"),
    "养老保险待遇核定": ("id_copy", "household", "payment_record", "bank_card", "statement"),
    "养老保险关系转移接续": ("payment_record", "id_copy", "statement", "notice"),
    "工伤认定": ("diagnosis", "accident", "contract", "id_copy", "statement"),
    "医疗费用报销": ("invoice", "diagnosis", "bank_card", "id_copy", "statement"),
    "生育保险待遇申领": ("birth_cert", "invoice", "diagnosis", "id_copy", "bank_card", "statement"),
    "社会保障卡申领": ("id_copy", "statement", "household", "power_of_attorney"),
}
_SUPPORT_TITLES = {
    "id_copy": "身份证复印件",
    "contract": "劳动合同",
    "licence": "营业执照副本复印件",
    "invoice": "医疗收费票据",
    "diagnosis": "诊断证明",
    "bank_card": "银行卡复印件",
    "payslip": "工资明细",
    "statement": "情况说明",
    "resignation": "解除劳动合同证明",
    "household": "户口簿复印件",
    "notice": "告知单",
    "power_of_attorney": "授权委托书",
    "birth_cert": "出生医学证明",
    "accident": "事故经过说明",
    "payment_record": "参保缴费记录",
}


def _support_page(ctx: Ctx, kind: str, tax: Taxonomy) -> list[str]:
    simple: dict[str, Callable[[Ctx], list[str]]] = {
        "id_copy": _page_id_copy,
        "contract": _page_contract,
        "licence": _page_licence,
        "invoice": _page_invoice,
        "diagnosis": _page_diagnosis,
        "bank_card": _page_bank_card,
        "payslip": _page_payslip,
        "resignation": _page_resignation,
        "household": _page_household,
        "power_of_attorney": _page_power_of_attorney,
        "birth_cert": _page_birth_cert,
        "accident": _page_accident,
        "payment_record": _page_payment_record,
    }
    others = _others(ctx, tax)
    if kind == "statement":
        return _page_statement(ctx, others)
    if kind == "notice":
        return _page_notice(ctx, others, ctx.btype)
    lines = simple[kind](ctx)
    if ctx.rng.random() < 0.45:  # a handwritten note or stamp text on the copy
        lines.insert(ctx.rng.randint(1, len(lines)), _distractor(ctx, others[0]))
    return lines


# -- unrelated office papers (未分类) ------------------------------------------------------------


def _office_paper(ctx: Ctx, tax: Taxonomy) -> tuple[str, list[list[str]]]:
    rng = ctx.rng
    kind = rng.choice(
        ("会议通知", "采购合同", "工作总结", "会议纪要", "请示", "培训通知", "固定资产清单", "值班安排表", "函")
    )
    org = rng.choice((ctx.office, ctx.unit.name))
    d = _cn_date(rng, ctx.formed)
    if kind == "会议通知":
        body = [
            f"关于召开{rng.choice(('年度工作', '安全生产', '党风廉政建设', '第三季度经营分析', '档案管理'))}会议的通知",
            "各科室、各单位:",
            f"经研究,定于{d}上午{rng.randint(8, 10)}:30在{rng.choice(('三楼会议室', '一号会议室', '综合楼报告厅'))}召开会议。",
            "一、参会人员:各科室负责人。",
            "二、会议内容:总结上阶段工作,部署下阶段任务。",
            "三、请参会人员准时参加,不得无故缺席。",
            org,
            d,
        ]
    elif kind == "采购合同":
        amount = rng.uniform(5000, 900000)
        body = [
            rng.choice(("采购合同", "办公设备采购合同", "政府采购合同")),
            f"合同编号:CG{ctx.formed.year}{_digits(rng, 5)}",
            f"甲方(采购人):{org}",
            f"乙方(供应商):{_make_unit(rng, ctx.place).name}",
            f"统一社会信用代码:{valid_uscc(rng)}",
            f"采购内容:{rng.choice(('台式计算机', '复印机', '档案密集架', '办公桌椅', '服务器', '空调'))}{rng.randint(2, 80)}台(套)",
            f"合同金额:人民币{_money(rng, amount)}",
            "交货期限:合同签订后三十日内。",
            "质保期:自验收合格之日起一年。",
            "付款方式:验收合格后一次性支付。",
            f"签订日期:{d}",
        ]
    elif kind == "工作总结":
        body = [
            f"{org}{ctx.formed.year}年{rng.choice(('上半年', '度', '第一季度'))}工作总结",
            "一、主要工作完成情况",
        ]
        picks = rng.sample(tax.types, rng.randint(2, 5)) if rng.random() < 0.6 else []
        for t in picks:  # an office's summary counts its businesses: names everywhere, no form
            body.append(
                f"全年办理{t.name}业务{rng.randint(50, 30000)}件,{rng.choice(('同比增长', '同比下降'))}{rng.randint(1, 30)}%。"
            )
        body += [
            "二、存在的问题",
            "部分工作人员业务能力有待提高,信息化建设仍需加强。",
            "三、下一步工作打算",
            "继续深化“放管服”改革,提升服务效能。",
            d,
        ]
    elif kind == "会议纪要":
        body = [
            "会议纪要",
            f"时间:{d}",
            f"地点:{rng.choice(('四楼会议室', '局机关会议室'))}",
            f"主持人:{_person_name(rng)}",
            f"参加人员:{'、'.join(_person_name(rng) for _ in range(rng.randint(3, 6)))}",
            "会议议定事项如下:",
            f"一、关于{rng.choice(('办公楼维修', '年度预算', '车辆管理', '档案库房改造'))}事宜,原则同意。",
            "二、各科室按分工抓好落实。",
            f"记录人:{_person_name(rng)}",
        ]
    elif kind == "请示":
        body = [
            f"关于{rng.choice(('购置办公设备', '申请追加经费', '举办业务培训', '维修档案库房'))}的请示",
            f"{ctx.place[1]}人力资源和社会保障局:",
            f"因工作需要,我单位拟{rng.choice(('购置相关设备', '开展专项工作'))},预计费用{_money(rng, rng.uniform(3000, 200000))}。",
            "妥否,请批示。",
            org,
            d,
        ]
    elif kind == "培训通知":
        body = [
            f"关于举办{rng.choice(('档案数字化', '业务经办', '窗口服务礼仪', '网络安全'))}培训班的通知",
            f"培训时间:{d}",
            f"培训地点:{ctx.place[1]}{rng.choice(('党校', '职业技术学院', '会议中心'))}",
            "请各单位于培训前报送参训人员名单。",
            f"联系人:{_person_name(rng)} 电话:{_phone(rng)}",
        ]
    elif kind == "固定资产清单":
        body = [f"{org}固定资产清单", "序号 资产名称 规格型号 数量 金额 使用部门"]
        for i in range(1, rng.randint(4, 12)):
            body.append(
                f"{i} {rng.choice(('计算机', '打印机', '扫描仪', '档案柜', '投影仪'))} {rng.choice('ABCDX')}{rng.randint(100, 999)} {rng.randint(1, 9)} {rng.uniform(800, 30000):.2f} {rng.choice(('办公室', '财务科', '档案室'))}"
            )
    elif kind == "值班安排表":
        body = [f"{org}节假日值班安排表", "日期 带班领导 值班人员 联系电话"]
        for i in range(rng.randint(3, 8)):
            body.append(
                f"{_cn_date(rng, ctx.formed + timedelta(days=i))} {_person_name(rng)} {_person_name(rng)} {_phone(rng)}"
            )
    else:
        body = [
            rng.choice(("关于商请协助核实有关情况的函", "复函", "关于办公场地租赁事宜的函")),
            f"{_make_unit(rng, ctx.place).name}:",
            "贵单位来函收悉。经研究,现将有关事项函复如下:",
            f"一、{rng.choice(('同意按原协议执行', '请于本月底前提供相关材料', '相关费用由双方协商解决'))}。",
            "特此函复。",
            org,
            d,
        ]
    pages = [body]
    if rng.random() < 0.35:  # an attachment page
        pages.append(
            [
                f"附件{rng.randint(1, 3)}",
                *(f"{i}.{_person_name(rng)} {rng.choice(_POSTS)}" for i in range(1, rng.randint(4, 10))),
            ]
        )
    if rng.random() < 0.25:
        others = _others(ctx, tax)
        pages[-1].append(_distractor(ctx, others[0]))
    return kind, pages


# -- cover and catalogue -----------------------------------------------------------------------


def _archive_number(ctx: Ctx, btype: BusinessType | None, seq: int) -> str:
    rng = ctx.rng
    year = ctx.formed.year
    fonds = rng.choice((f"J{rng.randint(1, 999):03d}", f"A{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"))
    cat = btype.short if btype is not None and rng.random() < 0.5 else f"{rng.randint(1, 40):02d}"
    return rng.choice((f"{fonds}-{year}-{cat}-{seq:04d}", f"{fonds}·{year}·{cat}·{seq:04d}", f"{year}-{cat}-{seq:05d}"))


def _cover(ctx: Ctx, btype: BusinessType | None, subject_title: str, docs: int, pages: int) -> list[str]:
    rng = ctx.rng
    retention = btype.retention if btype is not None else rng.choice(("10年", "30年", "永久"))
    unit_centred = btype is not None and btype.key_fields[:1] == ("unit_name",)
    subject = ctx.unit.name if unit_centred else ctx.person.name
    if btype is None:
        topic = f"{ctx.unit.name}{subject_title}"
    else:
        topic = rng.choice(
            (
                f"{subject}{btype.name}材料",
                f"{subject}办理{btype.name}的材料",
                f"{ctx.formed.year}年度{btype.name}({subject})",
                f"{subject}{rng.choice(btype.form_titles)}等材料",
            )
        )
    lines = [
        rng.choice(("社会保险业务档案", "社会保险业务档案 案卷封面", "社 会 保 险 业 务 档 案")),
        f"全宗号{_sep(rng)}{rng.randint(1, 999):03d}" if rng.random() < 0.5 else "",
        f"档号{_sep(rng)}{_archive_number(ctx, btype, rng.randint(1, 9999))}",
        f"案卷题名{_sep(rng)}{topic}",
        f"立卷单位{_sep(rng)}{ctx.office}",
        f"起止日期{_cn_date(rng, ctx.formed)}至{_cn_date(rng, ctx.formed + timedelta(days=rng.randint(0, 30)))}",
        f"保管期限{_sep(rng)}{retention}",
        rng.choice((f"本卷共{docs}件{pages}页", f"本卷共 {docs} 件 {pages} 页", f"共{docs}件 {pages}页")),
    ]
    if rng.random() < 0.4:
        lines.append(f"密级{_sep(rng)}{rng.choice(('内部', '无', '秘密'))}")
    return [ln for ln in lines if ln]


def _catalogue(ctx: Ctx, entries: list[tuple[str, str, int, int]]) -> list[str]:
    rng = ctx.rng
    lines = [rng.choice(("卷内目录", "卷 内 目 录", "卷内文件目录"))]
    lines.append(
        rng.choice(("序号 文号 责任者 题名 日期 页号 备注", "序号 责任者 文件题名 日期 页次", "顺序号 题名 页号"))
    )
    for i, (resp, title, first, last) in enumerate(entries, 1):
        span = str(first) if first == last else f"{first}-{last}"
        lines.append(f"{i} {resp} {title} {ctx.formed:%Y%m%d} {span}")
    return lines


# -- OCR noise ---------------------------------------------------------------------------------


def add_ocr_noise(rng: random.Random, text: str, rate: float) -> str:
    """Text as a careless OCR would read it: per character, at ``rate``, a look-alike substitution,
    a drop, a doubling or a stray space; lines split in two now and then.

    Digits and Latin letters are only substituted or split by a space, never dropped or doubled;
    no letter turns into a digit and no separator between two digits is dropped, so every run of
    18 digits in the output was printed as such.
    """
    if rate <= 0:
        return text
    out_lines: list[str] = []
    for line in text.split("\n"):
        chars: list[str] = []
        for i, ch in enumerate(line):
            if ch == " " or rng.random() >= rate:
                chars.append(ch)
                continue
            alnum = ch.isascii() and ch.isalnum()
            # never a letter read as a digit, nor a separator between digits dropped: either
            # could join digit runs into an 18-digit number that was never printed
            looks = [c for c in _CONFUSABLE.get(ch, "") if ch.isdigit() or not c.isdigit()]
            between_digits = 0 < i < len(line) - 1 and line[i - 1].isdigit() and line[i + 1].isdigit()
            op = rng.random()
            if op < 0.55 and looks:
                chars.append(rng.choice(looks))
            elif op < 0.7 and not alnum and not between_digits:
                continue  # dropped
            elif op < 0.82 and not alnum:
                chars.append(ch + ch)  # doubled
            else:
                chars.append(ch + " " if rng.random() < 0.5 else " " + ch)  # stray space
        noisy = "".join(chars)
        if len(noisy) > 8 and rng.random() < rate * 4:
            cut = rng.randint(2, len(noisy) - 2)
            out_lines += [noisy[:cut].rstrip(), noisy[cut:].lstrip()]
        else:
            out_lines.append(noisy)
    return "\n".join(ln for ln in out_lines if ln.strip())


# -- dossiers ----------------------------------------------------------------------------------


def _born_range(name: str) -> tuple[date, date]:
    if name == "养老保险待遇核定":
        return date(1955, 1, 1), date(1972, 12, 31)
    if name == "生育保险待遇申领":
        return date(1982, 1, 1), date(2000, 12, 31)
    return date(1960, 1, 1), date(2004, 12, 31)


def _dossier(rng: random.Random, label: str, tax: Taxonomy, max_noise: float) -> dict[str, Any]:
    btype = None if label == UNCLASSIFIED else tax.by_name(label)
    place = rng.choice(_PLACES)
    formed = _random_day(rng, date(2008, 1, 1), date(2024, 12, 31))
    person = _make_person(rng, place, _born_range(label))
    if label == "生育保险待遇申领" and person.gender == "男":  # the mother claims; redraw until female
        while person.gender == "男":
            person = _make_person(rng, place, _born_range(label))
    if label == "养老保险待遇核定":  # the file is formed when the person retires
        formed = date(min(2024, max(2008, person.born.year + 60)), rng.randint(1, 12), rng.randint(1, 28))
    ctx = Ctx(
        rng=rng,
        btype=btype,
        person=person,
        unit=_make_unit(rng, place),
        place=place,
        formed=formed,
        business_number=_business_number(rng, formed.year),
        office=_office(rng, place),
        clerk=_person_name(rng),
        reviewer=_person_name(rng),
    )

    # documents (件): (responsible party, title, pages)
    docs: list[tuple[str, str, list[list[str]]]] = []
    if btype is None:
        kind, pages = _office_paper(ctx, tax)
        docs.append((ctx.office, kind, pages))
        if rng.random() < 0.3:
            kind2, pages2 = _office_paper(ctx, tax)
            docs.append((ctx.unit.name, kind2, pages2))
    else:
        header, title = _title_lines(ctx, btype.form_titles)
        form_pages = _FORMS[btype.name](ctx)
        form_pages[0] = header + form_pages[0]
        if len(form_pages) == 1 and rng.random() < 0.15:  # the sign-off half spills onto page 2
            page = form_pages[0]
            cut = max(3, int(len(page) * rng.uniform(0.55, 0.8)))
            form_pages = [page[:cut], page[cut:]]
        docs.append(
            (ctx.unit.name if rng.random() < 0.5 else ctx.office, title or rng.choice(btype.form_titles), form_pages)
        )
        kinds = list(_SUPPORT[btype.name])
        rng.shuffle(kinds)
        for kind in kinds[: rng.choice((0, 1, 1, 2, 2, 3, 3, 4))]:
            pages = [_support_page(ctx, kind, tax)]
            if kind == "contract" and rng.random() < 0.5:
                pages.append(["第六条 其他约定事项:", "甲方(盖章)        乙方(签字)", _cn_date(rng, ctx.formed)])
            docs.append(
                (
                    ctx.person.name if kind in ("id_copy", "statement", "household") else ctx.unit.name,
                    _SUPPORT_TITLES[kind],
                    pages,
                )
            )
        if len(docs) > 2 and rng.random() < 0.3:  # papers filed out of order
            rest = docs[1:]
            rng.shuffle(rest)
            docs = [docs[0], *rest] if rng.random() < 0.6 else [*rest[:1], docs[0], *rest[1:]]

    content = [page for _, _, pages in docs for page in pages]
    entries: list[tuple[str, str, int, int]] = []
    first = 1
    for resp, title, pages in docs:
        entries.append((resp, title, first, first + len(pages) - 1))
        first += len(pages)

    front = rng.random()
    has_cover = front >= NO_COVER_SHARE and front < 0.90
    has_catalogue = front >= NO_COVER_SHARE + 0.20
    prefix: list[list[str]] = []
    if has_cover:
        prefix.append(_cover(ctx, btype, docs[0][1], len(docs), len(content)))
    if has_catalogue:
        prefix.append(_catalogue(ctx, entries))

    rate = rng.uniform(0.0, max_noise)
    fullwidth = rng.random() < 0.6  # OCR engines differ in which punctuation they return
    texts = []
    for page in prefix + content:
        text = "\n".join(page)
        if fullwidth:
            text = text.translate(_FULLWIDTH)
        texts.append(add_ocr_noise(rng, text, rate))
    return {
        "label": label,
        "pages": texts,
        "meta": {"cover": has_cover, "catalogue": has_catalogue, "noise_rate": round(rate, 5), "documents": len(docs)},
    }


def generate_corpus(
    n_per_type: int, seed: int, *, taxonomy: Taxonomy | None = None, max_noise: float = MAX_NOISE
) -> list[dict[str, Any]]:
    """``n_per_type`` dossiers for every business type and for 未分类, shuffled.

    Each is ``{"label": name, "pages": [page text, ...], "meta": {...}}``; ``meta`` tells whether a
    cover and a catalogue were included and the noise rate drawn.  The same seed gives the same list.
    """
    tax = taxonomy or load_taxonomy()
    missing = [t.name for t in tax.types if t.name not in _FORMS]
    if missing:
        raise ValueError(f"语料生成器没有以下业务类型的表单模板:{'、'.join(missing)}")
    master = random.Random(seed)
    out = []
    for label in tax.labels:
        for _ in range(n_per_type):
            out.append(_dossier(random.Random(master.getrandbits(64)), label, tax, max_noise))
    master.shuffle(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="生成业务类型分类训练语料 (JSONL,每行一个案卷)")
    parser.add_argument("out", type=Path, help="输出的 JSONL 文件")
    parser.add_argument("--per-type", type=int, default=200, help="每个业务类型(含未分类)生成的案卷数")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-noise", type=float, default=MAX_NOISE, help="每字符 OCR 噪声率上限")
    parser.add_argument("--taxonomy", type=Path, default=None, help="业务类型分类表 YAML(默认用内置的)")
    args = parser.parse_args(argv)
    tax = load_taxonomy(args.taxonomy)
    corpus = generate_corpus(args.per_type, args.seed, taxonomy=tax, max_noise=args.max_noise)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for record in corpus:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"已写入 {len(corpus)} 个案卷到 {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
