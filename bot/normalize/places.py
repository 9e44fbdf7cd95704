"""The province a place name belongs to: 河南周口 → 河南, 毕节 → 贵州, 义乌 → 浙江."""

from __future__ import annotations

import functools

from bot.normalize._places_data import (
    FALSE_FRIENDS,
    PLACES,
    PROVINCES,
    SIMPLIFIED_CHARS,
    TRADITIONAL_CHARS,
)
from bot.normalize._text import fold_text

_TO_SIMPLIFIED = str.maketrans(TRADITIONAL_CHARS, SIMPLIFIED_CHARS)


def province_of(text: str) -> str | None:
    """Finds the province named or implied by ``text``.

    Names are matched leftmost-longest, in Simplified or Traditional characters, with
    or without 省/市/县/州 ("河南省周口市沈丘县", "贵州毕节", "赣州", "廣東"). One-
    character abbreviations (豫, 黔) are not read.

    Args:
        text: a hometown entity or short answer.

    Returns:
        The standard short province name (河南, 广西, 内蒙古, 北京, 香港), or None when
        no known place is named. When the text names a province explicitly, that
        province wins over cities or counties (北京朝阳 is Beijing, not Liaoning's
        朝阳); otherwise places in different provinces give None.
    """
    text = fold_text(text).translate(_TO_SIMPLIFIED)
    for phrase in FALSE_FRIENDS:
        text = text.replace(phrase, " " * len(phrase))
    explicit, implied = set(), set()
    for name in _names_in(text):
        (explicit if name in _province_names() else implied).add(_index()[name])
    candidates = explicit or implied
    return candidates.pop() if len(candidates) == 1 else None


def _names_in(text: str) -> list[str]:
    names = []
    longest = _longest_name()
    i = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 1, -1):
            if text[i : i + size] in _index():
                names.append(text[i : i + size])
                i += size
                break
        else:
            i += 1
    return names


@functools.cache
def _index() -> dict[str, str]:
    """Every known name → its province; built on first use."""
    index = {}
    for province, names in PLACES.items():
        index.update(dict.fromkeys(names, province))
    for province, forms in PROVINCES.items():
        index.update(dict.fromkeys((province, *forms), province))
    return index


@functools.cache
def _province_names() -> frozenset[str]:
    return frozenset(name for p, forms in PROVINCES.items() for name in (p, *forms))


@functools.cache
def _longest_name() -> int:
    return max(map(len, _index()))
