"""HTTP client for the Rasa server (REST channel and HTTP API). Never imports rasa."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

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

    async def replies_to(self, *, sender: str, inbound_id: int) -> list[dict[str, Any]] | None:
        """For a message posted before (a retry): the replies Rasa already gave it, read from
        the conversation's tracker — or None when it must be posted (again).

        A message Rasa holds without any reply (an action failed mid-turn) is rewound first,
        so posting it again never leaves the worker's words twice in the conversation (a
        form would take the repeat as the answer to its next question).

        Raises:
            RasaError: the tracker could not be read or rewound.
        """
        quoted = quote(sender, safe="")
        events = await self._get(f"/conversations/{quoted}/tracker", params={"include_events": "AFTER_RESTART"})
        found, replies = False, []
        for event in events.get("events") or []:
            if event.get("event") == "user":
                if found:
                    break
                found = (event.get("metadata") or {}).get("inbound_id") == inbound_id
            elif found and event.get("event") == "bot":
                data = event.get("data") or {}
                replies.append({"text": event.get("text"), "buttons": data.get("buttons") or [],
                                "image": data.get("image"), "custom": data.get("custom")})
        if not found:
            return None
        if replies:
            return replies
        await self._post(f"/conversations/{quoted}/tracker/events", [{"event": "rewind"}])
        return None

    async def _get(self, path: str, *, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            async with self._http.get(f"{self._base_url}{path}", params=params, timeout=self._timeout) as response:
                if response.status != 200:
                    raise RasaError(f"Rasa answered HTTP {response.status} to GET {path.split('/')[1]}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaError(f"Rasa unreachable at {self._base_url}: {exc!r}") from exc

    async def _post(self, path: str, body: Any) -> None:
        try:
            async with self._http.post(f"{self._base_url}{path}", json=body, timeout=self._timeout) as response:
                if response.status != 200:
                    raise RasaError(f"Rasa answered HTTP {response.status} to POST {path.split('/')[1]}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaError(f"Rasa unreachable at {self._base_url}: {exc!r}") from exc

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

    async def load_model(self, model_file: str, *, timeout: float = 300.0) -> None:
        """``PUT /model``: Rasa loads ``model_file`` (a path on Rasa's machine) and swaps it
        in; conversations and their trackers stay. Loading takes a while (TensorFlow).

        Raises:
            RasaError: Rasa is unreachable or refused the model.
        """
        try:
            async with self._http.put(f"{self._base_url}/model", json={"model_file": model_file},
                                      timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                if response.status not in (200, 204):
                    detail = (await response.text())[:300]
                    raise RasaError(f"Rasa refused the model (HTTP {response.status}): {detail}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaError(f"Rasa unreachable at {self._base_url}: {exc!r}") from exc

    async def conversation_events(self, sender: str) -> list[dict[str, Any]]:
        """The events of ``sender``'s conversation since its last restart (Rasa's tracker).

        Raises:
            RasaError: Rasa is unreachable or refused.
        """
        tracker = await self._get(f"/conversations/{quote(sender, safe='')}/tracker",
                                  params={"include_events": "AFTER_RESTART"})
        return list(tracker.get("events") or [])
