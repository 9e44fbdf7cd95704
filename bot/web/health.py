"""``/healthz``: 200 only when the database, Rasa (with a model) and the action server are up.

Anyone may ask whether the gateway is up; only this host (or an operator with the metrics
token) is told what is down and why: the reasons name internal addresses and errors.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from sqlalchemy import text

from bot.dialogue.rasa_client import RasaError
from bot.web.keys import GATEWAY
from bot.web.metrics import guard


async def _database(app: web.Application) -> str | None:
    try:
        async with app[GATEWAY].engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the reason is reported
        return f"unreachable: {type(exc).__name__}"
    return None


async def _rasa(app: web.Application) -> str | None:
    try:
        await app[GATEWAY].rasa.status()
    except RasaError as exc:
        return str(exc)
    return None


async def _actions(app: web.Application) -> str | None:
    settings = app[GATEWAY].settings
    url = f"{settings.action_url}/health"
    try:
        async with app[GATEWAY].http.get(url, timeout=aiohttp.ClientTimeout(total=3)) as response:
            if response.status != 200:
                return f"answered HTTP {response.status}"
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return f"not reachable at {settings.action_url}"
    return None


async def healthz(request: web.Request, *, token: str | None = None) -> web.Response:
    """``{"status": "ok"|"unavailable"}`` with 200 or 503; ``checks`` and ``reason`` too for
    a request :func:`~bot.web.metrics.guard` allows.

    Args:
        token: the operators' token (``METRICS_TOKEN``), bound by the app factory; ``None``
            means details for loopback requests only.
    """
    app = request.app
    names = ("database", "rasa", "actions")
    results = await asyncio.gather(_database(app), _rasa(app), _actions(app))
    ok = all(err is None for err in results)
    body: dict[str, object] = {"status": "ok" if ok else "unavailable"}
    if guard(token)(request):
        body["checks"] = {name: ("ok" if err is None else err) for name, err in zip(names, results)}
        if not ok:
            body["reason"] = "; ".join(f"{n}: {e}" for n, e in zip(names, results) if e is not None)
    return web.json_response(body, status=200 if ok else 503)
