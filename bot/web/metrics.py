"""Prometheus metrics of the gateway, served at ``/metrics``."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest


class Metrics:
    """One registry per app, so two apps in one test process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "gongyou_inbound_messages", "Inbound messages by channel and outcome",
            ["channel", "outcome"], registry=self.registry,
        )

    def count_inbound(self, channel: str, outcome: str) -> None:
        self.inbound.labels(channel=channel, outcome=outcome).inc()

    async def view(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
