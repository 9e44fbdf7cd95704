"""Statistics over a known set of cases, built through the domain functions.

Other tests (and the demo seed) may leave cases in the database, so every case here lives
in a union subtree made by the test itself, in March 2019, and the figures are asked for
that subtree or that month. The subtree brings its own city federation and intake desk so
cases can be opened without the (slow, changing) demo seed.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Case, Contact, Org
from bot.cases.deadlines import UNION_TZ
from bot.cases.review import do_rate
from bot.cases.scheduler import do_process_breaches
from bot.cases.stats import (
    Durations, WeekCounts, compute_dashboard, compute_stats, format_stats, percentile, stats_as_dict,
)
from bot.cases.workflow import do_accept, do_escalate, do_reassign, do_resolve, do_start, do_withdraw

# Monday 2019-03-04 09:00 in Yiwu: the first accept deadline is T0 + 24 h (Tuesday).
T0 = datetime(2019, 3, 4, 1, 0, tzinfo=timezone.utc)
MARCH = {
    "since": datetime(2019, 3, 1, tzinfo=timezone.utc),
    "until": datetime(2019, 4, 1, tzinfo=timezone.utc),
}


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class World:
    """A union subtree of our own: root (a city federation) → intake, a → a1, b; one worker."""

    def __init__(self, session: AsyncSession, contact: Contact, orgs: dict[str, Org]) -> None:
        self.session, self.contact, self.orgs = session, contact, orgs

    async def open(self, org: str, category: str, *, at: datetime = T0, employer: str | None = None,
                   headcount: int | None = None) -> Case:
        """Open through intake (routing), then hand the case to ``org`` at the same moment."""
        draft = CaseDraft(category=category, employer=employer or f"统计测试{category}{at:%m%d%H}厂",
                          headcount=headcount)
        case = await do_open_case(self.session, contact=self.contact, draft=draft, actor="t", now=at)
        if case.org_id != self.orgs[org].id:
            await do_reassign(self.session, case=case, actor="t", now=at,
                              to_org_id=self.orgs[org].id, note="测试")
        return case

    async def handle(self, case: Case, *, accept: float, start: float | None = None) -> None:
        await do_accept(self.session, case=case, actor="t", now=h(accept))
        if start is not None:
            await do_start(self.session, case=case, actor="t", now=h(start))

    async def resolve(self, case: Case, *, at: float, outcome: str, amount: int | None = None) -> None:
        await do_resolve(self.session, case=case, actor="t", now=h(at), outcome=outcome,
                         amount_recovered=amount)

    async def stats(self, org: str | None, **kwargs):  # type: ignore[no-untyped-def]
        org_id = self.orgs[org].id if org else None
        return await compute_stats(self.session, org_id=org_id, **kwargs)

    async def dashboard(self, *orgs: str, now: datetime, since: datetime = MARCH["since"],
                        until: datetime = MARCH["until"]):  # type: ignore[no-untyped-def]
        return await compute_dashboard(self.session, org_ids={self.orgs[o].id for o in orgs},
                                       since=since, until=until, now=now)


@pytest.fixture
async def world(session: AsyncSession) -> World:
    contact = await get_or_create_contact(session, channel="webchat", external_id="stats-worker")
    orgs: dict[str, Org] = {}
    for code, kind, parent in (("root", "city_federation", None), ("intake", "intake_desk", "root"),
                               ("a", "district", "root"), ("a1", "district", "a"), ("b", "district", "root")):
        org = Org(code=f"stats-{code}", name=f"统计测试{code}工会", kind=kind,
                  parent_id=orgs[parent].id if parent else None)
        session.add(org)
        await session.flush()
        orgs[code] = org
    return World(session, contact, orgs)


async def build_branch_a(w: World) -> dict[str, Case]:
    """Seven cases under ``a`` (one escalated there from ``a1``) opened at T0."""
    c = {}
    for name in ("c1", "c2", "c3"):  # three against one employer: flagged collective
        c[name] = await w.open("a", "overtime" if name == "c3" else "unpaid_wages", employer="统计测试鞋厂")
    c["c4"] = await w.open("a", "dismissal")
    c["c5"] = await w.open("a", "injury")  # urgent; never accepted: overdue
    c["c6"] = await w.open("a1", "overtime")
    c["c10"] = await w.open("a", "social_insurance", headcount=12)  # group dispute, urgent
    await w.handle(c["c1"], accept=2, start=5)
    await w.resolve(c["c1"], at=50, outcome="paid_in_full", amount=5000)
    await do_rate(w.session, case=c["c1"], score=5, comment=None, actor="t", now=h(60))
    await w.handle(c["c2"], accept=3, start=10)
    await w.resolve(c["c2"], at=100, outcome="paid_in_part", amount=7000)
    await do_rate(w.session, case=c["c2"], score=2, comment="太慢", actor="t", now=h(110))
    await w.handle(c["c3"], accept=30, start=40)  # accepted after its deadline
    await w.resolve(c["c3"], at=200, outcome="referred_to_arbitration")
    await do_withdraw(w.session, case=c["c4"], actor="t", now=h(20))
    await do_escalate(w.session, case=c["c6"], actor="t", now=h(25), reason="测试上报")
    await w.handle(c["c6"], accept=26, start=27)  # on time for the new org, late for the first
    await w.handle(c["c10"], accept=1, start=6)
    return c


async def test_every_figure_of_a_known_set_of_cases(world: World) -> None:
    await build_branch_a(world)
    stats = await world.stats("a", now=h(240), **MARCH)

    assert stats.total == 7
    assert stats.by_category == {"unpaid_wages": 2, "overtime": 2, "injury": 1, "dismissal": 1,
                                 "social_insurance": 1}
    assert stats.by_status == {"submitted": 1, "accepted": 0, "in_progress": 2, "referred": 0,
                               "resolved": 1, "closed": 2, "withdrawn": 1}
    assert (stats.urgent, stats.group_disputes, stats.collective) == (2, 1, 3)
    assert stats.accepted_within_deadline_pct == pytest.approx(60.0)  # c3 and c6 late of 5
    # hours to accept 1, 2, 3, 26, 30; first response 5, 6, 10, 27, 40; resolve 50, 100, 200
    assert stats.hours_to_accept == Durations(5, 3.0, pytest.approx(28.4))
    assert stats.hours_to_first_response == Durations(5, 10.0, pytest.approx(34.8))
    assert stats.hours_to_resolve == Durations(3, 100.0, pytest.approx(180.0))
    assert stats.resolved == 3
    assert stats.resolution_success_rate == pytest.approx(2 / 3)
    assert (stats.ratings, stats.satisfaction_rate, stats.average_rating) == (2, 0.5, 3.5)
    assert stats.money_recovered == 12000
    assert stats.overdue_now == 1
    assert stats.escalations == 1


async def test_nothing_to_measure_gives_zeros_and_none(world: World) -> None:
    stats = await world.stats("b", now=h(0), **MARCH)
    assert stats.total == 0
    assert set(stats.by_status.values()) == set(stats.by_category.values()) == {0}
    assert stats.accepted_within_deadline_pct is None
    assert stats.hours_to_accept == Durations(0, None, None)
    assert stats.resolution_success_rate is stats.satisfaction_rate is stats.average_rating is None
    assert (stats.money_recovered, stats.overdue_now, stats.escalations) == (0, 0, 0)


async def test_a_subtree_excludes_the_other_branch(world: World) -> None:
    await build_branch_a(world)
    other = await world.open("b", "unpaid_wages")
    await world.handle(other, accept=1, start=2)
    await world.resolve(other, at=3, outcome="paid_in_full", amount=1000)

    only_b = await world.stats("b", now=h(240), **MARCH)
    everything = await world.stats("root", now=h(240), **MARCH)
    assert (only_b.total, only_b.money_recovered, only_b.escalations) == (1, 1000, 0)
    assert (everything.total, everything.money_recovered, everything.escalations) == (8, 13000, 1)
    # The escalated case counts for the union now responsible for it, not for a1.
    assert (await world.stats("a1", now=h(240), **MARCH)).total == 0


async def test_a_period_excludes_cases_opened_outside_it(world: World) -> None:
    await build_branch_a(world)
    february = await world.open("a", "unpaid_wages", at=datetime(2019, 2, 20, 1, 0, tzinfo=timezone.utc))
    await world.handle(february, accept=-300, start=-299)
    await world.resolve(february, at=-298, outcome="paid_in_full", amount=99999)

    march = await world.stats("a", now=h(240), **MARCH)
    all_time = await world.stats("a", now=h(240))
    assert (march.total, march.money_recovered) == (7, 12000)
    assert (all_time.total, all_time.money_recovered) == (8, 111999)
    assert (await world.stats("a", now=h(240), since=h(1))).total == 0  # since is inclusive,
    assert (await world.stats("a", now=h(240), until=T0)).total == 1  # until exclusive


async def test_no_org_means_every_union(world: World) -> None:
    await build_branch_a(world)
    await world.open("b", "injury")
    assert (await world.stats(None, now=h(240), **MARCH)).total == 8


async def test_overdue_follows_the_latest_deadline_and_a_breach_at_the_top(world: World) -> None:
    top = await world.open("root", "unpaid_wages")  # nobody above to escalate to
    low = await world.open("a1", "unpaid_wages")
    breaches = await do_process_breaches(world.session, now=h(25))
    assert {(b.case_number, b.escalated) for b in breaches} == {(top.number, False), (low.number, True)}

    # The breach at the top stays overdue; the escalated case has a fresh day at ``a``.
    assert (await world.stats("root", now=h(30))).overdue_now == 1
    assert (await world.stats("root", now=h(50))).overdue_now == 2
    await world.handle(top, accept=51)
    stats = await world.stats("root", now=h(52))
    assert (stats.overdue_now, stats.escalations, stats.accepted_within_deadline_pct) == (1, 1, 0.0)


def test_percentiles_interpolate_linearly() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([4, 1, 3, 2, 5], 0.9) == pytest.approx(4.6)


async def test_the_cli_text_and_json_show_the_figures(world: World) -> None:
    await build_branch_a(world)
    stats = await world.stats("a", now=h(240), **MARCH)
    text = format_stats(stats, org_name="统计测试a工会", **MARCH)
    for expected in ("统计测试a工会", "2019-03-01 08:00 至 2019-04-01 08:00", "按时受理 Accepted within deadline: 60.0%",
                     "中位 median 3.0 h · P90 28.4 h", "调处成功率 Resolution success: 66.7%",
                     "满意率 Satisfaction: 50.0%", "追回金额 Money recovered: ¥12,000", "当前超期 Overdue now: 1",
                     "欠薪 2", "已结案 2"):
        assert expected in text
    data = json.loads(json.dumps(stats_as_dict(stats)))
    assert data["hours_to_accept"]["median"] == 3.0
    assert data["by_category"]["injury"] == 1
    assert "全部 all time" in format_stats(stats, org_name="x", since=None, until=None)


# The dashboard of the staff console: the orgs a staffer sees, one period.

def local(*args: int) -> datetime:
    """A moment on the union's clock (Asia/Shanghai)."""
    return datetime(*args, tzinfo=UNION_TZ)


