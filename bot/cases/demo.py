"""Demo data: the union organisation of Yiwu (义乌) and a few dozen historical cases, so a
fresh `make run` has union bodies to route to and statistics with something true to show.

The organisation is data, ``hierarchy_yiwu.yml``, loaded by the hierarchy import every
union's own file goes through (``python -m bot orgs import``). Every case is opened and
moved through the real domain functions (intake, workflow, review) in time order across all
cases, so timelines, deadlines, collective flags and outbox rows are what real use would
leave.

Idempotent: the import creates only what is missing and changes nothing that matches; users,
expert log-ins and calendar days are created only when missing (by name or key); a case is
replayed only when no case carries its ``source_key`` (``demo:NN``). A second run creates
nothing. The history goes only into a case store without real cases: made-up cases would
otherwise be flagged collective with real ones and counted in their statistics.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.deadlines import UNION_TZ
from bot.cases.errors import InvalidInput
from bot.cases.hierarchy import Hierarchy, do_import_hierarchy, read_hierarchy
from bot.cases.intake import CaseDraft, do_open_case
from bot.cases.messages import get_or_create_contact
from bot.cases.models import Case, Org
from bot.cases.org_models import CalendarDay, Expert, OrgKind, Role, StaffUser
from bot.cases.outbox import OutboxMessage, OutboxStatus
from bot.cases.review import do_cast_vote, do_rate, do_request_review
from bot.cases.workflow import (
    do_accept, do_close, do_escalate, do_reassign, do_refer, do_request_evidence, do_resolve,
    do_resume, do_start, do_withdraw,
)
from bot.db import utcnow

SEED = 3  # issue #3: the same `now` always gives the same history
CITY_CODE = "city"
SOURCE_PREFIX = "demo:"

# ---------------------------------------------------------------------------------------
# The organisation is data (hierarchy_yiwu.yml), loaded through the same import as any
# union's own file. Staff accounts, expert log-ins and the calendar are the demo's own.

HIERARCHY_FILE = Path(__file__).with_name("hierarchy_yiwu.yml")

STAFF_NAMES = (
    "王建华 李丽娟 张志刚 刘海燕 陈国平 杨晓东 黄春梅 赵伟民 吴静 周红英 徐立新 孙秀兰 马明 朱亚萍 胡永强 "
    "郭玉芳 何俊杰 林雪梅 罗德胜 高建军 梁晓红 宋卫东 郑小燕 谢国庆 韩冬梅 唐志明 冯丽华 于海波 董建平 萧文静 "
    "程立伟 曹慧敏 袁志华 邓雅琴"
).split()

# 2026 public holidays and make-up working days (调休), from 国务院办公厅关于2026年部分节假日
# 安排的通知 (4 Nov 2025, via Xinhua). Later years must be added when they are announced.
HOLIDAYS_2026 = [
    ("元旦", date(2026, 1, 1), 3, [date(2026, 1, 4)]),
    ("春节", date(2026, 2, 15), 9, [date(2026, 2, 14), date(2026, 2, 28)]),
    ("清明节", date(2026, 4, 4), 3, []),
    ("劳动节", date(2026, 5, 1), 5, [date(2026, 5, 9)]),
    ("端午节", date(2026, 6, 19), 3, []),
    ("中秋节", date(2026, 9, 25), 3, []),
    ("国庆节", date(2026, 10, 1), 7, [date(2026, 9, 20), date(2026, 10, 10)]),
]

# ---------------------------------------------------------------------------------------
# The history: what workers told us, and what became of it.


@dataclass(frozen=True)
class Story:
    """One historical case. ``path`` says how far it got (see AGE_DAYS); the rest is what
    the worker said and, for finished cases, the outcome, rating and review."""

    category: str
    employer: str  # as the worker wrote it
    location: str
    path: str
    worker: str  # display name on the channel
    text: str  # what happened, in the worker's words
    channel: str = "wechat"
    amount: int | None = None
    amount_text: str | None = None
    headcount: int | None = None
    hometown: str | None = None
    consent: bool = False
    facts: dict[str, Any] = field(default_factory=dict)
    injured_days: int | None = None  # the injury happened this many days before the case
    outcome: str | None = None
    score: int | None = None
    review: str | None = None  # uphold | redo | tie
    redo_outcome: str | None = None
    escalate: str | None = None  # reason given by staff
    reassign: tuple[str, str] | None = None  # (org code, why)
    agency: str | None = None  # referred to this agency before an ordinary outcome
    withdraw_note: str | None = None


W, O, I, D, S = "unpaid_wages", "overtime", "injury", "dismissal", "social_insurance"
ARBITRATION, INSPECTION = "义乌市劳动人事争议仲裁院", "义乌市劳动保障监察大队"
INJURY_OFFICE = "义乌市人力资源和社会保障局工伤认定窗口"

STORIES = [
    Story(W, "鑫达电子厂", "义乌稠江街道", "closed", "阿强",
          "老板拖了两个月工资没发，一共八千六，问了几次都说等货款",
          amount=8600, amount_text="八千六", hometown="江西上饶", consent=True,
          facts={"period_owed": "两个月"}, outcome="paid_in_full", score=5),
    Story(W, "宏远建设的工地", "佛堂镇", "closed", "老杨",
          "工地上二十多个人干了四个月，包工头跑了，工钱一分没拿到",
          amount=460000, amount_text="四十六万左右", headcount=23, hometown="贵州毕节",
          facts={"construction_project": True, "period_owed": "四个月"},
          outcome="instalment_agreement", score=4),
    Story(O, "蓝海无缝", "苏溪镇", "working", "小周",
          "每天上班12个小时，一个月只休两天，加班费从来没算过",
          headcount=15, hometown="河南周口",
          facts={"hours_per_day": 12, "days_per_week": 7, "overtime_paid": False}),
    Story(I, "美途工艺品厂", "佛堂", "referred", "小龙",
          "冲床压伤了左手两根手指，老板只给了两千块就不管了，也没报工伤",
          channel="telegram", hometown="贵州遵义", injured_days=3,
          facts={"on_the_job": True, "reported": False}),
    Story(D, "恒泰制衣厂", "北苑街道", "closed", "芳芳",
          "干了三年，主管微信上说明天不用来了，没有任何补偿",
          amount=15600, amount_text="三个月工资", hometown="四川达州",
          facts={"service_years": 3, "notice": "微信"}, outcome="paid_in_part", score=4),
    Story(S, "华丰饰品厂", "稠城街道", "closed", "李姐",
          "进厂两年了一直没给交社保，说交了工资就少了",
          consent=True, facts={"missing": "全部", "since": "入职起"}, outcome="paid_in_full", score=5),
    Story(W, "顺捷物流", "江东街道", "accepted_late", "阿辉",
          "仓库分拣，上个月工资拖着不发，三千八",
          amount=3800, amount_text="三千八", hometown="江西赣州"),
    Story(O, "顺捷快运", "江东", "referred", "小马",
          "双十一前后天天加班到凌晨，加班费一分没有",
          channel="webchat", facts={"hours_per_day": 14, "overtime_paid": False}),
    Story(W, "顺捷物流", "义乌江东街道", "working", "大刘",
          "我们几个装卸工的工钱都拖了，我的是五千二",
          amount=5200, amount_text="五千二", headcount=4, hometown="河南信阳"),
    Story(I, "新光塑料厂", "北苑", "closed", "小陈",
          "注塑机烫伤右臂，住院一个星期，厂里说是我自己不小心",
          amount=12000, amount_text="医药费一万二", hometown="江西赣州", injured_days=5,
          facts={"on_the_job": True, "treatment": "住院7天"}, outcome="paid_in_full", score=4,
          agency=INJURY_OFFICE),
    Story(D, "喜悦电商", "江东街道", "closed", "小雨",
          "怀孕了被辞退，说我影响工作",
          channel="webchat", amount=20000, amount_text="两万", facts={"service_years": 1},
          outcome="referred_to_arbitration", score=3, escalate="企业负责人两次约谈均不到场，提请街道总工会协调"),
    Story(S, "速达快递", "稠城", "referred_late", "阿军",
          "快递员都没交社保，出了事谁管",
          headcount=6, hometown="河南信阳", facts={"missing": "全部", "contract_signed": False}),
    Story(W, "张老板的装修队", "义乌", "closed", "老王",
          "跟着张老板做装修，欠我六千五，电话也不接了",
          channel="telegram", amount=6500, amount_text="六千五", outcome="paid_in_part", score=3,
          reassign=("st-fotang", "经核实装修工地在佛堂镇")),
    Story(O, "金诚袜厂", "苏溪镇", "closed", "小燕",
          "一个月要上28天班，周末加班按平时算",
          facts={"days_per_month": 28}, outcome="not_substantiated", score=2, review="uphold"),
    Story(I, "宏达五金厂", "佛堂镇", "closed", "阿峰",
          "下班骑电动车回家被车撞了，厂里说上下班路上不算工伤",
          amount=30000, amount_text="三万左右", hometown="四川南充", injured_days=10,
          facts={"commuting": True, "police_report": True}, outcome="paid_in_full", score=5,
          agency=INJURY_OFFICE),
    Story(D, "天成印刷厂", "北苑街道", "stale", "老张",
          "厂里说要搬迁，让我们签自愿离职，不签就扣工资",
          consent=True, facts={"service_years": 6}),
    Story(S, "昌盛家居", "佛堂", "referred_late", "刘大姐",
          "工厂要搬去外地，十几个人的社保断了三个月",
          headcount=12, hometown="贵州毕节", facts={"missing": "三个月", "since": "8月"}),
    Story(W, "红太阳酒楼", "稠城街道", "withdrawn", "小丽",
          "在酒楼做服务员，离职后最后一个月工资三千二不给",
          amount=3200, amount_text="三千二", withdraw_note="老板已经把钱转给我了，不用麻烦了，谢谢"),
    Story(O, "欣荣玩具厂", "经济开发区", "closed", "小吴",
          "赶圣诞订单连续上了一个月班，一天没休",
          channel="webchat", amount=2400, amount_text="两千四", facts={"days_per_week": 7},
          outcome="paid_in_part", score=4),
    Story(I, "锦绣化妆品厂", "江东街道", "closed", "阿梅",
          "搬货时腰扭伤了，医生说腰椎间盘突出，厂里不承认",
          consent=True, hometown="江西九江", injured_days=7, outcome="not_substantiated", score=1,
          review="redo", redo_outcome="paid_in_part", amount=8000, amount_text="八千"),
    Story(D, "晨光保安", "稠城街道", "closed", "老赵",
          "保安公司说合同到期不续了，我干了五年，一分补偿都没有",
          amount=25000, amount_text="两万五", facts={"service_years": 5}, outcome="paid_in_full",
          score=5),
    Story(S, "诚信纸箱厂", "苏溪", "accepted", "小何",
          "社保只交了养老，工伤保险没交，现在受伤了怎么办",
          channel="telegram", facts={"missing": "工伤保险"}),
    Story(W, "佳禾拉链厂", "稠江街道", "closed", "阿芬",
          "计件工资少算了一千多，找主管他说以机器记录为准",
          amount=1300, amount_text="一千多", consent=True, outcome="paid_in_full", score=4),
    Story(W, "义乌市金诚针织有限公司", "苏溪镇", "resolved", "小徐",
          "离职三个月了，押的一个月工资四千五还没退",
          amount=4500, amount_text="四千五", consent=True, hometown="河南周口", outcome="paid_in_full",
          escalate="企业以财务未结算为由一再拖延，提请片区工委协调"),
    Story(O, "某电商仓库", "北苑街道", "new", "小宋",
          "仓库天天加班到十一点，说是自愿加班",
          channel="webchat"),
    Story(I, "恒泰服饰", "北苑街道", "new", "阿兰",
          "裁床把手割伤了，缝了八针，想知道能不能算工伤",
          consent=True, injured_days=2, facts={"on_the_job": True}),
    Story(D, "义乌市新光塑料制品有限公司", "北苑", "stale", "小韩",
          "试用期最后一天被辞退，说我不符合录用条件",
          channel="telegram", amount=4800, amount_text="四千八"),
    Story(S, "鑫达电子", "义乌稠江街道", "closed", "小邓",
          "入职半年了合同没签，社保也没交",
          amount=9000, amount_text="九千", facts={"contract_signed": False},
          outcome="instalment_agreement", score=4),
    Story(W, "美途工艺", "佛堂镇", "working_late", "阿秀",
          "做了两个月手工活，老板说货没卖出去，工钱先欠着",
          amount=7200, amount_text="七千二", hometown="贵州毕节", escalate="片区工委多次约谈未果，提请镇总工会协调"),
    Story(O, "新光塑料厂", "北苑街道", "withdrawn", "小唐",
          "两班倒，每天十二小时，请假还要扣全勤",
          withdraw_note="已经辞职了，不想再追究了"),
    Story(I, "宏远工地", "佛堂镇", "closed", "老郭",
          "从脚手架上摔下来骨折了，包工头垫了点钱就不见人了",
          amount=50000, amount_text="五万左右", consent=True, hometown="河南周口", injured_days=20,
          facts={"on_the_job": True, "construction_project": True}, outcome="paid_in_part", score=2,
          review="tie"),
    Story(D, "蓝海针织厂", "苏溪镇", "working", "阿勇",
          "车间主任骂人，我顶了一句就让我走人，工资也不结",
          amount=6000, amount_text="六千"),
    Story(S, "喜悦网店", "江东街道", "closed", "小琴",
          "公司让我们签了自愿放弃社保的声明",
          channel="webchat", headcount=5, hometown="江西九江", outcome="paid_in_full", score=5),
    Story(W, "速达网点", "稠城街道", "closed", "阿亮",
          "快递派件费被扣了两千多，说是罚款",
          amount=2300, amount_text="两千多", outcome="paid_in_part", score=3),
    Story(O, "华丰饰品", "稠城街道", "resolved", "小梁",
          "每天十一个小时，周六也上班，加班费按最低工资算",
          facts={"hours_per_day": 11, "days_per_week": 6}, outcome="referred_to_labour_inspection"),
    Story(I, "诚信包装厂", "苏溪镇", "closed", "阿彬",
          "切纸机切到手指，厂里说没买工伤保险让我自己出医药费",
          amount=9800, amount_text="九千八", hometown="贵州遵义", injured_days=40, outcome="paid_in_full"),
    Story(D, "鑫达电子厂", "经济开发区", "closed", "老曹",
          "厂里裁员，说给N的补偿，结果只给了一半",
          channel="telegram", amount=18000, amount_text="一万八", consent=True,
          facts={"service_years": 4}, outcome="paid_in_part"),
    Story(S, "佳禾拉链", "稠江", "withdrawn_early", "小袁",
          "社保基数按最低工资交的，跟实际工资差太多",
          withdraw_note="我先自己再和厂里谈谈"),
    Story(W, "某服装加工点", "江东街道", "resolved", "阿珍",
          "小作坊老板欠我们四个人工资一万多",
          channel="webchat", amount=12000, amount_text="一万多", headcount=4, hometown="四川达州",
          outcome="paid_in_full"),
    Story(O, "顺丰", "义乌福田街道", "new", "小潘",
          "快递分拣中心每天工作十三个小时",
          channel="telegram", facts={"hours_per_day": 13}),
]

# Days before `now` a case on each path was opened. The ranges keep deadlines honest on any
# calendar: 1 working day is 24 h to ~10 days, 2 working days ≥ 48 h, 10 working days ≥ 14
# days, 15 working days ≤ ~30 days. Fresh open cases are inside their deadlines, *_late and
# stale ones past them (the scheduler escalates those when it next runs).
AGE_DAYS = {
    "new": (0.1, 0.75), "stale": (12, 20), "accepted": (1.1, 1.8), "accepted_late": (20, 30),
    "working": (3, 7), "working_late": (35, 55), "referred": (4, 8), "referred_late": (40, 60),
    "resolved": (14, 30), "closed": (20, 88), "reviewed": (40, 88), "withdrawn": (10, 60),
    "withdrawn_early": (3, 30),
}

START_NOTES = {
    W: "已电话联系企业负责人核实欠薪情况",
    O: "已约企业人事了解排班和加班费计算",
    I: "已联系企业了解事故经过和治疗情况",
    D: "已约企业人事了解解除劳动合同的理由",
    S: "已联系企业核实社保缴纳情况",
}
EVIDENCE_NOTES = {
    W: "请补充考勤记录、工资条或银行流水，能证明欠薪金额的聊天记录也可以",
    O: "请补充打卡记录截图和工资条，排班表或群里的加班通知也可以",
    I: "请补充病历、医药费票据和诊断证明，以及能证明在该厂上班的材料",
    D: "请补充辞退通知（或聊天记录、录音）、劳动合同和近几个月的工资记录",
    S: "请在社保APP查询缴费记录并截图，以及劳动合同或其他上班证明",
}
RESOLVE_NOTES = {
    "paid_in_full": "经调解，企业已按诉求足额支付",
    "paid_in_part": "经调解双方达成协议，企业支付了部分款项",
    "instalment_agreement": "双方签订分期支付协议，首期款项已到账",
    "referred_to_arbitration": "调解未成，已协助职工向仲裁院申请劳动仲裁并提供法律援助",
    "referred_to_labour_inspection": "已移交劳动保障监察大队立案查处，工会继续跟进",
    "not_substantiated": "经核实企业做法符合规定，已向职工解释相关法律条文",
}
RATING_COMMENTS = {
    5: "工会的同志很负责，钱拿到了，谢谢！",
    4: "处理得挺快，就是中间等了几天",
    3: "拿回来一部分，还行吧",
    2: "拖了好久，结果也不满意",
    1: "根本没帮我解决问题",
}


# ---------------------------------------------------------------------------------------
# Entry point


async def do_seed_demo(
    session: AsyncSession, *, now: datetime | None = None, history: bool = True
) -> int:
    """Create whatever demo data is missing; returns how many union bodies were created.

    ``now`` is the reference time the history is laid out before (default: the clock).
    ``history=False`` loads only the organisation (the history takes a few seconds).

    Raises:
        InvalidInput: the store holds another union's hierarchy (its own city federation),
            which the demo must not be mixed into.
    """
    created, orgs = await _seed_organisation(session)
    staff = await _seed_staff(session, orgs)
    experts = await _seed_expert_logins(session, orgs)
    await _seed_calendar(session)
    if history:
        now = (now or utcnow()).replace(microsecond=0)
        await _seed_history(session, now=now, orgs=orgs, staff=staff, experts=experts)
    return created


# ---------------------------------------------------------------------------------------
# The organisation, staff and calendar


@functools.cache
def yiwu_hierarchy() -> Hierarchy:
    """The demo organisation as read from ``hierarchy_yiwu.yml`` (immutable, read once)."""
    return read_hierarchy(HIERARCHY_FILE)


async def _seed_organisation(session: AsyncSession) -> tuple[int, dict[str, Org]]:
    """Import the demo hierarchy; returns bodies created and every org by code."""
    report = await do_import_hierarchy(session, data=yiwu_hierarchy())
    if not report.ok:
        raise InvalidInput(f"the demo organisation cannot be loaded into this store:\n{report.format()}")
    orgs = {org.code: org for org in (await session.execute(select(Org))).scalars()}
    return report.counts["bodies"].created, orgs


def staff_rows() -> list[tuple[str, str, str]]:
    """(username, org code, role): an admin at the city, one worker for every union body."""
    role = {OrgKind.COMPANY.value: Role.COMPANY_REP.value,
            OrgKind.LIAISON.value: Role.LIAISON.value}
    bodies = yiwu_hierarchy().bodies
    rows = [("city.admin", CITY_CODE, Role.ADMIN.value), ("city.annotator", CITY_CODE, Role.ANNOTATOR.value)]
    for body in bodies:
        kind_role = role.get(body.kind, Role.STAFF.value)
        rows.append((f"{body.code}.{kind_role}", body.code, kind_role))
    # each district working committee has an admin who reads its access log
    rows += [(f"{b.code}.org_admin", b.code, Role.ORG_ADMIN.value)
             for b in bodies if b.kind == OrgKind.DISTRICT.value]
    return rows


# One demo account per role that `make run` gives a password (printed, kept in var/):
# the city's system admin, a district's org admin, staff of a street and of a 片区, an expert,
# the annotator of the NLU inbox.
DEMO_LOGINS = (
    ("admin", "city.admin"),
    ("org_admin", "dist-nanbu.org_admin"),
    ("staff", "st-choujiang.staff"),
    ("staff", "pq-kaifaqu.staff"),
    ("expert", "expert1"),
    ("annotator", "city.annotator"),
)


async def do_set_demo_passwords(session: AsyncSession, *, passwords: dict[str, str]) -> None:
    """Give the demo accounts named in ``passwords`` (username → password) that password.

    Only `make run` calls this, on demo data; no other path creates an account with a
    password known outside the database.
    """
    from bot.cases.staff import hash_password, verify_password

    users = (await session.execute(select(StaffUser).where(StaffUser.username.in_(list(passwords))))).scalars()
    for user in users:
        if not verify_password(passwords[user.username], user.password_hash):
            user.password_hash = hash_password(passwords[user.username])


async def _seed_staff(session: AsyncSession, orgs: dict[str, Org]) -> dict[int, str]:
    """Create missing staff users; returns org id → the username that acts for it."""
    known = set((await session.execute(select(StaffUser.username))).scalars())
    acting: dict[int, str] = {}
    for i, (username, code, role) in enumerate(staff_rows()):
        if username not in known:
            session.add(StaffUser(username=username, display_name=STAFF_NAMES[i % len(STAFF_NAMES)],
                                  org_id=orgs[code].id, role=role, password_hash=None))
        if role != Role.ADMIN.value:
            acting[orgs[code].id] = username
    await session.flush()
    return acting


async def _seed_expert_logins(session: AsyncSession, orgs: dict[str, Org]) -> list[int]:
    """An expert log-in (expert1, expert2 …) for each pool member of the demo file that has
    none; returns the members' ids in file order."""
    names = [entry.name for entry in yiwu_hierarchy().experts]
    experts = {e.name: e for e in (await session.execute(select(Expert).where(Expert.name.in_(names)))).scalars()}
    users = {u.username: u for u in (await session.execute(select(StaffUser))).scalars()}
    for i, name in enumerate(names, start=1):
        if experts[name].staff_user_id is not None:
            continue
        user = users.get(f"expert{i}")
        if user is None:
            user = StaffUser(username=f"expert{i}", display_name=name, org_id=orgs[CITY_CODE].id,
                             role=Role.EXPERT.value, password_hash=None)
            session.add(user)
            await session.flush()
        experts[name].staff_user_id = user.id
    await session.flush()
    return [experts[name].id for name in names]


