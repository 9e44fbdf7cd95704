"""The Rasa project itself: data validation and the dialogue test stories, run by the real
Rasa 3.6 in its own environment against the current trained model."""

from __future__ import annotations

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