async def test_the_dashboard_counts_cases_per_week_in_union_time_with_empty_weeks(world: World) -> None:
    for category in ("unpaid_wages", "unpaid_wages", "overtime"):
        await world.open("a", category)  # Monday 4 March
    await world.open("a1", "injury", at=local(2019, 3, 24, 23, 30))  # Sunday night: week of the 18th
    await world.open("a", "dismissal", at=local(2019, 3, 25, 0, 10))  # still Sunday in UTC
    await world.open("b", "overtime", at=local(2019, 3, 13, 9))  # not a staffer's org

    board = await world.dashboard("a", "a1", now=h(24 * 30),
                                  since=local(2019, 3, 4), until=local(2019, 4, 1))

    zero = dict.fromkeys(("unpaid_wages", "overtime", "injury", "dismissal", "social_insurance"), 0)
    assert board.weeks == [
        WeekCounts(date(2019, 3, 4), {**zero, "unpaid_wages": 2, "overtime": 1}),
        WeekCounts(date(2019, 3, 11), zero),  # nothing that week, still shown
        WeekCounts(date(2019, 3, 18), {**zero, "injury": 1}),
        WeekCounts(date(2019, 3, 25), {**zero, "dismissal": 1}),
    ]
    assert [w.iso_week for w in board.weeks] == ["2019-W10", "2019-W11", "2019-W12", "2019-W13"]
    assert board.stats.total == sum(w.total for w in board.weeks) == 5


