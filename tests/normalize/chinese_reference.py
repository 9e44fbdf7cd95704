"""A reference writer of Chinese numerals in the standard reading, for property tests.

Independent of the parser on purpose: it writes numbers the way a textbook does
(一万零五百, 十一万零一十五, 一亿零一), so the parser is checked against the rules
of the language rather than against itself.
"""

from __future__ import annotations

_DIGITS = "零一二三四五六七八九"


def _four_digits(n: int) -> str:
    """1..9999 with 千百十, one 零 for any run of inner zeros, no trailing zeros."""
    out, zero_pending = "", False
    for unit, divisor in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit = n // divisor % 10
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out += "零"
            zero_pending = False
        out += _DIGITS[digit] + unit
    return out


def to_chinese(n: int) -> str:
    """Writes 0 <= n < 10**12 as a standard Chinese numeral."""
    if n == 0:
        return "零"
    out, zero_pending = "", False
    for value, unit in ((n // 10**8, "亿"), (n // 10**4 % 10**4, "万"), (n % 10**4, "")):
        if value == 0:
            zero_pending = bool(out)
            continue
        if out and (zero_pending or value < 1000):
            out += "零"
        out += _four_digits(value) + unit
        zero_pending = False
    # 10..19 open with 十, not 一十 (十五, 十万); inside a number 一十 stays (一百一十).
    return out[1:] if out.startswith("一十") else out


def to_financial(n: int) -> str:
    """The same numeral in the financial characters used on receipts (叁仟伍佰)."""
    return to_chinese(n).translate(str.maketrans("一二三四五六七八九十百千", "壹贰叁肆伍陆柒捌玖拾佰仟"))
