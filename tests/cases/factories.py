"""Building test data through the real domain code (no rows that bypass it, except the
organisation reference tables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.demo import do_seed_demo
from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Case, Org
from bot.cases.org_models import Coverage, Expert
from bot.cases.orgs import get_org_by_code_or_raise

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Yiwu


@dataclass
class Tree:
    city: Org
    district: Org
    street: Org
    pianqu: Org
    place: str


async def make_tree(session: AsyncSession) -> Tree:
    """A private branch under the seeded city: district → street → 片区 covering a unique
    place, so tests never collide with demo data or with each other."""
    await do_seed_demo(session, history=False)
    tag = uuid.uuid4().hex[:6]
    city = await get_org_by_code_or_raise(session, code="city")
    district = Org(code=f"d-{tag}", name=f"测试{tag}区总工会", kind="district", parent_id=city.id)
    session.add(district)
    await session.flush()
    street = Org(code=f"s-{tag}", name=f"测试{tag}街道总工会", kind="street", parent_id=district.id)
    session.add(street)
    await session.flush()
    pianqu = Org(code=f"p-{tag}", name=f"测试{tag}片区工委", kind="pianqu", parent_id=street.id)
    session.add(pianqu)
    await session.flush()
    place = f"测试{tag}街道"
    session.add(Coverage(org_id=pianqu.id, place=place))
    await session.flush()
    return Tree(city, district, street, pianqu, place)


async def open_case(
    session: AsyncSession, tree: Tree, *, now: datetime = T0, category: str = "unpaid_wages",
    employer: str | None = None, **draft: object,
) -> Case:
    contact = await get_or_create_contact(session, channel="webchat", external_id=f"w-{uuid.uuid4().hex[:8]}")
    return await do_open_case(
        session, contact=contact, actor=f"worker:{contact.id}", now=now,
        draft=CaseDraft(category=category, employer=employer or f"测试厂{uuid.uuid4().hex[:6]}",
                        location=tree.place, **draft),  # type: ignore[arg-type]
    )


async def make_experts(session: AsyncSession, n: int = 3) -> list[Expert]:
    experts = [Expert(name=f"专家{i}", title="律师") for i in range(n)]
    session.add_all(experts)
    await session.flush()
    return experts
