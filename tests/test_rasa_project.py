"""The Rasa project itself: data validation and the dialogue test stories, run by the real
Rasa 3.6 in its own environment against the current trained model."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from bot.training.models import current_model_path

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
pytestmark = pytest.mark.e2e


def rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RASA), *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_rasa_data_validate_is_clean() -> None:
    result = rasa("data", "validate", "--data", "nlu", "stories", "--domain", "domain.yml", "--config", "config.yml")
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if "UserWarning" in line or "ERROR" in line]
    assert result.returncode == 0 and not warnings, "\n".join(warnings) or output[-2000:]


def test_every_dialogue_test_story_passes(tmp_path: Path) -> None:
    model = current_model_path(ROOT)
    assert model.exists(), "no model for the current data: run `python -m bot train` (make test does)"
    result = rasa("test", "core", "--model", str(model), "--stories", "tests/stories/test_stories.yml",
                  "--fail-on-prediction-errors", "--out", str(tmp_path), "--no-plot")
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text() if failed.exists() else result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, detail
    stories = len(re.findall(r"^\s+- story:", (ROOT / "tests/stories/test_stories.yml").read_text(), re.M))
    print(f"{stories} test stories passed")


TOKENIZE = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from nlu.components import JiebaNumeralTokenizer
config = {**JiebaNumeralTokenizer.get_default_config(), "dictionary_path": "nlu/jieba"}
tokenizer = JiebaNumeralTokenizer.create(config, None, None, None)
for line in sys.stdin.read().splitlines():
    tokens = tokenizer.tokenize(Message(data={"text": line}), "text")
    print(json.dumps([t.text for t in tokens], ensure_ascii=False))
"""


def test_the_tokenizer_puts_a_boundary_at_every_entity_edge() -> None:
    # Entities are scored by exact span, and DIET tags whole tokens: a token glued across an
    # entity edge (二不给, 人全, 厂里) makes the right span impossible to predict.
    lines = ["老板欠我四千二不给", "我们九个人全没拿到", "张老板的厂里欠钱", "包工头欠我们加班费还不给办工伤认定"]
    result = subprocess.run([str(RASA.parent / "python"), "-c", TOKENIZE], cwd=ROOT, env=ENV, input="\n".join(lines),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    tokens = [json.loads(line) for line in result.stdout.splitlines()]
    assert "不给" in tokens[0] and "二不给" not in tokens[0]
    assert "人" in tokens[1] and "人全" not in tokens[1]
    assert "厂" in tokens[2] and "厂里" not in tokens[2]
    # the labour-terms dictionary keeps the terms whole
    assert {"包工头", "加班费", "工伤认定"} <= set(tokens[3])
