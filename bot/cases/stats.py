"""Case statistics, computed live from the case store for a union subtree and a period.

The figures are the ones real platforms publish (cases accepted, mediated successfully,
satisfaction, money recovered) plus the deadline figures behind 有时限. Definitions:

* **Scope.** A case belongs to the union body *currently* responsible for it (an
  escalated case counts for the body above); ``org_id`` takes that body's whole subtree.
  The period is a cohort of cases by ``created_at``: ``since`` inclusive, ``until``
  exclusive. Every figure below describes that cohort, whenever its events happened.
* **Accepted within deadline** (a percentage, 0–100): of the accepted cases that have an
  accept deadline, those with ``accepted_at`` ≤ the due time of their *first* accept
  deadline. The first one counts because that is the promise made to the worker; an
  escalation that grants the next union a fresh deadline does not make the case on time.
* **Hours to accept / first response / resolve:** from ``created_at`` to ``accepted_at``
  / ``first_response_at`` / ``resolved_at``, over the cases that have the later time.
  Median and p90 use linear interpolation between closest ranks (numpy's default,
  Excel's PERCENTILE.INC), so the median of an even count is the mean of the middle two.
* **Resolution success rate** (0–1): resolved or closed cases whose outcome is in
  :data:`SUCCESSFUL_OUTCOMES`, over resolved or closed cases with any outcome other than
  withdrawn.
* **Satisfaction rate** (0–1): ratings of 4 or 5 over all ratings of cases in scope.
* **Overdue now:** open cases where a step still pending (accept: not accepted yet;
  respond: no first response yet; resolve: always, the case being open) has its *latest*
  non-cancelled deadline unmet and due at or before ``now`` — the scheduler's own test
  (``due_at <= now``). The latest counts because escalation and reopening issue fresh
  deadlines; a deadline breached at the top of the hierarchy stays the latest and keeps the
  case overdue until the step is done.
* **Escalations:** ``escalated`` events of the cases in scope.

The staff console's dashboard (:func:`compute_dashboard`) takes the scope as a set of org ids
(the subtree the staffer may see) and adds:

* **Weekly counts:** cases opened per ISO week (Monday–Sunday in union time, ``UNION_TZ``)
  by category; every week that overlaps the period is listed, empty or not.
* **On-time rate** (0–1): of the SLA deadlines (accept, respond, resolve) of the cases in
  scope that were met or breached, those met at or before their due time. Breached also
  covers a deadline still open and due at or before ``now`` (the scheduler's test, as in
  *overdue now*, whether or not the scheduler has run) and one cancelled after its due time
  (let pass, then the case was escalated or reassigned). A deadline cancelled in time
  counts for nothing: nobody owed it any more.
* **Overdue by org:** *overdue now* per responsible union body, by its name.
* **Top employers:** the 10 employers with the most cases, grouped by ``employer_key`` (one
  employer however the workers wrote it) and shown by its most frequent spelling.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.deadlines import SLA_KINDS, UNION_TZ
from bot.cases.models import (
    OPEN_STATUSES, SUCCESSFUL_OUTCOMES, Case, CaseDeadline, CaseEvent, CaseStatus, Category,
    DeadlineKind, Org, Outcome,
)
from bot.cases.orgs import subtree_ids
from bot.cases.review import Rating
from bot.cases.words import CATEGORY_WORDS, STATUS_WORDS

SATISFIED_MIN_SCORE = 4
NO_RESULT = (None, Outcome.WITHDRAWN.value)
CASE_COLUMNS = (
    Case.id, Case.category, Case.status, Case.created_at, Case.accepted_at,
    Case.first_response_at, Case.resolved_at, Case.outcome, Case.amount_recovered,
    Case.urgent, Case.group_dispute, Case.collective, Case.org_id, Case.employer,
    Case.employer_key,
)
DEADLINE_COLUMNS = (
    CaseDeadline.id, CaseDeadline.case_id, CaseDeadline.kind, CaseDeadline.due_at,
    CaseDeadline.met_at, CaseDeadline.breached_at, CaseDeadline.cancelled_at,
)
TOP_EMPLOYERS = 10


@dataclass(frozen=True)
class Durations:
    """Hours from opening to one step, over the cases that reached it."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class CaseStats:
    """Figures for one subtree and period; rates are ``None`` when nothing was measured."""

    total: int
    by_category: dict[str, int]
    by_status: dict[str, int]
    urgent: int
    group_disputes: int
    collective: int
    accepted_within_deadline_pct: float | None
    hours_to_accept: Durations
    hours_to_first_response: Durations
    hours_to_resolve: Durations
    resolved: int  # resolved or closed with an outcome other than withdrawn
    resolution_success_rate: float | None
    ratings: int
    satisfaction_rate: float | None
    average_rating: float | None
    money_recovered: int
    overdue_now: int
    escalations: int


