"""Synthetic scanned social-insurance dossiers (社保档案) for tests and demos.

Every dossier is a PDF whose pages are each one embedded JPEG drawn full-page, as a scanner
writes them, plus a JSON "truth" file describing what is printed on it: the business type,
the 档号, the person and unit with valid check characters, and every text line per page.

Usage::

    python scripts/generate_fixtures.py OUT_DIR --count 3 --seed 7 --batch [--rotate]

With ``--batch`` the dossiers are also written as one ``batch.pdf`` in which each dossier is
preceded by a separator sheet (a page with only a QR code reading ``DOSSIER:<档号>``), and
``batch.json`` lists the 档号 in order.

Page rotation in the truth follows ``ocr.engine``: ``rotation`` is the number of degrees the
scan must be turned *clockwise* to make it upright (0, 90, 180 or 270).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import qrcode
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from qrcode.constants import ERROR_CORRECT_M

DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"  # Debian: fonts-wqy-microhei
A4_MM = (210.0, 297.0)
SEPARATOR_PREFIX = "DOSSIER:"
SEPARATOR_QR_CM = 3.5
DEFAULT_DPI = 200  # the least DA/T 31-2017 accepts for archive scans; ingest flags less
FIXED_PDF_TIME = time.gmtime(1_704_067_200)  # 2024-01-01T00:00:00Z

# -- check characters ------------------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_MAP = "10X98765432"

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code, 8 body characters

# (region code, province, city, district, short city name)
REGIONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("370303", "山东省", "淄博市", "张店区", "淄博"),
    ("370102", "山东省", "济南市", "历下区", "济南"),
    ("370203", "山东省", "青岛市", "市北区", "青岛"),
    ("110101", "北京市", "北京市", "东城区", "北京"),
    ("310104", "上海市", "上海市", "徐汇区", "上海"),
    ("320102", "江苏省", "南京市", "玄武区", "南京"),
    ("330106", "浙江省", "杭州市", "西湖区", "杭州"),
    ("420106", "湖北省", "武汉市", "武昌区", "武汉"),
    ("440106", "广东省", "广州市", "天河区", "广州"),
    ("510107", "四川省", "成都市", "武侯区", "成都"),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰文斌波宇浩凯鹏辉晓东海燕雪梅丹宁雷鑫欣怡子涵俊峰"
)
TRADE_NAMES = (
    "华信",
    "鑫源",
    "恒泰",
    "宏达",
    "金诚",
    "瑞丰",
    "永盛",
    "天成",
    "嘉禾",
    "博远",
    "新锐",
    "立德",
    "正和",
    "泰华",
)
INDUSTRIES = (
    "机械制造",
    "商贸",
    "物流",
    "建筑工程",
    "食品",
    "电子科技",
    "纺织",
    "化工",
    "信息技术",
    "餐饮管理",
    "医药",
)
COMPANY_FORMS = ("有限公司", "有限公司", "有限责任公司", "股份有限公司")
STREETS = (
    "华光路",
    "人民路",
    "解放路",
    "建设路",
    "中山路",
    "和平路",
    "新华街",
    "文化路",
    "胜利街",
    "光明路",
    "共青团路",
)
ETHNICITIES = ("汉", "汉", "汉", "汉", "汉", "回", "满", "蒙古")
BANKS = ("中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "邮政储蓄银行")

# business type -> (code in the 档号, form title, retention period)
BUSINESS_TYPES: dict[str, tuple[str, str, str]] = {
    "职工参保登记": ("ENRO", "社会保险参保人员登记表", "永久"),
    "退工备案": ("TERM", "退工备案表", "30年"),
    "失业保险金申领": ("UNEM", "失业保险金申领表", "30年"),
    "单位参保登记": ("UNIT", "社会保险单位参保登记表", "永久"),
}

ROTATIONS = (90, 180, 270)


def valid_id_number(
    rng: random.Random, *, born_between: tuple[date, date] = (date(1960, 1, 1), date(2002, 12, 31))
) -> str:
    """An 18-character 公民身份号码 with a correct GB 11643-1999 check digit and a birth date in range."""
    region = rng.choice(REGIONS)[0]
    first, last = born_between
    birth = first + timedelta(days=rng.randrange(max(1, (last - first).days)))
    body = f"{region}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + id_check_digit(body)


def id_check_digit(body: str) -> str:
    """The GB 11643-1999 check digit of the first 17 digits of a 公民身份号码."""
    total = sum(int(c) * w for c, w in zip(body[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK_MAP[total % 11]


def corrupt_check_digit(id_number: str) -> str:
    """The same 公民身份号码 with a wrong (but well-formed) check digit."""
    good = id_check_digit(id_number)
    wrong = ID_CHECK_MAP[(ID_CHECK_MAP.index(good) + 1) % len(ID_CHECK_MAP)]
    return id_number[:17] + wrong


def uscc_check_char(body: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters of a 统一社会信用代码."""
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(body[:17], USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def _org_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714 check character) drawn from the USCC charset."""
    body = "".join(rng.choice(USCC_CHARSET) for _ in range(8))
    total = sum(int(c, 36) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def valid_uscc(rng: random.Random, region: str | None = None) -> str:
    """An 18-character 统一社会信用代码 (91 + region + organisation code) with a correct check character."""
    region = region or rng.choice(REGIONS)[0]
    body = "91" + region + _org_code(rng)
    return body + uscc_check_char(body)


# -- dossier content -------------------------------------------------------------------------


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def _region(code: str) -> tuple[str, str, str, str, str]:
    return next(r for r in REGIONS if r[0] == code)


def _address(rng: random.Random, region_code: str) -> str:
    _, province, city, district, _ = _region(region_code)
    prefix = city + district if province == city else province + city + district
    return f"{prefix}{rng.choice(STREETS)}{rng.randint(1, 299)}号"


def _cn_date(d: date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "150", "153", "186", "187", "135", "177")) + f"{rng.randrange(10**8):08d}"


def _with_year(d: date, year: int) -> date:
    """``d`` moved to ``year``; 29 February becomes 28 February in a common year."""
    try:
        return d.replace(year=year)
    except ValueError:
        return d.replace(year=year, day=28)


def _id_copy_page(person: dict[str, str], address: str, issued: date) -> list[str]:
    id_number = person["id_number"]
    birth = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    _, _, city, district, _ = _region(id_number[:6])
    return [
        "居民身份证复印件",
        f"姓名 {person['name']}",
        f"性别 {person['gender']}  民族 {person['ethnicity']}",
        f"出生 {birth.year}年{birth.month}月{birth.day}日",
        f"住址 {address}",
        f"公民身份号码 {id_number}",
        f"签发机关 {city}公安局{district}分局",
        f"有效期限 {issued:%Y.%m.%d}-{_with_year(issued, issued.year + 20):%Y.%m.%d}",
    ]


def make_dossier(seed: int, business_type: str) -> dict[str, Any]:
    """The truth of one synthetic dossier: who, which unit, the 档号 and the text of 1-3 pages."""
    if business_type not in BUSINESS_TYPES:
        raise ValueError(f"unknown business type {business_type!r}; known: {', '.join(BUSINESS_TYPES)}")
    rng = random.Random(seed)
    code, form_title, retention = BUSINESS_TYPES[business_type]

    handled = date(2012, 1, 1) + timedelta(days=rng.randrange(12 * 365))  # the business date
    id_number = valid_id_number(
        rng, born_between=(_with_year(handled, handled.year - 55), _with_year(handled, handled.year - 26))
    )
    gender = "男" if int(id_number[16]) % 2 else "女"
    person = {"name": _name(rng), "id_number": id_number}
    person_extra = {**person, "gender": gender, "ethnicity": rng.choice(ETHNICITIES)}
    home = _address(rng, id_number[:6])

    unit_region = rng.choice(REGIONS)[0]
    city_short = _region(unit_region)[4]
    unit = {
        "name": city_short + rng.choice(TRADE_NAMES) + rng.choice(INDUSTRIES) + rng.choice(COMPANY_FORMS),
        "uscc": valid_uscc(rng, unit_region),
    }
    unit_address = _address(rng, unit_region)

    birth = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    archive_number = f"{unit_region}-{code}-{handled.year}-{retention}-{rng.randint(1, 9999):04d}"
    business_number = f"{code}{handled:%Y%m%d}{rng.randrange(10**5):05d}"
    clerk, reviewer = _name(rng), _name(rng)
    ident = f"姓名 {person['name']}  公民身份号码 {id_number}"
    sex_birth = f"性别 {gender}  出生日期 {_cn_date(birth)}  民族 {person_extra['ethnicity']}族"
    unit_lines = [f"单位名称 {unit['name']}", f"统一社会信用代码 {unit['uscc']}"]
    staff = f"经办人 {clerk}  审核人 {reviewer}"

    extra_pages: list[tuple[str, list[str]]] = []
    if business_type == "职工参保登记":
        start = handled - timedelta(days=rng.randint(3, 25))
        body = [
            f"业务流水号 {business_number}",
            ident,
            sex_birth,
            f"户籍地址 {home}",
            f"联系电话 {_phone(rng)}",
            *unit_lines,
            "参保险种 养老 医疗 失业 工伤 生育",
            f"参保日期 {_cn_date(start)}  缴费基数 {rng.randrange(30, 120) * 100}.00元",
            staff,
            f"经办日期 {_cn_date(handled)}",
        ]
    elif business_type == "退工备案":
        hired = handled - timedelta(days=rng.randint(200, 2800))
        left = handled - timedelta(days=rng.randint(1, 20))
        reason = rng.choice(("劳动合同期满终止", "协商一致解除劳动合同", "劳动者提出解除劳动合同", "单位经济性裁员"))
        body = [
            f"业务流水号 {business_number}",
            ident,
            sex_birth,
            *unit_lines,
            f"入职日期 {_cn_date(hired)}  退工日期 {_cn_date(left)}",
            f"退工原因 {reason}",
            f"联系电话 {_phone(rng)}",
            staff,
            f"备案日期 {_cn_date(handled)}",
        ]
        extra_pages.append(("termination_proof", _termination_proof(person, unit, hired, left)))
    elif business_type == "失业保险金申领":
        hired = handled - timedelta(days=rng.randint(400, 2800))
        left = handled - timedelta(days=rng.randint(5, 40))
        months = max(12, (left - hired).days // 30)
        body = [
            f"业务流水号 {business_number}",
            ident,
            sex_birth,
            f"原工作单位 {unit['name']}",
            f"统一社会信用代码 {unit['uscc']}",
            f"失业日期 {_cn_date(left)}  累计缴费月数 {months}个月",
            f"申领期限 {min(24, max(3, months // 5))}个月  月发放标准 {rng.randrange(120, 220) * 10}.00元",
            f"开户银行 {rng.choice(BANKS)}",
            f"银行账号 6222 {rng.randrange(10**4):04d} {rng.randrange(10**4):04d} {rng.randrange(10**4):04d}",
            staff,
            f"申领日期 {_cn_date(handled)}",
        ]
        extra_pages.append(("termination_proof", _termination_proof(person, unit, hired, left)))
    else:  # 单位参保登记: the person is the legal representative
        founded = handled - timedelta(days=rng.randint(30, 4000))
        body = [
            f"业务流水号 {business_number}",
            *unit_lines,
            f"单位类型 企业  成立日期 {_cn_date(founded)}",
            f"单位地址 {unit_address}",
            f"法定代表人 {person['name']}  公民身份号码 {id_number}",
            f"联系人 {_name(rng)}  联系电话 {_phone(rng)}",
            f"开户银行 {rng.choice(BANKS)}",
            "参保险种 养老 医疗 失业 工伤 生育",
            staff,
            f"登记日期 {_cn_date(handled)}",
        ]
        extra_pages.append(
            (
                "license_copy",
                [
                    "营业执照（副本）复印件",
                    f"统一社会信用代码 {unit['uscc']}",
                    f"名称 {unit['name']}",
                    "类型 有限责任公司（自然人投资或控股）",
                    f"法定代表人 {person['name']}",
                    f"注册资本 {rng.choice((50, 100, 200, 500, 1000))}万元整",
                    f"成立日期 {_cn_date(founded)}",
                    f"住所 {unit_address}",
                ],
            )
        )

    pages: list[dict[str, Any]] = [{"kind": "form", "lines": [form_title, *body], "seal": unit["name"]}]
    if rng.random() < 0.75:
        issued = _with_year(birth, max(birth.year + 16, handled.year - rng.randint(1, 15)))
        pages.append({"kind": "id_copy", "lines": _id_copy_page(person_extra, home, issued)})
    if extra_pages and rng.random() < 0.6:
        kind, lines = rng.choice(extra_pages)
        pages.append({"kind": kind, "lines": lines, "seal": unit["name"] if kind == "termination_proof" else None})

    return {
        "business_type": business_type,
        "archive_number": archive_number,
        "business_number": business_number,
        "date": handled.isoformat(),
        "person": person,
        "unit": unit,
        "pages": [
            {"n": n, "kind": p["kind"], "lines": p["lines"], "seal": p.get("seal"), "rotation": 0}
            for n, p in enumerate(pages, start=1)
        ],
    }


def _termination_proof(person: dict[str, str], unit: dict[str, str], hired: date, left: date) -> list[str]:
    return [
        "解除（终止）劳动合同证明书",
        f"兹证明 {person['name']} 同志，公民身份号码 {person['id_number']}，",
        f"于{_cn_date(hired)}至{_cn_date(left)}在我单位工作，",
        f"双方于{_cn_date(left)}解除（终止）劳动合同。",
        "特此证明。",
        f"单位名称 {unit['name']}",
        f"日期 {_cn_date(left)}",
    ]


# -- rendering -------------------------------------------------------------------------------


def a4_size(dpi: int) -> tuple[int, int]:
    """Width and height in pixels of an A4 page at ``dpi``."""
    return round(A4_MM[0] / 25.4 * dpi), round(A4_MM[1] / 25.4 * dpi)


def _font(font_path: str | None, size_px: int) -> ImageFont.FreeTypeFont:
    path = font_path or DEFAULT_FONT
    if not Path(path).is_file():
        raise SystemExit(
            f"找不到中文字体 {path}：请安装 fonts-wqy-microhei（apt-get install fonts-wqy-microhei）或用 --font 指定"
        )
    return ImageFont.truetype(path, size_px, index=0)


def _paper(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A slightly warm off-white sheet with a faint illumination gradient, float32 RGB."""
    tone = np.array([246.0, 244.0, 238.0], dtype=np.float32) + rng.uniform(-3, 3, 3).astype(np.float32)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    gx, gy = rng.uniform(-4, 4, 2)
    shade = gx * xs + gy * ys
    return np.clip(tone[None, None, :] + shade[:, :, None], 0, 255).astype(np.float32)


