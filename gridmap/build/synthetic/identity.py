"""Synthetic personal data for the demo: Chinese names, resident ID numbers, phone numbers.

Everything here is made up from a seeded random generator. ID numbers have the real structure
(region 6, birth date 8, sequence 3 with the sex digit, ISO 7064 MOD 11-2 check character) so
that validation and masking code meets realistic values; they belong to no one.
"""

from __future__ import annotations

from datetime import date

import numpy as np

# Common surnames, most frequent first, with rough weights.
_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN_F = list("秀英华玉兰芳娟敏静丽艳霞燕红梅琳婷雪萍洁颖慧倩佳欣怡晨悦琴云")
_GIVEN_M = list("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊峰建国志文东海林")

#: Region codes used for locals (Nanjing Xuanwu) and for migrants' home places.
LOCAL_REGION = "320102"
MIGRANT_REGIONS = (
    "341102",
    "341202",
    "320382",
    "321302",
    "410102",
    "411302",
    "360102",
    "420102",
    "510104",
    "340104",
    "320902",
    "330102",
    "370102",
    "430102",
    "500101",
)

_CHECK_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def id_check_char(first17: str) -> str:
    """Return the check character of an 18-digit resident ID number (GB 11643)."""
    total = sum(int(d) * w for d, w in zip(first17, _CHECK_WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def id_number(rng: np.random.Generator, region: str, birth: date, female: bool) -> str:
    """Return a well-formed synthetic 18-digit resident ID number."""
    seq = int(rng.integers(0, 500)) * 2 + (0 if female else 1)
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def person_name(rng: np.random.Generator, female: bool, surname: str | None = None) -> str:
    """Return a synthetic Chinese name (one- or two-character given name)."""
    if surname is None:
        weights = 1.0 / np.arange(1, len(_SURNAMES) + 1) ** 0.8
        surname = _SURNAMES[int(rng.choice(len(_SURNAMES), p=weights / weights.sum()))]
    pool = _GIVEN_F if female else _GIVEN_M
    n = 1 if rng.random() < 0.3 else 2
    return surname + "".join(pool[int(i)] for i in rng.integers(0, len(pool), n))


def phone(rng: np.random.Generator) -> str:
    """Return a synthetic 11-digit mobile number."""
    prefix = (
        "139",
        "138",
        "137",
        "136",
        "135",
        "159",
        "158",
        "188",
        "187",
        "152",
        "151",
        "177",
        "180",
        "189",
    )
    return prefix[int(rng.integers(0, len(prefix)))] + f"{int(rng.integers(0, 10**8)):08d}"
