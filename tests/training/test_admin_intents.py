"""Question types an admin adds: checked before they can go into a model, and written as the
training files Rasa takes (examples, a rule, the intent and its cited answer)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import InvalidInput
from bot.training.admin_intents import do_add_admin_intent, list_admin_intents, write_training_files

ROOT = Path(__file__).resolve().parents[2]
ASKS = ["年休假有几天", "带薪年假怎么算", "干了五年有年假吗", "老板不让休年假", "年假没休给钱吗", "我电话13812345678 年假呢"]


async def test_an_admin_intent_is_checked_and_becomes_training_files(session: AsyncSession, tmp_path: Path) -> None:
    name = f"ask_annual_leave_{uuid.uuid4().hex[:6]}"
    args = {"root": ROOT, "title": "年休假", "answer": "职工连续工作1年以上的，享受带薪年休假。",
            "source": "《职工带薪年休假条例》第二条", "actor": "staff:admin"}
    for bad, why in ((dict(name="annual leave"), "名称"), (dict(name="report_injury"), "名称"),
                     (dict(name="ask_report_x", examples=ASKS[:2]), "至少"), (dict(name="ask_ok_x", source=""), "依据")):
        with pytest.raises(InvalidInput, match=why):
            await do_add_admin_intent(session, **{**args, "examples": ASKS, **bad})
    intent = await do_add_admin_intent(session, name=name, examples=ASKS, **args)
    assert "13812345678" not in " ".join(intent.examples)  # the examples are training data: redacted
    with pytest.raises(InvalidInput, match="已经有了"):
        await do_add_admin_intent(session, name=name, examples=ASKS, **args)

    mine = [i for i in await list_admin_intents(session) if i.name == name]
    data, domain = write_training_files(mine, root=ROOT, work=tmp_path)
    trained = yaml.safe_load((data / "admin_intents.yml").read_text(encoding="utf-8"))
    assert trained["nlu"][0]["intent"] == name and "年休假有几天" in trained["nlu"][0]["examples"]
    assert trained["rules"][0]["steps"] == [{"intent": name}, {"action": f"utter_{name}"}]
    answers = yaml.safe_load((domain / "admin_intents.yml").read_text(encoding="utf-8"))
    assert answers["intents"] == [name]
    assert "《职工带薪年休假条例》第二条" in answers["responses"][f"utter_{name}"][0]["text"]
    assert (domain / "domain.yml").read_text(encoding="utf-8") == (ROOT / "domain.yml").read_text(encoding="utf-8")