@dataclass(frozen=True)
class WeekCounts:
    """Cases opened in one ISO week (Monday to Sunday, union time), by category."""

    start: date  # the Monday
    by_category: dict[str, int]

    @property
    def iso_week(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def total(self) -> int:
        return sum(self.by_category.values())


@dataclass(frozen=True)
class EmployerCount:
    """One employer of the top list: its grouping key, its usual spelling, its cases."""

    key: str
    employer: str
    cases: int


@dataclass(frozen=True)
class Dashboard:
    """The console dashboard of one set of orgs and one period (see the module docstring).

    Durations, success and satisfaction rates and money recovered are in ``stats``.
    """

    stats: CaseStats
    since: datetime
    until: datetime
    weeks: list[WeekCounts]
    on_time_rate: float | None
    deadlines_judged: int  # SLA deadlines met or breached: the on-time rate's denominator
    overdue_by_org: dict[str, int]  # org name → open cases overdue now; most first
    top_employers: list[EmployerCount]  # most cases first, at most TOP_EMPLOYERS


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0–1) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def durations(hours: Sequence[float]) -> Durations:
    return Durations(count=len(hours), median=percentile(hours, 0.5), p90=percentile(hours, 0.9))


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _scope(
    *, org_ids: Collection[int] | None, since: datetime | None, until: datetime | None
) -> Select[tuple[int]]:
    """``SELECT cases.id`` of the cases in scope, to use as a subquery."""
    stmt = select(Case.id)
    if org_ids is not None:
        stmt = stmt.where(Case.org_id.in_(sorted(org_ids)))
    if since is not None:
        stmt = stmt.where(Case.created_at >= since)
    if until is not None:
        stmt = stmt.where(Case.created_at < until)
    return stmt


@dataclass(frozen=True)
class _Cohort:
    """The rows every figure is computed from, read once per call."""

    cases: Sequence[Any]  # CASE_COLUMNS, ordered by id
    deadlines: Sequence[Any]  # DEADLINE_COLUMNS of the SLA kinds, ordered by id
    scores: Sequence[int]
    escalations: int


async def _load(session: AsyncSession, scope: Select[tuple[int]]) -> _Cohort:
    cases = (await session.execute(
        select(*CASE_COLUMNS).where(Case.id.in_(scope)).order_by(Case.id)
    )).all()
    deadlines = (await session.execute(
        select(*DEADLINE_COLUMNS)
        .where(CaseDeadline.case_id.in_(scope), CaseDeadline.kind.in_(SLA_KINDS))
        .order_by(CaseDeadline.id)
    )).all()
    ratings = select(Rating.score).where(Rating.case_id.in_(scope))
    scores = (await session.execute(ratings)).scalars().all()
    escalations = (await session.execute(
        select(func.count()).select_from(CaseEvent)
        .where(CaseEvent.case_id.in_(scope), CaseEvent.kind == "escalated")
    )).scalar_one()
    return _Cohort(cases, deadlines, scores, escalations)


async def compute_stats(
    session: AsyncSession, *, org_id: int | None = None, since: datetime | None = None,
    until: datetime | None = None, now: datetime,
) -> CaseStats:
    """Statistics of the cases under ``org_id`` (None: all) opened in [since, until).

    ``now`` only decides what is overdue; see the module docstring for every definition.
    """
    org_ids = None if org_id is None else await subtree_ids(session, root_id=org_id)
    cohort = await _load(session, _scope(org_ids=org_ids, since=since, until=until))
    return _case_stats(cohort, now=now)


def _case_stats(cohort: _Cohort, *, now: datetime) -> CaseStats:
    cases, deadlines = cohort.cases, cohort.deadlines
    return CaseStats(
        total=len(cases),
        by_category=_count(cases, "category", [c.value for c in Category]),
        by_status=_count(cases, "status", [s.value for s in CaseStatus]),
        urgent=sum(1 for c in cases if c.urgent),
        group_disputes=sum(1 for c in cases if c.group_dispute),
        collective=sum(1 for c in cases if c.collective),
        accepted_within_deadline_pct=_accepted_within_deadline_pct(cases, deadlines),
        hours_to_accept=durations(_hours(cases, "accepted_at")),
        hours_to_first_response=durations(_hours(cases, "first_response_at")),
        hours_to_resolve=durations(_hours(cases, "resolved_at")),
        **_results(cases),
        **_satisfaction(cohort.scores),
        money_recovered=sum(c.amount_recovered or 0 for c in cases),
        overdue_now=len(_overdue_cases(cases, deadlines, now)),
        escalations=cohort.escalations,
    )


