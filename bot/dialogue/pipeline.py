"""The inbound message path shared by every channel.

store (dedupe) → per-contact ordered processing → Rasa with metadata → store the answer.
A message is committed to the database before Rasa sees it, so nothing a worker sends is
lost when Rasa or this process fails; such a message is kept as ``pending_retry``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import timedelta
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.messages import (
    do_record_answer,
    do_record_inbound,
    do_record_unanswered,
    get_or_create_contact,
)
from bot.cases.errors import InvalidInput
from bot.cases.evidence import do_add_evidence
from bot.cases.models import Contact, InboundRecord, InboundStatus, OutboundRecord
from bot.cases.delivery import do_mark_notification_sent
from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.channels.base import Accepted, Channel, ChannelError, InboundMessage, NotNow, Reply, Target
from bot.db import session_scope, utcnow
from bot.notify.texts import render
from bot.dialogue.rasa_client import RasaClient, RasaError
from bot.dialogue.rating import do_take_rating
from bot.dialogue.review import do_take_review_step
from bot.dialogue.staff_link import do_take_link_code

logger = logging.getLogger(__name__)

WITH_STAFF = Reply(text="已收到，工会工作人员会在这里回复您。")
SAVED_FOR_LATER = Reply(
    text="您的消息已经收到并保存了 🙏 系统正忙，稍后会回复您，不用重复发送。"
    "急事可以拨打职工维权热线 12351。"
)
# What Rasa is told when a message is only files: an intent payload, so the model never
# guesses a topic from "[图片]"; the files themselves travel in ``metadata.attachments``.
SEND_EVIDENCE = "/send_evidence"
RESUME = "/resume_dialogue"  # staff handed the conversation back to the bot


@dataclass(frozen=True)
class Outcome:
    """What happened to one inbound delivery."""

    inbound_id: int
    replies: tuple[Reply, ...]
    duplicate: bool = False
    answered: bool = True


class ContactLocks:
    """One lock per contact: a worker's messages reach Rasa in the order they were sent,
    while different workers are processed concurrently. Locks vanish with their last user."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def for_contact(self, contact_id: int) -> asyncio.Lock:
        lock = self._locks.get(contact_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[contact_id] = lock
        return lock


STALE_RECEIVED = timedelta(minutes=5)  # stored, never answered: picked up by the retry loop
MAX_ATTEMPTS = 20  # Rasa failures before a message is left to staff (status failed)


class InboundPipeline:
    """verify (the channel) → :meth:`accept` (store, dedupe) → acknowledge (the channel) →
    :meth:`schedule` (per-contact ordered, cross-contact concurrent: files, Rasa, replies
    through the contact's channel). The web chat answers in the request: :meth:`handle`."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], rasa: RasaClient,
                 evidence_dir: Path, channels: Mapping[str, Channel] | None = None) -> None:
        self._sessionmaker = sessionmaker
        self._rasa = rasa
        self._evidence_dir = evidence_dir
        self._locks = ContactLocks()
        self._channels: dict[str, Channel] = dict(channels or {})
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, channel: Channel) -> None:
        self._channels[channel.name] = channel

    @property
    def channels(self) -> dict[str, Channel]:
        return dict(self._channels)

    async def accept(self, message: InboundMessage) -> Accepted:
        """Store ``message`` (files given as bytes become evidence in the same transaction);
        a repeated delivery is recognised by its dedupe key and stores nothing."""
        async with session_scope(self._sessionmaker) as session:
            contact = await get_or_create_contact(
                session, channel=message.channel, external_id=message.external_id,
                display_name=message.display_name,
            )
            record = await do_record_inbound(
                session, contact=contact, dedupe_key=message.dedupe_key, text=message.text,
                payload=message.payload, kind=message.kind, meta=message.meta,
            )
            if record is None:
                stored = (await session.execute(
                    select(InboundRecord).where(InboundRecord.dedupe_key == message.dedupe_key))).scalar_one()
                return Accepted(stored.id, stored.contact_id, duplicate=True)
            contact.unreachable_at = None  # they wrote: they can be reached again
            if message.attachments:
                files = await self._store_attachments(session, contact=contact, message=message)
                record.meta = {**(record.meta or {}), "attachments": files}
            return Accepted(record.id, contact.id)

    def schedule(self, accepted: Accepted) -> None:
        """Answer a stored delivery in the background; replies go out through the contact's
        channel. Tasks of one contact queue on its lock in the order they were scheduled."""
        if accepted.duplicate:
            return
        task = asyncio.create_task(self._turn(accepted.contact_id, accepted.inbound_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every scheduled turn (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def handle(self, message: InboundMessage) -> Outcome:
        """Store ``message`` and answer it in the request (web chat); a repeated delivery
        gets the stored answer."""
        accepted = await self.accept(message)
        if accepted.duplicate:
            async with session_scope(self._sessionmaker) as session:
                return await self._previous_outcome(session, dedupe_key=message.dedupe_key)
        async with self._locks.for_contact(accepted.contact_id):
            return await self._process(accepted.inbound_id)

    async def retry_pending(self, *, limit: int = 20) -> int:
        """Answer messages kept while Rasa was down (oldest first); returns how many were tried."""
        async with session_scope(self._sessionmaker) as session:
            # also deliveries stored but never scheduled (a crash between accept and schedule)
            stale = utcnow() - STALE_RECEIVED
            rows = (await session.execute(
                select(InboundRecord.id, InboundRecord.contact_id)
                .where(or_(InboundRecord.status == InboundStatus.PENDING_RETRY.value,
                           and_(InboundRecord.status == InboundStatus.RECEIVED.value,
                                InboundRecord.received_at < stale)))
                .order_by(InboundRecord.id).limit(limit))).all()
        for inbound_id, contact_id in rows:
            await self._turn(contact_id, inbound_id)
        return len(rows)

    def schedule_resume(self, contact_id: int) -> None:
        """Staff handed the worker back: let the bot say so and carry on (in the background,
        through the worker's channel)."""
        task = asyncio.create_task(self._resume(contact_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resume(self, contact_id: int) -> None:
        try:
            async with self._locks.for_contact(contact_id):
                async with session_scope(self._sessionmaker) as session:
                    contact = await session.get_one(Contact, contact_id)
                    if contact.handoff_at is not None:
                        return  # taken over again meanwhile
                    sender, channel_name = contact.rasa_sender_id, contact.channel
                try:
                    raw = await self._rasa.send_message(
                        sender=sender, message=RESUME, metadata={"channel": channel_name, "contact_id": contact_id})
                except RasaError as exc:
                    # the worker's next message reaches the bot as usual
                    logger.warning("contact %s: bot not resumed after handoff: %s", contact_id, exc)
                    return
                replies = tuple(Reply.from_rasa(r) for r in raw)
                async with session_scope(self._sessionmaker) as session:
                    session.add_all(OutboundRecord(contact_id=contact_id, inbound_id=None, channel=channel_name,
                                                   text=r.text, buttons=[b.__dict__ for b in r.buttons],
                                                   image=r.image, created_at=utcnow()) for r in replies)
                if replies:
                    await self._send(contact_id, replies)
        except Exception:  # bulkhead
            logger.exception("contact %s: resuming the bot failed", contact_id)

    async def _turn(self, contact_id: int, inbound_id: int) -> None:
        try:
            async with self._locks.for_contact(contact_id):
                outcome = await self._process(inbound_id)
                if outcome.replies:
                    await self._send(contact_id, outcome.replies)
                # the worker wrote: updates that waited for them go out now (WeChat's window is open)
                await self.flush_held(contact_id)
        except Exception:  # bulkhead: one message never takes the others down
            logger.exception("inbound %s: turn failed", inbound_id)

    async def _process(self, inbound_id: int) -> Outcome:
        async with session_scope(self._sessionmaker) as session:
            record = await session.get_one(InboundRecord, inbound_id)
            contact = await session.get_one(Contact, record.contact_id)
            if record.status not in (InboundStatus.RECEIVED.value, InboundStatus.PENDING_RETRY.value):
                return Outcome(inbound_id=inbound_id, replies=(), answered=False)
            first_try = record.attempts == 0
            if contact.handoff_at is not None:
                # A person has the conversation: the bot stays out of it (staff read it in
                # the console and answer on the worker's channel). The worker is told so
                # once, not after every line they write.
                earlier = (await session.execute(
                    select(func.count(InboundRecord.id)).where(
                        InboundRecord.contact_id == contact.id, InboundRecord.id != record.id,
                        InboundRecord.status == InboundStatus.FOR_STAFF.value,
                        InboundRecord.received_at >= contact.handoff_at))).scalar_one()
                record.status = InboundStatus.FOR_STAFF.value
                return Outcome(inbound_id=record.id, replies=() if earlier else (WITH_STAFF,), answered=False)
            if not record.payload and (linked := await do_take_link_code(
                    session, contact=contact, text=record.text, now=utcnow())):
                await do_record_answer(session, inbound=record, replies=[linked.as_dict()])
                return Outcome(inbound_id=record.id, replies=(linked,))
            if review_step := await do_take_review_step(
                    session, contact=contact, payload=record.payload, text=record.text, now=utcnow()):
                await do_record_answer(session, inbound=record, replies=[r.as_dict() for r in review_step])
                return Outcome(inbound_id=record.id, replies=review_step)
            if not record.payload and (rating := await do_take_rating(
                    session, contact=contact, text=record.text, now=utcnow())):
                await do_record_answer(session, inbound=record, replies=[rating.as_dict()])
                return Outcome(inbound_id=record.id, replies=(rating,))
            meta = dict(record.meta or {})
            pending = meta.get("files") and "attachments" not in meta
            channel_name, sender = contact.channel, contact.rasa_sender_id
        if pending:
            try:
                meta["attachments"] = await self._fetch_files(inbound_id, contact_id=record.contact_id,
                                                              channel_name=channel_name, meta=meta)
            except ChannelError as exc:  # retryable: kept, files fetched again on the retry
                logger.warning("inbound %s kept for retry: files not downloaded: %s", inbound_id, exc)
                async with session_scope(self._sessionmaker) as session:
                    await do_record_unanswered(session, inbound=await session.get_one(InboundRecord, inbound_id),
                                               error=f"files: {exc}")
                return Outcome(inbound_id=inbound_id, replies=(SAVED_FOR_LATER,) if first_try else (),
                               answered=False)
        files = meta.get("attachments") or []
        text = record.payload or record.text or (SEND_EVIDENCE if files else "")
        metadata = {"channel": channel_name, "contact_id": record.contact_id,
                    **{k: v for k, v in meta.items() if k != "files"}}
        outcome = await self._answer(inbound_id=inbound_id, sender=sender, text=text, metadata=metadata)
        if not outcome.answered and not first_try:
            return Outcome(inbound_id=inbound_id, replies=(), answered=False)  # told once already
        return outcome

    async def _fetch_files(self, inbound_id: int, *, contact_id: int, channel_name: str,
                           meta: dict[str, Any]) -> list[dict[str, Any]]:
        """Download the files a channel only referenced, store them as evidence, and keep
        the result on the message (so a retry does not download them again)."""
        channel = self._channels.get(channel_name)
        try:
            if channel is None:
                raise ChannelError(f"no {channel_name} channel to download files with", retryable=False)
            attachments = await channel.fetch_attachments(meta)
            refused: list[dict[str, Any]] = []
        except ChannelError as exc:
            if exc.retryable:
                raise  # the message stays received and its turn is tried again (files kept by id)
            logger.warning("inbound %s: files not downloaded: %s", inbound_id, exc)
            attachments = []
            refused = [{"kind": f.get("kind"), "name": f.get("name"), "refused": "文件没能下载"}
                       for f in meta.get("files") or []]
        async with session_scope(self._sessionmaker) as session:
            record = await session.get_one(InboundRecord, inbound_id)
            contact = await session.get_one(Contact, contact_id)
            message = InboundMessage(channel=channel_name, external_id=contact.external_id,
                                     dedupe_key=record.dedupe_key, attachments=tuple(attachments))
            files = await self._store_attachments(session, contact=contact, message=message) + refused
            record.meta = {**(record.meta or {}), "attachments": files}
        return files

    async def _send(self, contact_id: int, replies: Sequence[Reply]) -> None:
        async with session_scope(self._sessionmaker) as session:
            contact = await session.get_one(Contact, contact_id)
            channel = self._channels.get(contact.channel)
            target = Target(contact.id, contact.external_id)
        if channel is None:
            return  # the web chat answers in its own request
        try:
            await channel.send(target, replies)
        except NotNow as exc:
            logger.info("contact %s: turn not delivered now: %s", contact_id, exc)
        except ChannelError as exc:
            logger.warning("contact %s: turn not delivered: %s", contact_id, exc)
            if exc.unreachable:
                await self._mark_unreachable(contact_id)

    async def flush_held(self, contact_id: int) -> int:
        """Deliver the status updates that waited for this worker's next message."""
        async with session_scope(self._sessionmaker) as session:
            contact = await session.get_one(Contact, contact_id)
            channel = self._channels.get(contact.channel)
            target = Target(contact.id, contact.external_id)
            held = list((await session.execute(
                select(OutboxMessage).where(OutboxMessage.contact_id == contact_id,
                                            OutboxMessage.status == OutboxStatus.HELD.value)
                .order_by(OutboxMessage.id))).scalars())
            jobs = [(row.id, row.idempotency_key, render(row.template, row.params)) for row in held]
        if channel is None or not jobs:
            return 0
        sent = 0
        for outbox_id, key, text in jobs:
            try:
                await channel.notify(target, text, key=key)
            except ChannelError as exc:
                logger.info("held notification %s still not delivered: %s", outbox_id, exc)
                break
            async with session_scope(self._sessionmaker) as session:
                row = await session.get_one(OutboxMessage, outbox_id)
                await do_mark_notification_sent(session, row=row, now=utcnow(), how="with the worker's next message")
            sent += 1
        return sent

    async def _mark_unreachable(self, contact_id: int) -> None:
        async with session_scope(self._sessionmaker) as session:
            contact = await session.get_one(Contact, contact_id)
            contact.unreachable_at = contact.unreachable_at or utcnow()

    async def _store_attachments(
        self, session: AsyncSession, *, contact: Contact, message: InboundMessage
    ) -> list[dict[str, Any]]:
        """Each file becomes an evidence item (no case yet: intake attaches it, or the
        action adds it to the worker's open case). A refused file is named with its reason."""
        files: list[dict[str, Any]] = []
        for n, attachment in enumerate(message.attachments, start=1):
            entry: dict[str, Any] = {"kind": attachment.kind, "name": attachment.filename}
            try:
                async with session.begin_nested():
                    item = await do_add_evidence(
                        session, evidence_dir=self._evidence_dir, contact_id=contact.id, data=attachment.data,
                        kind=attachment.kind, source=f"{message.dedupe_key}#{n}"[:64],
                        original_filename=attachment.filename, mime_type=attachment.mime_type,
                    )
                entry.update(id=item.id, size=item.size, sha256=item.sha256)
            except InvalidInput as exc:
                logger.info("attachment %s of %s refused: %s", n, message.dedupe_key, exc)
                entry["refused"] = str(exc)
            files.append(entry)
        return files

    async def _answer(self, *, inbound_id: int, sender: str, text: str, metadata: dict) -> Outcome:
        try:
            raw_replies = await self._rasa.send_message(sender=sender, message=text, metadata=metadata)
        except RasaError as exc:
            logger.warning("inbound %s kept for retry: %s", inbound_id, exc)
            async with session_scope(self._sessionmaker) as session:
                record = await session.get_one(InboundRecord, inbound_id)
                await do_record_unanswered(session, inbound=record, error=str(exc))
                if record.attempts >= MAX_ATTEMPTS:
                    record.status = InboundStatus.FAILED.value  # left to staff; no more retries
            return Outcome(inbound_id=inbound_id, replies=(SAVED_FOR_LATER,), answered=False)
        replies = tuple(Reply.from_rasa(r) for r in raw_replies)
        async with session_scope(self._sessionmaker) as session:
            record = await session.get_one(InboundRecord, inbound_id)
            await do_record_answer(session, inbound=record, replies=[r.as_dict() for r in replies])
        return Outcome(inbound_id=inbound_id, replies=replies)

    async def _previous_outcome(self, session: AsyncSession, *, dedupe_key: str) -> Outcome:
        record = (
            await session.execute(select(InboundRecord).where(InboundRecord.dedupe_key == dedupe_key))
        ).scalar_one()
        rows = (
            await session.execute(
                select(OutboundRecord)
                .where(OutboundRecord.inbound_id == record.id)
                .order_by(OutboundRecord.id)
            )
        ).scalars()
        replies = tuple(Reply.from_rasa({"text": r.text, "buttons": r.buttons, "image": r.image}) for r in rows)
        return Outcome(inbound_id=record.id, replies=replies, duplicate=True, answered=bool(replies))
