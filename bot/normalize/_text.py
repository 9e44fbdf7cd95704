"""Character folding and filler detection shared by the normalisers.

Every fold here maps one character to one character, so offsets found in folded text
are offsets in the original text too (``find_amounts`` reports spans of the input).
"""

from __future__ import annotations

import functools
import re

# Full-width ASCII (０-９, Ａ-Ｚ, －, ．, ～ ...) becomes ASCII. The full-width comma U+FF0C
# is left alone: in Chinese text "800，300" is a list far more often than 800300.
_FOLD: dict[int, int | str] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if cp != 0xFF0C}
_FOLD[0x3000] = " "
# Traditional forms of the few characters the grammars below look for.
_FOLD.update(
    str.maketrans(
        "個號週禮後兩萬億塊錢圓貳陸來餘幾點歲頭這將約當",
        "个号周礼后两万亿块钱圆贰陆来余几点岁头这将约当",
    )
)

# Words that may surround a bare answer without changing what it means: hedges,
# particles and "in total" words ("大概8000吧", "一共12个").
HEDGE_WORDS: tuple[str, ...] = (
    "差不多", "的样子", "大概", "大约", "大致", "将近", "接近", "至少", "起码", "最少",
    "一共", "总共", "共计", "合计", "只有", "应该", "可能", "好像", "估计", "左右", "上下",
    "约", "就", "才", "只", "有", "是", "吧", "啊", "呀", "呢", "嘛", "哦", "噢", "喔",
    "哈", "了", "嗯",
)


def fold_text(text: str) -> str:
    """Returns ``text`` with full-width ASCII and some Traditional characters folded.

    The result has the same length as ``text``; each character maps to one character.
    """
    return text.translate(_FOLD)


@functools.cache
def _filler_re(extra: tuple[str, ...]) -> re.Pattern[str]:
    words = sorted(HEDGE_WORDS + extra, key=len, reverse=True)
    # \W: punctuation, spaces and emoji carry no content of their own.
    return re.compile(rf"(?:{'|'.join(map(re.escape, words))}|\W|_)*")


def is_filler(text: str, extra: tuple[str, ...] = ()) -> bool:
    """Tells whether ``text`` holds nothing but hedges, particles and punctuation.

    Args:
        text: the rest of a message once the value itself is cut out.
        extra: further words the caller accepts as filler (e.g. 我们 for headcounts).
    """
    return _filler_re(extra).fullmatch(text) is not None
