"""Typed keys for what the app factory puts on the application."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.dialogue.pipeline import InboundPipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import Settings
from bot.web.metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
HTTP = web.AppKey("http", aiohttp.ClientSession)
RASA = web.AppKey("rasa", RasaClient)
PIPELINE = web.AppKey("pipeline", InboundPipeline)
METRICS = web.AppKey("metrics", Metrics)
