"""The model registry: every trained model with its data hash, figures, who trained it and
why, and which one is served.

    candidate → active → retired (a later model was activated) → active again (rolled back)

Activation is gated on the evaluation: a model may be made active only if its accuracy is
not below the active model's and no dispute topic's F1 drops by more than 0.02 — unless an
admin overrides with a written reason, which is kept. Loading the model into the running
Rasa is the caller's part (``PUT /model``); this module only records the choice, so the
stack serves the active model after a restart. The caller owns the transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import DomainError, InvalidInput, NotFound
from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, utcnow

GATE_TOPIC_DROP = 0.02  # the most any dispute topic's F1 may fall
TOPICS = ("report_unpaid_wages", "report_overtime", "report_injury", "report_dismissal", "report_social_insurance")


class ModelStatus(str, enum.Enum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


class NluModel(Base):
    __tablename__ = "nlu_models"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # the file under models/
    data_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ModelStatus.CANDIDATE.value, index=True)
    trained_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    # the evaluation: {"accuracy": …, "per_intent_f1": {…}, "sealed": {…}, "seconds": …}
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_by: Mapped[str | None] = mapped_column(String(128))
    # an activation the gate refused, made anyway: the admin's written reason
    override_reason: Mapped[str | None] = mapped_column(Text)
    # Rasa is loading this model (PUT /model blocks it for a while): gateways hold their
    # posts to Rasa until it is done, so no worker's message fails during the swap
    loading_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GateRefused(DomainError):
    code = "invalid_transition"


@dataclass(frozen=True)
class Gate:
    """The gate's verdict on a candidate against the active model."""

    passed: bool
    reasons: tuple[str, ...]


def judge(candidate: dict[str, Any], active: dict[str, Any] | None) -> Gate:
    """Accuracy must not drop, and no dispute topic's F1 by more than 0.02."""
    if not active:
        return Gate(True, ("no active model to compare with",))
    if candidate.get("accuracy") is None:
        return Gate(False, ("the candidate has no evaluation",))
    reasons = []
    if candidate["accuracy"] < (active.get("accuracy") or 0):
        reasons.append(f"accuracy {candidate['accuracy']:.3f} < {active['accuracy']:.3f}")
    old, new = active.get("per_intent_f1") or {}, candidate.get("per_intent_f1") or {}
    for topic in TOPICS:
        if topic in old and old[topic] - new.get(topic, 0.0) > GATE_TOPIC_DROP:
            reasons.append(f"{topic} F1 {new.get(topic, 0.0):.3f} < {old[topic]:.3f} − {GATE_TOPIC_DROP}")
    return Gate(not reasons, tuple(reasons) or ("accuracy kept, no topic F1 dropped by more than 0.02",))


async def get_model_or_raise(session: AsyncSession, *, name: str) -> NluModel:
    model = (await session.execute(select(NluModel).where(NluModel.name == name))).scalar_one_or_none()
    if model is None:
        raise NotFound(f"no model named {name!r} in the registry")
    return model


async def get_active(session: AsyncSession) -> NluModel | None:
    return (await session.execute(
        select(NluModel).where(NluModel.status == ModelStatus.ACTIVE.value))).scalar_one_or_none()


async def list_models(session: AsyncSession) -> list[NluModel]:
    return list((await session.execute(select(NluModel).order_by(NluModel.created_at.desc(), NluModel.id.desc())))
                .scalars())


async def do_register_model(
    session: AsyncSession, *, name: str, data_hash: str, trained_by: str, reason: str | None,
    figures: dict[str, Any] | None = None, now: datetime | None = None,
) -> NluModel:
    """Record a trained model as a candidate (registering the same file again updates its
    figures only)."""
    if not name or "/" in name:
        raise InvalidInput("a model is named by its file under models/, e.g. gongyou-1a2b….tar.gz")
    existing = (await session.execute(select(NluModel).where(NluModel.name == name))).scalar_one_or_none()
    if existing is not None:
        if figures:
            existing.figures = {**(existing.figures or {}), **figures}
        return existing
    model = NluModel(name=name, data_hash=data_hash, status=ModelStatus.CANDIDATE.value, trained_by=trained_by,
                     reason=(reason or "").strip() or None, figures=figures or {}, created_at=now or utcnow())
    session.add(model)
    await session.flush()
    return model


