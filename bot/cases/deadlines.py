"""Working-day arithmetic for case deadlines.

Defaults from conversations.md: accepted within 1 working day, first substantive response
within 3, resolved within 15. Holidays come from a configurable calendar (per-org and
per-category deadlines arrive with the routing rules).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# Working days are counted on the unions' calendar, not in UTC: a case opened at 07:00 in
# Yiwu is 23:00 the previous day in UTC.
UNION_TZ = ZoneInfo("Asia/Shanghai")

DEFAULT_ACCEPT_DAYS = 1
DEFAULT_RESPOND_DAYS = 3
DEFAULT_RESOLVE_DAYS = 15


def is_working_day(day: date, *, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, *, holidays: Collection[date] = ()) -> datetime:
    """``start`` plus ``days`` working days, keeping the time of day.

    A deadline that falls on a weekend or holiday moves to the next working day, so a case
    opened on Friday evening with a 1-day deadline is due on Monday evening.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    current = start.astimezone(UNION_TZ)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current.date(), holidays=holidays):
            remaining -= 1
    return current.astimezone(start.tzinfo)
