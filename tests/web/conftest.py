"""A real gateway on a real port, over a real database. Rasa and the action server are not
started here (tests/e2e does that); their URLs point at closed ports, as when they are down."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.cases.demo import do_seed_demo
from bot.db import create_engine, create_sessionmaker, session_scope
from bot.settings import load_settings
from bot.web.app import create_app
from tests.conftest import free_port



@pytest.fixture
async def gateway(database_url: str, tmp_path) -> AsyncIterator[str]:
    port = free_port()
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_PORT": str(port),
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_URL": f"http://127.0.0.1:{free_port()}",
            "GONGYOU_VAR_DIR": str(tmp_path),
        },
        dotenv=tmp_path / "none.env",
    )
    engine = create_engine(database_url)
    async with session_scope(create_sessionmaker(engine)) as session:
        await do_seed_demo(session, history=False)
    await engine.dispose()
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
def session_for(tmp_path):  # type: ignore[no-untyped-def]
    """A web chat conversation's session, as the gateway (var dir ``tmp_path``) signs it: what
    the worker's browser holds after the first answer."""
    from bot.channels.webchat import WebChatChannel

    def sign(sender: str) -> str:
        secret = (tmp_path / "webchat.secret").read_text().strip()
        return WebChatChannel(sessionmaker=None, render=lambda t, p: "", secret=secret).session_for(sender)  # type: ignore[arg-type]
    return sign


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
