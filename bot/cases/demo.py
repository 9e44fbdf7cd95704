"""Demo data so a fresh `make run` has union bodies to route cases to. Idempotent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.intake import INTAKE_ORG_CODE
from bot.cases.models import Org

# (code, name, kind, parent code)
DEMO_ORGS: list[tuple[str, str, str, str | None]] = [
    ("city", "义乌市总工会", "city_federation", None),
    (INTAKE_ORG_CODE, "义乌市总工会职工服务受理中心", "intake_desk", "city"),
]


async def do_seed_demo(session: AsyncSession) -> int:
    """Create the demo union bodies that are missing; returns how many were created."""
    existing = {code for (code,) in await session.execute(select(Org.code))}
    by_code: dict[str, Org] = {
        org.code: org for org in (await session.execute(select(Org))).scalars()
    }
    created = 0
    for code, name, kind, parent in DEMO_ORGS:
        if code in existing:
            continue
        org = Org(code=code, name=name, kind=kind, parent_id=by_code[parent].id if parent else None)
        session.add(org)
        await session.flush()
        by_code[code] = org
        created += 1
    return created