def calendar_days() -> list[tuple[date, bool, str]]:
    days = []
    for name, first, length, workdays in HOLIDAYS_2026:
        days += [(first + timedelta(days=n), False, name) for n in range(length)]
        days += [(day, True, f"{name}调休上班") for day in workdays]
    return days


async def _seed_calendar(session: AsyncSession) -> None:
    have = set((await session.execute(select(CalendarDay.day))).scalars())
    session.add_all(
        CalendarDay(day=d, working=w, name=n) for d, w, n in calendar_days() if d not in have
    )
    await session.flush()


# ---------------------------------------------------------------------------------------
# History: plan every step of every story (pure), then replay all steps in time order.


@dataclass(frozen=True, order=True)
class Step:
    at: datetime
    story: int
    seq: int
    action: str = field(compare=False)
    args: dict[str, Any] = field(compare=False, default_factory=dict)


class _Timeline:
    """The steps of one story as hours after its opening."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.hours = rng, 0.0
        self.steps: list[tuple[float, str, dict[str, Any]]] = [(0.0, "open", {})]

    def add(self, low: float, high: float, action: str, **args: Any) -> None:
        self.hours += self.rng.uniform(low, high)
        self.steps.append((self.hours, action, args))


def plan_history(now: datetime) -> list[Step]:
    """Every step of every story, timed before ``now`` and sorted by time (deterministic)."""
    rng = random.Random(SEED)
    steps: list[Step] = []
    for index, story in enumerate(STORIES):
        timeline = _plan_story(story, rng)
        low, high = AGE_DAYS["reviewed" if story.review else story.path]
        age_hours = max(rng.uniform(low, high) * 24, timeline.hours + rng.uniform(2, 24))
        opened = now - timedelta(minutes=round(age_hours * 60))
        steps += [
            Step(opened + timedelta(minutes=round(hours * 60)), index, seq, action, args)
            for seq, (hours, action, args) in enumerate(timeline.steps)
        ]
    return sorted(steps)


def _plan_story(story: Story, rng: random.Random) -> _Timeline:
    timeline = _Timeline(rng)
    if story.path == "withdrawn_early":
        timeline.add(2, 20, "withdraw")
    elif story.path not in ("new", "stale"):
        _plan_handling(story, timeline)
    if story.path in ("resolved", "closed"):
        _plan_resolution(story, timeline)
    if story.path == "closed":
        _plan_closing(story, timeline)
    if story.path == "withdrawn":
        timeline.add(24, 96, "withdraw")
    return timeline


def _plan_handling(story: Story, timeline: _Timeline) -> None:
    """Accepted within 20 h, started within 24 h: inside every policy's deadlines."""
    timeline.add(1, 20, "accept")
    if story.path.startswith("accepted"):
        return
    if story.reassign:
        timeline.add(2, 8, "reassign")
    timeline.add(1, 4, "start")
    if story.path == "working_late" or (story.path != "referred" and timeline.rng.random() < 0.5):
        timeline.add(4, 30, "request_evidence")
    if story.escalate:
        timeline.add(24, 48, "escalate")
    if story.path.startswith("referred"):
        agency = INJURY_OFFICE if story.category == I else INSPECTION
        late = story.path == "referred_late"
        reply_days = timeline.rng.randint(10, 14) if late else timeline.rng.randint(15, 30)
        timeline.add(24, 60, "refer", agency=agency, reply_days=reply_days)


