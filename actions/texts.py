"""Worker-facing wording that depends on case data (fixed texts live in domain.yml)."""

from __future__ import annotations

from datetime import datetime

from bot.cases.deadlines import UNION_TZ

CATEGORY_NAMES = {
    "unpaid_wages": "欠薪",
    "overtime": "加班",
    "injury": "工伤",
    "dismissal": "辞退",
    "social_insurance": "社保",
}

STATUS_NAMES = {
    "submitted": "已提交，等待工会受理",
    "accepted": "工会已受理",
    "in_progress": "工会正在处理",
    "resolved": "已处理完毕，等您评价",
    "closed": "已结案",
    "withdrawn": "已撤回",
}


def local_time(value: datetime) -> str:
    """A deadline as a worker reads it: 11月24日 18:00 (union time zone)."""
    local = value.astimezone(UNION_TZ)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def yuan(amount: int) -> str:
    return f"{amount:,}元"
