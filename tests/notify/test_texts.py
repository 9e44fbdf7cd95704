"""Every template the domain can produce has words, and renders without a leftover field.

Two checks: the templates named in the source (literal ``template="…"`` and the worker
event kinds) all have a text; and a run through every domain path that notifies anyone
renders each outbox row it wrote, with the parameters it really wrote.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import workflow as wf
from bot.cases.alerts import do_deliver_console_alert
from bot.cases.deadlines import Calendar
from bot.cases.evidence import do_add_evidence
from bot.cases.handoffs import do_open_handoff, do_process_handoff_breaches, do_send_staff_message
from bot.cases.membership import do_apply_for_membership
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Contact
from bot.cases.org_models import StaffUser
from bot.cases.outbox import CONSOLE_CHANNEL, OutboxMessage
from bot.cases.review import do_cast_vote, do_rate, do_request_review
from bot.cases.scheduler import do_process_breaches
from bot.notify.texts import ORG_TEXTS, TEXTS, WORKER_TEXTS, render
from tests.cases.factories import T0, make_experts, make_tree, open_case

ROOT = Path(__file__).resolve().parents[2]
H, DAY = timedelta(hours=1), timedelta(days=1)
STAFF = "staff:zhang"


def assert_clean(template: str, text: str) -> None:
    assert text, template
    assert "{" not in text and "}" not in text, f"{template}: {text}"
    assert not text.startswith("["), f"{template} has no text of its own: {text}"


def test_every_template_named_in_the_source_has_a_text() -> None:
    named = {
        name for path in (ROOT / "bot").rglob("*.py")
        for name in re.findall(r'template="(\w+)"', path.read_text(encoding="utf-8"))
    }
    named |= {f"case_{kind}" for kind in wf.WORKER_VISIBLE}
    assert {"staff_message", "staff_alert", "org_handoff_requested", "org_handoff_escalated",
            "org_handoff_overdue", "org_membership_application"} <= named
    assert named - TEXTS.keys() == set()
    assert not WORKER_TEXTS.keys() & ORG_TEXTS.keys()


def test_texts_use_the_parameters_they_are_given() -> None:
    assert render("org_escalated", {"number": "GY-2026-000001", "org": "稠城街道总工会", "note": "受理时限已过"}) == (
        "案件 GY-2026-000001 已上报至 稠城街道总工会：受理时限已过")
    opened = {"number": "GY-2026-000002", "note": "群体性纠纷", "urgent": True}
    assert render("org_opened", opened).startswith("【紧急】新案件 GY-2026-000002")
    assert "疑似群体性" in render("org_case_opened", {**opened, "collective": True})
    assert "紧急" not in render("org_opened", {**opened, "urgent": False})
    assert render("staff_message", {"text": "您好，我是张敏", "author": STAFF}) == "工会工作人员：您好，我是张敏"
    assert render("staff_alert", {"text": "新案件 GY-2026-000002"}) == "【工友助手】新案件 GY-2026-000002"
    referred = render("case_referred", {"number": "N", "agency": "劳动仲裁委", "reply_due": "2026-03-16T01:00:00+00:00"})
    assert "3月16日 09:00" in referred and "T01" not in referred  # Beijing time words, not ISO
    handoff = render("org_handoff_requested", {"contact": "王小红", "channel": "wechat", "reason": "转人工",
                                               "number": None, "due": "03月02日 09:30"})
    assert "微信" in handoff and "案件" not in handoff and "03月02日 09:30" in handoff


async def test_every_row_the_domain_writes_renders(session: AsyncSession, tmp_path: Path) -> None:
    before = (await session.execute(select(func.coalesce(func.max(OutboxMessage.id), 0)))).scalar_one()
    tree = await make_tree(session)
    await _case_life(session, tree)
    await _moves_and_breaches(session, tree)
    await _handoffs_and_alerts(session, tree, tmp_path)
    rows = list((await session.execute(
        select(OutboxMessage).where(OutboxMessage.id > before).order_by(OutboxMessage.id))).scalars())
    templates = {row.template for row in rows}
    assert {"org_opened", "org_collective_flagged", "org_review_decided", "org_deadline_breached",
            "org_handoff_overdue", "staff_alert", "staff_message", "case_review_decided"} <= templates
    for row in rows:
        assert_clean(row.template, render(row.template, row.params))


async def _case_life(session: AsyncSession, tree) -> None:  # type: ignore[no-untyped-def]
    employer = f"测试厂{uuid.uuid4().hex[:6]}"
    case = await open_case(session, tree, employer=employer, category="injury")  # urgent
    for _ in range(2):  # the third case against one employer flags them all
        await open_case(session, tree, employer=employer)
    await wf.do_accept(session, case=case, actor=STAFF, now=T0 + H)
    await wf.do_request_evidence(session, case=case, actor=STAFF, now=T0 + H, note="请补充工资条")
    await wf.do_start(session, case=case, actor=STAFF, now=T0 + 2 * H)
    await wf.do_refer(session, case=case, actor=STAFF, now=T0 + 2 * H, agency="劳动仲裁委", reply_due=T0 + 10 * DAY)
    await wf.do_resume(session, case=case, actor=STAFF, now=T0 + 3 * H)
    await wf.do_resolve(session, case=case, actor=STAFF, now=T0 + 4 * H, outcome="paid_in_part", amount_recovered=3000)
    await do_rate(session, case=case, score=1, comment="太慢", actor="worker", now=T0 + 5 * H)
    experts = await make_experts(session, 1)
    await do_request_review(session, case=case, expert_ids=[experts[0].id], actor="worker", now=T0 + 6 * H)
    await do_cast_vote(session, case=case, expert_id=experts[0].id, vote="redo", now=T0 + 7 * H)


async def _moves_and_breaches(session: AsyncSession, tree) -> None:  # type: ignore[no-untyped-def]
    moved = await open_case(session, tree)
    await wf.do_escalate(session, case=moved, actor=STAFF, now=T0 + H, reason="需要上级协调")
    await wf.do_reassign(session, case=moved, actor=STAFF, now=T0 + H, to_org_id=tree.pianqu.id, note="属地处理")
    await wf.do_withdraw(session, case=moved, actor="worker", now=T0 + 2 * H)
    await open_case(session, tree, headcount=15)  # at the city: a breach cannot escalate
    await do_process_breaches(session, now=T0 + 2 * DAY)


async def _handoffs_and_alerts(session: AsyncSession, tree, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = await open_case(session, tree)
    contact = await session.get_one(Contact, case.contact_id)
    await do_add_evidence(session, evidence_dir=tmp_path, contact_id=contact.id, data=b"payslip", kind="payslip",
                          source="webchat", original_filename="工资条.jpg", case=case, now=T0 + H)
    await do_apply_for_membership(session, contact=contact, name="王小红", employer="美团", city="义乌",
                                  phone="13912345678", now=T0 + H)
    await do_open_handoff(session, contact=contact, reason="转人工", now=T0 + H)
    await do_open_handoff(session, contact=await get_or_create_contact(
        session, channel="wechat", external_id=uuid.uuid4().hex), reason=None, now=T0 + H)
    for minutes in (31, 62, 93, 124, 155, 186):  # up the hierarchy, then overdue at the top
        await do_process_handoff_breaches(session, now=T0 + H + minutes * timedelta(minutes=1), calendar=Calendar())
    await do_send_staff_message(session, contact=contact, text="您好", author=STAFF, now=T0 + 4 * H, case_id=case.id)
    phone = await get_or_create_contact(session, channel="telegram", external_id=uuid.uuid4().hex)
    session.add(StaffUser(username=f"u-{uuid.uuid4().hex[:8]}", display_name="张敏", org_id=tree.pianqu.id,
                          role="staff", contact_id=phone.id))
    await session.flush()
    console = (await session.execute(select(OutboxMessage).where(
        OutboxMessage.channel == CONSOLE_CHANNEL, OutboxMessage.org_id == tree.pianqu.id))).scalars().first()
    await do_deliver_console_alert(
        session, outbox_id=console.id, org_id=tree.pianqu.id, template=console.template,
        text=render(console.template, console.params), case_id=console.case_id, params=console.params, now=T0 + 5 * H,
    )
