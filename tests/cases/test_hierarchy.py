"""The union hierarchy as data: reading YAML and CSV, every problem with its line, and the
import into a store of its own (SQLite and PostgreSQL) — idempotent, all or nothing.

The store tests use a fresh database per module, each test rolled back: the shared test
store holds the Yiwu demo, and one store holds one hierarchy.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases.demo import HIERARCHY_FILE, do_seed_demo
from bot.cases.hierarchy import (
    Hierarchy, check_hierarchy, do_import_hierarchy, parse_csv, parse_yaml, read_hierarchy,
)
from bot.cases.models import Org
from bot.cases.org_models import Coverage, DeadlinePolicy, Employer, EmployerAlias, Expert
from bot.cases.orgs import load_jurisdiction
from bot.cases.routing import RoutingRequest, route_case
from bot.db import create_engine
from bot.migrate import upgrade
from tests.conftest import _create_pg_database, _drop_pg_database, pg_url

HANGZHOU = textwrap.dedent("""\
    bodies:
      - {code: hz, name: 杭州市总工会, kind: city_federation, region: 杭州市, hotline: 12351}
      - {code: hz-intake, name: 杭州市总工会职工服务中心, kind: intake_desk, parent: hz}
      - {code: hz-xihu, name: 西湖区总工会, kind: district, parent: hz}
      - {code: hz-lingyin, name: 灵隐街道总工会, kind: street, parent: hz-xihu, places: [灵隐]}
      - {code: hz-pq-lingyin, name: 灵隐片区工委, kind: pianqu, parent: hz-lingyin, places: [灵隐街道]}
      - {code: hz-cu-longjing, name: 杭州龙井茶业有限公司工会, kind: company_union, parent: hz-pq-lingyin}
    liaisons:
      - {code: hz-liaison-ah, name: 安徽省驻杭州老乡服务办公室, province: 安徽}
    employers:
      - {name: 杭州龙井茶业有限公司, street: 灵隐街道, aliases: [龙井茶厂], union: hz-cu-longjing}
      - {name: 杭州西溪印刷有限公司, street: 灵隐, aliases: [西溪印刷厂, 西溪印刷]}
    coverage:
      - {org: hz-pq-lingyin, employers: [杭州西溪印刷有限公司]}
    experts:
      - {name: 钱律师, title: 律师}
    policies:
      - {accept_days: 2, respond_days: 4, resolve_days: 20}
      - {org: hz-xihu, category: injury, accept_days: 1, respond_days: 2, resolve_days: 10}
