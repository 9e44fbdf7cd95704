from datetime import date, datetime, timezone

import pytest

from bot.cases.deadlines import add_working_days

MONDAY_9_UTC = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # 17:00 in Yiwu


def test_one_working_day_from_monday_is_tuesday() -> None:
    assert add_working_days(MONDAY_9_UTC, 1) == datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


def test_weekends_do_not_count() -> None:
    friday = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    assert add_working_days(friday, 1).date() == date(2026, 11, 30)
    assert add_working_days(friday, 15).date() == date(2026, 12, 18)


def test_holidays_do_not_count() -> None:
    assert add_working_days(MONDAY_9_UTC, 1, holidays={date(2026, 11, 24)}).date() == date(2026, 11, 25)


def test_days_are_counted_on_the_union_calendar_not_utc() -> None:
    # Saturday 07:00 in Yiwu is still Friday 23:00 UTC. Counted in Yiwu, one working day
    # later is Monday 07:00 there (Sunday 23:00 UTC); counted in UTC it would be a day later.
    saturday_morning_yiwu = datetime(2026, 11, 27, 23, 0, tzinfo=timezone.utc)
    assert add_working_days(saturday_morning_yiwu, 1) == datetime(2026, 11, 29, 23, 0, tzinfo=timezone.utc)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 23, 9, 0), 1)
