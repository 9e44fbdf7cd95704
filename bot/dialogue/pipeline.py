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
from pathlib import Path
from typing import Any

from sqlalchemy import select
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
from bot.channels.base import InboundMessage, Reply
from bot.db import session_scope
from bot.dialogue.rasa_client import RasaClient, RasaError

logger = logging.getLogger(__name__)

WITH_STAFF = Reply(text="已收到，工会工作人员会在这里回复您。")
SAVED_FOR_LATER = Reply(
    text="您的消息已经收到并保存了 🙏 系统正忙，稍后会回复您，不用重复发送。"
    "急事可以拨打职工维权热线 12351。"
)
# What Rasa is told when a message is only files: an intent payload, so the model never
# guesses a topic from "[图片]"; the files themselves travel in ``metadata.attachments``.
SEND_EVIDENCE = "/send_evidence"


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


class InboundPipeline:
    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], rasa: RasaClient,
                 evidence_dir: Path) -> None:
        self._sessionmaker = sessionmaker
        self._rasa = rasa
        self._evidence_dir = evidence_dir
        self._locks = ContactLocks()

    async def handle(self, message: InboundMessage) -> Outcome:
        """Store ``message`` and answer it; a repeated delivery gets the stored answer."""
        async with session_scope(self._sessionmaker) as session:
            contact = await get_or_create_contact(
                session,
                channel=message.channel,
                external_id=message.external_id,
                display_name=message.display_name,
            )
            record = await do_record_inbound(
                session,
                contact=contact,
                dedupe_key=message.dedupe_key,
                text=message.text,
                payload=message.payload,
                kind=message.kind,
                meta=message.meta,
            )
            if record is None:
                return await self._previous_outcome(session, dedupe_key=message.dedupe_key)
            files: list[dict[str, Any]] = []
            if message.attachments:
                files = await self._store_attachments(session, contact=contact, message=message)
                record.meta = {**(record.meta or {}), "attachments": files}
            if contact.handoff_at is not None:
                # A person has the conversation: the bot stays out of it (staff read it in
                # the console and answer on the worker's channel).
                record.status = InboundStatus.FOR_STAFF.value
                return Outcome(inbound_id=record.id, replies=(WITH_STAFF,), answered=False)
            contact_id, inbound_id, sender = contact.id, record.id, contact.rasa_sender_id

        async with self._locks.for_contact(contact_id):
            return await self._answer(
                inbound_id=inbound_id,
                sender=sender,
                text=message.payload or message.text or (SEND_EVIDENCE if message.attachments else ""),
                metadata={"channel": message.channel, "contact_id": contact_id, **message.meta, **(
                    {"attachments": files} if message.attachments else {})},
            )

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
