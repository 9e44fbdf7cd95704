"""Sums of money as workers write them, normalised to integer yuan.

Forms: 8000, 8000块/元/块钱, 8,000块, ￥3500, 3500RMB, 人民币叁仟伍佰元整, 三千五,
4万余元, 八千多块, 两万出头, 十来万, 1.2w, 3k, 六七千, 5000-6000.

Decisions:
    * Approximations round to the stated figure: 八千多 → 8000, 4万余 → 40000,
      十来万 → 100000, 两万出头 → 20000, 8000左右 → 8000.
    * Ranges take their lower bound (六七千 → 6000, 5000-6000 → 5000, 五六万 →
      50000): the worker is owed at least that much, and a case must not overstate.
    * Fractions of a yuan round half up (1.5元 → 2).
    * 8,000 is 8000, but 8，000 with a full-width comma is not: in Chinese text that
      comma separates list items (800，300) far more often than it groups digits.
    * 一块 without 钱 is not one yuan: it almost always means "together" (一块去).
    * Hedging adverbs (大概, 差不多) are not part of a match's span; trailing marks
      that belong to the figure (多, 余, 出头, 左右, 元, 整) are.

What counts as money in free text (``find_amounts``), in order:
    0. Nothing above 10^10 yuan is a plausible sum.
    1. A currency marker (元 块 块钱 圆 ￥ ¥ RMB 人民币) or the w/k shorthand: money.
    2. A numeral written with 千, 万 or 亿 (三千五, 两万出头): money, unless a counter
       follows (三千多人, 两万公里, 五千年).
    3. Any other number ("bare": 8000, 八百) is money only if it is a plausible sum
       (at most 8 digits, no leading 0, so phone numbers never are) and either is
       the whole message apart from hedges and punctuation ("8000", "大概8000吧"),
       or is at least 100 and follows a pay word within six characters (工资8000,
       欠我3500). Dates, durations, headcounts and ages fail these tests because a
       counter follows them (6月, 15号, 2024年, 三个月, 12个人, 45岁).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP

from bot.normalize._text import fold_text, is_filler
from bot.normalize.numerals import (
    LATIN_UNITS,
    RANGE_PATTERN,
    blank_idioms,
    parse_number_range,
)

MAX_YUAN = 10**10
_MAX_BARE_DIGITS = 8
_MIN_CUED_BARE = 100
_CUE_WINDOW = 6

_PREFIX = r"人民币|(?i:rmb|cny)|[￥¥]"
_UNIT = r"块钱|元钱|块|元(?![旦月宵])|圆|(?i:rmb|cny)|人民币"
_AMOUNT_RE = re.compile(
    rf"(?<![0-9.])"
    rf"(?P<prefix>(?:{_PREFIX})\s?)?"
    rf"(?P<num>{RANGE_PATTERN})"
    rf"(?P<mag>[wWkK](?![A-Za-z]))?"
    rf"(?P<approx>出头|左右|上下)?"
    rf"(?P<unit>\s?(?:{_UNIT}))?"
    rf"(?P<tail>整|左右|上下|出头)?"
)
_MAGNITUDE_CHARS = frozenset("千仟万萬亿億")
# Words after a number that make it a count of something other than yuan.
_COUNTERS = (
    "个", "人", "名", "位", "号", "口", "户", "家", "年", "月", "天", "日", "周", "星期",
    "礼拜", "小时", "钟", "分", "秒", "岁", "次", "件", "条", "台", "辆", "张", "本", "米",
    "公里", "里", "斤", "公斤", "吨", "克", "平", "亩", "层", "楼", "栋", "间", "套", "双",
    "只", "箱", "包", "瓶", "度", "%", "倍", "点", "期", "届", "批", "所", "座", "部", "趟",
    "遍", "班", "车", "厂", "工",
)
_ORDINAL_BEFORE = ("第", "周", "星期", "礼拜", "初", "No.", "no.", "#")
_PAY_CUES = (
    "工资", "薪", "欠", "钱", "补偿", "赔", "费", "奖", "提成", "押金", "扣", "罚", "结算",
    "结账", "报销", "个月", "每月", "每天", "一天", "收入", "挣", "赚", "发了", "给了", "拿到",
    "到手",
)


@dataclass(frozen=True)
class AmountMatch:
    """One sum of money found in a message.

    Attributes:
        start: offset of the first character of the match in the input.
        end: offset just past the match.
        text: the matched text as written, e.g. "4万余元".
        yuan: the normalised value in whole yuan.
    """

    start: int
    end: int
    text: str
    yuan: int

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


def find_amounts(text: str) -> list[AmountMatch]:
    """Finds the sums of money in free text, in order of appearance.

    See the module docstring for what counts as money; everything else (dates,
    phone numbers, durations, headcounts, ages) is left out.

    Args:
        text: a message as the worker wrote it.

    Returns:
        The matches with spans into ``text``; empty when there are none.
    """
    folded = blank_idioms(fold_text(text))
    found = []
    for match in _AMOUNT_RE.finditer(folded):
        yuan = _money_value(match, folded)
        if yuan is not None:
            start = match.start("prefix") if match.group("prefix") else match.start("num")
            found.append(AmountMatch(start, match.end(), text[start : match.end()], yuan))
    return found


def parse_amount(text: str) -> int | None:
    """Reads the one sum of money in ``text`` as integer yuan.

    Args:
        text: an amount entity or a short answer, e.g. "4万余元", "三千五", "8000".

    Returns:
        The yuan value when ``text`` names exactly one sum (or names the same sum
        more than once); None when it names none or several different sums, since
        guessing which one the worker meant would put a wrong figure on the case.
    """
    values = {amount.yuan for amount in find_amounts(text)}
    return values.pop() if len(values) == 1 else None


def _money_value(match: re.Match[str], text: str) -> int | None:
    """The value in yuan if ``match`` is money by the module's rules, else None."""
    magnitude = LATIN_UNITS.get(match.group("mag") or "", "")
    bounds = parse_number_range(match.group("num") + magnitude)
    if bounds is None:
        return None
    yuan = int(bounds[0].to_integral_value(rounding=ROUND_HALF_UP))
    if yuan > MAX_YUAN:
        return None
    return yuan if _is_money(match, text, yuan) else None


def _is_money(match: re.Match[str], text: str, yuan: int) -> bool:
    start = match.start("prefix") if match.group("prefix") else match.start("num")
    end = match.end()
    if match.group("prefix") or match.group("unit") or match.group("mag"):
        return not _is_together(match)
    if text.startswith(_COUNTERS, end) or text[:start].endswith(_ORDINAL_BEFORE):
        return False
    if _MAGNITUDE_CHARS.intersection(match.group("num")):
        return True
    if not _plausible_bare(match.group("num")):
        return False
    if is_filler(text[:start] + " " + text[end:]):
        return True
    window = text[max(0, start - _CUE_WINDOW) : start]
    return yuan >= _MIN_CUED_BARE and any(cue in window for cue in _PAY_CUES)


def _is_together(match: re.Match[str]) -> bool:
    """一块 without 钱 almost always means "together" (我们一块去), not one yuan."""
    unit = (match.group("unit") or "").strip()
    return unit == "块" and match.group("num") in ("一", "壹") and not match.group("prefix")


def _plausible_bare(numeral: str) -> bool:
    """At most 8 integer digits and no leading zero: not a phone, ID or bank number."""
    for arabic in re.findall(r"[0-9][0-9,]*", numeral.replace("点", ".")):
        digits = arabic.replace(",", "")
        if len(digits) > _MAX_BARE_DIGITS or (len(digits) > 1 and digits.startswith("0")):
            return False
    return True
