"""Logging for our own processes, with personal data masked before anything is written.

Every record passes :class:`bot.logmask.MaskingFilter` on the one root handler: messages,
tracebacks (SQL parameters included) and ``extra`` fields. aiohttp's access log is not given
a format of its own: its lines (``"GET /wechat?signature=…&openid=… HTTP/1.1"``,
``/upload/<token>``, the Referer) reach the same handler and the filter masks the query
values, openids and upload tokens, as it does in the lines of Rasa and the action server
that ``bot/stack.py`` captures — one set of rules for every log line, not one per logger.
Crashes outside any handler (an uncaught exception) are logged through it too.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from bot.logmask import MaskingFilter


def _log_uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    # Python would print the traceback to stderr as it is; this way it is masked first.
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, value, tb))


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    sys.excepthook = _log_uncaught
    # Alembic narrates every plugin and migration at INFO; only problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs each request URL at INFO, and Telegram's URLs contain the bot token (masked
    # now, but a line per API call is noise).
    logging.getLogger("httpx").setLevel(logging.WARNING)
