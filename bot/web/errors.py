"""Map errors to HTTP answers in one place; callers never see a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.cases.errors import DomainError, InvalidInput, NotFound

logger = logging.getLogger(__name__)

_STATUS = {InvalidInput: 400, NotFound: 404}


class BadRequest(Exception):
    """The request itself is malformed (bad JSON, missing field); the message says which."""


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except BadRequest as exc:
        return web.json_response({"error": "bad_request", "message": str(exc)}, status=400)
    except DomainError as exc:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 409)
        return web.json_response({"error": exc.code, "message": str(exc)}, status=status)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response(
            {"error": "internal", "message": "服务器出错了，您的消息如已发送会被保存。"}, status=500
        )