def _plan_resolution(story: Story, timeline: _Timeline) -> None:
    """Resolved within ~14 days of opening: inside even the 10-working-day policy."""
    assert story.outcome is not None, story
    referral = {"referred_to_arbitration": ARBITRATION, "referred_to_labour_inspection": INSPECTION}
    agency = referral.get(story.outcome, story.agency)
    if agency:
        timeline.add(12, 48, "refer", agency=agency, reply_days=timeline.rng.randint(10, 20))
        if not story.outcome.startswith("referred_"):
            timeline.add(72, 96, "resume", agency=agency)
    timeline.add(12, 60, "resolve", outcome=story.outcome, share=timeline.rng.uniform(0.5, 0.85))


def _plan_closing(story: Story, timeline: _Timeline) -> None:
    if story.score is None:
        timeline.add(168, 170, "close", note="职工七日内未评价，予以结案")  # staff close unrated cases
        return
    timeline.add(2, 72, "rate", score=story.score)
    if not story.review:
        return
    votes = {"uphold": ["uphold", "uphold", "redo"], "redo": ["redo", "redo", "uphold"],
             "tie": ["uphold", "redo"]}
    panel = timeline.rng.sample(range(len(yiwu_hierarchy().experts)), len(votes[story.review]))
    timeline.add(1, 24, "request_review", experts=panel)  # the first picked chairs; a tie is theirs
    for expert, vote in zip(panel, votes[story.review]):
        timeline.add(6, 40, "vote", expert=expert, vote=vote)
    if story.review == "redo":  # the committee reopened it
        share = timeline.rng.uniform(0.5, 0.85)
        timeline.add(72, 144, "resolve", outcome=story.redo_outcome, share=share)
        timeline.add(168, 170, "close", note="按专家评审意见重新处理完毕，予以结案")


