"""Who is responsible for a new case: a pure function over a snapshot of the organisation.

The rules, in order:

1. Group dispute (headcount ≥ 10): the city federation, urgent — too big for one street.
2. The employer has a company union **and** the worker consented to involve it: that union.
   Without consent the company union is never told (a worker may fear their own union is
   too close to the boss); the case goes by rule 3 or 4 instead.
3. A 片区 that covers the employer (by company), or covers the street/town of the work
   location; else the street/town union of the work location.
4. Unknown employer and location: the city federation's intake desk.

Injury cases are urgent and carry the 1-year 工伤认定 deadline from the incident date. A
worker whose home province has a liaison office is shared with that office as a
collaborator. Every decision carries its reason in words, stored on the case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.normalize import province_of

GROUP_DISPUTE_HEADCOUNT = 10
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
    org: OrgRef
    reason: str
    urgent: bool
    group_dispute: bool
    employer: EmployerRef | None = None
    province: str | None = None
    collaborators: tuple[OrgRef, ...] = ()


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


def route_case(request: RoutingRequest, jurisdiction: Jurisdiction) -> RoutingDecision:
    """Decide the responsible union body for a new case; see the module docstring."""
    employer = match_employer(request.employer, jurisdiction)
    province = province_of(request.hometown) if request.hometown else None
    liaison = jurisdiction.liaison_by_province.get(province) if province else None
    collaborators = (liaison,) if liaison else ()
    group = request.headcount is not None and request.headcount >= GROUP_DISPUTE_HEADCOUNT
    urgent = group or request.category == "injury"

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
