"""An admin activates another model and rolls it back while workers keep writing: the
registry records the choice, the running Rasa loads the model through its HTTP API, and no
worker's message fails or goes unanswered during the swap. On SQLite, to save time."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.db import create_engine, create_sessionmaker, session_scope
from bot.training.registry import do_register_model, get_active
from tests.e2e.conftest import Stack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
ROOT = Path(__file__).resolve().parents[2]
SAVED = "保存"  # the words of "kept for later": the bot could not answer at once


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(database_url, tmp_path_factory)


def loaded_model(stack: Stack) -> str:
    return requests.get(f"http://127.0.0.1:{stack.ports['rasa']}/status", timeout=10).json()["model_file"]


def test_activating_and_rolling_back_a_model_loses_no_message(stack: Stack) -> None:
    served = next(line for line in stack.output.read_text().splitlines() if "serving model" in line)
    first = served.split("serving model ", 1)[1].split(":", 1)[0]
    assert first in loaded_model(stack)

    # a second model: the same weights under another name (what a retrain registers)
    other = f"gongyou-swap-{uuid.uuid4().hex[:8]}.tar.gz"
    shutil.copyfile(ROOT / "models" / first, ROOT / "models" / other)

    async def register() -> None:
        engine = create_engine(stack.env["DATABASE_URL"])
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                active = await get_active(session)
                await do_register_model(session, name=other, data_hash="swap-test", trained_by="test",
                                        reason="hot swap under load", figures=dict(active.figures or {}) or
                                        {"accuracy": 1.0})
        finally:
            await engine.dispose()
    asyncio.run(register())

    results: list[tuple[str, list[dict]]] = []
    failures: list[str] = []

    def worker(n: int) -> None:
        sender = f"swap-{n}-{uuid.uuid4().hex[:6]}"
        for text in ("你好", "工会怎么入会", "谢谢", "你是机器人吗", "在吗"):
            try:
                results.append((text, stack.say(sender, text)))
            except (AssertionError, requests.RequestException) as exc:
                failures.append(f"{sender} {text}: {exc}")

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]  # 100 messages
        for thread in threads:
            thread.start()
        activated = stack.cli("models", "activate", other, "--actor", "test")
        for thread in threads:
            thread.join(timeout=600)
        assert "已加载到正在运行的 Rasa" in activated, activated
        assert other in loaded_model(stack)
        assert not failures, failures[:5]
        assert len(results) == 100
        unanswered = [(text, replies) for text, replies in results if not replies or SAVED in replies[0]["text"]]
        assert not unanswered, unanswered[:5]

        listed = {m["name"]: m for m in json.loads(stack.cli("models", "list", "--json"))}
        assert listed[other]["status"] == "active" and listed[first]["status"] == "retired"

        rolled = stack.cli("models", "rollback", "--actor", "test")
        assert f"{first}: active again" in rolled and "已加载到正在运行的 Rasa" in rolled
        assert first in loaded_model(stack)
        assert stack.say(f"after-{uuid.uuid4().hex[:6]}", "你好")  # and it still answers
    finally:
        (ROOT / "models" / other).unlink(missing_ok=True)