def _draw_seal(
    size: int, text: str, rng: np.random.Generator, font_path: str | None, label: str = "人事专用章"
) -> np.ndarray:
    """Opacity mask (float32, 0..1) of a round seal: ring, five-pointed star, text along the upper arc."""
    scale = 3  # draw large, then downsample: smooth edges
    big = size * scale
    layer = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(layer)
    c = big / 2
    r = big / 2 - 2 * scale
    ring = max(3, round(big * 0.028))
    draw.ellipse((c - r, c - r, c + r, c + r), outline=255, width=ring)
    # five-pointed star in the centre
    star_r = r * 0.30
    points = []
    for i in range(10):
        rad = star_r if i % 2 == 0 else star_r * 0.382
        ang = -math.pi / 2 + i * math.pi / 5
        points.append((c + rad * math.cos(ang), c + rad * math.sin(ang)))
    draw.polygon(points, fill=255)
    # the unit name along the upper arc, each character's top pointing outwards
    chars = list(text)
    span = min(235.0, 25.0 * len(chars))  # degrees of arc the text covers
    arc_per_char = 2 * math.pi * r * 0.68 * span / 360 / max(1, len(chars) - 1)
    char_px = round(min(r * 0.25, arc_per_char * 0.92))
    font = _font(font_path, char_px)
    text_r = r - ring - char_px * 0.72
    step = span / (len(chars) - 1) if len(chars) > 1 else 0.0
    for i, ch in enumerate(chars):
        theta = 90.0 + span / 2 - i * step  # degrees, counter-clockwise from +x, y up
        tile = Image.new("L", (char_px * 2, char_px * 2), 0)
        ImageDraw.Draw(tile).text((char_px, char_px), ch, font=font, fill=255, anchor="mm")
        tile = tile.rotate(theta - 90.0, resample=Image.Resampling.BICUBIC)
        x = c + text_r * math.cos(math.radians(theta))
        y = c - text_r * math.sin(math.radians(theta))
        layer.paste(255, (round(x - char_px), round(y - char_px)), tile)
    if label:  # a short line under the star, e.g. 人事专用章
        label_font = _font(font_path, round(char_px * 0.72))
        draw.text((c, c + r * 0.50), label, font=label_font, fill=255, anchor="mm")
    mask = np.asarray(layer.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    # uneven ink: low-frequency blotches where the stamp pressed lighter
    coarse = rng.uniform(0.55, 1.0, (8, 8)).astype(np.float32)
    blotch = np.asarray(
        Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC),
        dtype=np.float32,
    )
    return np.clip(mask * (blotch / 255.0) * 0.92, 0.0, 1.0)


