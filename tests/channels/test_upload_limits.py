"""Uploads stream to temporary files within their caps, over real HTTP into real parts.

Two gateways: the app as ``create_app`` wires it (default caps: 20 MB a file, 9 files),
and the same gateway parts behind routes wired with small caps and a per-sender limit, so
every cap can be crossed with a few kilobytes and the temporary directory inspected.
Rasa is down in both (a closed port): a message that got through is "kept for later".
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.demo import do_seed_demo
from bot.cases.evidence import EvidenceItem, do_add_evidence_file, evidence_path, store_path
from bot.cases.messages import get_or_create_contact
from bot.cases.models import InboundRecord
from bot.channels import upload, webchat
from bot.channels.base import Attachment, InboundMessage
from bot.channels.streaming import UploadLimits, sweep_stale
from bot.db import create_engine, create_sessionmaker, session_scope, utcnow
from bot.dialogue import pipeline as pipeline_module
from bot.dialogue.pipeline import InboundPipeline
from bot.gateway import Gateway
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.errors import error_middleware
from bot.web.ratelimit import Rate, RateLimiter, SenderLimit
from tests.conftest import free_port

KB = 1024
SECRET = "upload-secret-for-limits"


def settings_for(database_url: str, tmp_path: Path, port: int):  # type: ignore[no-untyped-def]
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_PORT": str(port),
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_URL": f"http://127.0.0.1:{free_port()}",
            "GONGYOU_VAR_DIR": str(tmp_path),
            "BACKGROUND_JOBS": "0",
            "UPLOAD_SECRET": SECRET,
        },
        dotenv=tmp_path / "none.env",
    )


@dataclass
class Small:
    """The gateway's parts behind routes with small caps."""

    url: str
    gateway: Gateway
    limits: UploadLimits

    @property
    def tmp_dir(self) -> Path:
        assert self.limits.tmp_dir is not None
        return self.limits.tmp_dir

    def leftovers(self) -> list[Path]:
        return sorted(self.tmp_dir.iterdir()) if self.tmp_dir.exists() else []

    def evidence_files(self) -> list[Path]:
        root = self.gateway.settings.evidence_dir
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
async def small(database_url: str, tmp_path: Path) -> AsyncIterator[Small]:
    port = free_port()
    gateway = Gateway(settings_for(database_url, tmp_path, port))
    await gateway.start()
    limits = UploadLimits(tmp_dir=tmp_path / "tmp", per_file=64 * KB, per_request=160 * KB, max_files=3,
                          per_contact_day=300 * KB)
    sender_limit = SenderLimit(RateLimiter(), "webchat-sender", Rate(60, 3))
    config = upload.UploadSettings(secret=SECRET, limits=limits)

    async def files(request: web.Request) -> web.Response:
        return await webchat.post_files(request, channel=gateway.webchat, intake=gateway.pipeline,
                                        count=lambda *_: None, limits=limits, throttle=sender_limit.enforce)

    async def upload_files(request: web.Request) -> web.Response:
        return await upload.receive_upload(request, config=config, sessionmaker=gateway.sessionmaker,
                                           intake=gateway.pipeline)

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/chat/api/files", files)
    app.router.add_post("/upload/{token}", upload_files)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Small(f"http://127.0.0.1:{port}", gateway, limits)
    finally:
        await gateway.pipeline.drain()
        await runner.cleanup()
        await gateway.close()


