"""Routing rules as a pure function: who is responsible, and the reason in words."""

from __future__ import annotations

import pytest

import dataclasses

from bot.cases.routing import (
    EmployerRef, Jurisdiction, OrgRef, PlaceRef, RoutingRequest, is_outside, match_employer,
    region_names, route_case,
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
    region_names=("义乌市", "义乌"),
    hotline="12351",
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


@pytest.mark.parametrize("location", [None, "", "城西街道", "浙江", "浙江义乌", "义乌福田街道", "江东", "工业园"])
def test_a_location_unknown_but_not_elsewhere_goes_to_the_intake_desk(location: str | None) -> None:
    decision = route(employer="某某厂", location=location)
    assert decision.org == INTAKE and not decision.outside
    assert INTAKE.name in decision.reason


@pytest.mark.parametrize(
    "location", ["宁波", "郑州", "杭州 西湖区", "杭州西湖区", "浙江东阳", "温州鹿城区", "河南", "广东省东莞市"]
)
def test_a_place_outside_the_region_is_referred_to_the_local_hotline(location: str) -> None:
    decision = route(employer="某某厂", location=location)
    assert decision.outside and decision.org is None
    assert decision.reason == f"工作地点「{location}」不在义乌市总工会的服务范围内，请拨打当地职工维权热线 12351"
    assert decision.referral == f"{location}当地总工会（职工维权热线 12351）"


def test_the_reason_names_the_city_and_its_hotline() -> None:
    elsewhere = dataclasses.replace(J, city=OrgRef(1, "city", "某市总工会"), hotline="0579-12351")
    decision = route_case(RoutingRequest(category="overtime", location="宁波"), elsewhere)
    assert decision.reason == "工作地点「宁波」不在某市总工会的服务范围内，请拨打当地职工维权热线 0579-12351"


def test_outside_keeps_urgency_but_shares_with_no_liaison_office() -> None:
    decision = route(category="injury", employer="某工地", location="郑州", headcount=20, hometown="江西赣州")
    assert decision.outside and decision.urgent and decision.group_dispute
    assert decision.collaborators == () and decision.province == "江西"
    assert "抄送" not in decision.reason


def test_a_registered_employer_keeps_the_case_here_whatever_the_location_says() -> None:
    assert route(employer="恒泰服饰", location="宁波").org == HENGTAI_PQ
    consented = route(employer="鑫达电子厂", location="郑州", consent_company_union=True)
    assert consented.org == XINDA_UNION
    assert route(employer="顺丰", location="宁波").org == INTAKE  # no 片区, no place: the desk


def test_a_configured_place_is_inside_even_if_it_looks_like_elsewhere() -> None:
    assert not is_outside("稠江街道", J) and not is_outside("佛堂镇上的工地", J)
    assert route(employer="某某厂", location="义乌佛堂").org == FOTANG


def test_without_a_configured_region_nothing_is_outside() -> None:
    no_region = dataclasses.replace(J, region_names=())
    decision = route_case(RoutingRequest(category="overtime", location="宁波"), no_region)
    assert decision.org == INTAKE and not decision.outside


def test_region_names_are_the_region_with_and_without_its_suffix() -> None:
    assert region_names("义乌市") == ("义乌市", "义乌")
    assert region_names("嵊泗县") == ("嵊泗县", "嵊泗")
    assert region_names("上海") == ("上海",)
    assert region_names(None) == region_names("  ") == ()


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
