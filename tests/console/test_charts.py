"""The dashboard charts as a staffer's browser gets them: SVG that parses, in Chinese, with
no script, and a plain 暂无数据 where there is nothing to draw."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.stats import CaseStats, Dashboard, Durations, EmployerCount, WeekCounts, compute_dashboard
from bot.console import charts

SINCE = datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)  # Monday 2 March, 00:00 in Yiwu
UNTIL = datetime(2026, 3, 15, 16, 0, tzinfo=timezone.utc)
ALL_CHARTS = (charts.weekly_by_category_svg, charts.durations_svg, charts.rates_svg,
              charts.overdue_by_org_svg, charts.top_employers_svg)
Chart = Callable[[Dashboard], str]
NO_TIME = Durations(0, None, None)


def dashboard(**changes: object) -> Dashboard:
    """A dashboard of two weeks with a few figures; ``changes`` replace fields of it."""
    zero = dict.fromkeys(("unpaid_wages", "overtime", "injury", "dismissal", "social_insurance"), 0)
    stats = CaseStats(
        total=5, by_category={**zero, "unpaid_wages": 3, "injury": 2}, by_status={}, urgent=2,
        group_disputes=0, collective=0, accepted_within_deadline_pct=80.0,
        hours_to_accept=Durations(5, 3.0, 28.4), hours_to_first_response=Durations(5, 10.0, 34.8),
        hours_to_resolve=Durations(3, 100.0, 180.0), resolved=3, resolution_success_rate=2 / 3,
        ratings=2, satisfaction_rate=0.5, average_rating=3.5, money_recovered=12000, overdue_now=3,
        escalations=1,
    )
    fields: dict[str, object] = dict(
        stats=stats, since=SINCE, until=UNTIL,
        weeks=[WeekCounts(date(2026, 3, 2), {**zero, "unpaid_wages": 3, "injury": 2}),
               WeekCounts(date(2026, 3, 9), zero)],
        on_time_rate=0.75, deadlines_judged=16,
        overdue_by_org={"稠城街道总工会": 2, "北苑街道总工会": 1},
        top_employers=[EmployerCount("name:义乌ace鞋业", "义乌 ACE 鞋业", 4),
                       EmployerCount("name:某某袜厂", "某某袜厂", 1)],
    )
    return Dashboard(**{**fields, **changes})  # type: ignore[arg-type]


def texts(svg: str) -> list[str]:
    """What the staffer sees written: the <text> elements (not the tooltips' <desc>)."""
    return [e.text.strip() for e in ElementTree.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")
            if e.text and e.text.strip()]


@pytest.mark.parametrize("chart", ALL_CHARTS, ids=lambda c: c.__name__)
def test_every_chart_is_scriptless_scalable_svg_in_a_chinese_font(chart: Chart) -> None:
    svg = chart(dashboard())
    assert isinstance(svg, str)
    root = ElementTree.fromstring(svg)  # parses as XML, no declaration in front
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not [e for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("script")]
    assert "<script" not in svg and "javascript" not in svg.lower()
    assert "href=" not in svg  # nothing loaded from anywhere (pygal's default is a CDN)
    assert "viewBox" in root.attrib and "width" not in root.attrib  # CSS sizes it
    assert 'font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif' in svg  # minified CSS


def test_weekly_chart_names_each_category_in_chinese_and_every_week() -> None:
    shown = texts(charts.weekly_by_category_svg(dashboard()))
    assert {"欠薪", "加班", "工伤", "辞退", "社保"} <= set(shown)
    assert {"3月2日", "3月9日"} <= set(shown)  # the empty second week too
    assert "每周新增案件（按类别）" in shown


def test_durations_chart_shows_median_and_p90_hours() -> None:
    shown = texts(charts.durations_svg(dashboard()))
    assert {"受理用时", "办结用时", "中位数", "P90"} <= set(shown)
    assert {"3.0", "28.4", "100.0", "180.0"} <= set(shown)


def test_rates_chart_shows_percentages_and_skips_what_was_not_measured() -> None:
    shown = texts(charts.rates_svg(dashboard()))
    assert {"按时率", "调处成功率", "满意率", "75%", "67%", "50%"} <= set(shown)
    unmeasured = texts(charts.rates_svg(dashboard(on_time_rate=None)))
    assert "75%" not in unmeasured and "67%" in unmeasured


def test_overdue_and_employer_charts_name_the_unions_and_employers() -> None:
    overdue = texts(charts.overdue_by_org_svg(dashboard()))
    assert {"稠城街道总工会", "北苑街道总工会", "2", "1"} <= set(overdue)
    employers = texts(charts.top_employers_svg(dashboard()))
    assert {"义乌 ACE 鞋业", "某某袜厂", "4"} <= set(employers)


def test_a_chart_with_nothing_to_draw_says_so() -> None:
    quiet = dashboard(
        stats=CaseStats(
            total=0, by_category={}, by_status={}, urgent=0, group_disputes=0, collective=0,
            accepted_within_deadline_pct=None, hours_to_accept=NO_TIME,
            hours_to_first_response=NO_TIME, hours_to_resolve=NO_TIME, resolved=0,
            resolution_success_rate=None, ratings=0, satisfaction_rate=None, average_rating=None,
            money_recovered=0, overdue_now=0, escalations=0,
        ),
        weeks=[WeekCounts(date(2026, 3, 2), {"unpaid_wages": 0})], on_time_rate=None,
        overdue_by_org={}, top_employers=[],
    )
    for chart in ALL_CHARTS:
        assert "暂无数据" in texts(chart(quiet)), chart.__name__


async def test_the_dashboard_of_an_org_without_cases_renders_every_chart(session: AsyncSession) -> None:
    board = await compute_dashboard(session, org_ids=[], since=SINCE, until=UNTIL, now=UNTIL)
    for chart in ALL_CHARTS:
        svg = chart(board)
        ElementTree.fromstring(svg)
        assert "暂无数据" in svg, chart.__name__


def test_a_year_of_weeks_labels_every_few_weeks_and_long_names_are_cut() -> None:
    year = [WeekCounts(date(2025, 3, 3) + timedelta(weeks=n), {"unpaid_wages": 1}) for n in range(53)]
    labels = [t for t in texts(charts.weekly_by_category_svg(dashboard(weeks=year))) if t.endswith("日")]
    assert labels[0] == "3月3日" and 4 <= len(labels) <= 14

    long_name = "义乌市稠城街道某某针织服装辅料有限公司第二分厂"
    shown = texts(charts.top_employers_svg(dashboard(top_employers=[EmployerCount("k", long_name, 2)])))
    assert "义乌市稠城街道某某针织…" in shown and long_name not in shown
