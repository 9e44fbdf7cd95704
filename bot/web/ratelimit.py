"""Rate limits on the inbound routes: small in-process token buckets.

A bucket per (group, key) holds up to ``burst`` tokens and refills at ``per_minute``; a
request takes one or is told how long to wait. Two layers:

- **per client address**, in :func:`ratelimit_middleware`, for the routes anyone can
  reach (web chat, upload links): 429 with ``Retry-After`` before the handler reads a byte;
- **per sender**, in the handlers, once the sender is known and — for WeChat and Telegram —
  the signature or secret checked: those platforms post every worker's messages from a few
  addresses of their own, so a limit per address there would make one flooding worker
  slow everyone down. :class:`SenderLimit` gives the handlers ``check(key)``.

What a flooding WeChat or Telegram sender gets is decided by the handler (see
``SenderLimit``): the message is still stored and acknowledged with 200 — a non-200 makes
WeChat retry three times and then drop it, and makes Telegram hold back *every* update for
the bot behind it — but it is not answered at once; the pipeline's retry round answers it
(in order, before the worker's next message), and the worker is told "慢一点" once.

In-process on purpose: a bucket needs no network round trip, and with several gateways
behind the proxy each enforces its share (the limits are a flood guard, not a quota).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from aiohttp import web

from bot.console.auth import client_ip

logger = logging.getLogger(__name__)

SLOW_DOWN = "发得太快了，请慢一点再发。"


class Rate(NamedTuple):
    """``per_minute`` tokens refilled a minute, at most ``burst`` saved up."""

    per_minute: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"30/10"``: 30 a minute, bursts of 10 (how a setting spells it).

        Raises:
            ValueError: naming the expected form.
        """
        minute, sep, burst = text.strip().partition("/")
        try:
            rate = cls(float(minute), int(burst))
        except ValueError:
            rate = None
        if not sep or rate is None or rate.per_minute <= 0 or rate.burst < 1:
            raise ValueError(f"{text!r} is not a rate: write '<per minute>/<burst>', e.g. '30/10'")
        return rate


@dataclass(frozen=True)
class RateLimits:
    """The limits, each overridable from settings (the integrator builds this from them).

    Per client address (the middleware): the web chat's messages, its uploads, its polling
    (the page asks every 3 s: 20 a minute per open tab), and upload links (form and post).
    Per sender (the handlers): a web-chat sender, a WeChat openid, a Telegram user.
    """

    webchat_ip: Rate = Rate(30, 10)
    webchat_files_ip: Rate = Rate(10, 5)
    webchat_poll_ip: Rate = Rate(60, 20)
    upload_ip: Rate = Rate(10, 5)
    sender: Rate = Rate(20, 10)
    max_keys: int = 100_000  # buckets remembered; idle full ones are forgotten first

    def ip_groups(self) -> dict[str, Rate]:
        """Path prefix → limit per client address, for :func:`ratelimit_middleware`."""
        return {
            "/chat/api/messages": self.webchat_ip,
            "/chat/api/files": self.webchat_files_ip,
            "/chat/api/updates": self.webchat_poll_ip,
            "/upload/": self.upload_ip,
        }


@dataclass
class _Bucket:
    tokens: float
    at: float
    refused: bool = False  # refused since the last request it let through