async def do_activate(
    session: AsyncSession, *, model: NluModel, actor: str, now: datetime, override_reason: str | None = None,
) -> tuple[NluModel | None, Gate]:
    """Make ``model`` the served one; the one served before is retired. Returns (that one,
    the gate's verdict).

    Raises:
        GateRefused: the gate refused and no written reason was given to override it.
    """
    active = await get_active(session)
    if active is not None and active.id == model.id:
        return None, Gate(True, ("already active",))
    gate = judge(model.figures or {}, active.figures if active else None)
    reason = (override_reason or "").strip()
    if not gate.passed and not reason:
        raise GateRefused("门槛未通过：" + "；".join(gate.reasons) + "。如确需启用，请写明理由")
    if active is not None:
        active.status = ModelStatus.RETIRED.value
    model.status, model.activated_at, model.activated_by = ModelStatus.ACTIVE.value, now, actor
    model.override_reason = reason if not gate.passed else None
    await session.flush()
    return active, gate


async def do_rollback(session: AsyncSession, *, actor: str, now: datetime) -> tuple[NluModel, NluModel]:
    """Serve again the model that was active before the current one (no gate: it was served).
    Returns (the model now active, the one retired).

    Raises:
        NotFound: no active model, or none was active before it.
    """
    active = await get_active(session)
    if active is None:
        raise NotFound("no active model to roll back")
    before = (await session.execute(
        select(NluModel).where(NluModel.status == ModelStatus.RETIRED.value, NluModel.activated_at.is_not(None),
                               NluModel.id != active.id)
        .order_by(NluModel.activated_at.desc()).limit(1))).scalar_one_or_none()
    if before is None:
        raise NotFound("no earlier model was ever active")
    active.status = ModelStatus.RETIRED.value
    before.status, before.activated_at, before.activated_by = ModelStatus.ACTIVE.value, now, actor
    await session.flush()
    return before, active


def model_row(model: NluModel) -> dict[str, Any]:
    figures = model.figures or {}
    return {
        "name": model.name, "status": model.status, "data_hash": model.data_hash[:16],
        "trained_by": model.trained_by, "reason": model.reason, "created_at": model.created_at.isoformat(),
        "activated_at": model.activated_at.isoformat() if model.activated_at else None,
        "activated_by": model.activated_by, "override_reason": model.override_reason,
        "accuracy": figures.get("accuracy"), "per_intent_f1": figures.get("per_intent_f1") or {},
    }


async def do_choose_served_model(session: AsyncSession, *, models_dir: Path, built: Path, data_hash: str,
                                 now: datetime) -> tuple[Path, str]:
    """The model the stack serves: the registry's active one while its file is there; the
    model just built for the current data is registered as a candidate beside it (or, when
    no model was ever active, activated). Returns (its path, why, in words)."""
    await do_register_model(session, name=built.name, data_hash=data_hash, trained_by="make run",
                            reason="trained for the current training data", now=now)
    active = await get_active(session)
    if active is None:
        await do_activate(session, model=await get_model_or_raise(session, name=built.name), actor="system", now=now)
        return built, "the first model: activated"
    path = models_dir / active.name
    if active.name == built.name:
        return built, "the active model"
    if not path.exists():
        # what is served is what the registry calls active, always: the missing one is retired
        missing = active.name
        await do_activate(session, model=await get_model_or_raise(session, name=built.name), actor="system", now=now,
                          override_reason=f"the active model {missing} is not in {models_dir}")
        return built, f"the active model {missing} is not in {models_dir}: the one built now is activated"
    return path, (f"the active model (the one built for the current data, {built.name}, is a candidate: "
                  f"python -m bot models activate {built.name})")


SWAP_LIMIT = timedelta(minutes=10)  # a load marked longer ago than this was abandoned (a crash)


async def do_mark_loading(session: AsyncSession, *, model: NluModel, now: datetime | None) -> None:
    """Rasa starts (``now``) or has finished (``None``) loading ``model``."""
    model.loading_since = now


async def swap_in_progress(session: AsyncSession, *, now: datetime) -> bool:
    """Whether Rasa is loading a model right now (posts to it should wait)."""
    return (await session.execute(select(NluModel.id).where(
        NluModel.loading_since.is_not(None), NluModel.loading_since > now - SWAP_LIMIT).limit(1))).first() is not None
