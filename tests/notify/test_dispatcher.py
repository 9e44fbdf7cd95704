"""The outbox dispatcher: delivers what the domain queued, retries with back-off, gives up
into a dead-letter state, never sends one row twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases import workflow as wf
from bot.cases.outbox import OutboxMessage
from bot.db import create_sessionmaker, session_scope
from bot.notify.dispatcher import Dispatcher, Notification, SendError, backoff
from tests.cases.factories import T0, make_tree, open_case


class CollectingSender:
    """A channel that accepts everything and keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)


class FlakySender:
    """A channel that fails its first ``failures`` sends (as a real network does)."""

    def __init__(self, failures: int, *, retryable: bool = True) -> None:
        self.failures, self.retryable, self.delivered = failures, retryable, []

    async def send(self, notification: Notification) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise SendError("503 from upstream", retryable=self.retryable)
        self.delivered.append(notification)


async def accepted_case(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    async with session_scope(create_sessionmaker(engine)) as session:
        case = await open_case(session, await make_tree(session))
        await wf.do_accept(session, case=case, actor="staff:li", now=T0 + timedelta(hours=1), note="已受理")
        return case


async def rows_for(engine: AsyncEngine, case) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    async with session_scope(create_sessionmaker(engine)) as session:
        stmt = select(OutboxMessage).where(OutboxMessage.case_id == case.id, OutboxMessage.contact_id.is_not(None))
        return list((await session.execute(stmt)).scalars())


async def test_the_worker_is_told_exactly_once_in_plain_words(engine: AsyncEngine) -> None:
    case = await accepted_case(engine)
    log = CollectingSender()
    dispatcher = Dispatcher(sessionmaker=create_sessionmaker(engine), senders={"webchat": log})
    now = T0 + timedelta(hours=2)
    await dispatcher.run_once(now=now, limit=1000)
    await dispatcher.run_once(now=now + timedelta(hours=1), limit=1000)
    mine = [n for n in log.sent if case.number in n.text]
    assert [n.text for n in mine] == [f"您的案件 {case.number} 已被工会受理，会有专人跟进。"]
    [row] = await rows_for(engine, case)
    assert row.status == "sent" and row.attempts == 1


async def test_failed_sends_back_off_and_end_dead(engine: AsyncEngine) -> None:
    case = await accepted_case(engine)
    flaky = FlakySender(failures=100)
    dispatcher = Dispatcher(sessionmaker=create_sessionmaker(engine), senders={"webchat": flaky}, max_attempts=3)
    now = T0 + timedelta(hours=2)
    await dispatcher.run_once(now=now, limit=1000)
    [row] = await rows_for(engine, case)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + backoff(1))
    await dispatcher.run_once(now=now + timedelta(seconds=10), limit=1000)  # not due yet
    assert (await rows_for(engine, case))[0].attempts == 1
    await dispatcher.run_once(now=now + timedelta(minutes=1), limit=1000)
    await dispatcher.run_once(now=now + timedelta(minutes=5), limit=1000)
    [row] = await rows_for(engine, case)
    assert (row.status, row.attempts) == ("dead", 3) and "503" in row.last_error


async def test_a_send_that_succeeds_on_retry_is_delivered_once(engine: AsyncEngine) -> None:
    case = await accepted_case(engine)
    flaky = FlakySender(failures=1)
    dispatcher = Dispatcher(sessionmaker=create_sessionmaker(engine), senders={"webchat": flaky})
    now = T0 + timedelta(hours=2)
    for minutes in (0, 1, 2, 3):
        await dispatcher.run_once(now=now + timedelta(minutes=minutes), limit=1000)
    assert len([n for n in flaky.delivered if n.text.startswith(f"您的案件 {case.number}")]) == 1


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30) == timedelta(hours=1)