async def test_a_period_starting_midweek_shows_that_whole_week(world: World) -> None:
    board = await world.dashboard("a", now=h(0), since=local(2019, 3, 6), until=local(2019, 3, 12))
    assert [w.start for w in board.weeks] == [date(2019, 3, 4), date(2019, 3, 11)]


async def test_the_dashboard_figures_of_a_known_set_of_cases(world: World) -> None:
    await build_branch_a(world)
    await world.open("a1", "unpaid_wages", at=h(1))  # never accepted: overdue at a1
    other = await world.open("b", "injury")  # overdue too, but not in the staffer's orgs
    await world.handle(other, accept=100)

    board = await world.dashboard("a", "a1", now=h(240))

    # Every figure of compute_stats for the same cases (a's subtree is a and a1).
    assert board.stats == await world.stats("a", now=h(240), **MARCH)
    assert (board.stats.total, board.stats.overdue_now, board.stats.money_recovered) == (8, 2, 12000)
    # Deadlines met on time: c1 3, c2 3, c3 2 (accepted late), c6 2 at ``a`` (missed its
    # accept deadline at a1, cancelled after it passed, by the escalation), c10 2; c5 and
    # the a1 case miss accept and respond. c4 was withdrawn in time. 12 of 18.
    assert (board.on_time_rate, board.deadlines_judged) == (pytest.approx(12 / 18), 18)
    assert board.overdue_by_org == {"统计测试a1工会": 1, "统计测试a工会": 1}


