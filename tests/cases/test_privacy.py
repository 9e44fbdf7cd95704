"""Masking phone and ID numbers in free text; every other number left as written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cases.privacy import mask_id_number, mask_personal, mask_phone


@pytest.mark.parametrize(("written", "masked"), [
    ("13812345678", "138****5678"),
    ("138 1234 5678", "138****5678"),
    ("138-1234-5678", "138****5678"),
    ("+86 138 1234 5678", "+86 138****5678"),
    ("+8613812345678", "+86138****5678"),
    ("0086-138-1234-5678", "0086-138****5678"),
    ("19912345678", "199****5678"),
    ("１３８１２３４５６７８", "１３８****５６７８"),
])
def test_every_way_of_writing_a_mobile_number_is_masked(written: str, masked: str) -> None:
    assert mask_phone(written) == masked
    assert mask_phone(f"我的电话是{written}，请联系") == f"我的电话是{masked}，请联系"


def test_several_numbers_in_one_message_are_each_masked() -> None:
    text = "老板电话13912345678，我的是 150-8888-0001。"
    assert mask_phone(text) == "老板电话139****5678，我的是 150****0001。"


@pytest.mark.parametrize(("written", "masked"), [
    ("33078219900101123X", "330782********123X"),
    ("33078219900101123x", "330782********123x"),
    ("110105200012311234", "110105********1234"),
])
def test_resident_id_numbers_keep_first_six_and_last_four(written: str, masked: str) -> None:
    assert mask_id_number(written) == masked
    assert mask_personal(f"身份证号：{written}。") == f"身份证号：{masked}。"


def test_amounts_dates_and_case_numbers_are_left_alone() -> None:
    text = "拖欠工资8000元，共 12 人，2026-03-01 入职，2026年3月1日离职，案件 GY-2026-000123，订单 12812345678"
    assert mask_personal(text) == text


def test_a_whole_complaint_is_masked_and_nothing_else_changes() -> None:
    text = "张三，身份证330782199001011234，电话 138 1234 5678，欠薪 13500 元，GY-2026-000007"
    assert mask_personal(text) == "张三，身份证330782********1234，电话 138****5678，欠薪 13500 元，GY-2026-000007"


def test_numbers_inside_longer_digit_runs_are_not_phone_numbers() -> None:
    assert mask_personal("6222021234567890123") == "6222021234567890123"  # 19 digits: a bank card
    assert mask_phone("138123456789") == "138123456789"  # 12 digits


def is_mobile(digits: str) -> bool:
    """Independent reference: an 11-digit mobile, or one behind the 86 / 0086 country code."""
    return re.fullmatch(r"(?:0086|86)?1[3-9][0-9]{9}", digits) is not None


@given(st.text(alphabet="0123456789", min_size=1, max_size=24))
def test_digit_strings_that_are_not_mobiles_are_never_changed(digits: str) -> None:
    masked = mask_phone(digits)
    if is_mobile(digits):
        assert masked == digits[:-8] + "****" + digits[-4:]
    else:
        assert masked == digits


@given(st.text(alphabet="0123456789", min_size=1, max_size=24).filter(lambda s: len(s) not in (11, 13, 15, 18)))
def test_numbers_of_other_lengths_survive_mask_personal(digits: str) -> None:
    assert mask_personal(f"金额{digits}元") == f"金额{digits}元"


@given(
    st.text(alphabet="工资欠薪电话我的 ，。：元年月日-", max_size=12),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.text(alphabet="工资欠薪电话我的 ，。：元年月日", max_size=12),
)
def test_a_mobile_in_any_text_is_masked_and_the_text_around_it_kept(before: str, phone: str, after: str) -> None:
    masked = mask_personal(before + phone + after)
    assert masked == f"{before}{phone[:3]}****{phone[-4:]}{after}"
    assert phone not in masked and mask_personal(masked) == masked
