"""HTTP client for the Rasa server (REST channel and HTTP API). Never imports rasa."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp


class RasaError(Exception):
    """Rasa could not be reached or did not answer usefully."""


class RasaClient:
    """Talks to one Rasa server over HTTP; the aiohttp session is injected and owned outside."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, *, timeout: float = 30.0) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send_message(
        self, *, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Post one user message to the REST channel and return the bot's messages.

        Raises:
            RasaError: connection failure, timeout, a non-200 answer, or an empty reply list
                (Rasa answers 200 with ``[]`` when an action fails, so that is a failure too).
        """
        url = f"{self._base_url}/webhooks/rest/webhook"
        body = {"sender": sender, "message": message, "metadata": metadata}
        try:
            async with self._http.post(url, json=body, timeout=self._timeout) as response:
                if response.status != 200:
                    raise RasaError(f"Rasa answered HTTP {response.status}")
                replies = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaError(f"Rasa unreachable at {self._base_url}: {exc!r}") from exc
        if not isinstance(replies, list):
            raise RasaError("Rasa answered something other than a list of messages")
        if not replies:
            raise RasaError("Rasa answered no messages (an action probably failed)")
        return replies

    async def status(self) -> dict[str, Any]:
        """``GET /status``: which model is loaded.

        Raises:
            RasaError: not reachable yet (Rasa opens its port only after loading the model)
                or no model loaded.
        """
        try:
            async with self._http.get(
                f"{self._base_url}/status", timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                data = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaError(f"not reachable at {self._base_url} (still loading?)") from exc
        if status != 200 or not data.get("model_file"):
            raise RasaError(f"no model loaded (HTTP {status})")
        return data