def render_page(
    lines: list[str],
    *,
    seed: int,
    font_path: str | None = None,
    dpi: int = DEFAULT_DPI,
    seal: bool = False,
    noise: float = 0.3,
    skew_deg: float = 0.7,
    seal_text: str = "社会保险业务专用章",
    ruled: bool = False,
) -> Image.Image:
    """An A4 RGB page image that looks scanned: ``lines[0]`` is the centred title, the rest body text.

    Body text is 12-13 pt, the title 18 pt. ``seal`` stamps a red round seal (``seal_text`` on its
    arc) over the right end of the last line. ``ruled`` draws form rules between the body lines.
    The same arguments always give the same pixels.
    """
    rng = np.random.default_rng(seed)
    width, height = a4_size(dpi)
    pt = dpi / 72.0
    body_px = round(float(rng.uniform(12.0, 13.0)) * pt)
    title_px = round(18.0 * pt)
    body_font, title_font = _font(font_path, body_px), _font(font_path, title_px)
    margin_x = round(25 / 25.4 * dpi)
    top = round(28 / 25.4 * dpi)
    usable = width - 2 * margin_x

    ink = (18, 18, 22)
    sheet = Image.new("L", (width, height), 255)  # ink layer: 255 paper, 0 ink
    draw = ImageDraw.Draw(sheet)
    y = top
    last_right, last_mid = margin_x + usable // 2, top
    if lines:
        draw.text((width / 2, y), lines[0], font=title_font, fill=0, anchor="mt")
        y += round(title_px * 2.2)
    row_h = round(body_px * 2.1)
    table_top = y - round(row_h * 0.35)
    for line in lines[1:]:
        font = body_font
        text_w = draw.textlength(line, font=font)
        if text_w > usable:  # shrink an overlong line rather than letting it run off the page
            font = _font(font_path, max(8, int(body_px * usable / text_w)))
            text_w = draw.textlength(line, font=font)
        x0 = margin_x + (round(body_px * 0.5) if ruled else 0)
        draw.text((x0, y), line, font=font, fill=0, anchor="lt")
        last_right, last_mid = x0 + text_w, y + body_px // 2
        y += row_h
    if ruled and len(lines) > 1:
        line_w = max(1, round(dpi / 100))
        bottom = table_top + row_h * (len(lines) - 1)
        draw.rectangle((margin_x, table_top, width - margin_x, bottom), outline=40, width=line_w)
        for i in range(1, len(lines) - 1):
            yy = table_top + row_h * i
            draw.line((margin_x, yy, width - margin_x, yy), fill=90, width=line_w)

    page = _paper(rng, width, height)
    ink_alpha = 1.0 - np.asarray(sheet, dtype=np.float32) / 255.0
    page = page * (1.0 - ink_alpha[:, :, None]) + np.array(ink, dtype=np.float32)[None, None, :] * ink_alpha[:, :, None]

    if seal:
        size = round(40 / 25.4 * dpi)  # a 40 mm unit seal
        mask = _draw_seal(size, seal_text, rng, font_path)
        cx = int(min(last_right - size * 0.15, width - margin_x - size * 0.45) + rng.uniform(-0.05, 0.05) * size)
        cy = int(last_mid - size * 0.2 + rng.uniform(-0.08, 0.08) * size)
        tilt = float(rng.uniform(-15, 15))
        mask = (
            np.asarray(
                Image.fromarray((mask * 255).astype(np.uint8)).rotate(tilt, resample=Image.Resampling.BICUBIC),
                dtype=np.float32,
            )
            / 255.0
        )
        x0, y0 = cx - size // 2, cy - size // 2
        xa, ya = max(0, x0), max(0, y0)
        xb, yb = min(width, x0 + size), min(height, y0 + size)
        m = mask[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
        red = np.array([208.0, 38.0, 44.0], dtype=np.float32) / 255.0
        region = page[ya:yb, xa:xb]
        page[ya:yb, xa:xb] = region * (1.0 - m * (1.0 - red[None, None, :]))  # multiply: ink shows through

    # speckle: dust and toner dots
    n_specks = int(noise * width * height / 15000)
    for _ in range(n_specks):
        sx, sy = int(rng.integers(0, width - 3)), int(rng.integers(0, height - 3))
        r = int(rng.integers(1, 3))
        page[sy : sy + r, sx : sx + r] *= float(rng.uniform(0.15, 0.7))

    img = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8), "RGB")
    angle = float(rng.uniform(-skew_deg, skew_deg)) if skew_deg > 0 else 0.0
    if angle:
        fill = tuple(int(v) for v in page[2, 2])
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=fill)
    img = img.filter(ImageFilter.GaussianBlur(radius=0.55 * dpi / 150))
    if noise > 0:  # sensor grain, kept faint: it costs JPEG bytes
        arr = np.asarray(img, dtype=np.float32)
        arr = arr + rng.normal(0.0, 2.0 * noise, arr.shape[:2]).astype(np.float32)[:, :, None]
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return img


