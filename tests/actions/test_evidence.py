"""Files sent as evidence: acknowledged one by one, kept through the form, on the case.

The gateway has stored each file before Rasa sees the message (tests/web); here the
actions get ``metadata.attachments`` as the gateway sends it, with a real case store."""

from __future__ import annotations

import uuid
from pathlib import Path

from rasa_sdk.executor import CollectingDispatcher

from actions import store
from actions.cases import OpenCase
from actions.dispute_form import ValidateDisputeForm
from actions.dispute_steps import AskConfirmed, AskEvidence
from actions.evidence import ReceiveEvidence
from bot.cases.evidence import EvidenceItem, do_add_evidence
from bot.cases.messages import get_or_create_contact
from bot.cases.queries import get_case_detail_or_raise
from tests.actions.test_dispute_form import DOMAIN, set_slots, tracker

PHOTO = b"\xff\xd8\xff\xe0 payslip"


async def stored_files(sender: str, tmp_path: Path, *names: str) -> list[dict]:
    """What the gateway puts in metadata.attachments after storing the files."""
    async with store.transaction() as session:
        contact = await get_or_create_contact(session, channel="webchat", external_id=sender.split(":", 1)[1])
        items = [await do_add_evidence(session, evidence_dir=tmp_path, contact_id=contact.id,
                                       data=PHOTO + name.encode(), kind="photo", source=f"webchat:{name}",
                                       original_filename=name) for name in names]
        return [{"id": i.id, "kind": "photo", "name": i.original_filename, "size": i.size} for i in items]


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("text") or "" for m in dispatcher.messages]


async def test_photos_mid_form_are_acknowledged_one_by_one_and_the_question_stays_open(
    case_store: str, tmp_path: Path
) -> None:
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    files = await stored_files(sender, tmp_path, "工资条.jpg", "欠条.jpg")
    dispatcher = CollectingDispatcher()
    events = await ValidateDisputeForm().run(dispatcher, tracker(
        "/send_evidence", sender=sender, intent="send_evidence", requested_slot="location",
        slots={"topic": "unpaid_wages", "employer": "鑫达电子厂"}, metadata={"attachments": files}), DOMAIN)
    assert texts(dispatcher) == ["收到第 1 份证据：照片「工资条.jpg」 ✅", "收到第 2 份证据：照片「欠条.jpg」 ✅"]
    slots = set_slots(events)
    assert [f["id"] for f in slots["evidence_files"]] == [f["id"] for f in files]
    assert "location" not in slots  # "/send_evidence" is not an answer to "where do you work"

    # more later: numbering goes on; a refused file is named with its reason
    more = CollectingDispatcher()
    events = await ValidateDisputeForm().run(more, tracker(
        "/send_evidence", sender=sender, intent="send_evidence", requested_slot="evidence",
        slots={"topic": "unpaid_wages", "evidence_files": slots["evidence_files"]},
        metadata={"attachments": [{"kind": "video", "name": "大.mp4", "refused": "evidence file larger than 50 MB"},
                                  *(await stored_files(sender, tmp_path, "聊天.png"))]}), DOMAIN)
    assert texts(more)[0].startswith("这个视频「大.mp4」没能保存：evidence file larger than 50 MB")
    assert texts(more)[1] == "收到第 3 份证据：照片「聊天.png」 ✅"
    assert len(set_slots(events)["evidence_files"]) == 3

    # while the evidence question is open the worker is told to go on, not shown the checklist again
    ask = CollectingDispatcher()
    await AskEvidence().run(ask, tracker("/send_evidence", intent="send_evidence", metadata={"attachments": files}), DOMAIN)
    assert "接着发" in ask.messages[0]["text"] and ask.messages[0]["buttons"][0]["title"] == "发完了"


async def test_done_sending_shows_the_files_in_the_summary_and_they_land_on_the_case(
    case_store: str, tmp_path: Path
) -> None:
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    files = await stored_files(sender, tmp_path, "a.jpg", "b.jpg")
    done = await ValidateDisputeForm().run(CollectingDispatcher(), tracker(
        "发完了", sender=sender, requested_slot="evidence",
        slots={"topic": "unpaid_wages", "evidence": "发完了", "evidence_files": files}), DOMAIN)
    assert set_slots(done)["evidence"] == "sent"

    slots = {"topic": "unpaid_wages", "employer": "某某服饰厂", "location": "义乌稠江街道", "amount": "5000",
             "amount_yuan": 5000.0, "phone": "skipped", "evidence": "sent", "evidence_files": files,
             "dispute_text": "欠了两个月工资", "confirmed": True}
    summary = CollectingDispatcher()
    await AskConfirmed().run(summary, tracker("跳过", slots=slots, sender=sender), DOMAIN)
    assert "证据：已收到 2 份（照片 2）" in summary.messages[0]["text"]

    opened = CollectingDispatcher()
    events = await OpenCase().run(opened, tracker("确认", slots=slots, sender=sender, intent="affirm"), DOMAIN)
    number = set_slots(events)["case_number"]
    async with store.transaction() as session:
        detail = await get_case_detail_or_raise(session, number=number)
    added = [e["data"]["evidence_id"] for e in detail["events"] if e["kind"] == "evidence_added"]
    assert added == [f["id"] for f in files]


async def test_photos_sent_later_go_onto_the_open_case(case_store: str, tmp_path: Path) -> None:
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    slots = {"topic": "injury", "employer": "某某五金厂", "location": "义乌佛堂镇", "incident_date": "2026-11-01",
             "commute": False, "employer_reported": False, "dispute_text": "手被冲床压了", "phone": "skipped",
             "evidence": "skipped", "confirmed": True}
    events = await OpenCase().run(CollectingDispatcher(), tracker("确认", slots=slots, sender=sender, intent="affirm"), DOMAIN)
    number = set_slots(events)["case_number"]

    files = await stored_files(sender, tmp_path, "病历.jpg")
    dispatcher = CollectingDispatcher()
    await ReceiveEvidence().run(dispatcher, tracker("/send_evidence", sender=sender, intent="send_evidence",
                                                     metadata={"attachments": files}), DOMAIN)
    assert texts(dispatcher)[0] == "收到第 1 份证据：照片「病历.jpg」 ✅"
    assert number in texts(dispatcher)[1]
    async with store.transaction() as session:
        item = await session.get_one(EvidenceItem, files[0]["id"])
        detail = await get_case_detail_or_raise(session, number=number)
    assert item.case_id is not None
    assert any(e["kind"] == "evidence_added" and e["note"] == "病历.jpg" for e in detail["events"])


async def test_photos_before_any_case_are_kept_for_it_and_the_topics_offered(case_store: str, tmp_path: Path) -> None:
    sender = f"webchat:{uuid.uuid4().hex[:8]}"
    files = await stored_files(sender, tmp_path, "工资条.jpg")
    dispatcher = CollectingDispatcher()
    events = await ReceiveEvidence().run(dispatcher, tracker("/send_evidence", sender=sender, intent="send_evidence",
                                                              metadata={"attachments": files}), DOMAIN)
    assert "保存" in texts(dispatcher)[1]
    assert "/report_unpaid_wages" in [b["payload"] for b in dispatcher.messages[1]["buttons"]]
    assert set_slots(events)["evidence_files"] == [{"id": files[0]["id"], "kind": "photo", "name": "工资条.jpg"}]