@pytest.fixture
async def full(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The gateway exactly as ``create_app`` builds it, upload links on."""
    port = free_port()
    engine = create_engine(database_url)
    async with session_scope(create_sessionmaker(engine)) as session:
        await do_seed_demo(session, history=False)
    await engine.dispose()
    runner = web.AppRunner(create_app(settings_for(database_url, tmp_path, port)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def form(sender: str, *files: tuple[str, bytes], session: str | None = None, **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("sender", sender)
    if session:
        data.add_field("session", session)
    for name, value in fields.items():
        data.add_field(name, value)
    for name, content in files:
        data.add_field("file", content, filename=name, content_type="image/jpeg")
    return data


def new_sender() -> str:
    return f"w-{uuid.uuid4().hex[:8]}"


async def stored_for(engine: AsyncEngine, sender: str) -> tuple[int, int]:
    """(inbound messages, evidence items) of a web-chat sender."""
    async with engine.connect() as connection:
        inbound = (await connection.execute(select(func.count()).select_from(InboundRecord).where(
            InboundRecord.dedupe_key.like(f"webchat:{sender}:%")))).scalar_one()
        items = (await connection.execute(select(func.count()).select_from(EvidenceItem).where(
            EvidenceItem.source.like(f"webchat:{sender}:%")))).scalar_one()
    return inbound, items


# -- the caps -------------------------------------------------------------------------------


@pytest.mark.parametrize("files, cap", [
    ([("大.jpg", b"x" * (64 * KB + 1))], "“大.jpg”超过 64 KB"),
    ([(f"{n}.jpg", b"x" * (60 * KB)) for n in range(3)], "加起来不能超过 160 KB"),
    ([(f"{n}.jpg", b"x") for n in range(4)], "一次最多传 3 个文件"),
])
async def test_a_request_over_a_cap_is_413_naming_it_and_nothing_is_kept(
    small: Small, http: aiohttp.ClientSession, engine: AsyncEngine, files, cap: str
) -> None:
    sender = new_sender()
    async with http.post(small.url + "/chat/api/files", data=form(sender, *files)) as response:
        assert response.status == 413
        body = await response.json()
    assert body["error"] == "too_large" and cap in body["message"]
    assert await stored_for(engine, sender) == (0, 0)
    assert small.leftovers() == [] and small.evidence_files() == []


async def test_a_declared_length_over_the_request_cap_is_refused_before_the_body_is_read(small: Small) -> None:
    # Only the headers are sent: had the server started reading, it would wait for 10 MB.
    reader, writer = await asyncio.open_connection("127.0.0.1", int(small.url.rsplit(":", 1)[1]))
    writer.write(b"POST /chat/api/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10485760\r\n\r\n--b\r\n")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    assert status_line.split()[1] == b"413"
    assert small.leftovers() == []


async def test_an_overlong_field_is_a_400(small: Small, http: aiohttp.ClientSession) -> None:
    data = form(new_sender(), ("a.jpg", b"photo"), message_id="m" * 5000)
    async with http.post(small.url + "/chat/api/files", data=data) as response:
        assert response.status == 400
        assert "message_id" in (await response.json())["message"]
    assert small.leftovers() == []


async def test_files_within_the_caps_are_stored_from_disk_and_the_temporary_files_deleted(
    small: Small, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    sender = new_sender()
    photo, contract = os.urandom(64 * KB), os.urandom(40 * KB)
    async with http.post(small.url + "/chat/api/files",
                         data=form(sender, ("工资条.jpg", photo), ("合同.jpg", contract))) as response:
        assert response.status == 200
        assert "保存" in (await response.json())["replies"][0]["text"]  # Rasa is down: kept
    async with engine.connect() as connection:
        items = (await connection.execute(select(EvidenceItem.sha256, EvidenceItem.size).where(
            EvidenceItem.source.like(f"webchat:{sender}:%")).order_by(EvidenceItem.id))).all()
    assert [(i.sha256, i.size) for i in items] == [
        (hashlib.sha256(photo).hexdigest(), len(photo)), (hashlib.sha256(contract).hexdigest(), len(contract))]
    evidence_dir = small.gateway.settings.evidence_dir
    assert evidence_path(evidence_dir, items[0].sha256).read_bytes() == photo
    assert small.leftovers() == []


async def _seed_evidence(small: Small, *, contact_id: int, size: int, hours_ago: float, tag: str) -> None:
    """Evidence of ``size`` bytes received ``hours_ago``, stored and recorded by the real code."""
    scratch = small.gateway.settings.var_dir / f"seed-{tag}"
    scratch.write_bytes(tag.encode() + b"\0" * (size - len(tag)))
    sha256, stored = await store_path(small.gateway.settings.evidence_dir, scratch)
    scratch.unlink()
    async with session_scope(small.gateway.sessionmaker) as session:
        await do_add_evidence_file(session, evidence_dir=small.gateway.settings.evidence_dir, contact_id=contact_id,
                                   path=stored, sha256=sha256, kind="photo", source=f"seed:{tag}",
                                   now=utcnow() - timedelta(hours=hours_ago))


async def test_the_daily_cap_counts_the_last_24_hours_of_the_contact(
    small: Small, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    sender = new_sender()
    async with session_scope(small.gateway.sessionmaker) as session:
        contact_id = (await get_or_create_contact(session, channel="webchat", external_id=sender)).id
    await _seed_evidence(small, contact_id=contact_id, size=280 * KB, hours_ago=1, tag=uuid.uuid4().hex)
    await _seed_evidence(small, contact_id=contact_id, size=280 * KB, hours_ago=25, tag=uuid.uuid4().hex)  # not today
    session = small.gateway.webchat.session_for(sender)

    async with http.post(small.url + "/chat/api/files", data=form(sender, ("a.jpg", b"a" * (30 * KB)),
                                                                  session=session)) as response:
        assert response.status == 413
        message = (await response.json())["message"]
    assert "每人每天最多传 300 KB" in message and "280 KB" in message
    assert await stored_for(engine, sender) == (0, 0)

    async with http.post(small.url + "/chat/api/files", data=form(sender, ("b.jpg", b"b" * (10 * KB)),
                                                                  session=session)) as response:
        assert response.status == 200  # 280 + 10 of 300
    async with http.post(small.url + "/chat/api/files", data=form(sender, ("c.jpg", b"c" * (15 * KB)),
                                                                  session=session)) as response:
        assert response.status == 413  # 290 + 15 of 300
    assert await stored_for(engine, sender) == (1, 1)
    assert small.leftovers() == []


async def test_an_upload_link_over_the_daily_cap_gets_a_413_page(
    small: Small, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    async with session_scope(small.gateway.sessionmaker) as session:
        contact_id = (await get_or_create_contact(session, channel="webchat", external_id=new_sender())).id
    await _seed_evidence(small, contact_id=contact_id, size=299 * KB, hours_ago=2, tag=uuid.uuid4().hex)
    link = upload.upload_link(small.url, contact_id, SECRET)
    data = aiohttp.FormData()
    data.add_field("submission", uuid.uuid4().hex)
    data.add_field("file", b"%PDF" + b"x" * (2 * KB), filename="合同.pdf", content_type="application/pdf")
    async with http.post(link, data=data) as response:
        assert response.status == 413
        assert "300 KB" in await response.text()
    async with engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(EvidenceItem).where(
            EvidenceItem.contact_id == contact_id))).scalar_one()
    assert count == 1 and small.leftovers() == []


async def test_a_flooding_sender_gets_429_and_nothing_of_it_is_stored_while_another_gets_through(
    small: Small, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    flooder, other = new_sender(), new_sender()
    statuses = []
    session = None
    for n in range(5):
        async with http.post(small.url + "/chat/api/files",
                             data=form(flooder, (f"{n}.jpg", b"p%d" % n), session=session)) as response:
            statuses.append(response.status)
            body = await response.json()
            session = body.get("session", session)
            if response.status == 429:
                assert int(response.headers["Retry-After"]) >= 1
                assert body["message"] == "发得太快了，请慢一点再发。"
    assert statuses == [200, 200, 200, 429, 429]
    async with http.post(small.url + "/chat/api/files", data=form(other, ("x.jpg", b"other"))) as response:
        assert response.status == 200
    assert await stored_for(engine, flooder) == (3, 3)
    assert small.leftovers() == []


# -- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [
    "²².1." + "A" * 43,  # str.isdigit() says yes, int() says no: this was a 500
    "1." + "9" * 5000 + "." + "A" * 43,  # more digits than int() converts: also a 500
    "١.٢." + "A" * 43,  # Arabic-Indic digits
    "1.1.é" + "A" * 42,
    "1.4102444800." + "A" * 43,  # well formed, not signed by us
    "99999999999999999999.4102444800." + "A" * 43,  # beyond a BIGINT
    "%ff%fe.1.x",
    "1..x",
])
async def test_a_malformed_upload_token_is_a_403_page_not_a_500(
    full: str, http: aiohttp.ClientSession, token: str
) -> None:
    url = f"{full}/upload/{token}"
    async with http.get(url) as response:
        assert response.status == 403
        assert "过期" in await response.text()
    data = aiohttp.FormData()
    data.add_field("file", b"%PDF", filename="a.pdf", content_type="application/pdf")
    async with http.post(url, data=data) as response:
        assert response.status == 403


def test_a_token_of_ours_still_names_its_contact() -> None:
    token = upload.make_upload_token(42, SECRET, expires_at=int(time.time()) + 60)
    assert upload.get_token_contact(token, SECRET) == 42
    assert upload.get_token_contact(token + "A", SECRET) is None


# -- the default caps, as create_app wires them -------------------------------------------------


async def test_the_gateway_refuses_a_file_over_20_mb_and_a_tenth_file(
    full: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    sender = new_sender()
    async with http.post(full + "/chat/api/files",
                         data=form(sender, ("video.jpg", b"v" * (20 * 1024 * KB + 1)))) as response:
        assert response.status == 413
        assert "20 MB" in (await response.json())["message"]
    async with http.post(full + "/chat/api/files",
                         data=form(sender, *[(f"{n}.jpg", b"p") for n in range(10)])) as response:
        assert response.status == 413
        assert "9 个文件" in (await response.json())["message"]
    assert await stored_for(engine, sender) == (0, 0)


# -- the pipeline ---------------------------------------------------------------------------


async def test_files_are_hashed_and_stored_while_no_database_connection_is_held(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url)
    pipeline = InboundPipeline(sessionmaker=create_sessionmaker(engine), rasa=None,  # type: ignore[arg-type]
                               evidence_dir=tmp_path / "evidence")
    held: list[int] = []
    real = pipeline_module.store_evidence

    async def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        held.append(engine.sync_engine.pool.checkedout())
        return await real(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "store_evidence", watched)
    on_disk = tmp_path / "upload-1"
    on_disk.write_bytes(b"\xff\xd8 photo on disk")
    sender = new_sender()
    message = InboundMessage(channel="webchat", external_id=sender, dedupe_key=f"webchat:{sender}:1", kind="photo",
                             attachments=(Attachment(kind="photo", path=on_disk, filename="a.jpg"),
                                          Attachment(kind="photo", data=b"\xff\xd8 photo in memory"),
                                          Attachment(kind="photo", data=b"")))
    try:
        accepted = await pipeline.accept(message)
        async with session_scope(create_sessionmaker(engine)) as session:
            record = await session.get_one(InboundRecord, accepted.inbound_id)
            files = record.meta["attachments"]
    finally:
        await engine.dispose()
    assert held == [0, 0, 0]
    assert [f.get("sha256") for f in files[:2]] == [hashlib.sha256(b"\xff\xd8 photo on disk").hexdigest(),
                                                    hashlib.sha256(b"\xff\xd8 photo in memory").hexdigest()]
    assert "empty" in files[2]["refused"]
    assert evidence_path(tmp_path / "evidence", files[0]["sha256"]).read_bytes() == b"\xff\xd8 photo on disk"
    assert on_disk.exists()  # the caller's to delete


def test_stale_temporary_uploads_are_swept_and_nothing_else(tmp_path: Path) -> None:
    old, fresh, other = tmp_path / "upload-old", tmp_path / "upload-new", tmp_path / "keep-me"
    for path in (old, fresh, other):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    os.utime(other, (time.time() - 7200, time.time() - 7200))
    assert sweep_stale(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep-me", "upload-new"]



@pytest.fixture
async def capped(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The gateway as ``create_app`` builds it, with its upload caps set in the settings:
    1 MB a request, 2 MB a worker a day."""
    port = free_port()
    settings = load_settings(
        {
            "DATABASE_URL": database_url, "GATEWAY_PORT": str(port), "GONGYOU_VAR_DIR": str(tmp_path),
            "RASA_URL": f"http://127.0.0.1:{free_port()}", "ACTION_URL": f"http://127.0.0.1:{free_port()}",
            "BACKGROUND_JOBS": "0", "UPLOAD_MAX_REQUEST_MB": "1", "UPLOAD_MAX_DAY_MB": "2",
        },
        dotenv=tmp_path / "none.env",
    )
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_caps_set_in_the_settings_hold_for_one_request_and_for_a_day(
    capped: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    url, sender, session = capped + "/chat/api/files", new_sender(), None
    # two files of 600 KB: each within 20 MB, together over the 1 MB a request may carry
    async with http.post(url, data=form(sender, ("a.jpg", b"a" * (600 * KB)), ("b.jpg", b"b" * (600 * KB)))) as r:
        assert r.status == 413 and "1 MB" in (await r.json())["message"]
    assert await stored_for(engine, sender) == (0, 0)
    statuses = []
    for n in range(3):  # 800 KB a time: the third would make 2.4 MB today, over 2 MB
        async with http.post(url, data=form(sender, (f"{n}.jpg", bytes([n]) * (800 * KB)), session=session)) as r:
            statuses.append(r.status)
            session = session or (await r.json()).get("session")
    assert statuses == [200, 200, 413]
    assert await stored_for(engine, sender) == (2, 2)


async def test_the_gateway_refuses_a_request_declared_over_its_cap_without_reading_it(capped: str) -> None:
    # Only the headers are sent: a server that reads the body first would wait for 10 MB.
    port = int(capped.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST /chat/api/files HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
                 + b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10485760\r\n\r\n--b\r\n")
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()
    assert status_line.split()[1] == b"413"