class RateLimiter:
    """Token buckets keyed by (group, key), in this process. Used from the event loop only
    (a check is a few arithmetic operations and never awaits, so it needs no lock)."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def check(self, group: str, key: str, rate: Rate) -> float | None:
        """Take a token: ``None`` if the request may go ahead, else the seconds until it may."""
        now = self._clock()
        per_second = rate.per_minute / 60.0
        bucket = self._buckets.get((group, key))
        if bucket is None:
            bucket = self._buckets[(group, key)] = _Bucket(tokens=float(rate.burst), at=now)
            # Memory stays bounded under a flood of new keys: the least recently used
            # bucket goes (a forgotten key starts again with a full burst).
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((group, key))
            bucket.tokens = min(float(rate.burst), bucket.tokens + (now - bucket.at) * per_second)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.refused = False
            return None
        return (1.0 - bucket.tokens) / per_second if per_second > 0 else math.inf

    def first_refusal(self, group: str, key: str) -> bool:
        """After :meth:`check` refused: ``True`` the first time since the key was last let
        through (say "慢一点" once per flood, not to every message of it)."""
        bucket = self._buckets.get((group, key))
        if bucket is None or bucket.refused:
            return False
        bucket.refused = True
        return True


@dataclass(frozen=True)
class SenderLimit:
    """One group's per-sender limit, for a handler that knows the sender (channels cannot
    import this module: they get the object, or its bound ``enforce``, as an argument).

    WeChat and Telegram — after the signature / secret passed and the message was stored::

        if limit.check(openid) is not None:    # over: not answered now, but kept
            if (words := limit.notice_once(openid)) is not None:
                ...say ``words`` (WeChat: the passive reply; Telegram: a message)
            return ok                           # 200: stored, not scheduled; the retry
                                                # round answers it, in order
        intake.schedule(accepted)

    The web chat, before anything is stored: ``limit.enforce(sender)`` raises the 429.
    """

    limiter: RateLimiter
    group: str
    rate: Rate
    notice: str = SLOW_DOWN

    def check(self, key: str) -> float | None:
        """``None``: go ahead; else the seconds this sender should wait."""
        return self.limiter.check(self.group, key, self.rate)

    def notice_once(self, key: str) -> str | None:
        """After :meth:`check` refused: the words to tell the sender, the first time in a
        flood; ``None`` for the rest of it (one "慢一点", not one per message)."""
        return self.notice if self.limiter.first_refusal(self.group, key) else None

    def enforce(self, key: str) -> None:
        """:meth:`check`, raising the 429 answer when the sender is over.

        Raises:
            web.HTTPTooManyRequests: JSON ``{"error": "rate_limited", "message": SLOW_DOWN}``
                with ``Retry-After``.
        """
        wait = self.check(key)
        if wait is not None:
            if self.limiter.first_refusal(self.group, key):
                logger.info("rate limit %s: sender %s told to wait %.1f s", self.group, key[:64], wait)
            raise too_many_requests(wait, as_json=True)


def _retry_after(wait: float) -> str:
    return str(max(1, math.ceil(min(wait, 3600.0))))


def too_many_requests(wait: float, *, as_json: bool) -> web.HTTPTooManyRequests:
    """The 429 answer to raise: JSON for an API, plain text for a page."""
    headers = {"Retry-After": _retry_after(wait)}
    if as_json:
        body = json.dumps({"error": "rate_limited", "message": SLOW_DOWN}, ensure_ascii=False)
        return web.HTTPTooManyRequests(headers=headers, text=body, content_type="application/json")
    return web.HTTPTooManyRequests(headers=headers, text=SLOW_DOWN, content_type="text/plain")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ratelimit_middleware(
    limiter: RateLimiter, groups: Mapping[str, Rate | tuple[float, int]], *,
    key_of: Callable[[web.Request], str] = client_ip,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """A middleware limiting each client address per path-prefix group (the longest prefix
    that matches; a path in no group is not limited): 429 with ``Retry-After``, before the
    handler runs. ``key_of`` names the client (by default the address the proxy on this
    host vouches for, as the console's own limits use)."""
    ordered = sorted(((prefix, Rate(*rate)) for prefix, rate in groups.items()),
                     key=lambda item: len(item[0]), reverse=True)

    @web.middleware
    async def ratelimit(request: web.Request, handler: Handler) -> web.StreamResponse:
        for prefix, rate in ordered:
            if request.path.startswith(prefix):
                key = key_of(request)
                wait = limiter.check(prefix, key, rate)
                if wait is not None:
                    if limiter.first_refusal(prefix, key):
                        logger.info("rate limit %s: %s told to wait %.1f s", prefix, key, wait)
                    wants_json = request.path.startswith("/chat/api/") or "json" in request.headers.get("Accept", "")
                    raise too_many_requests(wait, as_json=wants_json)
                break
        return await handler(request)

    ratelimit.ratelimit_groups = dict(ordered)  # type: ignore[attr-defined]  # tests find it by this
    return ratelimit


@dataclass(frozen=True)
class InboundLimits:
    """What the app factory wires: the per-address middleware and the per-sender limits."""

    middleware: Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
    webchat_sender: SenderLimit
    wechat_sender: SenderLimit
    telegram_sender: SenderLimit


def build_limits(limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> InboundLimits:
    """One limiter for the app, and everything that draws on it."""
    limiter = RateLimiter(max_keys=limits.max_keys, clock=clock)
    return InboundLimits(
        middleware=ratelimit_middleware(limiter, limits.ip_groups()),
        webchat_sender=SenderLimit(limiter, "webchat-sender", limits.sender),
        wechat_sender=SenderLimit(limiter, "wechat-sender", limits.sender),
        telegram_sender=SenderLimit(limiter, "telegram-sender", limits.sender),
    )


__all__ = ["InboundLimits", "Rate", "RateLimiter", "RateLimits", "SLOW_DOWN", "SenderLimit", "build_limits",
           "ratelimit_middleware", "too_many_requests"]
