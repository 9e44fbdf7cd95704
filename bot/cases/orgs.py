"""Reading the union organisation: the routing snapshot, subtrees, parents."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import NotFound
from bot.cases.models import Org
from bot.cases.org_models import Coverage, Employer, EmployerAlias, OrgKind
from bot.cases.routing import (
    DEFAULT_HOTLINE, EmployerRef, Jurisdiction, OrgRef, PlaceRef, normalise_name, region_names,
)


def street_place(name: str) -> str:
    """The place a street or town union is named after: 稠江街道总工会 → 稠江街道."""
    return name.removesuffix("总工会").removesuffix("工会")


def org_ref(org: Org) -> OrgRef:
    return OrgRef(id=org.id, code=org.code, name=org.name)


async def get_org_or_raise(session: AsyncSession, *, org_id: int) -> Org:
    org = await session.get(Org, org_id)
    if org is None:
        raise NotFound(f"no union body with id {org_id}")
    return org


async def get_org_by_code_or_raise(session: AsyncSession, *, code: str) -> Org:
    org = (await session.execute(select(Org).where(Org.code == code))).scalar_one_or_none()
    if org is None:
        raise NotFound(f"no union body with code {code!r}; run `python -m bot seed-demo`")
    return org


async def subtree_ids(session: AsyncSession, *, root_id: int) -> set[int]:
    """``root_id`` and every org below it (the organisation is small: read it whole)."""
    rows = (await session.execute(select(Org.id, Org.parent_id))).all()
    children: dict[int | None, list[int]] = {}
    for org_id, parent_id in rows:
        children.setdefault(parent_id, []).append(org_id)
    found, stack = set(), [root_id]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, []))
    return found


async def load_jurisdiction(session: AsyncSession) -> Jurisdiction:
    """Snapshot of everything :func:`bot.cases.routing.route_case` needs.

    Raises:
        NotFound: there is no city federation or intake desk (database not seeded).
    """
    orgs = {o.id: o for o in (await session.execute(select(Org))).scalars()}
    by_kind = {o.kind: o for o in orgs.values()}
    if OrgKind.CITY.value not in by_kind or OrgKind.INTAKE.value not in by_kind:
        raise NotFound("no city federation or intake desk; run `python -m bot seed-demo`")
    coverage = list((await session.execute(select(Coverage))).scalars())
    pianqu_by_employer = {c.employer_id: orgs[c.org_id] for c in coverage if c.employer_id}
    pianqu_by_place = {c.place: orgs[c.org_id] for c in coverage if c.place and orgs[c.org_id].kind == OrgKind.PIANQU.value}

    employers: dict[int, EmployerRef] = {}
    for employer in (await session.execute(select(Employer))).scalars():
        union = orgs.get(employer.union_org_id) if employer.union_org_id else None
        pianqu = pianqu_by_employer.get(employer.id)
        employers[employer.id] = EmployerRef(
            id=employer.id,
            name=employer.name,
            union=org_ref(union) if union else None,
            pianqu=org_ref(pianqu) if pianqu else None,
        )
    aliases = {normalise_name(e.name): e for e in employers.values()}
    for alias in (await session.execute(select(EmployerAlias))).scalars():
        aliases[normalise_name(alias.alias)] = employers[alias.employer_id]

    places = []
    for org in orgs.values():
        if org.kind != OrgKind.STREET.value:
            continue
        names = {street_place(org.name)}
        names.update(c.place for c in coverage if c.org_id == org.id and c.place)
        for name in names:
            pianqu = pianqu_by_place.get(name)
            places.append(PlaceRef(name=name, street=org_ref(org), pianqu=org_ref(pianqu) if pianqu else None))

    liaison = {
        o.province: org_ref(o) for o in orgs.values() if o.kind == OrgKind.LIAISON.value and o.province
    }
    city = by_kind[OrgKind.CITY.value]
    return Jurisdiction(
        city=org_ref(city),
        intake=org_ref(by_kind[OrgKind.INTAKE.value]),
        employers_by_alias=aliases,
        places=tuple(places),
        liaison_by_province=liaison,
        region_names=region_names(city.region),
        hotline=city.hotline or DEFAULT_HOTLINE,
    )
