"""Who is responsible for a new case: a pure function over a snapshot of the organisation.

The rules, in order:

1. Group dispute (headcount ≥ 10): the city federation, urgent — too big for one street.
2. The employer has a company union **and** the worker consented to involve it: that union.
   Without consent the company union is never told (a worker may fear their own union is
   too close to the boss); the case goes by rule 3 or 4 instead.
3. A 片区 that covers the employer (by company), or covers the street/town of the work
   location; else the street/town union of the work location.
4. Unknown employer and location: the city federation's intake desk.

Before all of these, a case whose employer is unknown and whose work location names a city,
county or province outside the city federation's region (宁波, 郑州, 杭州西湖区, 浙江东阳) is
*outside*: no union body here is responsible, and the reason tells the worker to call their
local union's hotline (12351). A place that is merely unknown (城西街道) is not outside: the
intake desk sorts it out. A registered employer keeps the case here whatever the location
says: the directory holds only employers this union serves.

Injury cases are urgent and carry the 1-year 工伤认定 deadline from the incident date. A
worker whose home province has a liaison office is shared with that office as a
collaborator. Every decision carries its reason in words, stored on the case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.normalize import province_of

GROUP_DISPUTE_HEADCOUNT = 10
DEFAULT_HOTLINE = "12351"  # the unions' national hotline: it reaches the caller's local union
_NOISE = re.compile(r"[\s·.,，。、()（）\"'“”]+")


@dataclass(frozen=True)
class OrgRef:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class EmployerRef:
    id: int
    name: str
    union: OrgRef | None = None  # the company union, if the employer has one
    pianqu: OrgRef | None = None  # the 片区 covering this company, if any


@dataclass(frozen=True)
class PlaceRef:
    """A street or town name workers write, with the union bodies covering it."""

    name: str
    street: OrgRef
    pianqu: OrgRef | None = None


@dataclass(frozen=True)
class Jurisdiction:
    """Everything routing needs, loaded once from the database (``load_jurisdiction``)."""

    city: OrgRef
    intake: OrgRef
    employers_by_alias: dict[str, EmployerRef] = field(default_factory=dict)
    places: tuple[PlaceRef, ...] = ()
    liaison_by_province: dict[str, OrgRef] = field(default_factory=dict)
    # The area the city federation serves, as workers write it (义乌市, 义乌); empty: no
    # area configured, and no case is ever routed outside.
    region_names: tuple[str, ...] = ()
    hotline: str = DEFAULT_HOTLINE


@dataclass(frozen=True)
class RoutingRequest:
    category: str
    employer: str | None = None
    location: str | None = None
    headcount: int | None = None
    consent_company_union: bool = False
    hometown: str | None = None


@dataclass(frozen=True)
class RoutingDecision:
    """``org`` is None for a case outside the region: ``referral`` then names who serves
    the worker's area, in words."""

    org: OrgRef | None
    reason: str
    urgent: bool
    group_dispute: bool
    employer: EmployerRef | None = None
    province: str | None = None
    collaborators: tuple[OrgRef, ...] = ()
    referral: str | None = None

    @property
    def outside(self) -> bool:
        return self.org is None


def normalise_name(text: str) -> str:
    """Name as compared: no spaces or punctuation, lower case (Latin letters)."""
    return _NOISE.sub("", text).lower()


def match_employer(text: str | None, jurisdiction: Jurisdiction) -> EmployerRef | None:
    """The known employer whose longest alias occurs in ``text`` (or contains it)."""
    if not text:
        return None
    name = normalise_name(text)
    if len(name) < 2:
        return None
    best: tuple[int, EmployerRef] | None = None
    for alias, employer in jurisdiction.employers_by_alias.items():
        if alias in name or (len(name) >= 4 and name in alias):
            score = len(alias) if alias in name else len(name)
            if best is None or score > best[0]:
                best = (score, employer)
    return best[1] if best else None


