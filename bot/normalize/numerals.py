"""Chinese, Arabic and mixed numerals as exact numbers.

Covers everyday (一二两三 十百千万亿), financial (壹贰叁 拾佰仟), Traditional (萬億兩)
and Arabic forms (8000, 8,000, 1.5), mixed (3万5, 4万2千, 1.2万, 一点五万), the
colloquial implied-unit tail (三千五 = 3500, 一万二 = 12000, 一百五 = 150) and digit
sequences (二〇二四 = 2024). Values are ``Decimal`` so 1.15万 is exactly 11500.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bot.normalize._numeral_reader import (
    ARABIC_PATTERN,
    BIG_UNITS,
    CN_DIGITS,
    LATIN_UNITS,
    SMALL_UNITS,
    read_numeral,
)
from bot.normalize._text import fold_text

APPROX_CHARS = "多余来几"
_DIGIT_CLASS = "".join(CN_DIGITS)
_UNIT_CLASS = "".join(SMALL_UNITS) + "".join(BIG_UNITS)
# 点 is a decimal point only between two digits of the same script: 一点五万, 1点5万.
_POINT = rf"(?<=[0-9])点(?=[0-9])|(?<=[{_DIGIT_CLASS}])点(?=[{_DIGIT_CLASS}])"
_ATOM = rf"(?:{ARABIC_PATTERN}|[{_DIGIT_CLASS}{_UNIT_CLASS}]|{_POINT})"

# Atomic: a run is read whole or not at all, which also keeps matching linear on long
# digit strings that a following unit does not match (a phone number before 年).
NUMERAL_PATTERN = (
    rf"(?>{_ATOM}(?:{_ATOM}|[{APPROX_CHARS}](?=[{_UNIT_CLASS}]))*[{APPROX_CHARS}]?)"
)
"""Regex source for one numeral run as written in free text, approximation marks
included (十来万, 八千多, 4万余); feed the match to :func:`parse_number_range`."""

RANGE_SEPARATORS = "-~—–至到"
RANGE_PATTERN = rf"{NUMERAL_PATTERN}(?:\s?[{RANGE_SEPARATORS}]\s?{NUMERAL_PATTERN})?"
"""Regex source for a numeral or a range of two (5000-6000, 3到5万)."""

NUMERAL_START = rf"(?<![0-9.{_DIGIT_CLASS}{_UNIT_CLASS}])"
"""Regex source: no numeral run continues through this position (start runs here)."""

# Idioms written with numeral characters that are not numbers: 万一 (in case),
# 千万别 (by no means). 三万一 is 31000, hence the look-behind.
_IDIOMS_RE = re.compile(rf"{NUMERAL_START}万一|千万(?=[别不要记得])")
_APPROX_RE = re.compile(rf"(?<=[0-9{_DIGIT_CLASS}{_UNIT_CLASS}])[{APPROX_CHARS}]")
_RANGE_RE = re.compile(rf"(.+?)\s*[{RANGE_SEPARATORS}]\s*(.+)")
_TRAILING_UNITS_RE = re.compile(rf"[{_UNIT_CLASS}{''.join(LATIN_UNITS)}]+$")


def parse_number(text: str) -> Decimal | None:
    """Parses text that is exactly one numeral.

    Args:
        text: e.g. "三千五", "4万2千", "1.2万", "8,000", "叁仟伍佰", "二〇二四".

    Returns:
        The exact value, or None when ``text`` is not a single well-formed numeral.
        Ranges (六七千) and approximation marks (八千多) are not accepted here; see
        :func:`parse_number_range`.
    """
    return read_numeral(fold_text(text).strip())


def parse_number_range(text: str) -> tuple[Decimal, Decimal] | None:
    """Parses a numeral, an approximate numeral or a range as (low, high).

    Approximation marks round to the stated figure: 十来万, 十几万 and 十多万 are all
    (100000, 100000). Ranges come as two adjacent digits (六七千, 二三十, 十五六,
    一万五六) or two numerals joined by - ~ 到 至 (5000-6000, 3到5万); a unit written
    only after the second half applies to both (5-6千 is 5000 to 6000).

    Returns:
        ``(low, high)`` with low <= high, ``(n, n)`` for a single numeral, or None.
    """
    text = _APPROX_RE.sub("", fold_text(text).strip())
    if (halves := _RANGE_RE.fullmatch(text)) is not None:
        return _separated_range(halves.group(1), halves.group(2))
    if (pair := _adjacent_digit_range(text)) is not None:
        return pair
    value = parse_number(text)
    return None if value is None else (value, value)


def blank_idioms(text: str) -> str:
    """Returns ``text`` with idioms like 万一 and 千万别 blanked to spaces, same length."""
    return _IDIOMS_RE.sub(lambda match: " " * len(match.group()), text)


def _separated_range(left: str, right: str) -> tuple[Decimal, Decimal] | None:
    high = parse_number(right)
    if high is None:
        return None
    candidates = [left]
    suffix = _TRAILING_UNITS_RE.search(right)
    if suffix and not _TRAILING_UNITS_RE.search(left):
        # "5-6千": the 千 belongs to both halves, unless that makes the low end exceed
        # the high one ("500-1千" is 500 to 1000).
        candidates.insert(0, left + suffix.group())
    for candidate in candidates:
        low = parse_number(candidate)
        if low is not None and low <= high:
            return low, high
    return None


def _adjacent_digit_range(text: str) -> tuple[Decimal, Decimal] | None:
    pairs = [
        i for i in range(len(text) - 1)
        if _is_range_pair(text[i], text[i + 1])
        and not (i > 0 and text[i - 1] in CN_DIGITS)
        and not (i + 2 < len(text) and text[i + 2] in CN_DIGITS)
    ]
    if len(pairs) != 1:
        return None
    i = pairs[0]
    low = parse_number(text[: i + 1] + text[i + 2 :])
    high = parse_number(text[:i] + text[i + 1 :])
    if low is None or high is None or low > high:
        return None
    return low, high


def _is_range_pair(first: str, second: str) -> bool:
    a, b = CN_DIGITS.get(first), CN_DIGITS.get(second)
    if not a or not b:  # None or 零
        return False
    return b == a + 1 or (a, b) == (3, 5)  # 三五个 "three to five" is idiomatic


