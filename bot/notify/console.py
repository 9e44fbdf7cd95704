"""Delivery to a union body: its alert lands in the console's notification centre, and
staff members of that body who linked their phone get it there too (as outbox rows of
their own, each delivered and retried like any other)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.alerts import do_deliver_console_alert
from bot.cases.outbox import CONSOLE_CHANNEL
from bot.db import session_scope, utcnow
from bot.notify.dispatcher import Notification, SendError


class ConsoleSender:
    """The sender of ``console`` outbox rows. Writing the alert is the delivery; it is
    idempotent on the outbox row, so a retry after a crash adds nothing."""

    channel = CONSOLE_CHANNEL

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def send(self, notification: Notification) -> None:
        if notification.org_id is None:
            raise SendError("a console notification needs a union body", retryable=False)
        async with session_scope(self._sessionmaker) as session:
            await do_deliver_console_alert(
                session, outbox_id=notification.outbox_id, org_id=notification.org_id,
                template=notification.template, text=notification.text, case_id=notification.case_id,
                params=notification.params, now=utcnow(),
            )
