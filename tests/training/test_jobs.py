"""Retraining as a job: a real `rasa train` on nlu/ plus what annotators labelled (a small
config: two epochs), its progress read from the trainer's bars, the held-out evaluation, and
the new model registered as a candidate with its figures."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
import yaml

from bot.cases.errors import DomainError
from bot.db import create_engine, create_sessionmaker, session_scope, utcnow
from bot.training.admin_intents import do_add_admin_intent
from bot.training.inbox import do_annotate, do_record_unsure
from bot.training.jobs import Trainer, TrainingJob, do_queue_job, progress_of
from bot.training.registry import get_model_or_raise

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"


def test_progress_is_read_from_the_two_epoch_bars() -> None:
    state: dict[str, int] = {}
    lines = ["Starting to train component 'DIETClassifier'.", "Epochs:  50%|█████     | 1/2 [00:05<00:05]",
             "Epochs: 100%|██████████| 2/2", "Starting to train component 'TEDPolicy'.", "Epochs:  50%|█████"]
    assert [progress_of(line, state) for line in lines] == [None, 25, 50, None, 75]
    assert progress_of("some other line", state) is None


@pytest.mark.parametrize("own_database", ["sqlite"], indirect=True)
async def test_a_job_trains_evaluates_and_registers_a_candidate(own_database: str, tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for part in (*config["pipeline"], *config["policies"]):
        if "epochs" in part:
            part["epochs"] = 2
    small = tmp_path / "config.yml"
    small.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    engine = create_engine(own_database)
    sessionmaker = create_sessionmaker(engine)
    model_file: Path | None = None
    try:
        async with session_scope(sessionmaker) as session:
            item = await do_record_unsure(session, text="工头卷着钱跑了我电话13812345678", sender="telegram:1",
                                          ranking=[{"name": "report_unpaid_wages", "confidence": 0.3}])
            await do_annotate(session, ids=[item.id], action="accept", actor="staff:anno", now=utcnow())
            await do_add_admin_intent(
                session, root=ROOT, name="ask_high_temperature_allowance", title="高温补贴", actor="staff:admin",
                examples=["高温补贴有没有", "夏天热天在外面干活有高温费吗", "高温津贴一个月多少钱", "厂里不发防暑降温费",
                          "三伏天干活老板该给啥补贴", "室外作业35度以上有补贴吗"],
                answer="用人单位安排劳动者在35℃以上高温天气露天作业，应当支付高温津贴。",
                source="《防暑降温措施管理办法》第十七条")
            job = await do_queue_job(session, started_by="staff:admin", reason="20 条新标注", now=utcnow())
        async with session_scope(sessionmaker) as session:
            with pytest.raises(DomainError, match="还没结束"):  # one training at a time
                await do_queue_job(session, started_by="staff:admin", reason=None, now=utcnow())
        trainer = Trainer(sessionmaker, root=ROOT, rasa_bin=RASA, config=str(small))
        await trainer.run(job.id)
        async with session_scope(sessionmaker) as session:
            done = await session.get_one(TrainingJob, job.id)
            assert done.status == "done", (done.error, done.log_tail)
            assert done.progress == 100 and done.annotations == 1 and done.seconds > 0
            model_file = ROOT / "models" / done.model_name
            assert model_file.exists()
            model = await get_model_or_raise(session, name=done.model_name)
            assert model.status == "candidate" and model.reason == "20 条新标注"
            assert 0 < model.figures["accuracy"] <= 1 and "report_injury" in model.figures["per_intent_f1"]
        # the admin's question type is in the model: an intent DIET knows, a rule's answer in its domain
        with tarfile.open(model_file) as archive:
            names = archive.getnames()
            domain = archive.extractfile(next(n for n in names if n.endswith("domain_provider/domain.yml"))).read()
            labels = archive.extractfile(next(n for n in names if n.endswith("index_label_id_mapping.json"))).read()
        assert "utter_ask_high_temperature_allowance" in domain.decode() and "防暑降温措施管理办法" in domain.decode()
        assert "ask_high_temperature_allowance" in labels.decode()
        inbox = (ROOT / "var" / "training" / f"job-{job.id}" / "inbox.yml").read_text(encoding="utf-8")
        assert "工头卷着钱跑了" in inbox and "13812345678" not in inbox  # trained on, redacted
    finally:
        await engine.dispose()
        if model_file is not None:
            model_file.unlink(missing_ok=True)
