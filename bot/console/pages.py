"""Jinja2 set-up for the console: templates next to the views, filters that turn the
domain's codes and UTC times into what a staffer reads, and the header's live counts."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import func, select

from bot.cases.alerts import StaffAlert
from bot.cases.deadlines import UNION_TZ
from bot.cases.handoffs import Handoff, HandoffStatus
from bot.console import words
from bot.console.auth import STAFF
from bot.db import session_scope
from bot.gateway import Gateway

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

_TABLES = {
    "status": words.STATUS_WORDS, "category": words.CATEGORY_WORDS, "event": words.EVENT_WORDS,
    "outcome": words.OUTCOME_WORDS, "deadline": words.DEADLINE_WORDS, "delivery": words.DELIVERY_WORDS,
    "role": words.ROLE_WORDS, "channel": words.CHANNEL_WORDS, "handoff": words.HANDOFF_WORDS,
    "access": words.ACCESS_WORDS, "action": words.ACTION_LABELS, "intent": words.INTENT_WORDS,
    "deadline_state": {"met": "已按时完成", "cancelled": "已取消", "breached": "已超时", "open": "进行中"},
    "fact": {"period": "拖欠期间", "since": "开始时间", "daily_hours": "每天工时", "overtime_paid": "加班费已付",
             "contract_signed": "签了劳动合同", "commute": "上下班途中", "commuting": "上下班途中",
             "employer_reported": "单位已报工伤", "reported": "单位已报工伤", "dismissal_date": "辞退日期",
             "dismissal_how": "通知方式", "notice": "通知方式", "service_length": "工作年限",
             "service_months": "工作月数", "service_years": "工作年数", "missing_insurance": "没交的险种",
             "missing": "没交的险种", "construction": "工程项目", "construction_project": "工程项目",
             "phone": "联系电话", "monthly_wage": "月工资", "duration": "拖欠时长", "period_owed": "拖欠期间",
             "period_owed_months": "拖欠月数", "secondary_topics": "其他诉求", "days_per_month": "每月上班天数",
             "days_per_week": "每周上班天数", "hours_per_day": "每天工时", "on_the_job": "工作中受伤",
             "police_report": "已报警", "treatment": "治疗情况", "evidence": "证据", "incident_date": "受伤日期",
             "overtime_estimate": "加班费估算", "compensation_estimate": "经济补偿估算"},
}


def word(code: Any, table: str) -> str:
    if code is None:
        return "—"
    if table == "intent" and "+" in str(code):  # several topics: 欠薪 + 社保
        return " + ".join(word(part, table) for part in str(code).split("+"))
    return _TABLES.get(table, {}).get(str(code), str(code))


def fact_value(value: Any) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def localtime(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.astimezone(UNION_TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def countdown(seconds: int | None) -> str:
    if seconds is None:
        return ""
    s = abs(int(seconds))
    d, h, m = s // 86400, (s % 86400) // 3600, (s % 3600) // 60
    text = f"{d} 天 {h} 小时" if d else f"{h} 小时 {m} 分" if h else f"{m} 分钟"
    return f"超时 {text}" if seconds < 0 else f"剩 {text}"


def yuan(value: Any) -> str:
    if value is None:
        return "—"
    return f"{int(value):,} 元"


def filesize(value: int | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return str(value)


def actor_words(actor: str | None) -> str:
    if not actor:
        return ""
    kind, _, name = actor.partition(":")
    return {"staff": f"工作人员 {name}", "worker": "职工", "system": "系统"}.get(kind, actor)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%" if value <= 1 else f"{value:.0f}%"


async def live_counts(gateway: Gateway, staff: Any) -> dict[str, Any]:
    """The header's numbers: unread alerts of the staffer's body, handoffs waiting in scope."""
    async with session_scope(gateway.sessionmaker) as session:
        unread = (await session.execute(select(func.count(StaffAlert.id)).where(
            StaffAlert.org_id == staff.actor.org_id, StaffAlert.id > staff.alerts_seen_id))).scalar_one()
        latest = (await session.execute(select(StaffAlert.text).where(
            StaffAlert.org_id == staff.actor.org_id).order_by(StaffAlert.id.desc()).limit(1))).scalar_one_or_none()
        waiting = (await session.execute(select(func.count(Handoff.id)).where(
            Handoff.org_id.in_(staff.actor.org_ids), Handoff.status == HandoffStatus.WAITING.value))).scalar_one()
    return {"unread": unread, "latest": latest, "waiting": waiting}


def setup_templates(app: web.Application, gateway: Gateway) -> None:
    async def header(request: web.Request) -> dict[str, Any]:
        staff = request.get(STAFF)
        if staff is None:
            return {"staff": None}
        counts = await live_counts(gateway, staff)
        return {"staff": staff, "unread": counts["unread"], "waiting_handoffs": counts["waiting"]}

    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=jinja2.select_autoescape(["html"]),
        context_processors=[header],
    )
    env.filters.update(word=word, fact=fact_value, localtime=localtime, countdown=countdown, yuan=yuan, filesize=filesize,
                       actor=actor_words)
    env.globals.update(pct=pct)
