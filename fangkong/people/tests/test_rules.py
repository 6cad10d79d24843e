"""The pure checks the importer and the forms share; no database."""

from __future__ import annotations

import random
from datetime import date

import pytest

from fangkong.people import rules
from fangkong.people.idgen import synthetic_id_number


def test_valid_resident_id_gives_birth_date_and_gender():
    info = rules.check_id_number("resident_id", "11010519491231002x")
    assert info.number == "11010519491231002X"
    assert info.birth_date == date(1949, 12, 31)
    assert info.gender == "female"


def test_synthetic_ids_are_valid():
    rng = random.Random(1)
    for _ in range(200):
        assert rules.check_id_number("resident_id", synthetic_id_number(rng)).birth_date is not None


@pytest.mark.parametrize(("value", "message"), [
    ("110105194912310021", "身份证号校验位不正确"),
    ("11010519491231002", "身份证号应为 18 位，实为 17 位"),
    ("11010519491231002A", "身份证号格式不正确"),
    ("", "证件号码不能为空"),
])
def test_bad_resident_ids_say_what_is_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        rules.check_id_number("resident_id", value)


def with_check_digit(body: str) -> str:
    from stdnum.cn import ric

    return body + ric.calc_check_digit(body + "0")


def test_impossible_birth_date_and_unknown_region():
    with pytest.raises(ValueError, match="出生日期无效"):
        rules.check_id_number("resident_id", with_check_digit("11010519491331002"))
    with pytest.raises(ValueError, match="前 6 位“990000”不是有效的行政区划代码"):
        rules.check_id_number("resident_id", with_check_digit("99000019800101002"))


def test_a_code_created_after_the_birth_year_is_accepted():
    """长子县 (140428) exists since 1985; numbers issued then to people born earlier carry it."""
    info = rules.check_id_number("resident_id", with_check_digit("14042819730714404"))
    assert info.birth_date == date(1973, 7, 14)


def test_birth_date_in_the_future_is_refused():
    from stdnum.cn import ric

    body = "140428" + f"{date.today().year + 1}0101" + "123"
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(ValueError):
        rules.check_id_number("resident_id", number)


def test_passport_numbers_are_letters_and_digits():
    assert rules.check_id_number("passport", " e1234 5678 ").number == "E12345678"
    with pytest.raises(ValueError, match="只能包含字母和数字"):
        rules.check_id_number("passport", "E1234#5678")


@pytest.mark.parametrize(("value", "expected"), [
    ("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"), ("0355-1234567", "0355-1234567"),
    ("", ""),
])
def test_phone_normalised(value, expected):
    assert rules.check_phone(value) == expected


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "phone"])
def test_bad_phone(value):
    with pytest.raises(ValueError, match="手机号应为 11 位数字"):
        rules.check_phone(value)


def test_pinyin_sort_key():
    assert rules.name_sort_key("张三") == "zhang san"
    assert sorted(["张三", "安娜", "李四"], key=rules.name_sort_key) == ["安娜", "李四", "张三"]
