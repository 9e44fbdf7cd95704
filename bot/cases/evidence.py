"""Evidence items and their files, stored content-addressed and never overwritten.

A file is kept once under ``EVIDENCE_DIR/ab/cd/<sha256>`` however often it is sent; the
app never overwrites or deletes one. Each receipt is its own evidence row (kind, original
name, size, hash, time, source), attached to a case or, during intake, only to the contact.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import hashlib
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import BigInteger, ForeignKey, String, Text, func, select
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


_CHUNK = 1024 * 1024


def check_evidence_file(*, kind: str, size: int) -> None:
    """Refuse what can never be evidence: an unknown kind, an empty or oversized file.

    Raises:
        InvalidInput: saying which.
    """
    if kind not in {k.value for k in EvidenceKind}:
        raise InvalidInput(f"unknown evidence kind {kind!r}")
    if not size:
        raise InvalidInput("evidence file is empty")
    if size > MAX_EVIDENCE_BYTES:
        raise InvalidInput(f"evidence file larger than {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB")


def _store_path_now(evidence_dir: Path, tmp_path: Path) -> tuple[str, Path]:
    digest = hashlib.sha256()
    with open(tmp_path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
        os.fsync(handle.fileno())  # on disk before a database row can point at it
    sha256 = digest.hexdigest()
    target = evidence_path(evidence_dir, sha256)
    if target.exists():
        return sha256, target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The temporary file is complete and ours alone: linking it is the whole copy.
        os.link(tmp_path, target)
        os.chmod(target, 0o440)
    except FileExistsError:
        pass  # another writer of the same content won; theirs is unchanged
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        # another filesystem (EVIDENCE_DIR on its own mount): copy next to the target first,
        # so a reader never sees half a file
        fd, incoming = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(tmp_path, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(incoming, 0o440)
            try:
                os.link(incoming, target)
            except FileExistsError:
                pass
        finally:
            os.unlink(incoming)
    return sha256, target


async def store_path(evidence_dir: Path, tmp_path: Path) -> tuple[str, Path]:
    """Put a complete file that is already on disk into the store; ``(sha256, stored path)``.

    Hashing, ``fsync`` and linking run in a worker thread (a 20 MB file takes tens of
    milliseconds the event loop must not wait for). On the same filesystem the file is
    hard-linked into place, so nothing is copied; the caller still owns ``tmp_path`` and
    deletes it. Never overwrites: content already stored is left as it is.
    """
    return await asyncio.to_thread(_store_path_now, evidence_dir, tmp_path)


async def store_evidence(evidence_dir: Path, *, kind: str, data: bytes = b"",
                         path: Path | None = None) -> tuple[str, Path]:
    """Check and store one file given as bytes or (``path``) on disk, off the event loop;
    ``(sha256, stored path)``. What the pipeline does before its transaction opens.

    Raises:
        InvalidInput: an unknown kind, an empty or oversized file (nothing is stored).
    """
    check_evidence_file(kind=kind, size=path.stat().st_size if path is not None else len(data))
    if path is not None:
        return await store_path(evidence_dir, path)
    return await asyncio.to_thread(store_file, evidence_dir, data)


async def count_bytes_received(session: AsyncSession, *, contact_id: int, since: datetime) -> int:
    """Bytes of evidence the contact sent since ``since`` (what a daily upload quota counts)."""
    stmt = select(func.coalesce(func.sum(EvidenceItem.size), 0)).where(
        EvidenceItem.contact_id == contact_id, EvidenceItem.received_at >= since)
    return int((await session.execute(stmt)).scalar_one())


async def _record_evidence(
    session: AsyncSession, *, contact_id: int, kind: str, size: int, sha256: str, source: str,
    original_filename: str | None, mime_type: str | None, case: Case | None, actor: str, now: datetime,
) -> EvidenceItem:
    item = EvidenceItem(
        case_id=case.id if case else None, contact_id=contact_id, kind=kind,
        original_filename=(original_filename or None) and Path(original_filename).name[:255],
        mime_type=mime_type, size=size, sha256=sha256, source=source, received_at=now,
    )
    session.add(item)
    await session.flush()
    if case is not None:
        await record_event(
            session, case=case, now=now,
            change=Change("evidence_added", actor, original_filename or kind,
                          {"evidence_id": item.id, "kind": kind, "sha256": sha256, "size": size},
                          (case.org_id,)),
        )
    return item


async def do_add_evidence_file(
    session: AsyncSession,
    *,
    evidence_dir: Path,
    contact_id: int,
    path: Path,
    kind: str,
    source: str,
    sha256: str | None = None,
    original_filename: str | None = None,
    mime_type: str | None = None,
    case: Case | None = None,
    actor: str = "worker",
    now: datetime | None = None,
) -> EvidenceItem:
    """Record a file that is on disk as evidence (and on the case timeline when attached).

    Without ``sha256``, ``path`` is stored first (:func:`store_path`, in a thread). With it,
    ``path`` must be the file :func:`store_path` or :func:`store_evidence` already stored
    under that hash, and only the row is written — how a caller keeps hashing and disk
    writes out of its transaction.

    Raises:
        InvalidInput: an unknown kind, an empty or oversized file.
        ValueError: ``sha256`` given for a path that is not the stored file of that hash.
    """
    check_evidence_file(kind=kind, size=path.stat().st_size)
    if sha256 is None:
        sha256, path = await store_path(evidence_dir, path)
    elif path != evidence_path(evidence_dir, sha256):
        raise ValueError(f"{path} is not the stored file of {sha256}")
    return await _record_evidence(
        session, contact_id=contact_id, kind=kind, size=path.stat().st_size, sha256=sha256, source=source,
        original_filename=original_filename, mime_type=mime_type, case=case, actor=actor, now=now or utcnow())


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
    """Store a file given as bytes and record it as evidence (and on the case timeline
    when attached). The bytes are hashed and written in a worker thread."""
    check_evidence_file(kind=kind, size=len(data))
    digest, _ = await asyncio.to_thread(store_file, evidence_dir, data)
    return await _record_evidence(
        session, contact_id=contact_id, kind=kind, size=len(data), sha256=digest, source=source,
        original_filename=original_filename, mime_type=mime_type, case=case, actor=actor, now=now or utcnow())


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
