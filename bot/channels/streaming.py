"""Files a worker uploads, read from a multipart request straight to temporary files.

Nothing is held in memory but one chunk: each ``file`` part is written to a temporary file
under ``UploadLimits.tmp_dir`` (put it on the evidence store's filesystem, so storing is a
hard link, not a copy) while the caps are counted — per file, per request (bytes and number
of files), everything read (fields and unknown parts too). A request over a cap is refused
with :class:`UploadRefused` (413) and a reason in Chinese naming the cap; the daily cap per
contact is checked by :func:`check_daily_quota` once the contact is known. The temporary
files are always deleted when :func:`receive_files` ends; the pipeline links what it keeps
into the evidence store before that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
import tempfile
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.evidence import count_bytes_received
from bot.channels.base import Attachment, kind_of_file

logger = logging.getLogger(__name__)

MB = 1024 * 1024
CHUNK = 64 * 1024
WRITE_BATCH = MB  # bytes gathered before one write in a worker thread
FIELD_LIMIT = 1024  # bytes of a text field (sender, session, message_id, submission)
OVERHEAD = 64 * 1024  # multipart headers and fields on top of the files themselves
TMP_PREFIX = "upload-"
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class UploadLimits:
    """The caps on uploaded files. ``tmp_dir=None``: the system's temporary directory (then
    storing copies the file if that is another filesystem than the evidence store)."""

    tmp_dir: Path | None = None
    per_file: int = 20 * MB
    per_request: int = 60 * MB
    max_files: int = 9  # as many as a phone's photo picker sends at once
    per_contact_day: int = 200 * MB


class UploadRefused(Exception):
    """An upload over a cap (413) or malformed (400); the message says why, to the worker."""

    def __init__(self, reason: str, status: int = 413) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class ReceivedFiles:
    """The text fields asked for and the files, each an :class:`Attachment` with a ``path``."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[Attachment] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.sizes)


