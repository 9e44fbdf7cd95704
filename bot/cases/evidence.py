"""Evidence items and their files, stored content-addressed and never overwritten.

A file is kept once under ``EVIDENCE_DIR/ab/cd/<sha256>`` however often it is sent; the
app never overwrites or deletes one. Each receipt is its own evidence row (kind, original
name, size, hash, time, source), attached to a case or, during intake, only to the contact.
"""

from __future__ import annotations

import enum
import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import BigInteger, ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import InvalidInput
from bot.cases.models import BigId, Case
from bot.cases.workflow import Change, record_event
from bot.db import Base, UTCDateTime, utcnow

MAX_EVIDENCE_BYTES = 50 * 1024 * 1024


class EvidenceKind(str, enum.Enum):
    CONTRACT = "contract"
    PAYSLIP = "payslip"
    ATTENDANCE = "attendance"
    CHAT_RECORD = "chat_record"
    MEDICAL_RECORD = "medical_record"
    PHOTO = "photo"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    OTHER = "other"


class EvidenceItem(Base):
    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    original_filename: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64))  # channel and message, e.g. "wechat:MsgId"
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def evidence_path(evidence_dir: Path, sha256: str) -> Path:
    return evidence_dir / sha256[:2] / sha256[2:4] / sha256


def store_file(evidence_dir: Path, data: bytes) -> tuple[str, Path]:
    """Write ``data`` under its SHA-256 unless that file exists; never overwrite.

    The bytes go to a temporary file first and are linked into place, so a reader never
    sees half a file and two writers of the same content cannot clobber each other.
    """
    digest = hashlib.sha256(data).hexdigest()
    target = evidence_path(evidence_dir, digest)
    if target.exists():
        return digest, target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o440)
        try:
            os.link(tmp, target)  # fails if it exists: the first writer wins, unchanged
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return digest, target


async def do_add_evidence(
    session: AsyncSession,
    *,
    evidence_dir: Path,
    contact_id: int,
    data: bytes,
    kind: str,
    source: str,
    original_filename: str | None = None,
    mime_type: str | None = None,
    case: Case | None = None,
    actor: str = "worker",
    now: datetime | None = None,
) -> EvidenceItem:
    """Store a file and record it as evidence (and on the case timeline when attached)."""
    if kind not in {k.value for k in EvidenceKind}:
        raise InvalidInput(f"unknown evidence kind {kind!r}")
    if not data:
        raise InvalidInput("evidence file is empty")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InvalidInput(f"evidence file larger than {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB")
    now = now or utcnow()
    digest, _ = store_file(evidence_dir, data)
    item = EvidenceItem(
        case_id=case.id if case else None, contact_id=contact_id, kind=kind,
        original_filename=(original_filename or None) and Path(original_filename).name[:255],
        mime_type=mime_type, size=len(data), sha256=digest, source=source, received_at=now,
    )
    session.add(item)
    await session.flush()
    if case is not None:
        await record_event(
            session, case=case, now=now,
            change=Change("evidence_added", actor, original_filename or kind,
                          {"evidence_id": item.id, "kind": kind, "sha256": digest, "size": len(data)},
                          (case.org_id,)),
        )
    return item


async def do_attach_evidence(
    session: AsyncSession, *, case: Case, evidence_ids: list[int] | None = None, actor: str = "worker",
    now: datetime | None = None,
) -> list[EvidenceItem]:
    """Attach the contact's unattached evidence (all of it, or only ``evidence_ids``) to
    ``case``, each with an ``evidence_added`` event on the timeline. Items of another
    contact or already on a case are left alone."""
    now = now or utcnow()
    stmt = select(EvidenceItem).where(EvidenceItem.contact_id == case.contact_id, EvidenceItem.case_id.is_(None))
    if evidence_ids is not None:
        stmt = stmt.where(EvidenceItem.id.in_(evidence_ids))
    items = list((await session.execute(stmt.order_by(EvidenceItem.id))).scalars())
    for item in items:
        item.case_id = case.id
        await record_event(
            session, case=case, now=now,
            change=Change("evidence_added", actor, item.original_filename or item.kind,
                          {"evidence_id": item.id, "kind": item.kind, "sha256": item.sha256, "size": item.size},
                          (case.org_id,)),
        )
    return items


async def do_attach_pending_evidence(session: AsyncSession, *, case: Case, now: datetime) -> int:
    """Attach the contact's evidence received during intake (no case yet) to ``case``."""
    return len(await do_attach_evidence(session, case=case, now=now))
