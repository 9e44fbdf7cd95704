"""The summary the worker confirms, and the evidence checklist per topic (conversations.md)."""

from __future__ import annotations

from typing import Any

from actions.answers import SKIPPED, UNKNOWN
from actions.texts import CATEGORY_NAMES, yuan
from actions.evidence import describe_files
from bot.normalize import parse_amount

LABELS = [
    ("employer", "单位"), ("location", "干活地点"), ("amount", "金额"), ("duration", "拖欠时长"),
    ("headcount", "涉及人数"), ("construction", "工程项目"), ("daily_hours", "工作时间"),
    ("overtime_paid", "加班费"), ("since", "开始时间"), ("incident_date", "受伤日期"),
    ("commute", "上下班途中"), ("employer_reported", "单位已报工伤"), ("dismissal_date", "辞退日期"),
    ("service_length", "工作年限"), ("dismissal_how", "通知方式"), ("missing_insurance", "没交的险种"),
    ("contract_signed", "签了劳动合同"), ("phone", "联系电话"), ("consent_union", "告知单位工会"),
    ("evidence", "证据"),
]

EVIDENCE_CHECKLIST = {
    "unpaid_wages": "能证明在这干活的（合同、工牌、考勤、工作群聊天、工服照片、工友证人），能证明欠多少的"
                    "（工资条、银行流水、欠条或结算单、老板承认欠钱的聊天或录音），还有您讨要工资的记录。",
    "overtime": "打卡记录或截图、排班表、工作群里的加班通知、没有加班费的工资条；骑手和司机可以截平台的接单记录。",
    "injury": "病历和医药费票据、诊断证明、目击工友、能证明在这干活的材料；上下班路上的事故要交警的事故认定书。",
    "dismissal": "辞退通知或聊天记录、录音，劳动合同，工资流水，能证明入职时间的材料。",
    "social_insurance": "劳动合同或其他能证明在这干活的材料，社保缴费记录（社保App截图），工资流水。",
}


def fact_text(slot: str, slots: dict[str, Any]) -> str:
    """The value of ``slot`` as the worker reads it in the summary."""
    return _value(slot, slots.get(slot), slots)


def _value(slot: str, value: Any, slots: dict[str, Any]) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value == UNKNOWN:
        return "不清楚"
    if value == SKIPPED and slot not in ("phone", "evidence"):
        return "未说明"
    if slot == "amount":
        amount = slots.get("amount_yuan") or parse_amount(str(value))
        if amount:
            return yuan(int(amount)) + (f"（您写的是「{value}」）" if not str(value).isdigit() else "")
    if slot == "phone" and value == "skipped":
        return "不留"
    if slot == "phone":
        return f"{value[:3]}****{value[-4:]}"
    if slot == "evidence":
        files = describe_files(slots.get("evidence_files"))
        if value in ("skipped", "sent"):
            return f"已收到 {files}" if files else "以后再补充"
        return f"已收到 {files}；{value}" if files else str(value)
    return str(value)


def summary_text(slots: dict[str, Any], shown: list[str]) -> str:
    """The facts in ``shown`` (the topic's questions) as the worker will see them on the case."""
    topic = CATEGORY_NAMES.get(slots.get("topic") or "", "")
    lines = [f"请核对一下（{topic}），没问题就点「确认提交」："]
    for slot, label in LABELS:
        value = slots.get(slot)
        if slot not in shown or value is None or value == "":
            continue
        if slot == "amount" and slots.get("topic") in ("dismissal", "overtime", "social_insurance"):
            label = "月工资"
        lines.append(f"· {label}：{_value(slot, value, slots)}")
    return "\n".join(lines)
