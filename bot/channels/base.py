"""The one small interface every channel implements, and the shapes it speaks.

A channel verifies a request, parses it into an :class:`InboundMessage`, and sends
:class:`Reply` objects to a contact. Everything between (storage, ordering, Rasa) is the
pipeline's job, identical for every channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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

    @classmethod
    def from_rasa(cls, message: dict[str, Any]) -> Reply:
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in message.get("buttons") or []
        )
        return cls(text=message.get("text"), buttons=buttons, image=message.get("image"))

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
    video, document …); the pipeline stores the bytes as an evidence item before the
    message reaches Rasa, so a file is never lost with a failed turn.
    """

    kind: str
    data: bytes
    filename: str | None = None
    mime_type: str | None = None


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


class Channel(Protocol):
    """What the pipeline needs from a channel to talk back to a contact."""

    name: str

    async def send(self, *, external_id: str, replies: Sequence[Reply]) -> None:
        """Deliver ``replies`` to the contact; raise ``ChannelError`` on failure."""
        ...


class ChannelError(Exception):
    """A send failed; ``retryable`` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
