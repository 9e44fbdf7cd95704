"""Worker-facing wording that depends on case data (fixed texts live in domain.yml)."""

from __future__ import annotations

from datetime import datetime

from bot.cases.words import CATEGORY_WORDS, STATUS_SENTENCES, beijing_words

# The one table of words (bot/cases/words.py), under the names the actions use.
CATEGORY_NAMES = CATEGORY_WORDS
STATUS_NAMES = STATUS_SENTENCES


def local_time(value: datetime) -> str:
    """A deadline as a worker reads it: 11月24日 18:00, Beijing time (the year when not this year's)."""
    return beijing_words(value)


def yuan(amount: int) -> str:
    return f"{amount:,}元"
