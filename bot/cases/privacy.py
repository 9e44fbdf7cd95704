"""Masking personal numbers in text shown to staff: mainland mobile numbers and resident ID
numbers. Pure functions; the console shows the masked form until "show" is pressed.

Decisions:
- A mobile number is 11 digits starting 13–19, written plain or grouped 3-4-4 with spaces
  or hyphens, with or without a +86 / 0086 / 86 prefix: "138****5678" keeps the first 3 and
  last 4 digits (the prefix stays as written).
- An ID number is 18 characters: 17 digits, a birth date among them (19xx/20xx), and a
  check character 0–9 or X: "330782********123X" keeps the first 6 and last 4.
- A number is only matched whole: digits directly before or after mean it is something
  else (an amount, a date, a case number, a longer account number), and it is left alone.
- Full-width digits (１３８…) count as digits, as workers type them on Chinese keyboards;
  matching runs on a folded copy of the same length, so positions carry over.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_FOLD = str.maketrans("０１２３４５６７８９＋－　", "0123456789+- ")
_SEP = r"[ \-]?"
PHONE_RE = re.compile(
    rf"(?<![0-9])(?P<prefix>(?:\+|00)?86{_SEP})?(?P<head>1[3-9][0-9])"
    rf"{_SEP}[0-9]{{4}}{_SEP}(?P<tail>[0-9]{{4}})(?![0-9])"
)
ID_NUMBER_RE = re.compile(
    r"(?<![0-9])(?P<head>[0-9]{6})(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"(?P<tail>[0-9]{3}[0-9Xx])(?![0-9])"
)


def _replace(pattern: re.Pattern[str], text: str, masked: Callable[[re.Match[str], str], str]) -> str:
    folded = text.translate(_FOLD)
    parts, last = [], 0
    for match in pattern.finditer(folded):
        parts += [text[last:match.start()], masked(match, text)]
        last = match.end()
    return "".join(parts) + text[last:]


def _group(match: re.Match[str], text: str, name: str) -> str:
    """Group ``name`` of a match on the folded copy, as written in the original."""
    start, end = match.span(name)
    return text[start:end] if start >= 0 else ""


def mask_phone(text: str) -> str:
    """``text`` with every mainland mobile number masked to its first 3 and last 4 digits."""
    return _replace(
        PHONE_RE, text,
        lambda m, t: f"{_group(m, t, 'prefix')}{_group(m, t, 'head')}****{_group(m, t, 'tail')}",
    )


def mask_id_number(text: str) -> str:
    """``text`` with every 18-character resident ID number masked but its first 6 and last 4."""
    return _replace(
        ID_NUMBER_RE, text, lambda m, t: f"{_group(m, t, 'head')}{'*' * 8}{_group(m, t, 'tail')}"
    )


def mask_personal(text: str) -> str:
    """``text`` with ID numbers and mobile numbers masked; every other number left alone."""
    return mask_phone(mask_id_number(text))
