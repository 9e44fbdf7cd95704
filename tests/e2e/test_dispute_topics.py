"""Every dispute topic, typed as a worker would, reaches its case number in at most 8 worker
turns when the opening message names the employer and the amount (issue #4). The scripts
are those of ``bench/transcripts.py``, which prints the same conversations against
`make run`. On PostgreSQL, the production database."""

from __future__ import annotations

import json

import pytest

from bench.transcripts import MAX_TURNS, SCRIPTS, Script, play
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.topic)
def test_each_topic_opens_its_case_in_at_most_eight_turns(stack: Stack, script: Script) -> None:
    transcript, number = play(stack.gateway, script)
    said = "\n".join(f"工友: {line}\n助手: {' / '.join(replies)}" for line, replies in transcript)
    assert number, f"no case number after {len(transcript)} turns:\n{said}"
    assert len(transcript) <= MAX_TURNS, said
    # nothing the opening message already said was asked again
    asked = " ".join(" ".join(replies) for _, replies in transcript[:-1])
    assert "哪家单位" not in asked and "多少钱" not in asked, said

    case = json.loads(stack.cli("cases", "show", number, "--json"))
    assert case["category"] == script.topic, case
    for key, value in script.expect.items():
        found = case
        for part in key.split("."):  # "facts.monthly_wage"
            found = found.get(part) if isinstance(found, dict) else None
        assert found == value, (key, case)
    assert case["description"] == script.lines[0]