""")
TABLES = (Org, Coverage, Employer, EmployerAlias, Expert, DeadlinePolicy)


def messages(data: Hierarchy) -> list[str]:
    return [str(p) for p in check_hierarchy(data)]


def with_problem(old: str, new: str) -> list[str]:
    assert old in HANGZHOU
    return messages(parse_yaml(HANGZHOU.replace(old, new)))


# --- reading and checking (pure) --------------------------------------------------------


def test_a_good_file_reads_with_every_part_and_no_problem() -> None:
    data = parse_yaml(HANGZHOU)
    assert check_hierarchy(data) == []
    assert [b.code for b in data.bodies][-1] == "hz-liaison-ah"
    liaison = data.bodies[-1]
    assert (liaison.kind, liaison.parent, liaison.province) == ("liaison_office", "hz", "安徽")
    assert data.bodies[0].hotline == "12351"  # a number in YAML is still the hotline's text
    assert data.bodies[3].where == "line 5, bodies[3]" and data.bodies[3].places == ("灵隐",)
    assert [p.days for p in data.policies] == [(2, 4, 20), (1, 2, 10)]


def test_the_demo_file_is_a_complete_hierarchy_with_its_region_and_hotline() -> None:
    data = read_hierarchy(HIERARCHY_FILE)
    assert check_hierarchy(data) == []
    city = next(b for b in data.bodies if b.kind == "city_federation")
    assert (city.code, city.region, city.hotline) == ("city", "义乌市", "12351")
    assert (len(data.bodies), len(data.employers), len(data.experts)) == (30, 20, 6)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("parent: hz-xihu, places: [灵隐]", "parent: hz-nowhere, places: [灵隐]",
         "line 5, bodies[3]: parent 'hz-nowhere' is not the code of a body in this file"),
        ("kind: pianqu, parent: hz-lingyin", "kind: pianqu, parent: hz-xihu",
         "line 6, bodies[4]: a 片区 sits under a street/town union, and 'hz-xihu' is a district"),
        ("employers: [杭州西溪印刷有限公司]", "employers: [西溪印刷厂, 杭州无名厂]",
         "line 14, coverage[0]: employer '杭州无名厂' is not in employers (by full name)"),
        ("{code: hz-lingyin,", "{code: hz-xihu,",
         "line 5, bodies[3]: duplicate code 'hz-xihu' (first at line 4, bodies[2])"),
        ("{org: hz-xihu, category", "{org: hz-west, category",
         "line 19, policies[1]: policy for 'hz-west', which is not a body in this file"),
        ("kind: city_federation", "kind: district",
         "file: no city federation (a body of kind city_federation)"),
        ("kind: intake_desk", "kind: district", "file: no intake desk (a body of kind intake_desk)"),
        ("region: 杭州市, ", "", "line 2, bodies[0]: the city federation needs its region (义乌市): "
                              "places outside it are referred, not routed"),
        ("places: [灵隐街道]", "places: [西湖]",
         "line 6, bodies[4]: place '西湖' is not a name of its street 'hz-lingyin' (the street's places: "
         "its name without 总工会, and its places)"),
        ("aliases: [西溪印刷厂, 西溪印刷]", "aliases: [龙井茶厂]",
         "line 12, employers[1]: alias '龙井茶厂' is '杭州龙井茶业有限公司''s too"),
        ("union: hz-cu-longjing}", "union: hz-pq-lingyin}",
         "line 11, employers[0]: union 'hz-pq-lingyin' is not a company union in this file"),
        ("province: 安徽}", "province: 皖南}",
         "line 9, liaisons[0]: a liaison office needs its home province as a short name (江西, 河南, 广西), "
         "not '皖南'"),
        ("category: injury", "category: weather", "line 19, policies[1]: category 'weather' is not one of "
         "dismissal, injury, overtime, social_insurance, unpaid_wages"),
        ("resolve_days: 20}", "resolve_days: 0}",
         "line 18, policies[0]: resolve_days must be a whole number of working days (1 or more)"),
        ("{name: 钱律师, title: 律师}", "{name: 钱律师, titel: 律师}",
         "line 16, experts[0]: unknown field(s) titel; fields: name, title"),
        ("name: 灵隐街道总工会, ", "", "line 5, bodies[3]: name is missing"),
        ("- {code: hz-intake, name: 杭州市总工会职工服务中心, kind: intake_desk, parent: hz}",
         "- {code: hz-intake, name: 杭州市总工会职工服务中心, kind: intake_desk, parent: hz}\n"
         "  - {code: hz-intake2, name: 杭州市职工服务站, kind: intake_desk, parent: hz}",
         "line 4, bodies[2]: a second intake desk: one hierarchy has one"),
        ("kind: street,", "kind: town,", "line 5, bodies[3]: kind 'town' is not one of city_federation, "
         "intake_desk, district, liaison_office, street, pianqu, company_union"),
    ],
)
def test_every_problem_is_named_with_its_line(old: str, new: str, expected: str) -> None:
    assert expected in with_problem(old, new)


def test_sections_and_syntax_are_checked_too() -> None:
    assert messages(parse_yaml(HANGZHOU.replace("experts:", "expert:"))) == [
        "file: unknown section 'expert'; sections: bodies, liaisons, employers, coverage, experts, policies"]
    broken = messages(parse_yaml(HANGZHOU.replace("[灵隐]}", "[灵隐}")))
    assert len(broken) == 1 and broken[0].startswith("line 5: not valid YAML")
    assert messages(parse_yaml("- just a list")) == [
        "file: expected the sections bodies, liaisons, employers, coverage, experts, policies"]


def test_a_csv_holds_the_bodies_with_their_places() -> None:
    data = parse_csv(
        "\ufeffcode,name,kind,parent,region,hotline,province,places\n"
        "hz,杭州市总工会,city_federation,,杭州市,12351,,\n"
        "hz-intake,杭州市总工会职工服务中心,intake_desk,hz,,,,\n"
        "hz-lingyin,灵隐街道总工会,street,hz,,,,灵隐| 灵隐寺 \n"
        "hz-ah,安徽省驻杭州老乡服务办公室,liaison_office,hz,,,安徽,\n"
    )
    assert check_hierarchy(data) == []
    assert data.bodies[2].places == ("灵隐", "灵隐寺") and data.bodies[2].where == "line 4"
    assert data.bodies[3].province == "安徽"
    missing = parse_csv("code,name,kind\nhz,杭州市总工会,city_federation\n")
    assert messages(missing) == ["line 1: missing column(s) parent, region, hotline, province, places; "
                                 "columns: code,name,kind,parent,region,hotline,province,places"]


# --- the store --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def own_engine(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    """A fresh migrated database of the same kind as ``database_url``."""
    drop: Callable[[], Awaitable[None]] | None = None
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('hierarchy') / 'h.db'}"
    else:
        name = await _create_pg_database()
        url, drop = pg_url(name), lambda: _drop_pg_database(name)
    engine = create_engine(url)
    await upgrade(engine)
    yield engine
    await engine.dispose()
    if drop is not None:
        await drop()


@pytest.fixture
async def store(own_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with own_engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


async def table_counts(session: AsyncSession) -> dict[str, int]:
    return {m.__tablename__: (await session.execute(select(func.count()).select_from(m))).scalar_one()
            for m in TABLES}


def counts(report, kind: str) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    c = report.counts[kind]
    return c.created, c.updated, c.unchanged, c.removed


async def test_an_import_creates_everything_and_a_second_changes_nothing(store: AsyncSession) -> None:
    first = await do_import_hierarchy(store, data=parse_yaml(HANGZHOU))
    assert first.ok, first.format()
    assert {k: counts(first, k) for k in first.counts} == {
        "bodies": (7, 0, 0, 0), "places": (2, 0, 0, 0), "employers": (2, 0, 0, 0),
        "aliases": (3, 0, 0, 0), "coverage": (1, 0, 0, 0), "experts": (1, 0, 0, 0), "policies": (2, 0, 0, 0),
    }
    before = await table_counts(store)
    again = await do_import_hierarchy(store, data=parse_yaml(HANGZHOU))
    assert all(c.created == c.updated == c.removed == 0 for c in again.counts.values())
    assert counts(again, "bodies") == (0, 0, 7, 0)
    assert await table_counts(store) == before
    assert "bodies     created   0  updated   0  unchanged   7" in again.format()


async def test_the_imported_hierarchy_routes_and_refers(store: AsyncSession) -> None:
    await do_import_hierarchy(store, data=parse_yaml(HANGZHOU))
    jurisdiction = await load_jurisdiction(store)
    assert (jurisdiction.region_names, jurisdiction.hotline) == (("杭州市", "杭州"), "12351")

    def route(**kw: object):  # type: ignore[no-untyped-def]
        return route_case(RoutingRequest(category="overtime", **kw), jurisdiction)  # type: ignore[arg-type]

    assert route(employer="西溪印刷厂").org.code == "hz-pq-lingyin"  # covered by company
    assert route(employer="龙井茶厂", consent_company_union=True).org.code == "hz-cu-longjing"
    assert route(location="杭州灵隐街道").org.code == "hz-pq-lingyin"
    assert route(location="灵隐").org.code == "hz-lingyin"  # the 片区 covers 灵隐街道 only
    assert route(location="杭州滨江区").org.code == "hz-intake"  # in the region, not configured
    outside = route(location="义乌")
    assert outside.outside and outside.reason == "工作地点「义乌」不在杭州市总工会的服务范围内，请拨打当地职工维权热线 12351"
    assert route(location="灵隐", hometown="安徽阜阳").collaborators[0].code == "hz-liaison-ah"


async def test_a_changed_file_updates_and_replaces_what_it_names(store: AsyncSession) -> None:
    await do_import_hierarchy(store, data=parse_yaml(HANGZHOU))
    changed = (HANGZHOU.replace("西湖区总工会", "杭州市西湖区总工会")
               .replace("places: [灵隐街道]", "places: []")
               .replace("aliases: [西溪印刷厂, 西溪印刷]", "aliases: [西溪印刷厂, 西溪彩印]")
               .replace("{name: 钱律师, title: 律师}", "{name: 钱律师, title: 法律援助律师}")
               .replace("resolve_days: 20}", "resolve_days: 15}"))
    report = await do_import_hierarchy(store, data=parse_yaml(changed))
    assert report.ok, report.format()
    assert counts(report, "bodies") == (0, 1, 6, 0)
    assert counts(report, "places") == (0, 0, 1, 1)
    assert counts(report, "aliases") == (1, 0, 2, 1)
    assert counts(report, "experts") == (0, 1, 0, 0) and counts(report, "policies") == (0, 1, 1, 0)
    jurisdiction = await load_jurisdiction(store)
    assert route_case(RoutingRequest(category="overtime", location="灵隐街道"), jurisdiction).org.code == "hz-lingyin"
    assert "西溪印刷" not in jurisdiction.employers_by_alias and "西溪彩印" in jurisdiction.employers_by_alias


async def test_with_a_problem_nothing_is_written(store: AsyncSession) -> None:
    before = await table_counts(store)
    bad = parse_yaml(HANGZHOU.replace("employers: [杭州西溪印刷有限公司]", "employers: [杭州无名厂]"))
    report = await do_import_hierarchy(store, data=bad)
    assert not report.ok and await table_counts(store) == before
    assert report.format().startswith("1 problem(s), nothing written:\n  line 14, coverage[0]: employer '杭州无名厂'")


async def test_a_dry_run_reports_the_same_and_keeps_nothing(store: AsyncSession) -> None:
    before = await table_counts(store)
    dry = await do_import_hierarchy(store, data=parse_yaml(HANGZHOU), dry_run=True)
    assert dry.ok and counts(dry, "bodies") == (7, 0, 0, 0) and dry.format().endswith("dry run: nothing written")
    assert await table_counts(store) == before
    real = await do_import_hierarchy(store, data=parse_yaml(HANGZHOU))
    assert real.counts == dry.counts


async def test_one_store_holds_one_hierarchy(store: AsyncSession) -> None:
    await do_import_hierarchy(store, data=parse_yaml(HANGZHOU))
    report = await do_import_hierarchy(store, data=read_hierarchy(HIERARCHY_FILE))
    assert [str(p) for p in report.problems] == [
        "store: the store has the city federation 杭州市总工会 ('hz'); this file's is city: one store holds one hierarchy",
        "store: the store has the intake desk 杭州市总工会职工服务中心 ('hz-intake'); this file's is city-intake: "
        "one store holds one hierarchy",
    ]
    with pytest.raises(Exception, match="cannot be loaded into this store"):
        await do_seed_demo(store, history=False)


async def test_the_demo_loads_through_the_import(store: AsyncSession) -> None:
    assert await do_seed_demo(store, history=False) == 30
    again = await do_import_hierarchy(store, data=read_hierarchy(HIERARCHY_FILE))
    assert all(c.created == c.updated == c.removed == 0 for c in again.counts.values()), again.format()
    city = (await store.execute(select(Org).where(Org.code == "city"))).scalar_one()
    assert (city.region, city.hotline) == ("义乌市", "12351")
    # a store seeded before the city had a region gets it on the next seeding
    city.region = None
    await store.flush()
    assert await do_seed_demo(store, history=False) == 0
    assert city.region == "义乌市"
