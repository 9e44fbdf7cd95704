"""Statistics over a known set of cases, built through the domain functions.

Other tests (and the demo seed) may leave cases in the database, so every case here lives
in a union subtree made by the test itself, in March 2019, and the figures are asked for
that subtree or that month. The subtree brings its own city federation and intake desk so
cases can be opened without the (slow, changing) demo seed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Case, Contact, Org
from bot.cases.review import do_rate
from bot.cases.scheduler import do_process_breaches
from bot.cases.stats import Durations, compute_stats, format_stats, percentile, stats_as_dict
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
