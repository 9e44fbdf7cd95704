"""Trained Rasa models, cached by a hash of everything that shapes them.

Training takes minutes; the same data and config always give the same model (fixed
seeds), so a model is trained only when no model exists for the current hash, and each
trained model is also kept in a cache outside the checkout (``GONGYOU_CACHE_DIR``,
default ``~/.cache/gongyou``) so a fresh clone, or CI, reuses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# What the model depends on: the training data, the domain and the pipeline, and the Rasa
# version that trains it (a model from another Rasa release may not load).
HASHED_DIRS = ("nlu", "stories")
HASHED_FILES = ("domain.yml", "config.yml", "requirements-rasa.txt")


class TrainingError(RuntimeError):
    pass


def training_hash(root: Path) -> str:
    """SHA-256 over the relative path and bytes of every file the model depends on."""
    digest = hashlib.sha256()
    files = [root / name for name in HASHED_FILES]
    for directory in HASHED_DIRS:
        files.extend(p for p in (root / directory).rglob("*") if p.is_file())
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def model_name(root: Path) -> str:
    return f"gongyou-{training_hash(root)[:16]}"


def cache_dir() -> Path:
    return Path(os.environ.get("GONGYOU_CACHE_DIR") or Path.home() / ".cache" / "gongyou") / "models"


def current_model_path(root: Path) -> Path:
    return root / "models" / f"{model_name(root)}.tar.gz"


def ensure_model(root: Path, *, rasa_bin: Path, force: bool = False) -> tuple[Path, str]:
    """The model for the current data and config, training it only if needed.

    Returns:
        The model path and how it was obtained: ``"present"``, ``"cache"`` or ``"trained"``.

    Raises:
        TrainingError: ``rasa train`` failed; its output was written to ``var/logs``.
    """
    target = current_model_path(root)
    cached = cache_dir() / target.name
    if target.exists() and not force:
        return target, "present"
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists() and not force:
        shutil.copyfile(cached, target)
        return target, "cache"
    _train(root, rasa_bin=rasa_bin, name=target.name.removesuffix(".tar.gz"))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".part")
        shutil.copyfile(target, tmp)
        tmp.replace(cached)
    except OSError as exc:  # a cache we cannot write is a lost speed-up, not a failure
        logger.warning("could not store the model in the cache %s: %s", cached, exc)
    return target, "trained"


def _train(root: Path, *, rasa_bin: Path, name: str) -> None:
    log_path = root / "var" / "logs" / "rasa-train.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(rasa_bin), "train",
        "--data", *HASHED_DIRS,
        "--domain", "domain.yml",
        "--config", "config.yml",
        "--out", "models",
        "--fixed-model-name", name,
    ]
    started = time.monotonic()
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_TELEMETRY_ENABLED": "false",  # never call out to a public address
    }
    with log_path.open("wb") as log:
        result = subprocess.run(command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        raise TrainingError(f"rasa train failed (exit {result.returncode}); last lines of {log_path}:\n" + "\n".join(tail))
    logger.info("trained %s in %.0f s", name, time.monotonic() - started)
