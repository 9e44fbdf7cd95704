"""Typed keys for what the app factory puts on the application."""

from __future__ import annotations

from aiohttp import web

from bot.gateway import Gateway
from bot.web.metrics import Metrics

GATEWAY = web.AppKey("gateway", Gateway)
METRICS = web.AppKey("metrics", Metrics)
