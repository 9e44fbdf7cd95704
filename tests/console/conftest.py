"""A real gateway with the console, over a real database, with the fake Telegram Bot API
as the only outside world. Rasa and the action server point at closed ports (the console
never needs them); the dispatcher runs every 0.2 s so notifications go out during a test.

Each test makes its own union bodies (``make_tree``), cases and staff accounts, so tests
share the database without sharing rows.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.demo import do_seed_demo
from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Case, Org
from bot.cases.staff import do_create_staff_user
from bot.db import create_engine, create_sessionmaker, session_scope, utcnow
from bot.fakes.telegram import FakeTelegram, running_fake_telegram
from bot.settings import load_settings
from bot.web.app import create_app
from tests.cases.factories import Tree, make_tree
from tests.conftest import free_port

TOKEN = "123456:console-test-token"
SECRET = "console-webhook-secret"
PASSWORD = "correct horse battery"


@dataclass
class Console:
    url: str
    app: web.Application
    fake: FakeTelegram
    sessionmaker: async_sessionmaker[AsyncSession]

    async def user(self, org: Org | str, role: str = "staff", *, name: str = "李娜") -> str:
        """A new account of ``org`` (an Org or its code); returns its username (password PASSWORD)."""
        username = f"u{uuid.uuid4().hex[:10]}"
        async with session_scope(self.sessionmaker) as session:
            code = org if isinstance(org, str) else org.code
            await do_create_staff_user(session, username=username, display_name=name, org_code=code, role=role,
                                       password=PASSWORD)
        return username

    async def tree(self) -> Tree:
        async with session_scope(self.sessionmaker) as session:
            return await make_tree(session)

    async def case(self, tree: Tree, *, channel: str = "telegram", external_id: str | None = None,
                   employer: str | None = None, phone: str | None = None, **draft: Any) -> Case:
        """A case opened now by a worker on ``channel`` at the 片区 of ``tree``."""
        external_id = external_id or str(random.randrange(10**8, 10**9))
        async with session_scope(self.sessionmaker) as session:
            contact = await get_or_create_contact(session, channel=channel, external_id=external_id,
                                                  display_name="阿明")
            contact.phone = phone
            if channel == "telegram":
                self.fake.start_chat(int(external_id))
            return await do_open_case(session, contact=contact, actor=f"worker:{contact.id}", now=utcnow(),
                                      draft=CaseDraft(category=draft.pop("category", "unpaid_wages"),
                                                      employer=employer or f"测试厂{uuid.uuid4().hex[:6]}",
                                                      location=tree.place, **draft))


class Api:
    """The JSON API as a script uses it: a bearer token from ``POST /api/login``."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base, self.token = http, base, token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.base + path, json=body, headers=headers,
                                     allow_redirects=False) as response:
            data = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, data


async def api_login(http: aiohttp.ClientSession, base: str, username: str, password: str = PASSWORD) -> Api:
    async with http.post(base + "/api/login", json={"username": username, "password": password}) as response:
        assert response.status == 200, await response.text()
        return Api(http, base, (await response.json())["token"])


@pytest.fixture
async def console(database_url: str, tmp_path) -> AsyncIterator[Console]:
    async with running_fake_telegram(TOKEN) as fake:
        port = free_port()
        settings = load_settings({
            "DATABASE_URL": database_url,
            "GATEWAY_PORT": str(port),
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_URL": f"http://127.0.0.1:{free_port()}",
            "GONGYOU_VAR_DIR": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_SECRET_TOKEN": SECRET,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "DISPATCH_INTERVAL": "0.2",
            "RETRY_INTERVAL": "3600",
            "SCHEDULER_INTERVAL": "3600",
        }, dotenv=tmp_path / "none.env")
        engine = create_engine(database_url)
        sessionmaker = create_sessionmaker(engine)
        async with session_scope(sessionmaker) as session:
            await do_seed_demo(session, history=False)
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield Console(f"http://127.0.0.1:{port}", runner.app, fake, sessionmaker)
        finally:
            await runner.cleanup()
            await engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        yield client



