"""The model registry: which model is served, the gate before a new one is, and rolling
back — what an admin relies on when the model of the week turns out worse."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import NotFound
from bot.training.registry import (
    GateRefused, do_activate, do_register_model, do_rollback, get_active, judge, list_models,
)
from bot.db import utcnow
from tests.cases.factories import T0

async def none_active(session: AsyncSession) -> None:
    """Stacks started by other tests commit their served model as active in the shared
    database: within this test's transaction (rolled back after it), none is."""
    from sqlalchemy import update

    from bot.training.registry import NluModel

    await session.execute(update(NluModel).where(NluModel.status == "active").values(status="retired"))


GOOD = {"accuracy": 0.95, "per_intent_f1": {"report_unpaid_wages": 0.95, "report_injury": 0.97}}


async def _model(session: AsyncSession, figures: dict) -> str:  # type: ignore[type-arg]
    name = f"gongyou-{uuid.uuid4().hex[:16]}.tar.gz"
    await do_register_model(session, name=name, data_hash=uuid.uuid4().hex, trained_by="admin:li",
                            reason="每周重新训练", figures=figures, now=T0)
    return name


def test_the_gate_keeps_accuracy_and_every_topic() -> None:
    assert judge(GOOD, None).passed
    assert judge({**GOOD, "accuracy": 0.96}, GOOD).passed
    worse = judge({**GOOD, "accuracy": 0.94}, GOOD)
    assert not worse.passed and "accuracy" in worse.reasons[0]
    topic = judge({"accuracy": 0.96, "per_intent_f1": {"report_unpaid_wages": 0.92, "report_injury": 0.97}}, GOOD)
    assert not topic.passed and "report_unpaid_wages" in topic.reasons[0]
    small = judge({"accuracy": 0.96, "per_intent_f1": {"report_unpaid_wages": 0.935, "report_injury": 0.97}}, GOOD)
    assert small.passed  # 0.015 is within the 0.02 allowed
    assert not judge({}, GOOD).passed  # not evaluated: not activated


async def test_activate_refuse_override_and_roll_back(session: AsyncSession) -> None:
    await none_active(session)
    # later than anything another test activated: rolling back goes to this test's model
    at = [utcnow() + timedelta(days=1, seconds=n) for n in range(3)]
    first = await _model(session, GOOD)
    await do_activate(session, model=await _find(session, first), actor="admin:li", now=at[0])
    worse = await _model(session, {**GOOD, "accuracy": 0.90})
    with pytest.raises(GateRefused, match="accuracy"):
        await do_activate(session, model=await _find(session, worse), actor="admin:li", now=at[1])
    assert (await get_active(session)).name == first  # nothing changed

    retired, gate = await do_activate(session, model=await _find(session, worse), actor="admin:li", now=at[1],
                                      override_reason="高温补贴问答上线，准确率差一点先用着")
    assert retired is not None and retired.name == first and not gate.passed
    active = await get_active(session)
    assert active.name == worse and active.override_reason.startswith("高温补贴")

    back, gone = await do_rollback(session, actor="admin:li", now=at[2])
    assert (back.name, gone.name) == (first, worse)
    assert [m.status for m in await list_models(session) if m.name in (first, worse)] == ["retired", "active"]


async def test_rolling_back_needs_an_earlier_model(session: AsyncSession) -> None:
    await none_active(session)
    with pytest.raises(NotFound):
        await do_rollback(session, actor="admin:li", now=T0)
    only = await _model(session, GOOD)
    await do_activate(session, model=await _find(session, only), actor="admin:li", now=T0, override_reason="x")
    # registering the same file again keeps one row and updates its figures
    await do_register_model(session, name=only, data_hash="x", trained_by="b", reason=None,
                            figures={"seconds": 12}, now=T0)
    assert (await _find(session, only)).figures == {**GOOD, "seconds": 12}


async def _find(session: AsyncSession, name: str):  # type: ignore[no-untyped-def]
    from bot.training.registry import get_model_or_raise

    return await get_model_or_raise(session, name=name)


async def test_the_stack_serves_the_active_model_and_registers_a_new_build_beside_it(
    session: AsyncSession, tmp_path
) -> None:
    from bot.training.registry import do_choose_served_model

    await none_active(session)
    first = tmp_path / "gongyou-aaaa.tar.gz"
    first.write_bytes(b"model")
    path, why = await do_choose_served_model(session, models_dir=tmp_path, built=first, data_hash="a", now=T0)
    assert path == first and "activated" in why
    newer = tmp_path / "gongyou-bbbb.tar.gz"
    newer.write_bytes(b"model")
    path, why = await do_choose_served_model(session, models_dir=tmp_path, built=newer, data_hash="b", now=T0)
    assert path == first and "python -m bot models activate gongyou-bbbb.tar.gz" in why  # the admin decides
    ours = {"gongyou-aaaa.tar.gz", "gongyou-bbbb.tar.gz"}  # other tests' stacks register theirs too
    assert {m.name: m.status for m in await list_models(session) if m.name in ours} == {
        "gongyou-aaaa.tar.gz": "active", "gongyou-bbbb.tar.gz": "candidate"}
    first.unlink()  # the active model's file is gone (a fresh clone): the new build is served
    path, why = await do_choose_served_model(session, models_dir=tmp_path, built=newer, data_hash="b", now=T0)
    assert path == newer and "not in" in why
    assert (await get_active(session)).name == "gongyou-bbbb.tar.gz"  # the registry says what is served


async def test_a_model_being_loaded_holds_turns_until_it_is_done_or_abandoned(session: AsyncSession) -> None:
    from bot.training.registry import do_mark_loading, get_model_or_raise, swap_in_progress

    model = await get_model_or_raise(session, name=await _model(session, GOOD))
    T0 = utcnow() + timedelta(days=2)  # a mark another test's swap left would be long over by then
    assert not await swap_in_progress(session, now=T0)
    await do_mark_loading(session, model=model, now=T0)
    assert await swap_in_progress(session, now=T0 + timedelta(seconds=30))
    assert not await swap_in_progress(session, now=T0 + timedelta(minutes=11))  # a crashed swap does not hold forever
    await do_mark_loading(session, model=model, now=None)
    assert not await swap_in_progress(session, now=T0 + timedelta(seconds=31))