def match_place(text: str | None, jurisdiction: Jurisdiction) -> PlaceRef | None:
    """The street or town whose longest name occurs in ``text``."""
    if not text:
        return None
    name = normalise_name(text)
    found = [p for p in jurisdiction.places if normalise_name(p.name) in name]
    return max(found, key=lambda p: len(p.name)) if found else None


def region_names(region: str | None) -> tuple[str, ...]:
    """How workers write a region: 义乌市 → (义乌市, 义乌); 西湖区 → (西湖区, 西湖)."""
    if not region or not region.strip():
        return ()
    region = normalise_name(region)
    short = region[:-1] if region[-1] in "市县区" and len(region) > 2 else None
    return (region, short) if short else (region,)


def is_outside(location: str | None, jurisdiction: Jurisdiction) -> bool:
    """Whether ``location`` names a place recognisably outside the region.

    Inside: it names the region itself (浙江义乌, 义乌福田街道) or a configured place.
    Outside: it names a province other than the region's (河南), or a city or county
    (宁波, 浙江东阳). Anything else (城西街道, 浙江, no location) is not outside.
    """
    if not location or not jurisdiction.region_names:
        return False
    text = normalise_name(location)
    if any(name in text for name in jurisdiction.region_names) or match_place(text, jurisdiction):
        return False
    named = province_of(text)
    if named is None:
        return False
    home = province_of(jurisdiction.region_names[0])
    if named != home:
        return True
    # The region's own province alone (浙江) says nothing about where in it.
    for form in (f"{home}省", home):
        text = text.replace(form, " ")
    return province_of(text) is not None


def route_case(request: RoutingRequest, jurisdiction: Jurisdiction) -> RoutingDecision:
    """Decide the responsible union body for a new case; see the module docstring."""
    employer = match_employer(request.employer, jurisdiction)
    province = province_of(request.hometown) if request.hometown else None
    liaison = jurisdiction.liaison_by_province.get(province) if province else None
    collaborators = (liaison,) if liaison else ()
    group = request.headcount is not None and request.headcount >= GROUP_DISPUTE_HEADCOUNT
    urgent = group or request.category == "injury"
    if employer is None and request.location and is_outside(request.location, jurisdiction):
        # No liaison office either: the offices here serve workers who work here.
        place, hotline = request.location.strip(), jurisdiction.hotline
        return RoutingDecision(
            None, f"工作地点「{place}」不在{jurisdiction.city.name}的服务范围内，请拨打当地职工维权热线 {hotline}",
            urgent, group, province=province, referral=f"{place}当地总工会（职工维权热线 {hotline}）",
        )

    def decide(org: OrgRef, reason: str) -> RoutingDecision:
        if liaison:
            reason += f"；职工老家{province}，抄送 {liaison.name}"
        return RoutingDecision(org, reason, urgent, group, employer, province, collaborators)

    if group:
        return decide(jurisdiction.city, f"群体性纠纷（{request.headcount}人），直接由 {jurisdiction.city.name} 处理")
    if employer and employer.union:
        if request.consent_company_union:
            return decide(employer.union, f"雇主 {employer.name} 有工会，职工同意告知，分派至 {employer.union.name}")
        prefix = f"雇主 {employer.name} 有工会，但职工不同意告知本单位工会"
    else:
        prefix = "雇主无工会" if employer else "雇主不在登记名录"
    if employer and employer.pianqu:
        return decide(employer.pianqu, f"{prefix}，{employer.name} 属 {employer.pianqu.name} 覆盖企业")
    place = match_place(request.location, jurisdiction)
    if place and place.pianqu:
        return decide(place.pianqu, f"{prefix}，按工作地点 {place.name} 分派至 {place.pianqu.name}")
    if place:
        return decide(place.street, f"{prefix}，按工作地点 {place.name} 分派至 {place.street.name}")
    where = f"工作地点「{request.location}」不在辖区名录" if request.location else "未提供工作地点"
    return decide(jurisdiction.intake, f"{prefix}，{where}，由 {jurisdiction.intake.name} 受理")
