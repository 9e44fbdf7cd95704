"""Prometheus metrics of the gateway, served at ``/metrics``, and who may read them."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

# Set by a reverse proxy in front of us: the request then came from elsewhere, even though
# its peer address is the proxy on this host.
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _from_loopback(request: web.Request) -> bool:
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:  # no peer address (a Unix socket), or not an IP
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback and not any(name in request.headers for name in _PROXY_HEADERS)


def guard(token: str | None) -> Callable[[web.Request], bool]:
    """Who may see the gateway's operational details (``/metrics``, the checks of ``/healthz``).

    Args:
        token: the operators' token (``METRICS_TOKEN`` in the settings); ``None`` or empty
            means the details are for this host only.

    Returns:
        A predicate, true for a request from a loopback address that no proxy forwarded, or
        one carrying ``Authorization: Bearer <token>``.
    """
    expected = token.encode() if token else None

    def allowed(request: web.Request) -> bool:
        if _from_loopback(request):
            return True
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        return (expected is not None and scheme.lower() == "bearer"
                and hmac.compare_digest(sent.strip().encode("utf-8", "replace"), expected))

    return allowed


class Metrics:
    """One registry per app, so two apps in one test process do not collide.

    Args:
        token: see :func:`guard`; without it ``/metrics`` answers loopback only.
    """

    def __init__(self, *, token: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "gongyou_inbound_messages", "Inbound messages by channel and outcome",
            ["channel", "outcome"], registry=self.registry,
        )
        self._allowed = guard(token)

    def count_inbound(self, channel: str, outcome: str) -> None:
        self.inbound.labels(channel=channel, outcome=outcome).inc()

    async def view(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            message = "metrics: from this host, or with Authorization: Bearer <token>"
            return web.json_response({"error": "forbidden", "message": message}, status=403)
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
