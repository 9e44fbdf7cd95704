"""The one table of words for the case domain's codes: what the bot tells a worker, what the
console and the exports show, what the command line prints. Nothing else spells them.

Dates and times told to people are in Beijing time (the unions' own), in words.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")

CATEGORY_WORDS = {
    "unpaid_wages": "欠薪", "overtime": "加班", "injury": "工伤", "dismissal": "辞退",
    "social_insurance": "社保",
}

# Short, for lists and tables.
STATUS_WORDS = {
    "submitted": "已提交", "accepted": "已受理", "in_progress": "处理中", "referred": "已转交外部机构",
    "resolved": "已办结", "closed": "已结案", "withdrawn": "已撤回",
}

# Whole, for the worker asking where their case stands.
STATUS_SENTENCES = {
    "submitted": "已提交，等待工会受理",
    "accepted": "工会已受理",
    "in_progress": "工会正在处理",
    "referred": "已转交外部机构处理，工会在跟进",
    "resolved": "已处理完毕，等您评价",
    "closed": "已结案",
    "withdrawn": "已撤回",
}

OUTCOME_WORDS = {
    "paid_in_full": "已全额支付", "paid_in_part": "已部分支付", "instalment_agreement": "达成分期协议",
    "referred_to_arbitration": "转劳动仲裁", "referred_to_labour_inspection": "转劳动监察",
    "withdrawn": "职工撤回", "not_substantiated": "经核实不成立",
}


def beijing_words(moment: datetime | date | str | None, *, with_year: bool | None = None) -> str:
    """A time as people here say it: 12月7日 08:30 (Beijing time); the year only when it is
    not this year's (or ``with_year``). A date alone: 12月7日. None: "—"."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    now = datetime.now(BEIJING)
    if isinstance(moment, datetime):
        local = moment.astimezone(BEIJING) if moment.tzinfo else moment.replace(tzinfo=BEIJING)
        year = local.year != now.year if with_year is None else with_year
        return f"{f'{local.year}年' if year else ''}{local.month}月{local.day}日 {local:%H:%M}"
    year = moment.year != now.year if with_year is None else with_year
    return f"{f'{moment.year}年' if year else ''}{moment.month}月{moment.day}日"