def separator_page(archive_number: str, dpi: int) -> Image.Image:
    """A blank A4 page carrying only a ~3.5 cm QR code (error correction M) reading ``DOSSIER:<档号>``."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    qr.add_data(SEPARATOR_PREFIX + archive_number)
    qr.make(fit=True)
    modules = qr.modules_count
    box = max(2, round(SEPARATOR_QR_CM / 2.54 * dpi / modules))
    matrix = np.array(qr.get_matrix(), dtype=bool)
    code = np.where(matrix, 0, 255).astype(np.uint8)
    code = np.kron(code, np.ones((box, box), dtype=np.uint8))
    width, height = a4_size(dpi)
    page = Image.new("RGB", (width, height), (250, 250, 248))
    qr_img = Image.fromarray(code, "L").convert("RGB")
    page.paste(qr_img, ((width - qr_img.width) // 2, (height - qr_img.height) // 2))
    return page.filter(ImageFilter.GaussianBlur(radius=0.4 * dpi / 150))


def write_pdf(
    images: Sequence[Image.Image],
    path: str | Path,
    dpi: int,
    quality: int = 80,
    created: time.struct_time = FIXED_PDF_TIME,
) -> None:
    """A PDF whose every page is exactly one baseline JPEG drawn full-page, like a scanner's output.

    ``created`` is written as CreationDate/ModDate; the fixed default keeps the bytes reproducible.
    """
    if not images:
        raise ValueError("a PDF needs at least one page")
    first, *rest = [im if im.mode in ("RGB", "L") else im.convert("RGB") for im in images]
    first.save(
        str(path),
        "PDF",
        save_all=True,
        append_images=rest,
        resolution=float(dpi),
        quality=quality,
        optimize=True,  # optimised Huffman tables: still baseline JPEG, about a fifth smaller
        title="scan",
        creator="scripts/generate_fixtures.py",
        producer="synthetic scanner",
        creationDate=created,
        modDate=created,
    )


def _rotate_scan(img: Image.Image, rotation: int) -> Image.Image:
    """The scan of an upright page that must be turned ``rotation`` degrees clockwise to be upright."""
    transpose = {
        90: Image.Transpose.ROTATE_90,  # counter-clockwise
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    return img if rotation % 360 == 0 else img.transpose(transpose[rotation % 360])


def render_dossier(truth: dict[str, Any], *, seed: int, dpi: int, font_path: str | None = None) -> list[Image.Image]:
    """The scanned page images of a dossier truth, turned as its pages' ``rotation`` says."""
    images = []
    for page in truth["pages"]:
        img = render_page(
            page["lines"],
            seed=seed * 100 + page["n"],
            font_path=font_path,
            dpi=dpi,
            seal=bool(page.get("seal")),
            seal_text=page.get("seal") or "社会保险业务专用章",
            ruled=page["kind"] == "form",
        )
        images.append(_rotate_scan(img, int(page.get("rotation", 0))))
    return images


