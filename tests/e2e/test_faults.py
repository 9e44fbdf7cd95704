"""Nothing lost: the gateway killed with SIGKILL in the middle of a burst of Telegram
conversations, restarted by the stack's supervisor, and every message still answered exactly
once, with no duplicate case.

The real stack (gateway, Rasa, action server) started with ``FAKE_CHANNELS=1``, on PostgreSQL;
the fake Bot API re-delivers every update the webhook did not answer with 200, in each chat's
order, as Telegram does. The workers, the counting and the longer faults (Rasa or the action
server down for a minute, PostgreSQL restarted, the dispatcher killed mid-send) are in
``bench/faults.py``; this is its ``kill-gateway`` row.
"""

from __future__ import annotations

from bot.notify.dispatcher import CONCURRENT_SENDS

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.stack
from bench.faults import (
    TelegramBurst,
    Trigger,
    chat_texts,
    read_snapshot,
    settle,
    stack_pid,
    table,
    tally_messages,
    wait_restarted,
)
from bot.settings import load_settings
from bot.stack import Child, Stack, StackError
from tests.conftest import free_port
from tests.e2e.conftest import Stack as RunningStack
from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e

WORKERS, MESSAGES = 30, 10
# What may pass before everything is answered: the burst (~20 s), then what the restarted
# gateway takes over (a message or an outbox row the killed one held waits for its lease).
SETTLE = 200


# --- the supervisor, with stand-in children --------------------------------------------------

SLEEPER = "import time; print('up', flush=True); time.sleep(120)"


async def _supervise_until(stack: Stack, done, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(stack.supervise())
    deadline = time.monotonic() + timeout
    try:
        while not done():
            assert time.monotonic() < deadline, "the supervisor did not get there"
            assert not task.done() or task.exception() is None, task.exception()
            await asyncio.sleep(0.05)
    finally:
        task.cancel()


def _stand_in_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *children: Child) -> Stack:
    monkeypatch.setattr(bot.stack, "PROJECT_ROOT", tmp_path)
    settings = load_settings({"GONGYOU_VAR_DIR": str(tmp_path)}, dotenv=tmp_path / "none.env")
    stack = Stack(settings, rasa_bin=tmp_path / "rasa", model=tmp_path / "model.tar.gz")
    stack.children = list(children)
    return stack


def test_the_supervisor_restarts_a_killed_child_into_the_same_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    child = Child("worker", [sys.executable, "-c", SLEEPER])
    stack = _stand_in_stack(tmp_path, monkeypatch, child)
    try:
        stack.start()
        first = child.process.pid
        up = lambda times: child.log_path.exists() and child.log_path.read_text().count("up\n") == times  # noqa: E731
        asyncio.run(_supervise_until(stack, lambda: up(1)))
        os.kill(first, signal.SIGKILL)
        asyncio.run(_supervise_until(stack, lambda: child.process.pid != first and up(2)))
    finally:
        stack.stop()
    printed = capsys.readouterr().out
    assert f"[gongyou] worker exited (code -{signal.SIGKILL.value}); restarting" in printed
    assert f"started worker (pid {child.process.pid}" in printed  # the new pid, for whoever looks for it


def test_the_supervisor_gives_up_on_a_child_that_keeps_dying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    child = Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    stack = _stand_in_stack(tmp_path, monkeypatch, child)
    try:
        stack.start()
        with pytest.raises(StackError, match=r"crasher exited 6 times within 60s; giving up"):
            asyncio.run(asyncio.wait_for(stack.supervise(), 60))
    finally:
        stack.stop()
    assert len(child.restarts) == bot.stack.RESTART_LIMIT


# --- the real stack ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    env = {"FAKE_WECHAT_PORT": str(free_port()), "FAKE_TELEGRAM_PORT": str(free_port()), "FAKE_CHANNELS": "1",
           "DISPATCH_INTERVAL": "1", "RETRY_INTERVAL": "2"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        running = next(gen := start_stack(database_url, tmp_path_factory))
        running.ports["telegram"] = int(env["FAKE_TELEGRAM_PORT"])
        yield running
        next(gen, None)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_gateway_killed_mid_burst_answers_every_telegram_message_exactly_once(stack: RunningStack) -> None:
    fake = f"http://127.0.0.1:{stack.ports['telegram']}"
    users = [7_100_000 + n for n in range(WORKERS)]
    pids: dict[str, int] = {}

    def kill_gateway() -> None:
        pids["killed"] = stack_pid(stack.output, "gateway")
        os.kill(pids["killed"], signal.SIGKILL)
        pids["restarted"] = wait_restarted(stack.output, "gateway", pids["killed"])

    started = time.monotonic()
    burst = TelegramBurst(fake, users, messages=MESSAGES, threads=5, interval=1.5)
    sent = burst.run([Trigger(WORKERS * MESSAGES // 3, kill_gateway)])
    settled = settle(fake, stack.env["DATABASE_URL"], sent, timeout=SETTLE)
    tally = tally_messages("kill-gateway", sent, read_snapshot(stack.env["DATABASE_URL"], users),
                           chat_texts(fake, users), seconds=time.monotonic() - started)
    print("\n" + table([tally]) + "\n" + "\n".join(f"    {line}" for line in tally.details))

    assert pids["restarted"] != pids["killed"]
    assert f"[gongyou] gateway exited (code -{signal.SIGKILL.value}); restarting" in stack.output.read_text()
    assert len({s.update_id for s in sent}) == WORKERS * MESSAGES
    row = (tally.sent, tally.answered, tally.lost, tally.duplicate_cases)
    assert row == (WORKERS * MESSAGES, WORKERS * MESSAGES, 0, 0), "\n".join(tally.details)
    # Telegram has no idempotency key: a reply on the wire when the process died is sent again
    # after the restart (at least once, never lost). One reply per send in flight at the kill
    # at most — never a whole turn again (each reply's progress is recorded).
    assert tally.twice <= CONCURRENT_SENDS, "\n".join(tally.details)
    assert settled, "still moving after everything was counted:\n" + "\n".join(tally.details)
    assert tally.out_of_order == [], "\n".join(tally.details)
