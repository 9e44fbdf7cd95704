"""Retraining as a background job started by an admin: the training data is ``nlu/`` plus the
messages labelled in the NLU inbox; the job trains a model (``rasa train``), reports its
progress from the trainer's epoch bars and keeps the tail of its log, evaluates the new
model on the held-out set, and registers it as a candidate with its figures — for the admin
to compare with the active model and activate through the gate.

    queued → running → evaluating → done | failed
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections import deque
from datetime import datetime
from pathlib import Path

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from bot.cases.errors import DomainError
from bot.cases.models import BigId
from bot.db import Base, UTCDateTime, session_scope, utcnow
from bot.training.admin_intents import list_admin_intents, write_training_files
from bot.training.inbox import export_labelled
from bot.training.models import training_hash
from bot.training.registry import do_register_model

logger = logging.getLogger(__name__)

RUNNING = ("queued", "running", "evaluating")
_EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
_COMPONENT = re.compile(r"Starting to train component '(\w+)'")
TRAINED = ("DIETClassifier", "TEDPolicy")  # the two epoch bars of a full training


class TrainingJob(Base):
    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    started_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    annotations: Mapped[int] = mapped_column(Integer, default=0)  # labelled inbox messages trained on
    log_tail: Mapped[str | None] = mapped_column(Text)
    model_name: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobRunning(DomainError):
    code = "invalid_transition"


async def do_queue_job(session: AsyncSession, *, started_by: str, reason: str | None, now: datetime) -> TrainingJob:
    """A new job; refused while another one is not finished (one training at a time)."""
    busy = (await session.execute(select(TrainingJob.id).where(TrainingJob.status.in_(RUNNING)))).first()
    if busy is not None:
        raise JobRunning(f"第 {busy[0]} 次训练还没结束，请等它完成")
    job = TrainingJob(status="queued", started_by=started_by, reason=(reason or "").strip() or None, created_at=now)
    session.add(job)
    await session.flush()
    return job


async def list_jobs(session: AsyncSession, *, limit: int = 10) -> list[TrainingJob]:
    return list((await session.execute(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(limit))).scalars())


def progress_of(line: str, state: dict[str, int]) -> int | None:
    """The job's percent after one line of the trainer's output (None: no change). The NLU
    classifier's bar is the first half, the dialogue policy's the second."""
    if match := _COMPONENT.search(line):
        if match.group(1) in TRAINED:
            state["phase"] = TRAINED.index(match.group(1))
        return None
    if match := _EPOCHS.search(line):
        return min(99, (state.get("phase", 0) * 100 + int(match.group(1))) // len(TRAINED))
    return None


class Trainer:
    """Runs the jobs of one gateway (each in a task of its own)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, root: Path, rasa_bin: Path,
                 config: str = "config.yml") -> None:
        self._sessionmaker, self._root, self._rasa_bin, self._config = sessionmaker, root, rasa_bin, config
        self._tasks: set[asyncio.Task[None]] = set()
        self._processes: set[asyncio.subprocess.Process] = set()

    async def close(self) -> None:
        """The gateway stops: a training in progress is stopped too (its job is marked
        failed when a gateway starts again)."""
        for process in list(self._processes):
            if process.returncode is None:
                process.terminate()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def recover(self) -> int:
        """Jobs a stopped gateway left unfinished are marked failed (else none could start)."""
        async with session_scope(self._sessionmaker) as session:
            left = list((await session.execute(select(TrainingJob).where(TrainingJob.status.in_(RUNNING)))).scalars())
            for job in left:
                job.status, job.error, job.finished_at = "failed", "网关在训练中途停止", utcnow()
        return len(left)

    def start(self, job_id: int) -> None:
        task = asyncio.create_task(self.run(job_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _update(self, job_id: int, **values: object) -> None:
        async with session_scope(self._sessionmaker) as session:
            job = await session.get_one(TrainingJob, job_id)
            for key, value in values.items():
                setattr(job, key, value)

    async def run(self, job_id: int) -> None:
        started = time.monotonic()
        work = self._root / "var" / "training" / f"job-{job_id}"
        work.mkdir(parents=True, exist_ok=True)
        tail: deque[str] = deque(maxlen=40)
        try:
            data, domain = ["nlu", "stories"], "domain.yml"
            async with session_scope(self._sessionmaker) as session:
                exported = await export_labelled(session)
                if admin := await list_admin_intents(session):
                    # question types admins added: their examples, rules, intents and answers
                    admin_data, admin_domain = write_training_files(admin, root=self._root, work=work)
                    data.append(str(admin_data))
                    domain = str(admin_domain)
            annotations = exported.count("\n    - ")
            if annotations:
                (work / "inbox.yml").write_text(exported, encoding="utf-8")
                data.append(str(work / "inbox.yml"))
            name = f"gongyou-job{job_id}-{training_hash(self._root)[:8]}"
            await self._update(job_id, status="running", annotations=annotations, progress=0)
            await self._stream(job_id, [str(self._rasa_bin), "train", "--data", *data, "--domain", domain,
                                        "--config", self._config, "--out", "models", "--fixed-model-name", name],
                               tail)
            await self._update(job_id, status="evaluating", progress=99, model_name=f"{name}.tar.gz")
            figures = await self._evaluate(self._root / "models" / f"{name}.tar.gz", work, tail)
            async with session_scope(self._sessionmaker) as session:
                job = await session.get_one(TrainingJob, job_id)
                await do_register_model(session, name=f"{name}.tar.gz", data_hash=training_hash(self._root),
                                        trained_by=job.started_by, reason=job.reason or "retrained from the console",
                                        figures={**figures, "annotations": annotations,
                                                 "seconds": round(time.monotonic() - started)})
                job.status, job.progress, job.finished_at = "done", 100, utcnow()
                job.seconds, job.log_tail = round(time.monotonic() - started), "\n".join(tail)
        except Exception as exc:  # the job says why; the gateway goes on
            logger.exception("training job %s failed", job_id)
            await self._update(job_id, status="failed", error=str(exc)[:2000], finished_at=utcnow(),
                               seconds=round(time.monotonic() - started), log_tail="\n".join(tail))

    async def _stream(self, job_id: int | None, command: list[str], tail: deque[str]) -> None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
               "RASA_TELEMETRY_ENABLED": "false"}
        process = await asyncio.create_subprocess_exec(*command, cwd=self._root, env=env, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)
        assert process.stdout is not None
        self._processes.add(process)
        state: dict[str, int] = {}
        written = 0.0
        buffer = b""
        while chunk := await process.stdout.read(4096):
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]", buffer)  # the epoch bars redraw with \r
            for raw in lines:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line:
                    continue
                if "Epochs:" not in line:
                    tail.append(line[:300])
                percent = progress_of(line, state)
                if job_id is not None and percent is not None and time.monotonic() - written > 2:
                    written = time.monotonic()
                    await self._update(job_id, progress=percent, log_tail="\n".join(tail))
        self._processes.discard(process)
        if await process.wait() != 0:
            raise RuntimeError(f"rasa {command[1]} failed (exit {process.returncode}): " + " | ".join(list(tail)[-5:]))

    async def _evaluate(self, model: Path, work: Path, tail: deque[str]) -> dict[str, object]:
        """Held-out figures of the new model (as ``python -m bot eval`` scores them)."""
        from bot.training.evaluate import HELDOUT, diet_predictions, score
        from bot.training.nludata import read_examples

        out = work / "heldout"
        await self._stream(None, [str(self._rasa_bin), "test", "nlu", "--model", str(model), "--nlu", str(HELDOUT),
                               "--out", str(out), "--successes"], tail)
        examples = read_examples(self._root / HELDOUT)
        intents, spans = diet_predictions(out, examples)
        result = score(examples, intents, spans)
        return {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"],
                "per_intent_f1": {k: v["f1"] for k, v in result["per_intent"].items()},
                "entity_f1": result.get("judged_entity_f1"), "heldout_messages": len(examples)}
