"""Random sequences of operations and clock advances against the real case domain, checking
the invariants after every program (SQLite and PostgreSQL):

- exactly one responsible org at any time (the last routing/move event names it);
- events are append-only and in time order;
- a breached deadline is acted on exactly once (one escalation or breach event);
- every worker-visible event has exactly one outbox row for the worker;
- nothing leads out of ``closed`` except reopen.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cases import workflow as wf
from bot.cases.errors import DomainError
from bot.cases.models import Case, CaseDeadline, CaseEvent, Org
from bot.cases.outbox import OutboxMessage
from bot.cases.review import do_rate
from bot.cases.scheduler import do_process_breaches
from tests.cases.factories import T0, make_tree, open_case

STAFF = "staff:prop"
STATUS_AFTER = {
    "accepted": "accepted", "started": "in_progress", "referred": "referred", "resumed": "in_progress",
    "resolved": "resolved", "closed": "closed", "reopened": "in_progress", "withdrawn": "withdrawn",
}

ALL_ACTIONS = ["accept", "start", "refer", "resume", "resolve", "close", "withdraw", "reopen",
               "escalate", "reassign", "request_evidence", "rate"]


def draw_operation(data: st.DataObject, cases: list[Case]) -> tuple:
    """Mostly actions that are legal now (to reach deep states), sometimes any action (to
    check refusals), plus openings, clock advances and scheduler runs."""
    kind = data.draw(st.sampled_from(["act"] * 5 + ["open", "advance", "advance", "schedule", "schedule", "any"]))
    if kind == "open" or not cases:
        return ("open", data.draw(st.sampled_from([None, 3, 12])), data.draw(st.sampled_from(["unpaid_wages", "injury"])))
    if kind in ("advance", "schedule"):
        return ("advance", data.draw(st.integers(1, 72))) if kind == "advance" else ("schedule",)
    index = data.draw(st.integers(0, len(cases) - 1))
    status = cases[index].status
    legal = [a for a in ALL_ACTIONS if a == "rate" or status in wf.TRANSITIONS[a][0]]
    action = data.draw(st.sampled_from(legal if kind == "act" and legal else ALL_ACTIONS))
    extra = {"resolve": st.sampled_from(["paid_in_full", "not_substantiated"]), "refer": st.integers(1, 200),
             "rate": st.integers(1, 5)}.get(action, st.none())
    return (action, index, data.draw(extra))


async def apply(session: AsyncSession, tree, cases: list[Case], op: tuple, now):  # type: ignore[no-untyped-def]
    name = op[0]
    if name == "open":
        cases.append(await open_case(session, tree, now=now, headcount=op[1], category=op[2]))
        return
    if name == "schedule":
        await do_process_breaches(session, now=now)
        return
    if not cases:
        return
    case = cases[op[1] % len(cases)]
    kw = {"session": session, "case": case, "actor": STAFF, "now": now}
    if name == "resolve":
        await wf.do_resolve(**kw, outcome=op[2], amount_recovered=1000)
    elif name == "refer":
        await wf.do_refer(**kw, agency="劳动监察大队", reply_due=now + timedelta(hours=op[2]))
    elif name == "reopen":
        await wf.do_reopen(**kw, note="重新处理")
    elif name == "escalate":
        await wf.do_escalate(**kw, reason="人工上报")
    elif name == "reassign":
        await wf.do_reassign(**kw, to_org_id=tree.street.id if case.org_id != tree.street.id else tree.pianqu.id, note="改派")
    elif name == "request_evidence":
        await wf.do_request_evidence(**kw, note="补充材料")
    elif name == "rate":
        await do_rate(session, case=case, score=op[2], comment=None, actor="worker", now=now)
    else:
        await getattr(wf, f"do_{name}")(**kw)


async def check_invariants(session: AsyncSession, cases: list[Case], snapshot: dict[int, tuple]) -> None:
    orgs = {o.id: o.code for o in (await session.execute(select(Org))).scalars()}
    for case in cases:
        rows = list((await session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))).scalars())
        # append-only: what was there at the last check is unchanged
        for event in rows:
            if event.id in snapshot:
                assert snapshot[event.id] == (event.kind, event.note, event.created_at, event.data)
            snapshot[event.id] = (event.kind, event.note, event.created_at, event.data)
        # time order
        assert [e.created_at for e in rows] == sorted(e.created_at for e in rows)
        # exactly one responsible org: the last routing event names the current one
        moves = [e for e in rows if e.kind in ("opened", "escalated", "reassigned")]
        last = moves[-1].data.get("to_org") or moves[-1].data.get("org")
        assert orgs[case.org_id] == last
        # nothing out of closed except reopen
        status = "submitted"
        for event in rows:
            if event.kind in STATUS_AFTER:
                assert status != "closed" or event.kind == "reopened", f"{event.kind} after closed"
                status = STATUS_AFTER[event.kind]
        assert status == case.status
        # every worker-visible event has exactly one worker outbox row
        for event in rows:
            outbox = list((await session.execute(select(OutboxMessage).where(
                OutboxMessage.event_id == event.id, OutboxMessage.contact_id.is_not(None)))).scalars())
            assert len(outbox) == (1 if event.kind in wf.WORKER_VISIBLE else 0), event.kind
        # a breached deadline is acted on exactly once
        breached = (await session.execute(select(CaseDeadline.id).where(
            CaseDeadline.case_id == case.id, CaseDeadline.breached_at.is_not(None)))).scalars()
        for deadline_id in breached:
            acted = [e for e in rows if e.data.get("deadline_id") == deadline_id]
            assert len(acted) == 1, f"deadline {deadline_id} acted on {len(acted)} times"
            assert acted[0].kind in ("escalated", "deadline_breached")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), length=st.integers(5, 40))
async def test_random_programs_keep_the_invariants(engine: AsyncEngine, data: st.DataObject, length: int) -> None:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            tree = await make_tree(session)
            cases: list[Case] = []
            now = T0
            snapshot: dict[int, tuple] = {}
            for _ in range(length):
                op = draw_operation(data, cases)
                if op[0] == "advance":
                    now += timedelta(hours=op[1])
                    continue
                now += timedelta(minutes=1)
                try:
                    async with session.begin_nested():
                        await apply(session, tree, cases, op, now)
                except DomainError:
                    pass  # refused: the savepoint rolled back whatever it touched
                await check_invariants(session, cases, snapshot)
        finally:
            await session.close()
            await transaction.rollback()