def _count(cases: Sequence[Any], field: str, keys: list[str]) -> dict[str, int]:
    # Every known key appears, zero when there is none; unknown stored values are kept too.
    counts = Counter(getattr(c, field) for c in cases)
    return {**dict.fromkeys(keys, 0), **counts}


def _hours(cases: Sequence[Any], field: str) -> list[float]:
    return [
        (getattr(c, field) - c.created_at).total_seconds() / 3600
        for c in cases if getattr(c, field) is not None
    ]


def _results(cases: Sequence[Any]) -> dict[str, Any]:
    finished = (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value)
    judged = [c for c in cases if c.status in finished and c.outcome not in NO_RESULT]
    successful = sum(1 for c in judged if c.outcome in SUCCESSFUL_OUTCOMES)
    return {"resolved": len(judged), "resolution_success_rate": _ratio(successful, len(judged))}


def _satisfaction(scores: Sequence[int]) -> dict[str, Any]:
    satisfied = sum(1 for s in scores if s >= SATISFIED_MIN_SCORE)
    return {
        "ratings": len(scores),
        "satisfaction_rate": _ratio(satisfied, len(scores)),
        "average_rating": sum(scores) / len(scores) if scores else None,
    }


def _accepted_within_deadline_pct(cases: Sequence[Any], deadlines: Sequence[Any]) -> float | None:
    first_due: dict[int, datetime] = {}
    for d in deadlines:  # ordered by id: the first accept deadline of each case wins
        if d.kind == DeadlineKind.ACCEPT.value:
            first_due.setdefault(d.case_id, d.due_at)
    judged = [c for c in cases if c.accepted_at is not None and c.id in first_due]
    on_time = sum(1 for c in judged if c.accepted_at <= first_due[c.id])
    ratio = _ratio(on_time, len(judged))
    return None if ratio is None else 100 * ratio


def _pending_kinds(case: Any) -> tuple[str, ...]:
    kinds = [DeadlineKind.RESOLVE.value]
    if case.first_response_at is None:
        kinds.append(DeadlineKind.RESPOND.value)
    if case.accepted_at is None:
        kinds.append(DeadlineKind.ACCEPT.value)
    return tuple(kinds)


def _overdue_cases(cases: Sequence[Any], deadlines: Sequence[Any], now: datetime) -> list[Any]:
    latest = {(d.case_id, d.kind): d for d in deadlines if d.cancelled_at is None}  # ordered by id
    overdue = []
    for case in cases:
        if case.status not in OPEN_STATUSES:
            continue
        current = [latest.get((case.id, kind)) for kind in _pending_kinds(case)]
        if any(d is not None and d.met_at is None and d.due_at <= now for d in current):
            overdue.append(case)
    return overdue


async def compute_dashboard(
    session: AsyncSession, *, org_ids: Collection[int], since: datetime, until: datetime,
    now: datetime,
) -> Dashboard:
    """The dashboard of the cases whose responsible org is in ``org_ids``, opened in
    [since, until).

    The caller passes the subtree the staffer may see; ``now`` decides what is overdue and
    which open deadlines count as breached. See the module docstring for every definition.
    """
    cohort = await _load(session, _scope(org_ids=org_ids, since=since, until=until))
    on_time, judged = _on_time(cohort.deadlines, now)
    overdue = _overdue_cases(cohort.cases, cohort.deadlines, now)
    return Dashboard(
        stats=_case_stats(cohort, now=now),
        since=since,
        until=until,
        weeks=_weekly(cohort.cases, since=since, until=until),
        on_time_rate=_ratio(on_time, judged),
        deadlines_judged=judged,
        overdue_by_org=await _count_by_org_name(session, [c.org_id for c in overdue]),
        top_employers=_top_employers(cohort.cases),
    )


def _monday(moment: datetime) -> date:
    day = moment.astimezone(UNION_TZ).date()
    return day - timedelta(days=day.weekday())


def _weekly(cases: Sequence[Any], *, since: datetime, until: datetime) -> list[WeekCounts]:
    if until <= since:
        return []
    # ``until`` is exclusive: the last week is the one of the last instant before it.
    first, last = _monday(since), _monday(until - timedelta(microseconds=1))
    mondays = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    keys = [c.value for c in Category]
    weeks: dict[date, Counter[str]] = {monday: Counter() for monday in mondays}
    for case in cases:
        weeks[_monday(case.created_at)][case.category] += 1
    return [WeekCounts(m, {**dict.fromkeys(keys, 0), **weeks[m]}) for m in mondays]