@dataclass
class _Replay:
    session: AsyncSession
    orgs: dict[str, Org]
    staff: dict[int, str]
    experts: list[int]
    cases: dict[int, Case] = field(default_factory=dict)

    def staff_actor(self, case: Case) -> str:
        return f"staff:{self.staff.get(case.org_id, 'demo')}"


async def _seed_history(
    session: AsyncSession, *, now: datetime, orgs: dict[str, Org], staff: dict[int, str],
    experts: list[int],
) -> None:
    demo = Case.source_key.like(f"{SOURCE_PREFIX}%")
    real = select(Case.id).where(or_(Case.source_key.is_(None), ~demo)).limit(1)
    if (await session.execute(real)).first() is not None:
        return  # made-up cases must never flag, or be counted with, real ones
    done = set((await session.execute(select(Case.source_key).where(demo))).scalars())
    replay = _Replay(session, orgs, staff, experts)
    for step in plan_history(now):
        if f"{SOURCE_PREFIX}{step.story:02d}" not in done:
            await _replay_step(replay, step)
    await _mark_delivered(session, [case.id for case in replay.cases.values()])


async def _mark_delivered(session: AsyncSession, case_ids: list[int]) -> None:
    """The history's notifications went out when they happened; without this a starting
    gateway would send months of stale updates to made-up contacts."""
    if case_ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.case_id.in_(case_ids),
                   OutboxMessage.status == OutboxStatus.PENDING.value)
            .values(status=OutboxStatus.SENT.value, sent_at=OutboxMessage.created_at)
        )


