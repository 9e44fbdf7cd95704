"""The inbound message path shared by every channel.

store (dedupe) → per-contact ordered processing → Rasa with metadata → store the answer and
its turn row in the outbox in one transaction → the dispatcher sends it (retried, in the
worker's order, like every status update).

A message is committed to the database before Rasa sees it, so nothing a worker sends is
lost when Rasa or this process fails; such a message is kept as ``pending_retry`` and tried
again, with back-off, once Rasa and the action server are both up. A gateway working on a
message holds a lease on it, so a second gateway (or the same one after a restart) never
answers it twice; a message Rasa already has (a crash between its answer and ours) is not
posted again: its answer is read back from the tracker. A message that cannot be answered
after ``MAX_ATTEMPTS`` goes to a person (a handoff, with an alert to the union).
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

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.messages import (
    do_record_answer,
    do_record_inbound,
    do_record_unanswered,
    get_or_create_contact,
)
from bot.cases.errors import InvalidInput
from bot.cases.evidence import do_add_evidence, do_add_evidence_file, store_evidence
from bot.cases.models import Contact, InboundRecord, InboundStatus, OutboundRecord
from bot.cases.delivery import do_mark_notification_sent
from bot.cases.outbox import OutboxMessage, OutboxStatus, add_notification
from bot.cases.handoffs import do_open_handoff
from bot.channels.base import Accepted, Channel, ChannelError, InboundMessage, Reply, Target
from bot.db import session_scope, utcnow
from bot.notify.dispatcher import TURN_TEMPLATE, Dispatcher
from bot.notify.texts import render
from bot.dialogue.swap import SwapGate
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
    for_staff: bool = False  # not the bot's to answer: a person has the conversation


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


LEASE = timedelta(seconds=45)  # longer than one Rasa turn (its client times out at 30 s)
POSTED = "posted_to_rasa"  # on a message's meta once a turn has posted it (see _process)
UNSCHEDULED = timedelta(seconds=10)  # stored but not taken by a turn: a crash; pick it up
MAX_ATTEMPTS = 8  # Rasa failures before a message goes to a person
RETRY_BASE, RETRY_CAP = timedelta(seconds=15), timedelta(minutes=10)
GIVEN_UP = Reply(text="抱歉，系统一直没能处理您的这条消息，已转给工会工作人员，他们会在这里回复您。"
                 "急事请拨打职工维权热线 12351。")


def retry_after(attempts: int) -> timedelta:
    """How long a message kept for retry waits: the first retry as soon as Rasa and the
    action server are up again (the round checks), later ones backing off."""
    if attempts <= 1:
        return timedelta(0)
    return min(RETRY_BASE * (2 ** (attempts - 2)), RETRY_CAP)


def reply_dict(reply: Reply) -> dict[str, Any]:
    """A reply as stored on a turn row (Rasa's shape, with the channel offer kept)."""
    out = reply.as_dict()
    if reply.offer:
        out["custom"] = {"offer": reply.offer}
    return out


class InboundPipeline:
    """verify (the channel) → :meth:`accept` (store, dedupe) → acknowledge (the channel) →
    :meth:`schedule` (per-contact ordered, cross-contact concurrent: files, Rasa, replies
    through the contact's channel). The web chat answers in the request: :meth:`handle`."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], rasa: RasaClient,
                 evidence_dir: Path, channels: Mapping[str, Channel] | None = None,
                 dispatcher: Dispatcher | None = None, owner: str | None = None,
                 swap_gate: SwapGate | None = None) -> None:
        self._sessionmaker = sessionmaker
        self._swap_gate = swap_gate  # holds posts to Rasa while it loads another model
        self._owner = owner  # recorded on the leases this pipeline takes (see do_release_leases)
        self._rasa = rasa
        self._dispatcher = dispatcher
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
        """Store ``message``, its files as evidence; a repeated delivery is recognised by its
        dedupe key and stores nothing new.

        The files (bytes, or a ``path`` on disk) are checked, hashed and put in the evidence
        store *before* the transaction opens, in a worker thread: inside it, 60 MB of hashing
        would hold SQLite's write lock (``BEGIN IMMEDIATE``) and a pooled connection while
        every other message waits. The transaction then only writes their rows. A file whose
        transaction fails stays in the store unreferenced (content-addressed: a retry reuses it).
        """
        stored: list[tuple[str, Path] | InvalidInput] = []
        for attachment in message.attachments:
            try:
                stored.append(await store_evidence(self._evidence_dir, kind=attachment.kind,
                                                   data=attachment.data, path=attachment.path))
            except InvalidInput as exc:
                stored.append(exc)  # refused by name in the message's attachments
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
                files = await self._store_attachments(session, contact=contact, message=message, stored=stored)
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
            if not await self._earlier_first(accepted.contact_id, accepted.inbound_id):
                # stored; answered in order after the earlier ones, by the retry round
                return Outcome(inbound_id=accepted.inbound_id, replies=(SAVED_FOR_LATER,), answered=False)
            return await self._process(accepted.inbound_id, in_response=True)

    async def retry_pending(self, *, limit: int = 50) -> int:
        """Answer what waits: messages kept while Rasa was down (when their back-off is over)
        and messages stored but never taken (a crash between storing and answering — picked
        up at once after a restart), oldest first, each worker's in order. Up to ``limit``
        workers at once, each with their whole backlog (their newest waiting message is taken
        and the earlier ones are answered before it). Call only while Rasa and the action
        server are both up. Returns how many workers were served (``limit``: there may be more)."""
        now = utcnow()
        async with session_scope(self._sessionmaker) as session:
            free = or_(InboundRecord.lease_until.is_(None), InboundRecord.lease_until <= now)
            rows = (await session.execute(
                select(InboundRecord.contact_id, func.max(InboundRecord.id))
                .where(or_(and_(InboundRecord.status == InboundStatus.PENDING_RETRY.value, free),
                           and_(InboundRecord.status == InboundStatus.RECEIVED.value, free,
                                InboundRecord.received_at < now - UNSCHEDULED)))
                .group_by(InboundRecord.contact_id)
                .order_by(func.min(InboundRecord.id)).limit(limit))).all()
        await asyncio.gather(*(self._turn(contact_id, newest) for contact_id, newest in rows))
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
                    if self._swap_gate is not None:
                        await self._swap_gate.wait()
                    raw = await self._rasa.send_message(
                        sender=sender, message=RESUME, metadata={"channel": channel_name, "contact_id": contact_id})
                except RasaError as exc:
                    # the worker's next message reaches the bot as usual
                    logger.warning("contact %s: bot not resumed after handoff: %s", contact_id, exc)
                    return
                replies = tuple(Reply.from_rasa(r) for r in raw)
                async with session_scope(self._sessionmaker) as session:
                    now = utcnow()
                    session.add_all(OutboundRecord(contact_id=contact_id, inbound_id=None, channel=channel_name,
                                                   text=r.text, buttons=[b.__dict__ for b in r.buttons],
                                                   image=r.image, created_at=now) for r in replies)
                    add_notification(session, key=f"resume:{contact_id}:{now.timestamp()}", template=TURN_TEMPLATE,
                                     params={"replies": [reply_dict(r) for r in replies]}, now=now,
                                     channel=channel_name, contact_id=contact_id)
                await self._deliver(contact_id)
        except Exception:  # bulkhead
            logger.exception("contact %s: resuming the bot failed", contact_id)

    async def _turn(self, contact_id: int, inbound_id: int) -> None:
        try:
            async with self._locks.for_contact(contact_id):
                if await self._earlier_first(contact_id, inbound_id):
                    await self._process(inbound_id)
                else:
                    await self._waiting(inbound_id)
                await self._deliver(contact_id)
                # the worker wrote: updates that waited for them go out now (WeChat's window is open)
                await self.flush_held(contact_id)
        except Exception:  # bulkhead: one message never takes the others down
            logger.exception("inbound %s: turn failed", inbound_id)

    async def _earlier_first(self, contact_id: int, inbound_id: int) -> bool:
        """Answer this worker's earlier messages still unanswered (kept for retry, or left by
        a crash) before this one. False when one of them cannot be answered now (another
        gateway holds it, its retry is not due, Rasa failed again): then this one waits too,
        and the retry round answers them all in order — a conversation is never answered
        out of order."""
        now = utcnow()
        async with session_scope(self._sessionmaker) as session:
            earlier = list((await session.execute(
                select(InboundRecord.id, InboundRecord.lease_until).where(
                    InboundRecord.contact_id == contact_id, InboundRecord.id < inbound_id,
                    InboundRecord.status.in_((InboundStatus.RECEIVED.value, InboundStatus.PENDING_RETRY.value)))
                .order_by(InboundRecord.id))).all())
        for earlier_id, lease_until in earlier:
            if lease_until is not None and lease_until > now:
                return False
            outcome = await self._process(earlier_id)
            if not outcome.answered and not outcome.for_staff:
                return False
        return True

    async def _waiting(self, inbound_id: int) -> None:
        """The worker is told once that this message is saved and will be answered after the
        ones before it (it stays unanswered; the retry round takes it, in order)."""
        async with session_scope(self._sessionmaker) as session:
            record = await session.get_one(InboundRecord, inbound_id)
            if record.status != InboundStatus.RECEIVED.value or record.attempts:
                return
            contact = await session.get_one(Contact, record.contact_id)
            self._turn_row(session, record=record, contact=contact, replies=(SAVED_FOR_LATER,), suffix=":waiting")

    async def _deliver(self, contact_id: int) -> None:
        if self._dispatcher is not None:
            await self._dispatcher.deliver_contact(contact_id, now=utcnow())

    async def _claim(self, session: AsyncSession, inbound_id: int) -> InboundRecord | None:
        """The message, now leased to this turn; None when it is answered, or another gateway
        holds it, or (kept for retry) its back-off is not over."""
        now = utcnow()
        claimed = await session.execute(
            update(InboundRecord)
            .where(InboundRecord.id == inbound_id,
                   InboundRecord.status.in_((InboundStatus.RECEIVED.value, InboundStatus.PENDING_RETRY.value)),
                   or_(InboundRecord.lease_until.is_(None), InboundRecord.lease_until <= now))
            .values(lease_until=now + LEASE, lease_owner=self._owner))
        if claimed.rowcount != 1:
            return None
        return await session.get_one(InboundRecord, inbound_id, populate_existing=True)

    def _turn_row(self, session: AsyncSession, *, record: InboundRecord, contact: Contact,
                  replies: Sequence[Reply], suffix: str = "") -> None:
        """The replies to ``record`` as one outbox row, in the caller's transaction."""
        if replies:
            add_notification(session, key=f"turn:{record.id}{suffix}", template=TURN_TEMPLATE,
                             params={"replies": [reply_dict(r) for r in replies]}, now=utcnow(),
                             channel=contact.channel, contact_id=contact.id, inbound_id=record.id)

    async def _process(self, inbound_id: int, *, in_response: bool = False) -> Outcome:
        """Answer one stored message. The replies are stored with the message's answer and,
        unless they go back ``in_response`` (the web chat's own request), as a turn row the
        dispatcher sends — in the same transaction, so an answer is never recorded without
        the means to deliver it."""
        async with session_scope(self._sessionmaker) as session:
            record = await self._claim(session, inbound_id)
            if record is None:
                return Outcome(inbound_id=inbound_id, replies=(), answered=False)
            contact = await session.get_one(Contact, record.contact_id)
            first_try = record.attempts == 0  # the worker is told once that it is kept
            early = await self._answer_before_rasa(session, record=record, contact=contact)
            if early is not None:
                replies, answered = early
                if answered:
                    await do_record_answer(session, inbound=record, replies=[r.as_dict() for r in replies])
                record.lease_until = None
                if not in_response:
                    self._turn_row(session, record=record, contact=contact, replies=replies)
                return Outcome(inbound_id=record.id, replies=replies, answered=answered,
                               for_staff=record.status == InboundStatus.FOR_STAFF.value)
            meta = dict(record.meta or {})
            # Posted before (a try that failed, or a process killed after posting): Rasa may
            # hold the message already, so its tracker is read before anything is posted.
            posted_before = record.attempts > 0 or bool(meta.get(POSTED))
            if not posted_before:  # committed before the post: a crash after it is known
                record.meta = {**meta, POSTED: True}
            pending = meta.get("files") and "attachments" not in meta
            channel_name, sender = contact.channel, contact.rasa_sender_id
        if pending:
            try:
                meta["attachments"] = await self._fetch_files(inbound_id, contact_id=record.contact_id,
                                                              channel_name=channel_name, meta=meta)
            except ChannelError as exc:  # retryable: kept, files fetched again on the retry
                logger.warning("inbound %s kept for retry: files not downloaded: %s", inbound_id, exc)
                return await self._keep(inbound_id, error=f"files: {exc}", first_try=first_try,
                                        in_response=in_response)
        files = meta.get("attachments") or []
        text = record.payload or record.text or (SEND_EVIDENCE if files else "")
        metadata = {"channel": channel_name, "contact_id": record.contact_id, "inbound_id": inbound_id,
                    **{k: v for k, v in meta.items() if k not in ("files", POSTED)}}
        if self._swap_gate is not None:
            await self._swap_gate.wait()
        try:
            raw = await self._rasa.replies_to(sender=sender, inbound_id=inbound_id) if posted_before else None
            if raw is None:
                raw = await self._rasa.send_message(sender=sender, message=text, metadata=metadata)
        except RasaError as exc:
            logger.warning("inbound %s kept for retry: %s", inbound_id, exc)
            return await self._keep(inbound_id, error=str(exc), first_try=first_try, in_response=in_response)
        replies = tuple(Reply.from_rasa(r) for r in raw)
        async with session_scope(self._sessionmaker) as session:
            record = await session.get_one(InboundRecord, inbound_id)
            contact = await session.get_one(Contact, record.contact_id)
            await do_record_answer(session, inbound=record, replies=[r.as_dict() for r in replies])
            record.lease_until = None
            if not in_response:
                self._turn_row(session, record=record, contact=contact, replies=replies)
        return Outcome(inbound_id=inbound_id, replies=replies)

    async def _answer_before_rasa(
        self, session: AsyncSession, *, record: InboundRecord, contact: Contact,
    ) -> tuple[tuple[Reply, ...], bool] | None:
        """(replies, answered) when the message is answered without Rasa: the worker is with
        a person, or it is a link code, a review step or a rating; else None."""
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
            return (() if earlier else (WITH_STAFF,)), False
        now = utcnow()
        if not record.payload and (linked := await do_take_link_code(
                session, contact=contact, text=record.text, now=now)):
            return (linked,), True
        if review_step := await do_take_review_step(
                session, contact=contact, payload=record.payload, text=record.text, now=now):
            return tuple(review_step), True
        if not record.payload and (rating := await do_take_rating(
                session, contact=contact, text=record.text, now=now)):
            return (rating,), True
        return None

    async def _keep(self, inbound_id: int, *, error: str, first_try: bool, in_response: bool) -> Outcome:
        """Rasa (or a file download) failed: keep the message for a retry after a back-off;
        the worker is told once that it is saved. At the last attempt it goes to a person."""
        async with session_scope(self._sessionmaker) as session:
            record = await session.get_one(InboundRecord, inbound_id)
            contact = await session.get_one(Contact, record.contact_id)
            await do_record_unanswered(session, inbound=record, error=error)
            record.lease_until, record.lease_owner = utcnow() + retry_after(record.attempts), None
            replies: tuple[Reply, ...] = (SAVED_FOR_LATER,) if first_try else ()
            if record.attempts >= MAX_ATTEMPTS:
                record.status, record.lease_until = InboundStatus.FAILED.value, None
                await do_open_handoff(
                    session, contact=contact, now=utcnow(),
                    reason=f"机器人没能回复这条消息（试了 {record.attempts} 次）：{(record.text or record.payload or '')[:480]}")
                replies = (GIVEN_UP,)
                logger.error("inbound %s not answered after %s attempts: given to staff", inbound_id, record.attempts)
            if not in_response:
                self._turn_row(session, record=record, contact=contact, replies=replies,
                               suffix=f":kept:{record.attempts}")
        return Outcome(inbound_id=inbound_id, replies=replies, answered=False)

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

    async def _store_attachments(
        self, session: AsyncSession, *, contact: Contact, message: InboundMessage,
        stored: Sequence[tuple[str, Path] | InvalidInput] | None = None,
    ) -> list[dict[str, Any]]:
        """Each file becomes an evidence item (no case yet: intake attaches it, or the
        action adds it to the worker's open case). A refused file is named with its reason.

        ``stored``: per attachment, what :func:`store_evidence` made of it before the
        transaction — only rows are written here. Without it the files are stored now (in a
        worker thread, but inside the caller's transaction)."""
        files: list[dict[str, Any]] = []
        for n, attachment in enumerate(message.attachments, start=1):
            entry: dict[str, Any] = {"kind": attachment.kind, "name": attachment.filename}
            done = stored[n - 1] if stored is not None else None
            fields: dict[str, Any] = {
                "evidence_dir": self._evidence_dir, "contact_id": contact.id, "kind": attachment.kind,
                "source": f"{message.dedupe_key}#{n}"[:64], "original_filename": attachment.filename,
                "mime_type": attachment.mime_type}
            try:
                if isinstance(done, InvalidInput):
                    raise done
                async with session.begin_nested():
                    if done is not None:
                        item = await do_add_evidence_file(session, path=done[1], sha256=done[0], **fields)
                    elif attachment.path is not None:
                        item = await do_add_evidence_file(session, path=attachment.path, **fields)
                    else:
                        item = await do_add_evidence(session, data=attachment.data, **fields)
                entry.update(id=item.id, size=item.size, sha256=item.sha256)
            except InvalidInput as exc:
                logger.info("attachment %s of %s refused: %s", n, message.dedupe_key, exc)
                entry["refused"] = str(exc)
            files.append(entry)
        return files

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
