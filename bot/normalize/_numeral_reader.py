"""Reads one numeral positionally: the engine behind ``numerals.parse_number``.

Tokens are digits (Chinese or Arabic), small units 十百千, big units 万亿 and 点. An
accumulator adds them up the way the numeral is spoken; a lone digit after a unit
counts in the next unit down (三千五 = 3500).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

CN_DIGITS: dict[str, int] = {
    "零": 0, "〇": 0,
    "一": 1, "壹": 1,
    "二": 2, "两": 2, "兩": 2, "贰": 2, "貳": 2,
    "三": 3, "叁": 3, "參": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
SMALL_UNITS: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS: dict[str, int] = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
# Internet shorthand, only ever after Arabic digits: 1.2w, 3k.
LATIN_UNITS: dict[str, str] = {"w": "万", "W": "万", "k": "千", "K": "千"}

ARABIC_PATTERN = r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"
_ARABIC_RE = re.compile(ARABIC_PATTERN)

Kind = Literal["num", "zero", "small", "big", "point"]


@dataclass(frozen=True)
class _Token:
    kind: Kind
    value: Decimal
    single: bool = False  # one written digit: may take the implied unit (三千五)


def read_numeral(text: str) -> Decimal | None:
    """The value of ``text`` if it is exactly one well-formed numeral, else None.

    ``text`` must already be folded (see ``_text.fold_text``) and stripped.
    """
    tokens = _tokenize(text)
    if not tokens:
        return None
    tokens = _merge_decimal_points(tokens)
    if tokens is None:
        return None
    if (sequence := _digit_sequence(tokens)) is not None:
        return sequence
    return _evaluate(tokens)


def _tokenize(text: str) -> list[_Token] | None:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if (arabic := _ARABIC_RE.match(text, i)) is not None:
            digits = arabic.group().replace(",", "")
            tokens.append(_Token("num", Decimal(digits), single=len(digits) == 1))
            i = arabic.end()
            continue
        token = _char_token(text[i])
        if token is None:
            return None
        tokens.append(token)
        i += 1
    return tokens


def _char_token(char: str) -> _Token | None:
    if char in CN_DIGITS:
        value = CN_DIGITS[char]
        return _Token("zero" if value == 0 else "num", Decimal(value), single=True)
    if char in SMALL_UNITS:
        return _Token("small", Decimal(SMALL_UNITS[char]))
    if char in BIG_UNITS:
        return _Token("big", Decimal(BIG_UNITS[char]))
    if char in LATIN_UNITS:
        return _char_token(LATIN_UNITS[char])
    if char == "点":
        return _Token("point", Decimal(0))
    return None


def _merge_decimal_points(tokens: list[_Token]) -> list[_Token] | None:
    """Joins ``digit 点 digits`` into one decimal number token."""
    merged: list[_Token] = []
    i = 0
    while i < len(tokens):
        if tokens[i].kind != "point":
            merged.append(tokens[i])
            i += 1
            continue
        j = i + 1
        while j < len(tokens) and tokens[j].kind in ("num", "zero"):
            j += 1
        fraction = "".join(str(t.value) for t in tokens[i + 1 : j])
        if not merged or merged[-1].kind not in ("num", "zero") or not fraction.isdigit():
            return None
        whole = merged.pop().value
        if whole != whole.to_integral_value():
            return None
        merged.append(_Token("num", Decimal(f"{int(whole)}.{fraction}")))
        i = j
    return merged


def _digit_sequence(tokens: list[_Token]) -> Decimal | None:
    """Reads 二〇二四 digit by digit; two digits without a zero are a range, not this."""
    if len(tokens) < 2 or any(t.kind not in ("num", "zero") or not t.single for t in tokens):
        return None
    if len(tokens) == 2 and all(t.kind == "num" for t in tokens):
        return None
    return Decimal("".join(str(int(t.value)) for t in tokens))


def _evaluate(tokens: list[_Token]) -> Decimal | None:
    accumulator = _Accumulator()
    for token in tokens:
        if not accumulator.add(token):
            return None
    return accumulator.finish()


class _Accumulator:
    """Adds up a positional numeral: 亿 and 万 close groups, 十百千 build a section."""

    def __init__(self) -> None:
        self.closed = Decimal(0)  # groups closed by 万 or 亿
        self.section = Decimal(0)  # the part below 万 being built
        self.section_unit: int | None = None  # smallest 十百千 so far in the section
        self.pending: _Token | None = None  # a number not yet multiplied by a unit
        self.last_unit: int | None = None
        self.after_zero = False  # 零 since the last unit: no implied unit (一千零五)
        self.seen_wan = False
        self.seen_yi = False

    def add(self, token: _Token) -> bool:
        if token.kind == "zero":
            if self.pending is not None:
                return False
            self.after_zero = True
            return True
        if token.kind == "num":
            if self.pending is not None:
                return False
            self.pending = token
            return True
        if token.kind == "small":
            return self._small_unit(int(token.value))
        return self._big_unit(int(token.value))

    def _small_unit(self, unit: int) -> bool:
        if self.section_unit is not None and unit >= self.section_unit:
            return False
        if self.pending is None:
            if unit != 10:  # 十五 = 一十五, but 百五 is not a numeral
                return False
            count = Decimal(1)
        else:
            count = self.pending.value
        self.section += count * unit
        self._after_unit(unit)
        self.section_unit = unit
        return True

    def _big_unit(self, unit: int) -> bool:
        if self.pending is not None:
            self.section += self.pending.value
        if self.section == 0:
            return False
        if unit == 10**4:
            if self.seen_wan:
                return False
            self.closed += self.section * unit
            self.seen_wan = True
        else:
            if self.seen_yi:
                return False
            self.closed = (self.closed + self.section) * unit
            self.seen_yi, self.seen_wan = True, False  # 一亿五千万 may use 万 again
        self.section = Decimal(0)
        self.section_unit = None
        self._after_unit(unit)
        return True

    def _after_unit(self, unit: int) -> None:
        self.pending = None
        self.last_unit = unit
        self.after_zero = False

    def finish(self) -> Decimal:
        value = self.closed + self.section
        if self.pending is None:
            return value
        tail = self.pending.value
        if self.pending.single and self.last_unit and not self.after_zero:
            # 三千五 = 3500, 3万5 = 35000: a lone digit after a unit counts in the next
            # unit down (after 十 that is the ones, so 十五 is unchanged).
            tail *= self.last_unit // 10
        return value + tail
