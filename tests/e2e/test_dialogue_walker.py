"""No worker stuck, as a property of the running bot: a seeded random walker
(bench/dialogue_walker.py) talks to the real stack through the web chat API — buttons,
plausible answers, stories, dialect, emoji, nonsense, corrections and files, then cooperative
answers — and no question may be asked more than 3 times in a row, and every conversation
must reach a case number or a person within 40 turns. A few conversations per topic here;
the bench script runs hundreds against `make run`. On SQLite, to save time."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench.dialogue_walker import MAX_RUN, TOPICS, figures, run_walks
from tests.e2e.conftest import Stack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
PER_TOPIC = 6
# The walker is one client sending fast: the web chat's per-address and per-sender limits
# are raised for this stack (they are tested in tests/web).
RATES = {"RATE_WEBCHAT_IP": "100000/10000", "RATE_WEBCHAT_FILES_IP": "100000/10000", "RATE_SENDER": "100000/10000"}


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    saved = {key: os.environ.get(key) for key in RATES}
    os.environ.update(RATES)
    try:
        yield from start_stack(database_url, tmp_path_factory)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_no_worker_is_stuck(stack: Stack) -> None:
    walks = run_walks(stack.gateway, per_topic=PER_TOPIC, seed=20261123, workers=3)
    summary = figures(walks)
    print(summary)
    stuck = [w for w in walks if w.longest_run > MAX_RUN]
    assert not stuck, f"{summary}\n\n{stuck[0].show()}"
    lost = [w for w in walks if w.outcome is None]
    assert not lost, f"{summary}\n\n{lost[0].show()}"
    assert {w.topic for w in walks if w.outcome == "case"} == set(TOPICS), summary
