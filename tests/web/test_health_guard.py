"""Who is told what is down (``/healthz`` details) and who reads ``/metrics``: this host, or
an operator with the metrics token; everyone else learns only up or down."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.gateway import running
from bot.settings import load_settings
from bot.web.health import healthz
from bot.web.keys import GATEWAY
from bot.web.metrics import Metrics, guard
from tests.conftest import free_port

TOKEN = "op-3f9a1c"
# What the reverse proxy on this host adds: the request then came from elsewhere.
PROXIED = {"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "203.0.113.7"}


def request_from(remote: str | None, **headers: str) -> web.Request:
    return make_mocked_request("GET", "/metrics", headers=headers).clone(remote=remote)


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_this_host_is_allowed_without_a_token(remote: str) -> None:
    assert guard(None)(request_from(remote))
    assert guard(TOKEN)(request_from(remote))


@pytest.mark.parametrize(("remote", "headers"), [
    ("203.0.113.7", {}),
    ("10.0.0.5", {}),
    ("::ffff:203.0.113.7", {}),
    (None, {}),
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}),
    ("127.0.0.1", {"X-Real-IP": "203.0.113.7"}),
    ("127.0.0.1", {"Forwarded": "for=203.0.113.7"}),
])
def test_others_and_proxied_requests_are_refused_without_the_token(remote: str | None, headers: dict[str, str]) -> None:
    assert not guard(None)(request_from(remote, **headers))
    assert not guard(TOKEN)(request_from(remote, **headers))
    assert not guard(TOKEN)(request_from(remote, Authorization=f"Bearer {TOKEN}x", **headers))
    assert not guard(TOKEN)(request_from(remote, Authorization=TOKEN, **headers))
    assert guard(TOKEN)(request_from(remote, Authorization=f"Bearer {TOKEN}", **headers))
    assert guard(TOKEN)(request_from(remote, Authorization=f"bearer {TOKEN}", **headers))


@pytest.mark.parametrize("token", [None, ""])
def test_without_a_configured_token_no_bearer_opens_it(token: str | None) -> None:
    for sent in ("Bearer ", "Bearer", "Bearer None"):
        assert not guard(token)(request_from("203.0.113.7", Authorization=sent))


async def test_this_host_sees_what_is_down_others_only_that_it_is_down(
    gateway: str, http: aiohttp.ClientSession,
) -> None:
    async with http.get(gateway + "/healthz") as response:
        assert response.status == 503
        body = await response.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert "rasa" in body["reason"] and "actions" in body["reason"]
    async with http.get(gateway + "/healthz", headers=PROXIED) as response:
        assert response.status == 503
        assert await response.json() == {"status": "unavailable"}


async def test_metrics_are_for_this_host_only_without_a_token(gateway: str, http: aiohttp.ClientSession) -> None:
    async with http.get(gateway + "/metrics") as response:
        assert response.status == 200
        assert "gongyou_inbound_messages" in await response.text()
    async with http.get(gateway + "/metrics", headers=PROXIED) as response:
        assert response.status == 403
        assert "gongyou_inbound_messages" not in await response.text()


@pytest.fixture
async def operators_gateway(database_url: str, tmp_path) -> AsyncIterator[str]:
    """``/healthz`` and ``/metrics`` bound to a token, as the app factory binds
    ``settings.metrics_token``, over a real gateway whose Rasa and actions are down."""
    settings = load_settings(
        {
            "DATABASE_URL": database_url,
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_URL": f"http://127.0.0.1:{free_port()}",
            "GONGYOU_VAR_DIR": str(tmp_path),
        },
        dotenv=tmp_path / "none.env",
    )
    async with running(settings) as gateway:
        app = web.Application()
        app[GATEWAY] = gateway
        app.router.add_get("/healthz", functools.partial(healthz, token=TOKEN))
        app.router.add_get("/metrics", Metrics(token=TOKEN).view)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


async def test_an_operator_with_the_token_sees_details_from_anywhere(
    operators_gateway: str, http: aiohttp.ClientSession,
) -> None:
    bearer = {**PROXIED, "Authorization": f"Bearer {TOKEN}"}
    async with http.get(operators_gateway + "/healthz", headers=bearer) as response:
        assert response.status == 503
        body = await response.json()
    assert body["checks"]["database"] == "ok" and "rasa" in body["reason"]
    async with http.get(operators_gateway + "/healthz", headers={**PROXIED, "Authorization": "Bearer wrong"}) as response:
        assert (response.status, await response.json()) == (503, {"status": "unavailable"})
    async with http.get(operators_gateway + "/metrics", headers=bearer) as response:
        assert response.status == 200
    async with http.get(operators_gateway + "/metrics", headers=PROXIED) as response:
        assert response.status == 403
