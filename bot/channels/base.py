"""The one small interface every channel implements, and the shapes it speaks.

A channel verifies a request, parses it into an :class:`InboundMessage`, and sends
:class:`Reply` objects to a contact. Everything between (storage, ordering, Rasa) is the
pipeline's job, identical for every channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One bot message: text, optional buttons, optional image URL (Rasa's REST shape)."""

    text: str | None = None
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    # A channel-specific offer the actions ask for (Rasa's ``custom``): "upload" = give the
    # worker a link to upload documents where the channel cannot carry them (WeChat).
    offer: str | None = None

    @classmethod
    def from_rasa(cls, message: dict[str, Any]) -> Reply:
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in message.get("buttons") or []
        )
        custom = message.get("custom") if isinstance(message.get("custom"), dict) else {}
        return cls(text=message.get("text"), buttons=buttons, image=message.get("image"),
                   offer=str(custom["offer"]) if custom.get("offer") else None)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.text is not None:
            out["text"] = self.text
        if self.buttons:
            out["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.image is not None:
            out["image"] = self.image
        return out


@dataclass(frozen=True)
class Attachment:
    """A file the worker sent (photo, voice, video, document), already downloaded.

    ``kind`` is an evidence kind of ``bot.cases.evidence.EvidenceKind`` (photo, audio,
    video, document …); the pipeline stores the file as an evidence item before the
    message reaches Rasa, so a file is never lost with a failed turn.

    The content is ``data``, or — for an upload streamed to disk — the file at ``path``
    (then ``data`` is empty). Whoever made ``path`` deletes it once the pipeline has
    accepted the message: storing it links it into the evidence store first.
    """

    kind: str
    data: bytes = b""
    filename: str | None = None
    mime_type: str | None = None
    path: Path | None = None


def kind_of_file(mime_type: str | None) -> str:
    """The evidence kind for a file's MIME type (photo, audio, video, else document)."""
    major = (mime_type or "").split("/", 1)[0].lower()
    return {"image": "photo", "audio": "audio", "video": "video"}.get(major, "document")


@dataclass(frozen=True)
class InboundMessage:
    """A message from a worker, normalised from whatever the channel delivered.

    ``dedupe_key`` identifies the delivery (WeChat MsgId, Telegram update_id, web chat
    client id) so a retried delivery is stored once.
    """

    channel: str
    external_id: str
    dedupe_key: str
    text: str | None = None
    payload: str | None = None
    kind: str = "text"
    display_name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Target:
    """Whom a channel sends to: our contact row and its identity on the channel."""

    contact_id: int
    external_id: str


class Channel(Protocol):
    """What the pipeline and the dispatcher need from a channel adapter.

    ``send`` carries one conversation turn (all of Rasa's replies to one message; an
    adapter may merge them into one platform message, as WeChat's quota requires);
    ``notify`` a status update outside any turn (``key`` is the outbox row's idempotency
    key, e.g. WeChat's ``client_msg_id``); ``fetch_attachments`` downloads the files an
    inbound message only referenced (``InboundRecord.meta``: WeChat media ids, Telegram
    file ids) — the pipeline calls it after the delivery was stored and acknowledged.
    """

    name: str

    async def send(self, target: Target, replies: Sequence[Reply]) -> None:
        """Deliver a turn; raise ``ChannelError`` on failure."""
        ...

    async def notify(self, target: Target, text: str, *, key: str) -> None:
        """Deliver a status update; raise ``NotNow`` when it must wait for the worker's
        next message (WeChat's 48-hour window closed, no template configured)."""
        ...

    async def fetch_attachments(self, meta: dict[str, Any]) -> list[Attachment]:
        """The files of an inbound message (already stored) as bytes."""
        ...


class ChannelError(Exception):
    """A send failed. ``retryable``: trying later can help; ``unreachable``: the worker
    cannot be reached on this channel at all (blocked the bot, unfollowed)."""

    def __init__(self, message: str, *, retryable: bool = True, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.unreachable = unreachable


class NotNow(ChannelError):
    """Cannot be delivered now; deliver with the worker's next message (kept, not failed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class BadRequest(Exception):
    """The request itself is malformed (bad JSON, missing field); the message says which.
    The web layer answers it with 400 and this message."""


@dataclass(frozen=True)
class Accepted:
    """A delivery stored (or recognised as a repeat of one already stored)."""

    inbound_id: int
    contact_id: int
    duplicate: bool = False


class Intake(Protocol):
    """What a channel's webhook hands a parsed message to (the inbound pipeline): store it
    before acknowledging, then have it answered in the background."""

    async def accept(self, message: InboundMessage) -> Accepted:
        """Store ``message``; a repeated delivery is recognised and stores nothing."""
        ...

    def schedule(self, accepted: Accepted) -> None:
        """Answer a stored delivery in the background."""
        ...


# Counts an inbound delivery for the metrics: (channel, outcome).
CountInbound = Callable[[str, str], None]


def storable(text: str) -> str:
    """``text`` as every text column takes it: NUL characters dropped (PostgreSQL refuses them),
    lone surrogates (what a JSON ``"\\ud800"`` escape decodes to; no UTF-8 for them) as U+FFFD."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def as_worker_text(text: str) -> str:
    """``text`` as Rasa must read it: words, never an intent.

    Rasa 3.6 strips a message and takes one starting with ``/`` as an intent with entities
    (``/inform{"amount": 99999}`` would set slots directly). A worker's text starting with
    ``/`` therefore gets a full-width ``／`` in its place: it reads the same to people and to
    staff, and Rasa matches only the ASCII slash. Button payloads are not passed through here.
    """
    head = text.lstrip()
    return "／" + head[1:] if head.startswith("/") else text


class Throttle(Protocol):
    """A per-sender rate limit (``bot.web.ratelimit.SenderLimit``): a flooding sender's
    extra messages are stored and answered later, in order; they are told to slow down once."""

    def check(self, key: str) -> float | None:
        """Seconds to wait when over the limit, else None (and the message counts)."""
        ...

    def notice_once(self, key: str) -> str | None:
        """The "slow down" words, the first time in a flood; None after that."""
        ...
