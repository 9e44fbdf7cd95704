"""What a worker, a staff member or a union body reads for each outbox template. Short and plain.

``WORKER_TEXTS`` go to a worker (``case_*``, and ``staff_message``: a staff member's words)
or to a staff member's linked phone (``staff_alert``); ``ORG_TEXTS`` fill a union body's
notification centre in the console (``org_*``: one per event kind a union body is told of).
"""

from __future__ import annotations

from bot.cases.words import beijing_words

from datetime import datetime
from typing import Any


WORKER_TEXTS = {
    "case_accepted": "您的案件 {number} 已被工会受理，会有专人跟进。",
    "case_started": "您的案件 {number} 工会已开始处理。{note}",
    "case_referred": "您的案件 {number} 已转交 {agency}，对方答复期限 {reply_due}。",
    "case_resumed": "您的案件 {number} 已恢复处理。{note}",
    "case_resolved": "您的案件 {number} 已办结。{note}\n请给这次处理打个分（1–5分，5分最满意），直接回复数字即可。",
    "case_closed": "您的案件 {number} 已结案。谢谢您的信任。",
    "case_reopened": "您的案件 {number} 已重新打开处理。{note}",
    "case_withdrawn": "您的案件 {number} 已撤回。需要时可以随时再找我们。",
    "case_escalated": "您的案件 {number} 没有在时限内得到处理，已自动上报给 {org}，他们会尽快跟进。",
    "case_reassigned": "您的案件 {number} 已改由 {org} 负责。",
    "case_evidence_requested": "您的案件 {number} 需要补充材料：{note}\n直接在这里发照片或文件即可。",
    "case_deadline_breached": "您的案件 {number} 已超过处理时限，我们已督促负责的工会尽快处理。",
    "case_review_decided": "您的案件 {number} 的{note}。",
    # The bot's answer to a turn that could not be answered in the request (web chat).
    "bot_reply": "{text}",
    # A staff member's own words, as they wrote them; the prefix tells them from the bot's.
    "staff_message": "工会工作人员：{text}",
    # An alert on a staff member's linked phone (the text is the console alert's).
    "staff_alert": "【工友助手】{text}",
}

_CASE_OPENED = "{marks}新案件 {number}：{note}"

ORG_TEXTS = {
    "org_opened": _CASE_OPENED,  # what intake produces (event kind "opened")
    "org_case_opened": _CASE_OPENED,
    "org_accepted": "案件 {number} 已受理。{note}",
    "org_started": "案件 {number} 已开始处理。{note}",
    "org_referred": "案件 {number} 已转交 {agency}，答复期限 {reply_due}。",
    "org_resumed": "案件 {number} 已恢复处理。{note}",
    "org_resolved": "案件 {number} 已办结。{note}",
    "org_closed": "案件 {number} 已结案。{note}",
    "org_reopened": "案件 {number} 已重新打开：{note}",
    "org_withdrawn": "案件 {number} 已撤回。{note}",
    "org_escalated": "案件 {number} 已上报至 {org}：{note}",
    "org_reassigned": "案件 {number} 已改派至 {org}：{note}",
    "org_evidence_requested": "案件 {number} 已请职工补充材料：{note}",
    "org_evidence_added": "案件 {number} 收到新材料：{note}",
    "org_deadline_breached": "【超时】案件 {number}：{note}",
    "org_rated": "案件 {number} 职工评价 {score} 分。{note}",
    "org_review_requested": "案件 {number} 职工申请了专家评审。",
    "org_review_decided": "案件 {number} {note}。",
    "org_collective_flagged": "【疑似群体性】案件 {number}：{note}",
    "org_membership_application": "新的入会申请：{name}，{employer}，{city}。",
    "org_handoff_requested": "{marks}职工 {contact}（{channel_name}）请求转人工{case_ref}：{reason}\n请于 {due} 前接手。",
    "org_handoff_escalated": "转人工请求{case_ref}在 {from_org} 超时无人接手，已转至 {org}。职工 {contact}（{channel_name}）：{reason}\n请于 {due} 前接手。",
    "org_handoff_overdue": "【超时】职工 {contact}（{channel_name}）的转人工请求{case_ref}仍无人接手：{reason}\n请尽快接手。",
}

TEXTS = {**WORKER_TEXTS, **ORG_TEXTS}

CHANNEL_WORDS = {"wechat": "微信", "telegram": "Telegram", "webchat": "网页聊天"}
_TIMESTAMP_PARAMS = ("reply_due",)  # stored as ISO 8601 (UTC); shown in union time


def render(template: str, params: dict[str, Any]) -> str:
    """The text for ``template``; unknown templates fall back to a generic line."""
    if template == "turn":  # the bot's replies to one message, as one text
        return "\n".join(r.get("text") or "" for r in params.get("replies") or [] if r.get("text")).strip()
    text = TEXTS.get(template)
    if text is None:
        return f"[{template}] 案件 {params.get('number', '')} {params.get('note', '')}".strip()
    values = {**_derived(params), **{k: ("" if v is None else v) for k, v in params.items()}}
    for key in _TIMESTAMP_PARAMS:
        values[key] = _local_time(values.get(key))
    try:
        return text.format_map(_Missing(values)).strip()
    except (KeyError, ValueError, IndexError):
        return text


def _derived(params: dict[str, Any]) -> dict[str, str]:
    """Words a template may use that are computed from the stored parameters."""
    number, channel = params.get("number"), params.get("channel") or ""
    marks = ("【紧急】" if params.get("urgent") else "") + ("【疑似群体性】" if params.get("collective") else "")
    return {
        "marks": marks,
        "case_ref": f"（案件 {number}）" if number else "",
        "channel_name": CHANNEL_WORDS.get(channel, channel),
    }


def _local_time(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # already words
    if moment.tzinfo is None:
        return value
    return beijing_words(moment)


class _Missing(dict):  # a missing parameter renders empty instead of failing the send
    def __missing__(self, key: str) -> str:
        return ""