async def _open(replay: _Replay, step: Step, story: Story) -> Case:
    contact = await get_or_create_contact(
        replay.session, channel=story.channel, external_id=f"demo-{step.story:02d}",
        display_name=story.worker,
    )
    contact.created_at = min(contact.created_at or step.at, step.at)
    local_day = step.at.astimezone(UNION_TZ).date()
    injured = story.injured_days
    draft = CaseDraft(
        category=story.category, employer=story.employer, location=story.location,
        amount=story.amount, amount_text=story.amount_text, headcount=story.headcount,
        description=story.text, facts=story.facts, consent_company_union=story.consent,
        hometown=story.hometown,
        incident_date=local_day - timedelta(days=injured) if injured is not None else None,
    )
    return await do_open_case(
        replay.session, contact=contact, draft=draft, actor=f"worker:{contact.id}",
        source_key=f"{SOURCE_PREFIX}{step.story:02d}", now=step.at,
    )


def _recovered(outcome: str, amount: int | None, share: float) -> int | None:
    if amount is None:
        return None
    # in full; a share agreed in mediation; the first instalment of an agreement
    fractions = {"paid_in_full": 1.0, "paid_in_part": share, "instalment_agreement": share / 2}
    fraction = fractions.get(outcome)
    return None if fraction is None else int(round(amount * fraction, -2))


