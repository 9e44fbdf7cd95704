"""One table of words: the bot, the console, the exports and the notifications say the same
thing for a status or a category, and tell times in Beijing time words."""

from __future__ import annotations

from datetime import date, datetime, timezone

from bot.cases import words
from bot.cases.models import CaseStatus, Category, Outcome


def test_every_code_has_its_words() -> None:
    assert set(words.STATUS_WORDS) == set(words.STATUS_SENTENCES) == {s.value for s in CaseStatus}
    assert set(words.CATEGORY_WORDS) == {c.value for c in Category}
    assert set(words.OUTCOME_WORDS) == {o.value for o in Outcome}


def test_the_console_and_the_exports_use_the_same_table() -> None:
    from bot.console import export
    from bot.console import words as console_words

    assert console_words.STATUS_WORDS is words.STATUS_WORDS
    assert console_words.CATEGORY_WORDS is words.CATEGORY_WORDS
    assert console_words.OUTCOME_WORDS is words.OUTCOME_WORDS
    row = export.cases_csv([{"number": "GY-2026-000001", "category": "dismissal", "status": "referred"}])
    assert "辞退" in row.decode("utf-8-sig") and "已转交外部机构" in row.decode("utf-8-sig")


def test_times_are_told_in_beijing_time_words() -> None:
    this_year = datetime.now(timezone.utc).year
    assert words.beijing_words(datetime(this_year, 12, 6, 0, 30, tzinfo=timezone.utc)) == "12月6日 08:30"
    assert words.beijing_words(datetime(2099, 1, 5, 9, 30, tzinfo=timezone.utc)) == "2099年1月5日 17:30"
    assert words.beijing_words(f"{this_year}-03-02T01:00:00+00:00") == "3月2日 09:00"  # as stored in params
    assert words.beijing_words(date(this_year, 3, 2)) == "3月2日"
    assert words.beijing_words(None) == "—" and words.beijing_words("下周一") == "下周一"