def generate(
    out_dir: Path,
    *,
    count: int,
    seed: int,
    batch: bool = False,
    rotate: bool = False,
    dpi: int = DEFAULT_DPI,
    quality: int = 80,
    font_path: str | None = None,
    business_types: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Write ``dossier-NNN.pdf``/``.json`` for ``count`` dossiers (and ``batch.pdf``/``.json``); return the truths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds = list(business_types or BUSINESS_TYPES)
    truths: list[dict[str, Any]] = []
    batch_images: list[Image.Image] = []
    for i in range(count):
        dossier_seed = seed * 1000 + i
        truth = make_dossier(dossier_seed, kinds[i % len(kinds)])
        if rotate:
            truth["pages"][0]["rotation"] = ROTATIONS[i % len(ROTATIONS)]
        name = f"dossier-{i + 1:03d}"
        truth = {"file": f"{name}.pdf", "seed": dossier_seed, "dpi": dpi, **truth}
        images = render_dossier(truth, seed=dossier_seed, dpi=dpi, font_path=font_path)
        write_pdf(images, out_dir / f"{name}.pdf", dpi, quality)
        (out_dir / f"{name}.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        truths.append(truth)
        if batch:
            batch_images.append(separator_page(truth["archive_number"], dpi))
            batch_images.extend(images)
    if batch and truths:
        write_pdf(batch_images, out_dir / "batch.pdf", dpi, quality)
        summary = {
            "file": "batch.pdf",
            "archive_numbers": [t["archive_number"] for t in truths],
            "dossiers": [t["file"] for t in truths],
            "page_count": len(batch_images),
            "separator_pages": _separator_indices(truths),
        }
        (out_dir / "batch.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return truths


def _separator_indices(truths: Sequence[dict[str, Any]]) -> list[int]:
    """0-based indices of the separator pages in ``batch.pdf``."""
    indices, at = [], 0
    for t in truths:
        indices.append(at)
        at += 1 + len(t["pages"])
    return indices


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="生成合成的社保档案扫描件（测试夹具）")
    parser.add_argument("out_dir", type=Path, help="输出目录")
    parser.add_argument("--count", type=int, default=3, help="案卷数量")
    parser.add_argument("--seed", type=int, default=7, help="随机种子")
    parser.add_argument("--batch", action="store_true", help="另外生成带分隔页的 batch.pdf 与 batch.json")
    parser.add_argument("--rotate", action="store_true", help="每个案卷的第一页依次旋转 90/180/270 度")
    parser.add_argument("--dpi", type=int, default=DEFAULT_DPI, help="扫描分辨率")
    parser.add_argument("--quality", type=int, default=80, help="JPEG 质量")
    parser.add_argument("--font", default=None, help=f"中文字体文件（默认 {DEFAULT_FONT}）")
    parser.add_argument(
        "--business-type", action="append", choices=list(BUSINESS_TYPES), help="业务类型（可重复，默认轮流使用全部）"
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    truths = generate(
        args.out_dir,
        count=args.count,
        seed=args.seed,
        batch=args.batch,
        rotate=args.rotate,
        dpi=args.dpi,
        quality=args.quality,
        font_path=args.font,
        business_types=args.business_type,
    )
    for t in truths:
        print(f"{t['file']}  {t['archive_number']}  {t['business_type']}  {len(t['pages'])} 页")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
