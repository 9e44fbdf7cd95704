"""The NLU inbox as annotators use it: least sure first, labels checked, personal data out
before a message can become training data, who labelled what, and the export in nlu/ format."""

from __future__ import annotations

import re
import uuid

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.errors import InvalidInput
from bot.training.inbox import check_label, do_annotate, do_record_unsure, export_labelled, list_inbox, redact
from bot.training.nludata import parse_example
from tests.cases.factories import T0


def test_personal_data_is_taken_out_before_training() -> None:
    text = "我叫王小明 电话138 1234 5678 身份证330782199001011234 老板欠我工资"
    clean = redact(text)
    assert "王小明" not in clean and "5678" not in clean and "330782" not in clean
    assert clean.startswith("我叫某某") and "老板欠我工资" in clean
    assert redact("欠了我8000块 三个月") == "欠了我8000块 三个月"  # numbers that are no one's stay


def test_labels_are_contract_intents_or_several_topics_in_order() -> None:
    assert check_label("report_social_insurance+report_unpaid_wages") == "report_unpaid_wages+report_social_insurance"
    for bad in ("report_tax", "greet+thank", "report_injury+report_injury", ""):
        with pytest.raises(InvalidInput):
            check_label(bad)


async def test_label_accept_discard_and_export(session: AsyncSession) -> None:
    tag = uuid.uuid4().hex[:6]
    sure = await do_record_unsure(session, text=f"工资{tag}拖了 我叫李四", sender="telegram:1",
                                  ranking=[{"name": "report_unpaid_wages", "confidence": 0.44}], now=T0)
    unsure = await do_record_unsure(session, text=f"那个事{tag}咋整", sender="telegram:2",
                                    ranking=[{"name": "check_case_status", "confidence": 0.21}], now=T0)
    both = await do_record_unsure(session, text=f"欠薪{tag}还不交社保", sender="telegram:3",
                                  ranking=[{"name": "report_social_insurance", "confidence": 0.30}], now=T0)
    junk = await do_record_unsure(session, text=f"asdf{tag}", sender="telegram:4", ranking=[], now=T0)
    mine = [i.id for i in await list_inbox(session) if tag in i.text]
    assert mine == [junk.id, unsure.id, both.id, sure.id]  # least sure first (no guess at all: 0)

    assert await do_annotate(session, ids=[sure.id], action="accept", actor="staff:anno", now=T0) == 1
    assert await do_annotate(session, ids=[both.id], action="label", label="report_unpaid_wages+report_social_insurance",
                             actor="staff:anno", now=T0) == 1
    assert await do_annotate(session, ids=[junk.id, unsure.id], action="discard", actor="staff:anno", now=T0) == 2
    with pytest.raises(InvalidInput):
        await do_annotate(session, ids=[unsure.id], action="accept_all", actor="staff:anno", now=T0)
    assert (sure.status, sure.label, sure.annotated_by) == ("labelled", "report_unpaid_wages", "staff:anno")
    assert "李四" not in sure.training_text and junk.status == "discarded"

    exported = await export_labelled(session)
    data = yaml.safe_load(exported)
    examples = {block["intent"]: block["examples"] for block in data["nlu"]}
    assert f"欠薪{tag}还不交社保" in examples["report_unpaid_wages+report_social_insurance"]
    assert f"工资{tag}拖了 我叫某某" in examples["report_unpaid_wages"]
    assert not re.search(f"asdf{tag}|那个事{tag}", exported)
    parse_example(f"工资{tag}拖了", "report_unpaid_wages")  # the nlu/ reader takes the lines as they are
