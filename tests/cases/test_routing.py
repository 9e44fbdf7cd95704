"""Routing rules as a pure function: who is responsible, and the reason in words."""

from __future__ import annotations

import pytest

from bot.cases.routing import (
    EmployerRef, Jurisdiction, OrgRef, PlaceRef, RoutingRequest, match_employer, route_case,
)

CITY = OrgRef(1, "city", "义乌市总工会")
INTAKE = OrgRef(2, "city-intake", "义乌市总工会职工服务受理中心")
CHOUJIANG = OrgRef(3, "st-choujiang", "稠江街道总工会")
CHOUJIANG_PQ = OrgRef(4, "pq-choujiang", "稠江片区工委")
FOTANG = OrgRef(5, "st-fotang", "佛堂镇总工会")
XINDA_UNION = OrgRef(6, "cu-xinda", "鑫达电子工会")
HENGTAI_PQ = OrgRef(7, "pq-hengtai", "北苑片区工委")
JIANGXI = OrgRef(8, "liaison-jx", "江西省驻义乌老乡服务办公室")

XINDA = EmployerRef(10, "义乌市鑫达电子有限公司", union=XINDA_UNION)
HENGTAI = EmployerRef(11, "浙江恒泰服饰有限公司", pianqu=HENGTAI_PQ)
SHUNFENG = EmployerRef(12, "顺丰速运")

J = Jurisdiction(
    city=CITY,
    intake=INTAKE,
    employers_by_alias={
        "义乌市鑫达电子有限公司": XINDA, "鑫达电子": XINDA, "鑫达": XINDA,
        "浙江恒泰服饰有限公司": HENGTAI, "恒泰服饰": HENGTAI,
        "顺丰速运": SHUNFENG, "顺丰": SHUNFENG,
    },
    places=(
        PlaceRef("稠江街道", CHOUJIANG, CHOUJIANG_PQ),
        PlaceRef("稠江", CHOUJIANG, CHOUJIANG_PQ),
        PlaceRef("佛堂镇", FOTANG),
        PlaceRef("佛堂", FOTANG),
    ),
    liaison_by_province={"江西": JIANGXI},
)


def route(**kw) -> "object":
    return route_case(RoutingRequest(category=kw.pop("category", "unpaid_wages"), **kw), J)


def test_company_union_only_with_the_workers_consent() -> None:
    with_consent = route(employer="鑫达电子厂", location="义乌稠江街道", consent_company_union=True)
    assert with_consent.org == XINDA_UNION
    assert "职工同意告知" in with_consent.reason
    without = route(employer="鑫达电子厂", location="义乌稠江街道", consent_company_union=False)
    assert without.org == CHOUJIANG_PQ
    assert without.reason == "雇主 义乌市鑫达电子有限公司 有工会，但职工不同意告知本单位工会，按工作地点 稠江街道 分派至 稠江片区工委"


def test_no_union_goes_by_work_location_with_the_reason_in_words() -> None:
    decision = route(employer="顺丰", location="义乌稠江街道")
    assert decision.org == CHOUJIANG_PQ
    assert decision.reason == "雇主无工会，按工作地点 稠江街道 分派至 稠江片区工委"


def test_a_pianqu_covering_the_company_wins_over_the_location() -> None:
    assert route(employer="恒泰服饰", location="佛堂镇").org == HENGTAI_PQ


def test_a_street_without_pianqu_gets_it_directly() -> None:
    decision = route(employer="张老板的工地", location="佛堂镇上的工地")
    assert decision.org == FOTANG and "雇主不在登记名录" in decision.reason


@pytest.mark.parametrize("location", [None, "杭州西湖区", ""])
def test_unknown_location_goes_to_the_intake_desk(location: str | None) -> None:
    decision = route(employer="某某厂", location=location)
    assert decision.org == INTAKE
    assert INTAKE.name in decision.reason


def test_group_disputes_go_to_the_city_and_are_urgent() -> None:
    decision = route(employer="鑫达", location="稠江街道", headcount=12, consent_company_union=True)
    assert (decision.org, decision.urgent, decision.group_dispute) == (CITY, True, True)
    assert route(employer="鑫达", location="稠江街道", headcount=9).group_dispute is False


def test_injuries_are_urgent() -> None:
    assert route(category="injury", location="佛堂").urgent
    assert not route(category="overtime", location="佛堂").urgent


def test_a_worker_from_a_province_with_a_liaison_office_is_shared_with_it() -> None:
    decision = route(location="佛堂镇", hometown="江西赣州")
    assert decision.collaborators == (JIANGXI,)
    assert decision.province == "江西" and "抄送 江西省驻义乌老乡服务办公室" in decision.reason
    assert route(location="佛堂镇", hometown="河南周口").collaborators == ()


def test_the_longest_alias_wins_and_short_noise_matches_nothing() -> None:
    assert match_employer("在义乌市鑫达电子有限公司上班", J) == XINDA
    assert match_employer("厂", J) is None
    assert match_employer(None, J) is None
