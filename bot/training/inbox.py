"""The NLU inbox: messages the model was unsure about, waiting for an annotator to label them.

An annotator marks the model's guess correct, picks another intent (several for a message
with several grievances, joined by "+"), or discards the message. A message is redacted
before it can become training data — phone and ID numbers, and a person's name after
我叫 / 我姓 — and who labelled what, and when, is kept. Labelled messages are exported in
``nlu/`` format for review in git and for the retraining job. The caller owns the
transaction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import InvalidInput
from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, utcnow
from bot.training.metrics import CONTRACT_INTENTS, DISPUTE_INTENTS

LABELS = (*CONTRACT_INTENTS, "inform")


class InboxItem(Base):
    __tablename__ = "nlu_inbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(200))
    # The model's best guesses: [{"name": "report_overtime", "confidence": 0.41}, …]
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | labelled | discarded
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the text as it may enter training data (personal data taken out), set when labelled
    training_text: Mapped[str | None] = mapped_column(Text)
    annotated_by: Mapped[str | None] = mapped_column(String(128))
    annotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


async def do_record_unsure(
    session: AsyncSession, *, text: str, sender: str, ranking: list[dict[str, Any]], now: datetime | None = None
) -> InboxItem:
    item = InboxItem(text=text[:2000], sender=sender, ranking=ranking[:5], status="new", created_at=now or utcnow())
    session.add(item)
    await session.flush()
    return item


_PHONE = re.compile(r"(?<!\d)1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{6}[\s-]?(?:19|20)\d{2}[\s-]?\d{4}[\s-]?\d{3}[\dXx](?![0-9A-Za-z])")
_NAME = re.compile(r"(我叫|我姓|本人|名字叫|名字是)([\u4e00-\u9fff]{1,3})")


def redact(text: str) -> str:
    """``text`` as it may go into training data: no phone or ID number, no one's name."""
    text = _ID_NUMBER.sub("（身份证号）", text)
    text = _PHONE.sub("（手机号）", text)
    return _NAME.sub(lambda m: m.group(1) + "某某", text)


def check_label(label: str) -> str:
    """A contract intent, or several dispute topics joined by "+" (put in the contract's order)."""
    parts = [p.strip() for p in (label or "").split("+") if p.strip()]
    if len(parts) == 1 and parts[0] in LABELS:
        return parts[0]
    if len(parts) > 1 and all(p in DISPUTE_INTENTS for p in parts) and len(set(parts)) == len(parts):
        return "+".join(sorted(parts, key=DISPUTE_INTENTS.index))
    raise InvalidInput(f"不是可用的意图：{label!r}（几件事同时说，用 + 连接纠纷类别）")


def guess(item: InboxItem) -> tuple[str | None, float]:
    """The model's best guess for the item and its confidence."""
    ranking = sorted(item.ranking or [], key=lambda r: -float(r.get("confidence") or 0))
    if not ranking:
        return None, 0.0
    return ranking[0].get("name"), float(ranking[0].get("confidence") or 0)


async def list_inbox(session: AsyncSession, *, status: str = "new", limit: int = 200) -> list[InboxItem]:
    """The inbox, the messages the model was least sure of first."""
    items = list((await session.execute(
        select(InboxItem).where(InboxItem.status == status).order_by(InboxItem.id.desc()).limit(limit))).scalars())
    return sorted(items, key=lambda item: guess(item)[1])


async def do_annotate(
    session: AsyncSession, *, ids: list[int], action: str, actor: str, now: datetime, label: str | None = None,
) -> int:
    """Label (``action`` "label" with ``label``; "accept": the model's guess) or discard the
    items; returns how many changed. Raises InvalidInput for an unknown action or label."""
    if action not in ("label", "accept", "discard"):
        raise InvalidInput(f"unknown action {action!r}")
    checked = check_label(label or "") if action == "label" else None
    changed = 0
    for item in (await session.execute(select(InboxItem).where(InboxItem.id.in_(ids)))).scalars():
        if action == "discard":
            item.status, item.label, item.training_text = "discarded", None, None
        else:
            name = checked or guess(item)[0]
            if name in (None, "nlu_fallback"):
                raise InvalidInput(f"第 {item.id} 条没有可采纳的猜测，请选一个意图")
            item.status, item.label, item.training_text = "labelled", check_label(name), redact(item.text)
        item.annotated_by, item.annotated_at = actor, now
        changed += 1
    return changed


async def export_labelled(session: AsyncSession) -> str:
    """Every labelled message in ``nlu/`` format (redacted), for review in git and training."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for item in (await session.execute(
            select(InboxItem).where(InboxItem.status == "labelled").order_by(InboxItem.id))).scalars():
        line = " ".join((item.training_text or redact(item.text)).split())
        if line and line not in by_label[item.label or ""]:
            by_label[item.label or ""].append(line)
    lines = ["# Labelled in the NLU inbox (python -m bot nlu export); personal data taken out.",
             'version: "3.1"', "nlu:"]
    for label in sorted(by_label):
        lines += [f"- intent: {label}", "  examples: |", *(f"    - {text}" for text in by_label[label])]
    return "\n".join(lines) + "\n"
