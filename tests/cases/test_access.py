"""Who sees which case, decided in bot.cases.access: a union body's subtree, the access
log and who may read it, accounts management, colleagues to assign to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import workflow as wf
from bot.cases.access import (
    Actor, access_case_or_raise, case_scope, check_can_manage_users, check_can_read_access_log,
    check_org_in_scope, do_log_access, list_access_log, list_colleagues, load_actor,
)
from bot.cases.errors import Forbidden, InvalidInput, NotFound
from bot.cases.models import Case, Org
from bot.cases.org_models import StaffUser
from bot.cases.staff import do_create_staff_user
from tests.cases.factories import T0, Tree, make_tree, open_case

PASSWORD = "correct horse battery"
MIN = timedelta(minutes=1)


@dataclass
class World:
    tree: Tree
    sibling: Org  # another street under the same district
    in_pianqu: Case  # the street's 片区 handles it
    at_sibling: Case
    at_district: Case


async def make_world(session: AsyncSession) -> World:
    tree = await make_tree(session)
    sibling = Org(code=f"s2-{uuid.uuid4().hex[:6]}", name="兄弟街道总工会", kind="street", parent_id=tree.district.id)
    session.add(sibling)
    await session.flush()
    in_pianqu, at_sibling, at_district = [await open_case(session, tree) for _ in range(3)]
    await wf.do_reassign(session, case=at_sibling, actor="staff:test", now=T0, to_org_id=sibling.id, note="属地")
    await wf.do_reassign(session, case=at_district, actor="staff:test", now=T0, to_org_id=tree.district.id, note="上报")
    return World(tree, sibling, in_pianqu, at_sibling, at_district)


async def actor_for(session: AsyncSession, org: Org, *, role: str = "staff", username: str | None = None) -> Actor:
    user = await do_create_staff_user(
        session, username=username or f"{role}-{uuid.uuid4().hex[:6]}", display_name="王五",
        org_code=org.code, role=role, password=PASSWORD,
    )
    return await load_actor(session, user=user)


def cases_of(world: World) -> list[Case]:
    return [world.in_pianqu, world.at_sibling, world.at_district]


async def visible(session: AsyncSession, actor: Actor, world: World) -> set[str]:
    """Which of the world's cases a list query filtered by case_scope returns."""
    ids = [c.id for c in cases_of(world)]
    rows = await session.execute(select(Case.number).where(case_scope(actor), Case.id.in_(ids)))
    return set(rows.scalars())


async def test_street_staff_see_the_pianqu_below_but_not_a_sibling_or_the_district(session: AsyncSession) -> None:
    world = await make_world(session)
    staff = await actor_for(session, world.tree.street)
    assert {world.tree.street.id, world.tree.pianqu.id} <= staff.org_ids
    assert world.tree.district.id not in staff.org_ids and world.sibling.id not in staff.org_ids

    assert (await access_case_or_raise(session, actor=staff, number=world.in_pianqu.number.lower())).id == world.in_pianqu.id
    for hidden in (world.at_sibling, world.at_district):
        with pytest.raises(NotFound) as refused:
            await access_case_or_raise(session, actor=staff, number=hidden.number)
        # the very answer a missing case gets: nothing tells the case exists elsewhere
        assert str(refused.value) == f"no case numbered {hidden.number!r}"
    with pytest.raises(NotFound, match="GY-2099-999999"):
        await access_case_or_raise(session, actor=staff, number="GY-2099-999999")
    assert await visible(session, staff, world) == {world.in_pianqu.number}


async def test_district_staff_see_the_whole_district_and_an_admin_sees_everything(session: AsyncSession) -> None:
    world = await make_world(session)
    district = await actor_for(session, world.tree.district)
    admin = await actor_for(session, world.tree.city, role="admin")
    everyone = {c.number for c in cases_of(world)}
    assert await visible(session, district, world) == everyone
    assert await visible(session, admin, world) == everyone
    for case in cases_of(world):
        assert (await access_case_or_raise(session, actor=admin, number=case.number, for_update=True)).id == case.id


async def test_an_expert_sees_no_case_through_the_org_tree(session: AsyncSession) -> None:
    world = await make_world(session)
    expert = await actor_for(session, world.tree.city, role="expert")
    assert expert.org_ids == frozenset() and await visible(session, expert, world) == set()