def _on_time(deadlines: Sequence[Any], now: datetime) -> tuple[int, int]:
    """(met on time, met or breached) over the SLA deadlines."""
    on_time = judged = 0
    for d in deadlines:
        if d.breached_at is not None:
            met = False
        elif d.met_at is not None:
            met = d.met_at <= d.due_at
        elif d.cancelled_at is not None:
            if d.cancelled_at <= d.due_at:
                continue  # the case moved on in time: nobody owed this one any more
            met = False  # let pass, then cancelled when the case moved to another org
        elif d.due_at <= now:
            met = False  # breached; the scheduler has not marked it yet
        else:
            continue  # still running
        judged += 1
        on_time += met
    return on_time, judged


async def _count_by_org_name(session: AsyncSession, org_ids: Sequence[int]) -> dict[str, int]:
    counts = Counter(org_ids)
    if not counts:
        return {}
    names = dict((await session.execute(
        select(Org.id, Org.name).where(Org.id.in_(sorted(counts)))
    )).all())
    by_name: Counter[str] = Counter()
    for org_id, n in counts.items():
        by_name[names[org_id]] += n
    return dict(sorted(by_name.items(), key=lambda item: (-item[1], item[0])))


def _top_employers(cases: Sequence[Any]) -> list[EmployerCount]:
    # The cohort is already in memory, and the usual spelling needs a second grouping, so
    # this is simpler here than in SQL.
    spellings: dict[str, Counter[str]] = {}
    for case in cases:  # ordered by id: on a tie, the spelling seen first wins
        if case.employer_key is not None and case.employer:
            spellings.setdefault(case.employer_key, Counter())[case.employer] += 1
    top = sorted(spellings.items(), key=lambda item: (-item[1].total(), item[0]))
    return [
        EmployerCount(key=key, employer=names.most_common(1)[0][0], cases=names.total())
        for key, names in top[:TOP_EMPLOYERS]
    ]


def stats_as_dict(stats: CaseStats) -> dict[str, Any]:
    """The figures as plain JSON-ready values (``cases stats --json``)."""
    return asdict(stats)


def _moment(value: datetime) -> str:
    local = value.astimezone(UNION_TZ)
    return f"{local:%Y-%m-%d}" if local.time() == time(0) else f"{local:%Y-%m-%d %H:%M}"


def _period(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return "全部 all time"
    start = _moment(since) if since else "…"
    end = f"{_moment(until)}（不含 exclusive）" if until else "…"
    return f"{start} 至 {end}"


def _pct(value: float | None, *, scale: float = 100) -> str:
    return "—" if value is None else f"{value * scale:.1f}%"


def _durations_line(label: str, d: Durations) -> str:
    if d.count == 0:
        return f"{label}: —"
    return f"{label}: 中位 median {d.median:.1f} h · P90 {d.p90:.1f} h（{d.count} 件）"


def format_stats(
    stats: CaseStats, *, org_name: str, since: datetime | None, until: datetime | None
) -> str:
    """A text block for the CLI, Chinese labels with the English term beside them."""
    categories = " · ".join(f"{CATEGORY_WORDS.get(k, k)} {n}" for k, n in stats.by_category.items())
    statuses = " · ".join(f"{STATUS_WORDS.get(k, k)} {n}" for k, n in stats.by_status.items())
    rating = "—" if stats.average_rating is None else f"{stats.average_rating:.2f}"
    return "\n".join([
        f"案件统计 Case statistics — {org_name}",
        f"期间 Period (opened): {_period(since, until)}",
        f"案件总数 Cases: {stats.total}（紧急 urgent {stats.urgent} · 群体性 group {stats.group_disputes}"
        f" · 疑似集体 collective {stats.collective}）",
        f"按类别 By category: {categories}",
        f"按状态 By status: {statuses}",
        f"按时受理 Accepted within deadline: {_pct(stats.accepted_within_deadline_pct, scale=1)}",
        _durations_line("受理用时 Time to accept", stats.hours_to_accept),
        _durations_line("首次答复用时 Time to first response", stats.hours_to_first_response),
        _durations_line("办结用时 Time to resolve", stats.hours_to_resolve),
        f"调处成功率 Resolution success: {_pct(stats.resolution_success_rate)}（办结 {stats.resolved} 件）",
        f"满意率 Satisfaction: {_pct(stats.satisfaction_rate)} · 平均评分 average rating {rating}"
        f"（{stats.ratings} 条评价）",
        f"追回金额 Money recovered: ¥{stats.money_recovered:,}",
        f"当前超期 Overdue now: {stats.overdue_now}",
        f"上报 Escalations: {stats.escalations}",
    ])
