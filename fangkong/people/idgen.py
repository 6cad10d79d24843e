"""Synthetic but valid resident ID numbers for demo data, tests and benchmarks (never real people)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum.cn import ric


def synthetic_id_number(rng: random.Random, region_code: str = "140428", *, born_from: int = 1960,
                        born_to: int = 2005, gender: str | None = None) -> str:
    """A checksum-valid number. python-stdnum also checks that the region code existed at the birth date (长子县 was
    142524 before 1985), so numbers it rejects are drawn again with a birth year from 1986 on."""
    number = _draw(rng, region_code, born_from, born_to, gender)
    if not ric.is_valid(number):
        number = _draw(rng, region_code, max(born_from, 1986), max(born_to, 1986), gender)
    return number


def _draw(rng: random.Random, region_code: str, born_from: int, born_to: int, gender: str | None) -> str:
    start = date(born_from, 1, 1)
    days = (date(born_to, 12, 31) - start).days
    birth = start + timedelta(days=rng.randrange(days))
    seq = rng.randrange(0, 1000)
    if gender == "male" and seq % 2 == 0:
        seq = (seq + 1) % 1000
    if gender == "female" and seq % 2 == 1:
        seq = (seq + 1) % 1000
    body = f"{region_code[:6].ljust(6, '0')}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def synthetic_mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "186", "135", "177"]) + f"{rng.randrange(10**8):08d}"
