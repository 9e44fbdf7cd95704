"""Rate limits: the token buckets, and a flood through the real gateway.

The gateway test runs against ``tests/web/conftest.py``'s ``gateway``. Until ``create_app``
registers the middleware itself, the module's ``gateway`` adds it with the defaults (the
way the app factory will); once it is registered there, that is what is tested.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.models import InboundRecord
from bot.web.ratelimit import (
    SLOW_DOWN, Rate, RateLimiter, RateLimits, SenderLimit, build_limits, ratelimit_middleware,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the buckets ----------------------------------------------------------------------------


def test_a_bucket_lets_a_burst_through_then_one_request_per_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    rate = Rate(per_minute=30, burst=3)  # a token every 2 s
    assert [limiter.check("g", "a", rate) for _ in range(3)] == [None, None, None]
    assert limiter.check("g", "a", rate) == pytest.approx(2.0)
    clock.now += 1.5
    assert limiter.check("g", "a", rate) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.check("g", "a", rate) is None
    clock.now += 3600  # idle: full again, never more than the burst
    assert [limiter.check("g", "a", rate) for _ in range(4)][-1] is not None


def test_keys_and_groups_have_their_own_buckets() -> None:
    limiter = RateLimiter(clock=Clock())
    rate = Rate(60, 1)
    assert limiter.check("chat", "10.0.0.1", rate) is None
    assert limiter.check("chat", "10.0.0.1", rate) is not None
    assert limiter.check("chat", "10.0.0.2", rate) is None
    assert limiter.check("upload", "10.0.0.1", rate) is None


def test_the_worker_is_told_once_per_flood() -> None:
    clock = Clock()
    limit = SenderLimit(RateLimiter(clock=clock), "wechat-sender", Rate(60, 1))
    assert limit.check("openid") is None
    told = []
    for _ in range(5):
        assert limit.check("openid") is not None
        told.append(limit.notice_once("openid"))
    assert told == [SLOW_DOWN, None, None, None, None]
    clock.now += 1.0
    assert limit.check("openid") is None  # let through: the flood is over
    assert limit.check("openid") is not None and limit.notice_once("openid") == SLOW_DOWN


def test_memory_is_bounded_under_a_flood_of_new_keys() -> None:
    limiter = RateLimiter(max_keys=100, clock=Clock())
    for n in range(1000):
        limiter.check("g", f"10.0.{n // 256}.{n % 256}", Rate(60, 1))
    assert len(limiter._buckets) == 100


def test_enforce_raises_a_429_with_retry_after_and_the_words() -> None:
    limit = SenderLimit(RateLimiter(clock=Clock()), "webchat-sender", Rate(6, 1))
    limit.enforce("w1")
    with pytest.raises(web.HTTPTooManyRequests) as refused:
        limit.enforce("w1")
    assert refused.value.headers["Retry-After"] == "10"
    assert SLOW_DOWN in refused.value.text


@pytest.mark.parametrize("text, rate", [("30/10", Rate(30, 10)), (" 0.5/1 ", Rate(0.5, 1))])
def test_a_rate_is_read_from_a_setting(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["30", "30/", "x/1", "0/5", "30/0", "30/1.5"])
def test_a_bad_rate_setting_says_how_to_write_it(text: str) -> None:
    with pytest.raises(ValueError, match="per minute"):
        Rate.parse(text)


def test_the_defaults() -> None:
    limits = RateLimits()
    assert limits.ip_groups() == {"/chat/api/messages": (30, 10), "/chat/api/files": (10, 5),
                                  "/chat/api/updates": (60, 20), "/upload/": (10, 5)}
    assert limits.sender == (20, 10)


# -- the real gateway -----------------------------------------------------------------------


def _registered(app: web.Application) -> bool:
    return any(getattr(m, "ratelimit_groups", None) for m in app.middlewares)


@pytest.fixture
def _with_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.web.conftest as conftest

    real = conftest.create_app

    def create_app(settings):  # type: ignore[no-untyped-def]
        app = real(settings)
        if not _registered(app):  # not yet wired in create_app: wire it as the factory will
            app.middlewares.append(build_limits(RateLimits()).middleware)
        return app

    monkeypatch.setattr(conftest, "create_app", create_app)


@pytest.fixture
async def gateway(_with_limits: None, gateway: str) -> AsyncIterator[str]:
    yield gateway


async def _stored(engine: AsyncEngine, sender: str) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(InboundRecord).where(
            InboundRecord.dedupe_key.like(f"webchat:{sender}:%")))).scalar_one()


async def test_a_flooding_web_chat_sender_gets_429_while_another_is_answered_in_the_same_second(
    gateway: str, http: aiohttp.ClientSession, engine: AsyncEngine
) -> None:
    api = gateway + "/chat/api/messages"
    flooder, other = f"w-{uuid.uuid4().hex[:8]}", f"w-{uuid.uuid4().hex[:8]}"
    # Behind the proxy on this host every browser has its own address (X-Real-IP).
    from_flooder, from_other = {"X-Real-IP": "203.0.113.7"}, {"X-Real-IP": "198.51.100.23"}
    async with http.post(api, json={"sender": flooder, "text": "在吗"}, headers=from_flooder) as response:
        assert response.status == 200
        session = (await response.json()).get("session")

    async def flood(n: int) -> tuple[int, str | None, dict]:
        body = {"sender": flooder, "session": session, "text": f"第{n}条", "message_id": f"f-{n}"}
        async with http.post(api, json=body, headers=from_flooder) as response:
            return response.status, response.headers.get("Retry-After"), await response.json()

    flooded = asyncio.gather(*(flood(n) for n in range(30)))
    async with http.post(api, json={"sender": other, "text": "老板欠我工资"}, headers=from_other) as response:
        other_status, other_body = response.status, await response.json()
    results = await flooded

    assert other_status == 200
    assert "保存" in other_body["replies"][0]["text"]  # Rasa is down here: the usual kept-for-later answer
    refused = [(retry, body) for status, retry, body in results if status == 429]
    passed = [status for status, _, _ in results if status == 200]
    assert refused and len(passed) + len(refused) == 30
    assert all(int(retry) >= 1 and body["message"] == SLOW_DOWN for retry, body in refused)
    assert await _stored(engine, flooder) == 1 + len(passed)  # what was refused was not stored
    assert await _stored(engine, other) == 1


async def test_a_page_route_gets_the_words_as_text() -> None:
    limiter = RateLimiter(clock=Clock())

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[ratelimit_middleware(limiter, {"/upload/": (10, 1), "/upload/x": (10, 2)})])
    app.router.add_get("/upload/{token}", ok)
    app.router.add_get("/healthz", ok)
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/upload/abc")).status == 200
        refused = await client.get("/upload/abc")
        assert refused.status == 429 and await refused.text() == SLOW_DOWN
        assert refused.headers["Retry-After"] == "6"
        assert [(await client.get("/upload/xyz")).status for _ in range(3)] == [200, 200, 429]  # its own group
        assert [(await client.get("/healthz")).status for _ in range(5)] == [200] * 5  # in no group


async def test_a_message_stored_but_held_back_by_the_limit_is_answered_before_the_next(
    engine: AsyncEngine, tmp_path
) -> None:
    """What the WeChat and Telegram handlers rely on when they store a flooding sender's
    message and do not schedule it: nothing is lost, and the order is kept."""
    from bot.channels.base import InboundMessage
    from bot.db import create_sessionmaker
    from bot.dialogue.pipeline import InboundPipeline
    from bot.dialogue.rasa_client import RasaClient
    from tests.conftest import free_port

    async with aiohttp.ClientSession() as client:
        pipeline = InboundPipeline(sessionmaker=create_sessionmaker(engine), evidence_dir=tmp_path,
                                   rasa=RasaClient(client, f"http://127.0.0.1:{free_port()}"))
        sender = f"w-{uuid.uuid4().hex[:8]}"
        held = await pipeline.accept(InboundMessage(channel="webchat", external_id=sender,
                                                    dedupe_key=f"webchat:{sender}:held", text="第一条"))
        await pipeline.handle(InboundMessage(channel="webchat", external_id=sender,
                                             dedupe_key=f"webchat:{sender}:next", text="第二条"))
    async with engine.connect() as connection:
        rows = (await connection.execute(select(InboundRecord.id, InboundRecord.attempts).where(
            InboundRecord.dedupe_key.like(f"webchat:{sender}:%")).order_by(InboundRecord.id))).all()
    # Rasa is down here: the held one was taken up first (by the worker's next message) and
    # kept for the retry round; the next one waits behind it, untried, so the retry round
    # answers them in the order they were sent.
    assert [(r.id, r.attempts) for r in rows] == [(held.inbound_id, 1), (rows[1].id, 0)]
