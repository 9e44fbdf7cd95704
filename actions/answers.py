"""Reading the worker's words as the answer to a button question.

A worker answers 「加班费给了吗？」 with a button, a word (没给), dialect (冇, 木有), an emoji,
or their whole story. Buttons arrive as their payload. Words are matched to the question's
options by keywords; a short answer may also be a plain yes or no, by its words or by the
model's affirm/deny. A long answer (a story) counts only when it holds a keyword that
answers this very question, and is then stored as that option: a story is never stored as
an option, and a story without such a keyword is no answer (the caller counts it).

Values: the option itself (text options), True/False (yes/no questions), UNKNOWN for an
explicit "don't know" where the question has no such option, and SKIPPED for 跳过.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SKIPPED = "skipped"  # 跳过, or skipped after unusable answers: the summary shows 未说明
UNKNOWN = "unknown"  # "不知道" to a yes/no question: the summary shows 不清楚

SHORT = 10  # characters (without spaces and punctuation) up to which an answer is "short"
_PUNCT = re.compile(r"[\s，。,.!！?？~～、;；:：\"'“”‘’()（）【】…\-]+")
SKIP = re.compile(r"^(?:先|就)?(?:跳过|略过|下一个|下一题|不想说|不想回答|不回答|不方便说|pass|skip)(?:吧|了|啊|呀|去)*$", re.I)
CANCEL = re.compile(r"取消|不办了|不弄了|不登记了|重新开始")
UNKNOWN_WORDS = re.compile(r"不知道|不清楚|不晓得|不记得|记不清|搞不清|说不清|说不好|不确定|不了解|没注意|唔知|不懂|不太懂|不明白")
# yes/no in a short answer; "没问题/没错" are yes, so they are looked for first
YES_FIRST = re.compile(r"没问题|没错|不错")
NO_SHORT = re.compile(r"没|不|冇|無|无|未|别|否|木有|没得|\bno\b|nope|👎|❌", re.I)
YES_SHORT = re.compile(r"是|对|有|嗯|好|行|可以|同意|中|系|得|确认|提交|当然|\byes\b|\bok\b|okay|👍|👌|✅|🙆", re.I)
# words that are no answer at all, whatever the model made of them (啊啊啊 reads as affirm)
_NOISE = re.compile(r"^(?:[啊哈呵嘿哦噢额呃唉哎呀吧嘛么嗷哇嘻]+|e+m+|h+|a+|[^\w👍👌✅👎❌]+)$", re.I)


def bare(text: str) -> str:
    """The answer without spaces and punctuation (what "short" is measured on)."""
    return _PUNCT.sub("", text or "")


def is_short(text: str) -> bool:
    return len(bare(text)) <= SHORT


def is_noise(text: str) -> bool:
    """Interjections, emoji, punctuation or Latin letters only: 啊啊啊, emmm, 😭, ？？？, hhh."""
    core = bare(text)
    return not core or bool(_NOISE.match(core)) or (core.isascii() and not core.isdigit() and len(core) > 1
                                                     and core.lower() not in ("ok", "okay", "yes", "no", "nope"))


def is_skip(text: str) -> bool:
    return bool(SKIP.match(bare(text)))


@dataclass(frozen=True)
class Options:
    """How one button question reads words.

    ``keywords`` are tried in order; on a long answer only when it speaks of ``topic`` (a
    story saying 没有休息 says nothing about overtime pay). ``yes``/``no``/``unknown`` are the
    values of a short plain yes, no or "don't know" (None: the question has no such answer).
    """

    keywords: tuple[tuple[Any, re.Pattern[str]], ...]
    topic: re.Pattern[str]  # a long answer must speak of this to be read at all
    yes: Any = None
    no: Any = None
    unknown: Any = None
    exact: tuple[str, ...] = field(default=())  # option texts a button sends as they are
    trust_model: bool = True  # the model's affirm/deny count (not where a wrong yes would hurt)


def _kw(*pairs: tuple[Any, str]) -> tuple[tuple[Any, re.Pattern[str]], ...]:
    return tuple((value, re.compile(pattern, re.I)) for value, pattern in pairs)


COMMUTE_WORDS = r"路上|上班途中|下班途中|通勤|回家|骑车|开车|过马路|被车撞|车祸|交通事故"
AT_WORK_WORDS = r"干活|上班的时候|上班时|工作时|做工|车间|工地|厂里|机器|岗位|值班|加班的时候|送货的时候"

OPTIONS: dict[str, Options] = {
    "construction": Options(
        _kw((False, r"(?:不是|不算|不在|没在|非)(?:建筑)?(?:工地|工程|装修|项目)"),
            (True, r"工地|工程|装修|建筑|盖楼|修路|项目部|搬砖|钢筋|木工|瓦工|水电工|脚手架|包工头"),
            (False, r"厂|车间|超市|商场|饭店|餐馆|餐厅|酒店|快递|外卖|物流|仓库|店里|门店|公司")),
        topic=re.compile(r"工地|工程|装修|建筑|项目|盖楼|修路|包工头|厂|车间"),
        yes=True, no=False, unknown=UNKNOWN),
    "commute": Options(
        _kw((False, r"不是(?:在)?(?:上下班)?(?:的)?路上|不在路上"), (True, COMMUTE_WORDS), (False, AT_WORK_WORDS)),
        topic=re.compile(r"路上|途中|通勤|回家|车祸|被车|车间|干活|上班|工地|机器|岗位"),
        yes=True, no=False, unknown=UNKNOWN),
    # The button says 没报/不知道: for the 1-year deadline, not known to be reported is not reported.
    "employer_reported": Options(
        _kw((False, r"没报|没有报|没给报|不给报|不报|不肯报|不愿意?报|没申请|没有申请|不给申请|没给办|不给办|没办"),
            (False, UNKNOWN_WORDS.pattern),
            (True, r"报了|已经报|报过|报上去|给报|申请了|认定了|认定下来|在办了|交了材料")),
        topic=re.compile(r"报|工伤认定|认定|申请"),
        yes=True, no=False, unknown=False),
    "contract_signed": Options(
        _kw((False, r"没签|没有签|不签|不给签|没给签|没合同|没有合同|无合同|没有劳动合同"),
            (True, r"签了|签过|签的|签订|有合同|有劳动合同")),
        topic=re.compile(r"合同|签"),
        yes=True, no=False, unknown=UNKNOWN),
    # When in doubt, the company union is not told.
    "consent_union": Options(
        _kw((False, r"不要|别告诉|不同意|不想|不用|不行|不可以|不能|算了|跳过"), (True, r"可以|同意|告诉|没问题|行|好")),
        topic=re.compile(r"工会|告诉|单位"),
        yes=True, no=False, unknown=False, trust_model=False),
    # Nonsense the model reads as affirm ("间间") must neither tell the company union nor open a case.
    "confirmed": Options(_kw((True, r"确认|提交|没问题|没错|都对")), topic=re.compile(r"确认|提交"), yes=True,
                         trust_model=False),
    "overtime_paid": Options(
        _kw(("不清楚", UNKNOWN_WORDS.pattern + r"|怎么算|不会算|没算过|看不懂"),
            ("给了但是少", r"少|不够|不足|不全|一部分|部分|只给了?|给了一点|一点点|没按|不按|打折|不到|没给够|按平时"),
            ("没给加班费", r"没给|不给|没有|一分|没发|不发|从来没|从没|没拿到|白干|没见过|木有|冇"),
            ("给了", r"给了|有给|发了|有加班费|给的|给过")),
        topic=re.compile(r"加班费|加班钱|加班工资|钱"),
        yes="给了", no="没给加班费", unknown="不清楚", exact=("没给加班费", "给了但是少", "不清楚")),
    "dismissal_how": Options(
        _kw(("逼我自己写辞职信", r"辞职|自己走|自动离职|主动离职|逼我|让我自己写|自愿离职"),
            ("没有通知，直接不让上班", r"没通知|没有通知|没说一声|不让(?:我)?(?:进|上班|来)|卡(?:被)?停|门禁|拉黑|踢出群"),
            ("书面通知", r"书面|通知书|纸|盖章|文件|正式通知|解除(?:劳动)?合同|邮件"),
            ("微信或短信通知", r"微信|短信|信息|消息|群里|钉钉|qq"),
            ("口头通知", r"口头|当面|说的|叫我|告诉我|让我走|电话|嘴上|直接说|喊我|说了")),
        topic=re.compile(r"通知|说|微信|短信|辞职|书面|电话|让我|叫我|不让"),
        exact=("口头通知", "微信或短信通知", "书面通知", "逼我自己写辞职信")),
    "missing_insurance": Options(
        _kw(("不清楚", UNKNOWN_WORDS.pattern),
            ("按最低基数交的", r"基数|最低|按底薪|少交|不按实际"),
            ("社保和公积金都没交", r"(?:社保|五险).*公积金.*没|公积金.*(?:社保|五险).*没"),
            ("公积金没交", r"公积金"),
            ("只交了一部分险种", r"部分|只交|只有|就交了|医保|医疗|养老|工伤险|失业|生育|缺"),
            ("社保全都没交", r"全|都没|一个都|什么都没|没交|没给交|没缴|从来|一直没|五险|不交")),
        topic=re.compile(r"社保|五险|公积金|保险|医保|养老|基数"),
        exact=("社保全都没交", "只交了一部分险种", "公积金没交", "按最低基数交的")),
}


def read_option(slot: str, text: str, intent: str | None = None, confidence: float = 0.0) -> Any:
    """The option ``text`` chooses for the question ``slot``, or None when it chooses none.

    Args:
        slot: a slot in :data:`OPTIONS`.
        text: the worker's words (or a button's text payload).
        intent: the model's intent for ``text``; affirm/deny count for short answers only.
        confidence: the model's confidence in ``intent``.
    """
    options = OPTIONS[slot]
    said = (text or "").strip()
    if said in options.exact:
        return said
    short = is_short(said)
    if short or options.topic.search(said):
        for value, pattern in options.keywords:
            if pattern.search(said):
                return value
    if not short or is_noise(said):
        return None
    # a plain yes, no or "don't know"; each stops here even where the question has no such
    # answer (不对 must not fall through to the 对 of a yes)
    if UNKNOWN_WORDS.search(said):
        return options.unknown
    if YES_FIRST.search(said):
        return options.yes
    if NO_SHORT.search(said):
        return options.no
    if YES_SHORT.search(said):
        return options.yes
    if options.trust_model and confidence >= 0.7 and intent in ("affirm", "deny"):
        return options.yes if intent == "affirm" else options.no
    return None


# -- free-text answers ------------------------------------------------------------------------

# "不对，金额是九千" while another question is open: a correction, not an answer to it.
CORRECTION = re.compile(r"^\s*(?:不对|错了|搞错|写错|改一下|更正|应该是|不是不是)")
# Words that answer no free-text question (a name, a place, what happened): 好的, 在吗, 谢谢 …
_FILLER = re.compile(r"^(?:好的?|好吧|嗯+|哦+|噢+|是的?|对的?|对|行|可以|谢谢|多谢|你好|您好|在吗|在不在|有人吗|"
                     r"哈+|呵+|ok|okay|收到|知道了|明白|没有|没|不是|不|不知道|不清楚|不晓得|随便|木有|冇|无|没得|莫得|唔知|唔系|"
                     r"系|中|得|[👍👌✅🙏]+)[啊呀吧哦了的嘛]*$", re.I)
# A clause of a working schedule: 12个小时, 早上八点到晚上十点, 一周7天, 一个月休两天, 天天.
_HOURS_OR_DAYS = re.compile(r"(?:\d+|[一二两三四五六七八九十半]+)\s*(?:个)?(?:小时|钟头|点)|"
                            r"(?:一周|每周|一个?星期|一个?礼拜|一个?月)\D{0,4}?(?:\d+|[一二两三四五六七八九十])\s*天|"
                            r"(?:休|歇)\D{0,2}?(?:\d+|[一二两三四五六七八九十半])\s*天")
_SCHEDULE = re.compile(_HOURS_OR_DAYS.pattern + r"|没有?休息|不休息|通宵|半夜|天天")
_CLAUSES = re.compile(r"[\s，。,.!！?？;；、]+")


def is_filler(text: str) -> bool:
    """No answer to a free-text question whatever the question: 好的, 在吗, 啊啊啊, 👍."""
    return is_noise(text) or bool(_FILLER.match(bare(text)))


def schedule(text: str) -> str | None:
    """The working-schedule clauses of an answer ("每天早上八点干到晚上十点 一个月休两天" out of
    a whole story), or None when it names no hours or days."""
    if not _HOURS_OR_DAYS.search(text or ""):
        return None
    return " ".join(c for c in _CLAUSES.split(text) if _SCHEDULE.search(c))
