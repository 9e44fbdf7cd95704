"""Files the worker sends (photos, voice, documents) as evidence.

The gateway has already stored every file as an evidence item before the message reached
Rasa (``bot/dialogue/pipeline.py``); the message arrives as the ``/send_evidence`` intent
with ``metadata.attachments`` = ``[{"id", "kind", "name", "size"} | {"kind", "refused"}]``.
Here each file is acknowledged one by one, remembered in the ``evidence_files`` slot for
the summary, and — outside intake — added to the worker's open case at once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from sqlalchemy import select

from actions import store
from actions.store import contact_for_tracker
from actions.texts import CATEGORY_NAMES
from bot.cases.evidence import do_attach_evidence
from bot.cases.models import OPEN_STATUSES, Case

KIND_NAMES = {"photo": "照片", "audio": "语音", "video": "视频", "document": "文件", "contract": "合同",
              "payslip": "工资条", "attendance": "考勤记录", "chat_record": "聊天记录",
              "medical_record": "病历", "other": "文件"}
SEND_EVIDENCE = "send_evidence"


def attachments_of(tracker: Tracker) -> list[dict[str, Any]]:
    """The files of the latest message (empty unless the worker just sent some)."""
    files = (tracker.latest_message.get("metadata") or {}).get("attachments") or []
    return [f for f in files if isinstance(f, dict)]


def is_evidence_message(tracker: Tracker) -> bool:
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return intent == SEND_EVIDENCE or bool(attachments_of(tracker))


def acknowledge(dispatcher: CollectingDispatcher, files: list[dict[str, Any]], before: int) -> list[dict[str, Any]]:
    """One line per file, numbered on from ``before``; returns the files that were kept."""
    kept: list[dict[str, Any]] = []
    for item in files:
        what = KIND_NAMES.get(str(item.get("kind")), "文件")
        name = f"「{item['name']}」" if item.get("name") else ""
        if item.get("refused") or item.get("id") is None:
            dispatcher.utter_message(text=f"这个{what}{name}没能保存：{item.get('refused') or '文件有问题'}。请换个方式再发一次。")
            continue
        kept.append({"id": item["id"], "kind": item.get("kind"), "name": item.get("name")})
        dispatcher.utter_message(text=f"收到第 {before + len(kept)} 份证据：{what}{name} ✅")
    return kept


def describe_files(files: list[dict[str, Any]] | None) -> str:
    """"3 份（照片 2、文件 1）" for the summary."""
    if not files:
        return ""
    counts = Counter(KIND_NAMES.get(str(f.get("kind")), "文件") for f in files)
    return f"{len(files)} 份（" + "、".join(f"{k} {n}" for k, n in counts.items()) + "）"


class ReceiveEvidence(Action):
    """Files sent outside intake: added to the worker's latest open case, or kept for the
    case they are about to open."""

    def name(self) -> str:
        return "action_receive_evidence"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        files = attachments_of(tracker)
        if not files:
            dispatcher.utter_message(text="没收到文件。请直接发照片、截图、语音或文件。")
            return []
        held = list(tracker.get_slot("evidence_files") or [])
        async with store.transaction() as session:
            contact = await contact_for_tracker(session, tracker)
            case = (await session.execute(
                select(Case).where(Case.contact_id == contact.id, Case.status.in_(OPEN_STATUSES))
                .order_by(Case.id.desc()).limit(1)
            )).scalar_one_or_none()
            kept = acknowledge(dispatcher, files, 0 if case else len(held))
            if case is not None and kept:
                await do_attach_evidence(session, case=case, evidence_ids=[f["id"] for f in kept],
                                         actor=f"worker:{contact.id}")
        if not kept:
            return []
        if case is not None:
            topic = CATEGORY_NAMES.get(case.category, case.category)
            dispatcher.utter_message(text=f"已经加到您的案件 {case.number}（{topic}）里，负责的工会能看到。")
            return []
        dispatcher.utter_message(
            text="先替您保存好了。登记案件时会一起交给工会。您遇到的是什么事？",
            buttons=[{"title": "工资被拖欠", "payload": "/report_unpaid_wages"},
                     {"title": "加班问题", "payload": "/report_overtime"},
                     {"title": "工伤", "payload": "/report_injury"},
                     {"title": "被辞退", "payload": "/report_dismissal"},
                     {"title": "社保没交", "payload": "/report_social_insurance"}],
        )
        return [SlotSet("evidence_files", held + kept)]