async def _replay_step(replay: _Replay, step: Step) -> None:
    story = STORIES[step.story]
    if step.action == "open":
        replay.cases[step.story] = await _open(replay, step, story)
        return
    case, args, session = replay.cases[step.story], step.args, replay.session
    kw: dict[str, Any] = {"session": session, "case": case, "now": step.at}
    staff, worker = replay.staff_actor(case), f"worker:{case.contact_id}"
    match step.action:
        case "accept":
            await do_accept(**kw, actor=staff, note="已受理，工作人员会尽快与您联系")
        case "start":
            await do_start(**kw, actor=staff, note=START_NOTES[story.category])
        case "request_evidence":
            await do_request_evidence(**kw, actor=staff, note=EVIDENCE_NOTES[story.category])
        case "escalate":
            await do_escalate(**kw, actor=staff, reason=story.escalate or "")
        case "reassign":
            code, why = story.reassign or ("", "")
            await do_reassign(**kw, actor=staff, to_org_id=replay.orgs[code].id, note=why)
        case "refer":
            due = step.at + timedelta(days=args["reply_days"])
            await do_refer(**kw, actor=staff, agency=args["agency"], reply_due=due)
        case "resume":
            await do_resume(**kw, actor=staff, note=f"{args['agency']}已出具意见，工会继续协调")
        case "resolve":
            recovered = _recovered(args["outcome"], case.amount, args["share"])
            await do_resolve(**kw, actor=staff, outcome=args["outcome"], amount_recovered=recovered,
                             note=RESOLVE_NOTES[args["outcome"]])
        case "close":
            await do_close(**kw, actor=staff, note=args["note"])
        case "withdraw":
            await do_withdraw(**kw, actor=worker, note=story.withdraw_note)
        case "rate":
            comment = RATING_COMMENTS[args["score"]]
            await do_rate(**kw, score=args["score"], comment=comment, actor=worker)
        case "request_review":
            panel = [replay.experts[i] for i in args["experts"]]
            await do_request_review(**kw, expert_ids=panel, actor=worker)
        case "vote":
            await do_cast_vote(**kw, expert_id=replay.experts[args["expert"]], vote=args["vote"])
