"""Map errors to HTTP answers in one place; callers never see a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.cases.errors import DomainError
from bot.channels.base import BadRequest

logger = logging.getLogger(__name__)

# by error code: refusals in words are 400 (a wrong field, a transition the case cannot
# take now), an unknown or foreign object 404, a known actor without the right 403
_STATUS = {"invalid_input": 400, "invalid_transition": 400, "review_error": 400, "not_found": 404,
           "forbidden": 403}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.body_exists and request.headers.get("Content-Encoding", "identity").strip().lower() not in (
            "", "identity"):
        # No platform or browser compresses what it posts, and aiohttp decompresses as it
        # reads: a body that is not in its encoding could hang the handler (raw deflate that
        # never ends) or fail half read. Refused before a byte of it is read, and the
        # connection closed after the answer (the unread body must not be taken for the next request).
        refused = web.json_response({"error": "bad_request", "message": "compressed request bodies are not accepted"},
                                    status=415)
        refused.force_close()
        return refused
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except BadRequest as exc:
        return web.json_response({"error": "bad_request", "message": str(exc)}, status=400)
    except DomainError as exc:
        status = _STATUS.get(exc.code, 409)
        return web.json_response({"error": exc.code, "message": str(exc)}, status=status)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response(
            {"error": "internal", "message": "服务器出错了，您的消息如已发送会被保存。"}, status=500
        )
