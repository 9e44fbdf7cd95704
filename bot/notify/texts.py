"""What a worker (or a union body) reads for each outbox template. Short and plain."""

from __future__ import annotations

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
    "case_review_decided": "您的案件 {number} 专家评审已有结果：{note}。",
}


def render(template: str, params: dict[str, Any]) -> str:
    """The text for ``template``; unknown templates fall back to a generic line."""
    text = WORKER_TEXTS.get(template)
    if text is None:
        return f"[{template}] 案件 {params.get('number', '')} {params.get('note', '')}".strip()
    values = {k: ("" if v is None else v) for k, v in params.items()}
    try:
        return text.format_map(_Missing(values)).strip()
    except (KeyError, ValueError):
        return text


class _Missing(dict):  # a missing parameter renders empty instead of failing the send
    def __missing__(self, key: str) -> str:
        return ""