def _mb(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= MB else f"{size // 1024} KB"


def too_many_files(limits: UploadLimits) -> str:
    return f"一次最多传 {limits.max_files} 个文件，请分几次传。"


def too_big_file(name: str, limits: UploadLimits) -> str:
    return f"文件“{name[:60]}”超过 {_mb(limits.per_file)}，请压缩或拍照后再传。"


def too_much_at_once(limits: UploadLimits) -> str:
    return f"一次上传的文件加起来不能超过 {_mb(limits.per_request)}，请分几次传。"


def too_much_today(used: int, limits: UploadLimits) -> str:
    return (f"每人每天最多传 {_mb(limits.per_contact_day)} 材料，今天已经收到您 {_mb(used)}，"
            f"这次的放不下了。请明天再传，或先传最要紧的。")


def _printable(text: str) -> str:
    """``text`` without control characters and the lone surrogates undecodable header bytes
    become (no database column takes NUL, no UTF-8 encoder a surrogate)."""
    return "".join(c for c in text if c >= " " and c != "\x7f" and not "\ud800" <= c <= "\udfff")


def clean_filename(raw: str) -> str:
    """The name to keep: percent-decoded when a client encoded it, without any folders."""
    try:  # browsers send UTF-8 names as they are; some clients percent-encode them
        name = unquote(raw, errors="strict") if "%" in raw else raw
    except UnicodeDecodeError:
        name = raw
    return _printable(name.replace("\\", "/").rsplit("/", 1)[-1])[:255] or "file"


def _mime(part: BodyPartReader, name: str) -> str:
    mime = _printable(part.headers.get("Content-Type") or "").split(";", 1)[0].strip()
    if not mime or mime == "application/octet-stream":
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return mime[:100]


class _Reader:
    """One request's multipart body, counted against the caps."""

    def __init__(self, limits: UploadLimits, tmp_dir: Path) -> None:
        self.limits = limits
        self.tmp_dir = tmp_dir
        self.read = 0  # every byte of every part
        self.paths: list[Path] = []

    def _count(self, n: int) -> None:
        self.read += n
        if self.read > self.limits.per_request + OVERHEAD:
            raise UploadRefused(too_much_at_once(self.limits))

    async def field(self, part: BodyPartReader) -> str:
        data = bytearray()
        while chunk := await part.read_chunk(CHUNK):
            self._count(len(chunk))
            data += chunk
            if len(data) > FIELD_LIMIT:
                raise UploadRefused(f"表单字段 {part.name} 太长", status=400)
        try:
            return data.decode(part.get_charset(default="utf-8"), errors="replace")
        except LookupError as exc:  # a charset Python does not know ("bogus", "")
            raise UploadRefused(f"表单字段 {part.name} 的字符集不认识", status=400) from exc

    async def skip(self, part: BodyPartReader) -> None:
        while chunk := await part.read_chunk(CHUNK):
            self._count(len(chunk))

    async def file(self, part: BodyPartReader, name: str, received: ReceivedFiles) -> tuple[Path, int]:
        """The part written to a new temporary file; its path and size."""
        fd, raw = tempfile.mkstemp(dir=self.tmp_dir, prefix=TMP_PREFIX)
        path = Path(raw)
        self.paths.append(path)  # from now on deleted at the end, whatever happens
        size, pending = 0, bytearray()
        with os.fdopen(fd, "wb") as out:
            while chunk := await part.read_chunk(CHUNK):
                self._count(len(chunk))
                size += len(chunk)
                if size > self.limits.per_file:
                    raise UploadRefused(too_big_file(name, self.limits))
                if received.total + size > self.limits.per_request:
                    raise UploadRefused(too_much_at_once(self.limits))
                pending += chunk
                if len(pending) >= WRITE_BATCH:
                    await asyncio.to_thread(out.write, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(out.write, bytes(pending))
        return path, size


@contextlib.asynccontextmanager
async def receive_files(
    request: web.Request, limits: UploadLimits, *, fields: Collection[str], skip_empty: bool = False,
) -> AsyncIterator[ReceivedFiles]:
    """Read a multipart request: the text ``fields`` named, and every part named ``file``
    with a filename, each to a temporary file. The files are deleted when the block ends
    (storing them as evidence links them first, so what was stored stays).

    ``skip_empty``: an empty file part is left out (an empty file input of a form);
    otherwise it is kept, for the pipeline to refuse by name.

    Raises:
        UploadRefused: not multipart (400); a field too long (400); a cap exceeded (413) —
            before the block runs, with every temporary file already deleted.
    """
    if not request.content_type.startswith("multipart/"):
        raise UploadRefused("请用 multipart/form-data 上传文件。", status=400)
    if (request.content_length or 0) > limits.per_request + OVERHEAD:
        raise UploadRefused(too_much_at_once(limits))  # refused before a byte is read
    tmp_dir = limits.tmp_dir or Path(tempfile.gettempdir())
    tmp_dir.mkdir(parents=True, exist_ok=True)
    reader, received = _Reader(limits, tmp_dir), ReceivedFiles()
    try:
        try:
            parts = await request.multipart()
            while (part := await parts.next()) is not None:
                if not isinstance(part, BodyPartReader):  # a nested multipart: not ours
                    raise UploadRefused("不支持嵌套的 multipart。", status=400)
                if part.name == "file" and part.filename is not None:
                    if len(received.files) >= limits.max_files:
                        raise UploadRefused(too_many_files(limits))
                    name = clean_filename(part.filename)
                    path, size = await reader.file(part, name, received)
                    if size == 0 and (skip_empty or not part.filename):
                        continue  # an empty file input: nothing chosen
                    mime = _mime(part, name)
                    received.files.append(Attachment(kind=kind_of_file(mime), path=path, filename=name,
                                                     mime_type=mime))
                    received.sizes.append(size)
                elif part.name in fields and part.name not in received.fields:
                    received.fields[part.name] = await reader.field(part)
                else:
                    await reader.skip(part)
        # aiohttp: a broken multipart body (no boundary, bad headers: control characters in one)
        except (ValueError, BadHttpMessage) as exc:
            raise UploadRefused(f"上传的内容格式不对：{exc}", status=400) from exc
        yield received
    finally:
        await asyncio.to_thread(_delete, reader.paths)


def _delete(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:  # never mask the request's own outcome; the sweep gets it later
            logger.exception("temporary upload %s not deleted", path)


async def check_daily_quota(session: AsyncSession, *, contact_id: int | None, incoming: int,
                            limits: UploadLimits, now: datetime) -> None:
    """Refuse ``incoming`` bytes that would take the contact over its cap for 24 hours
    (the evidence it sent since ``now - 24 h``, from any channel, plus this request).

    Two uploads of one contact at the same moment can both pass; one request's 60 MB is
    the most that race can add, and the upload rate limit keeps it rare.

    Raises:
        UploadRefused: 413, saying how much was sent today and what the cap is.
    """
    used = 0 if contact_id is None else await count_bytes_received(session, contact_id=contact_id,
                                                                   since=now - DAY)
    if used + incoming > limits.per_contact_day:
        raise UploadRefused(too_much_today(used, limits))


def sweep_stale(tmp_dir: Path, *, older_than: float = 3600.0, now: float | None = None) -> int:
    """Delete temporary uploads a crashed process left behind; how many were deleted.
    Call at start-up (a request never takes an hour: its files are deleted when it ends)."""
    if not tmp_dir.is_dir():
        return 0
    horizon = (time.time() if now is None else now) - older_than
    removed = 0
    for path in tmp_dir.glob(TMP_PREFIX + "*"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < horizon:
                path.unlink()
                removed += 1
    return removed