async def test_an_actor_says_who_acts(session: AsyncSession) -> None:
    world = await make_world(session)
    staff = await actor_for(session, world.tree.street, username="zhao")
    org_admin = await actor_for(session, world.tree.street, role="org_admin")
    admin = await actor_for(session, world.tree.city, role="admin")
    assert staff.label == "staff:zhao" and staff.display_name == "王五"
    assert (staff.is_org_admin, staff.is_admin) == (False, False)
    assert (org_admin.is_org_admin, org_admin.is_admin) == (True, False)
    assert (admin.is_org_admin, admin.is_admin) == (True, True)


async def test_orgs_and_accounts_are_managed_only_within_the_subtree(session: AsyncSession) -> None:
    world = await make_world(session)
    staff = await actor_for(session, world.tree.street)
    org_admin = await actor_for(session, world.tree.street, role="org_admin")
    admin = await actor_for(session, world.tree.city, role="admin")

    check_org_in_scope(staff, world.tree.pianqu.id)
    with pytest.raises(NotFound):
        check_org_in_scope(staff, world.sibling.id)
    check_can_manage_users(org_admin, world.tree.pianqu.id)
    check_can_manage_users(admin, world.sibling.id)
    with pytest.raises(Forbidden):
        check_can_manage_users(org_admin, world.tree.district.id)
    with pytest.raises(Forbidden) as refused:
        check_can_manage_users(staff, world.tree.street.id)
    assert refused.value.code == "forbidden"


async def test_the_access_log_is_read_by_org_admins_of_the_subtree_only(session: AsyncSession) -> None:
    world = await make_world(session)
    staff = await actor_for(session, world.tree.pianqu, username="qian")
    district_staff = await actor_for(session, world.tree.district, username="sun")
    street_admin = await actor_for(session, world.tree.street, role="org_admin")
    sibling_admin = await actor_for(session, world.sibling, role="org_admin")
    case = world.in_pianqu

    await do_log_access(session, actor=staff, case_id=case.id, action="view_case", ip="10.0.0.8", now=T0)
    await do_log_access(session, actor=staff, case_id=case.id, action="show_phone", detail="contact", now=T0 + MIN)
    await do_log_access(session, actor=district_staff, case_id=case.id, action="view_case", now=T0 + 2 * MIN)
    await do_log_access(session, actor=staff, case_id=None, action="export_cases", now=T0 + 3 * MIN)
    with pytest.raises(InvalidInput):
        await do_log_access(session, actor=staff, case_id=case.id, action="peek", now=T0)

    log = await list_access_log(session, actor=street_admin)
    assert [(e["username"], e["action"], e["case_number"]) for e in log] == [
        ("qian", "export_cases", None),
        ("sun", "view_case", case.number),  # someone above looked at a case of the subtree
        ("qian", "show_phone", case.number),
        ("qian", "view_case", case.number),
    ]
    assert log[-1]["ip"] == "10.0.0.8" and log[-1]["created_at"] == T0 and log[-1]["display_name"] == "王五"
    assert [e["action"] for e in await list_access_log(session, actor=street_admin, case_id=case.id, limit=2)] == [
        "view_case", "show_phone",
    ]
    assert await list_access_log(session, actor=sibling_admin) == []
    with pytest.raises(Forbidden):
        await list_access_log(session, actor=staff)
    with pytest.raises(Forbidden):
        check_can_read_access_log(district_staff)


async def test_colleagues_are_the_active_accounts_of_an_org_in_scope(session: AsyncSession) -> None:
    world = await make_world(session)
    me = await actor_for(session, world.tree.street, username="me")
    await actor_for(session, world.tree.pianqu, username="pq-a")
    await actor_for(session, world.tree.pianqu, username="pq-b", role="org_admin")
    gone = await actor_for(session, world.tree.pianqu, username="pq-gone")
    (await session.get_one(StaffUser, gone.user_id)).active = False

    names = [u.username for u in await list_colleagues(session, actor=me, org_id=world.tree.pianqu.id)]
    assert sorted(names) == ["pq-a", "pq-b"]
    with pytest.raises(NotFound):
        await list_colleagues(session, actor=me, org_id=world.sibling.id)
