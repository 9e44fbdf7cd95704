"""Question types an admin adds without code (高温补贴, 年休假 …): a name, the worker's ways of
asking (examples), the answer the bot gives and the source it rests on. The next training
merges them into the model: the examples into the NLU data, the intent and its answer into
the domain, and a rule that answers it — so the bot answers it once that model is active.
The caller owns the transaction."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import JSON, Boolean, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import InvalidInput
from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, utcnow
from bot.training.inbox import redact

NAME = re.compile(r"ask_[a-z0-9_]{2,40}")
MIN_EXAMPLES = 5


class AdminIntent(Base):
    __tablename__ = "admin_intents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    examples: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)  # the law or notice the answer rests on, as cited to workers
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _domain_intents(root: Path) -> set[str]:
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    return {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []}


async def do_add_admin_intent(
    session: AsyncSession, *, root: Path, name: str, title: str, examples: list[str], answer: str, source: str,
    actor: str, now: datetime | None = None,
) -> AdminIntent:
    """Raises InvalidInput naming what is wrong: the name, too few examples, no answer or source."""
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise InvalidInput("名称用 ask_ 开头的小写字母、数字和下划线，比如 ask_high_temperature_allowance")
    if name in _domain_intents(root) or (await session.execute(
            select(AdminIntent.id).where(AdminIntent.name == name))).first():
        raise InvalidInput(f"意图 {name} 已经有了")
    cleaned = list(dict.fromkeys(" ".join(redact(e).split()) for e in examples if e and e.strip()))
    if len(cleaned) < MIN_EXAMPLES:
        raise InvalidInput(f"至少要 {MIN_EXAMPLES} 种不同的问法（现在 {len(cleaned)} 种）")
    if not (answer or "").strip() or not (source or "").strip() or not (title or "").strip():
        raise InvalidInput("标题、回答和依据（法规或文件）都要写")
    intent = AdminIntent(name=name, title=title.strip(), examples=cleaned, answer=answer.strip(),
                         source=source.strip(), active=True, created_by=actor, created_at=now or utcnow())
    session.add(intent)
    await session.flush()
    return intent


async def list_admin_intents(session: AsyncSession, *, active_only: bool = True) -> list[AdminIntent]:
    stmt = select(AdminIntent).order_by(AdminIntent.id)
    if active_only:
        stmt = stmt.where(AdminIntent.active.is_(True))
    return list((await session.execute(stmt)).scalars())


def write_training_files(intents: list[AdminIntent], *, root: Path, work: Path) -> tuple[Path, Path]:
    """The admin intents as Rasa training files in ``work``: returns (a data folder with their
    examples and rules, a domain folder with domain.yml and their intents and answers)."""
    data, domain = work / "admin_data", work / "domain"
    data.mkdir(parents=True, exist_ok=True)
    domain.mkdir(parents=True, exist_ok=True)
    (domain / "domain.yml").write_text((root / "domain.yml").read_text(encoding="utf-8"), encoding="utf-8")
    nlu: list[dict[str, Any]] = [{"intent": i.name, "examples": "".join(f"- {e}\n" for e in i.examples)}
                                 for i in intents]
    rules = [{"rule": f"answer {i.name}", "steps": [{"intent": i.name}, {"action": f"utter_{i.name}"}]}
             for i in intents]
    (data / "admin_intents.yml").write_text(yaml.safe_dump(
        {"version": "3.1", "nlu": nlu, "rules": rules}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (domain / "admin_intents.yml").write_text(yaml.safe_dump({
        "version": "3.1", "intents": [i.name for i in intents],
        "responses": {f"utter_{i.name}": [{"text": f"{i.answer}\n（依据：{i.source}）"}] for i in intents},
    }, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return data, domain