async def test_overdue_by_org_names_each_union_in_scope_most_first(world: World) -> None:
    for org in ("a", "a", "a1"):
        await world.open(org, "unpaid_wages")
    await world.open("b", "unpaid_wages")

    board = await world.dashboard("a", "a1", "b", now=h(48))
    assert list(board.overdue_by_org.items()) == [("统计测试a工会", 2), ("统计测试a1工会", 1),
                                                  ("统计测试b工会", 1)]
    assert sum(board.overdue_by_org.values()) == board.stats.overdue_now == 4
    assert (await world.dashboard("a1", now=h(48))).overdue_by_org == {"统计测试a1工会": 1}


async def test_top_employers_group_one_employer_however_it_was_written(world: World) -> None:
    for spelling in ("义乌 ACE 鞋业", "义乌ace鞋业", "义乌 ACE 鞋业", "义乌Ace鞋业。"):
        await world.open("a", "unpaid_wages", employer=spelling)
    await world.open("b", "unpaid_wages", employer="义乌ACE鞋业")  # outside the scope
    for n in range(11):
        await world.open("a1", "overtime", employer=f"统计测试第{n:02d}厂", at=h(n))
    await world.open("a", "overtime", employer="统计测试第05厂", at=h(30))

    board = await world.dashboard("a", "a1", now=h(240))

    top = [(e.employer, e.cases) for e in board.top_employers]
    assert top[:2] == [("义乌 ACE 鞋业", 4), ("统计测试第05厂", 2)]
    assert len(top) == 10  # of 12 employers
    assert {e.key for e in board.top_employers[:1]} == {"name:义乌ace鞋业"}


async def test_an_empty_scope_gives_an_empty_dashboard_with_its_weeks(world: World) -> None:
    await build_branch_a(world)
    board = await compute_dashboard(world.session, org_ids=[], since=local(2019, 3, 4),
                                    until=local(2019, 3, 18), now=h(240))
    assert board.stats.total == board.deadlines_judged == 0
    assert board.on_time_rate is None
    assert [w.total for w in board.weeks] == [0, 0]
    assert board.overdue_by_org == {} and board.top_employers == []
