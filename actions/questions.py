"""What the dispute form asks, and how it asks again: after a turn without an answer a hint
with the options (or an example), after two the question with 「跳过」 and 「转人工」 (the
counting is in actions/failures.py).

Kept here rather than as domain responses because only actions send them: the form asks
through ``action_ask_<slot>`` (generated below), so texts can depend on the topic and
``rasa data validate`` sees no unused responses.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.reasks import reask_prefix
from actions.turns import failures

Button = dict[str, str]

# slot: [(topic or None, text, buttons)]; the first variation whose topic matches wins.
QUESTIONS: dict[str, list[tuple[str | None, str, list[Button]]]] = {
    "applicant_name": [(None, "您怎么称呼？写真实姓名，工会登记要用。", [])],
    "employer": [
        ("join", "在哪家单位工作？跑外卖、快递、网约车的写平台名就行，比如「美团」「顺丰」。", []),
        (None, '是哪家单位（或哪个老板、包工头）？写名字就行，比如「义乌某某服饰有限公司」或「张老板的工地」。', []),
    ],
    "location": [
        ("join", "您在哪个城市（哪个区、街道）工作？", []),
        (None, '您在哪里干活？写城市和街道或镇，比如「义乌 稠江街道」。我们按地点安排负责的工会。', []),
    ],
    "amount": [
        ('dismissal', '您每个月工资大概多少？（算补偿要用）比如「5000」「五千多」。', []),
        (None, '一共欠了您多少钱？写个大概数就行，比如「八千多」「4万余元」。', []),
    ],
    "duration": [
        (None, '拖欠了多久？比如「三个月」「半年」。', []),
    ],
    "headcount": [
        (None, '被拖欠的一共几个人？', [{'title': '只有我', 'payload': '只有我'}, {'title': '2到9个人', 'payload': '几个人'}, {'title': '10人以上', 'payload': '10个人以上'}]),
    ],
    "construction": [
        (None, '是建筑工地、装修这类工程项目吗？（工程项目欠薪，总承包单位要先行清偿 ——《保障农民工工资支付条例》第30条）', [{'title': '是工程项目', 'payload': '/affirm'}, {'title': '不是', 'payload': '/deny'}]),
    ],
    "daily_hours": [
        (None, '您平时一天干几个小时，一周干几天？比如「每天12小时，一周7天」。', []),
    ],
    "overtime_paid": [
        (None, '加班费给了吗？', [{'title': '一分没给', 'payload': '没给加班费'}, {'title': '给了但不够', 'payload': '给了但是少'}, {'title': '不清楚怎么算的', 'payload': '不清楚'}]),
    ],
    "since": [
        ('social_insurance', '从什么时候开始没交的？比如「2024年3月」「进厂就没交」。', []),
        (None, '这种情况从什么时候开始的？比如「今年3月」「进厂就这样」。', []),
    ],
    "incident_date": [
        (None, '哪天受的伤？比如「6月15号」「上周三」。', []),
    ],
    "commute": [
        (None, '是上下班路上出的事吗？', [{'title': '上下班路上', 'payload': '/affirm'}, {'title': '干活的时候', 'payload': '/deny'}]),
    ],
    "employer_reported": [
        (None, '单位给您报工伤了吗（申请工伤认定）？', [{'title': '报了', 'payload': '/affirm'}, {'title': '没报/不知道', 'payload': '/deny'}]),
    ],
    "dismissal_date": [
        (None, '哪天让您走的？比如「上个月15号」「昨天」。', []),
    ],
    "service_length": [
        (None, '您在这家单位干了多久？比如「两年」「八个月」。', []),
    ],
    "dismissal_how": [
        (None, '单位是怎么通知您的？', [{'title': '口头说的', 'payload': '口头通知'}, {'title': '微信/短信', 'payload': '微信或短信通知'}, {'title': '书面通知', 'payload': '书面通知'}, {'title': '逼我写辞职信', 'payload': '逼我自己写辞职信'}]),
    ],
    "missing_insurance": [
        (None, '哪些没交？', [{'title': '社保全没交', 'payload': '社保全都没交'}, {'title': '只交了一部分', 'payload': '只交了一部分险种'}, {'title': '公积金没交', 'payload': '公积金没交'}, {'title': '按最低基数交', 'payload': '按最低基数交的'}]),
    ],
    "contract_signed": [
        (None, '签劳动合同了吗？', [{'title': '签了', 'payload': '/affirm'}, {'title': '没签', 'payload': '/deny'}]),
    ],
    "dispute_text": [
        (None, '请用几句话说说发生了什么，怎么说都行。', []),
    ],
    "phone": [
        ("join", "留个手机号，工会工作人员会打电话跟您办入会手续。", []),
        (None, '留个手机号吗？工会工作人员可能需要打电话了解情况，号码只给负责的工会看。不想留就点「跳过」。', [{'title': '跳过', 'payload': '跳过'}]),
    ],
    "consent_union": [
        (None, '您单位有自己的工会。可以让单位工会知道并帮您处理吗？不同意的话，我们交给所在片区的工会，不告诉单位工会。', [{'title': '可以告诉单位工会', 'payload': '/affirm'}, {'title': '不要告诉单位', 'payload': '/deny'}]),
    ],
}

REPLIES: dict[str, tuple[str, list[Button]]] = {
    "offer_human": ('这个问题好像不好回答。可以接着再写一次，也可以找工作人员帮您。', [{'title': '转人工', 'payload': '/request_human'}]),
    "correction_hint": ('哪里不对？直接告诉我就行，比如「金额是九千」「单位是恒达电子厂」。', []),
    "deny_hint": ('要取消这次登记就回复「取消」；不然请回答上面的问题，不清楚的可以写「不清楚」。', []),
    "form_cancelled": ('好的，已取消，刚才填的内容没有提交。需要的时候随时再跟我说。', []),
    "skipped": ('这个问题先跳过，工作人员之后会跟您核实。', []),
}

# What the re-ask after an unusable answer says first: the options of a button question, an
# example for a free-text one. "没看懂 🙏 " goes before each.
HINTS: dict[str, str] = {
    "applicant_name": "请写您的真实姓名，比如「王小红」。",
    "employer": "写单位或老板的名字就行，比如「义乌某某服饰有限公司」「张老板的工地」。",
    "location": "写城市和街道或镇，比如「义乌 稠江街道」。",
    "amount": "请写一个数，比如「8000」「三千五」「4万余元」。",
    "duration": "请写拖了多久，比如「三个月」「半年」。",
    "headcount": "请点下面的按钮，或写个人数，比如「12个人」。",
    "construction": "请点下面的按钮，或回复「是」「不是」「不清楚」。",
    "daily_hours": "请写一天干几个小时、一周几天，比如「每天12小时，一周7天」。",
    "overtime_paid": "请点下面的按钮，或回复「没给」「给了但不够」「不清楚」。",
    "since": "请写个大概时间，比如「今年3月」「进厂就这样」。",
    "incident_date": "请写哪一天，比如「6月15号」「上周三」；日期不能在今天之后。",
    "commute": "请点下面的按钮，或回复「上下班路上」「干活的时候」。",
    "employer_reported": "请点下面的按钮，或回复「报了」「没报」「不知道」。",
    "dismissal_date": "请写哪一天，比如「上个月15号」「昨天」；日期不能在今天之后。",
    "service_length": "请写干了多久，比如「两年」「八个月」。",
    "dismissal_how": "请点下面的按钮，或回复「口头」「微信」「书面」「逼我写辞职信」。",
    "missing_insurance": "请点下面的按钮，或回复「全没交」「只交了一部分」「公积金没交」「按最低基数」。",
    "contract_signed": "请点下面的按钮，或回复「签了」「没签」「不知道」。",
    "dispute_text": "请用几句话说说发生了什么，比如「老板拖了三个月工资不给」。",
    "phone": "请写11位手机号，比如 138 1234 5678；不想留就回复「跳过」。",
    "consent_union": "请点下面的按钮，或回复「可以」「不要」。",
    "confirmed": "没问题请点「确认提交」；哪里不对直接说，比如「金额是九千」；不办了回复「取消」。",
}
# After two unusable answers the question comes with a way out (conversations.md: the worker
# can always reach a person): 跳过 stores "skipped" and the form moves on.
OFFER = "不好回答的话，可以点「跳过」先往下走，或者点「转人工」找工作人员。"
OFFER_CONFIRM = "不好确认的话，可以点「转人工」请工作人员帮您核对。"
SKIP_BUTTON: Button = {"title": "跳过", "payload": "跳过"}
HUMAN_BUTTON: Button = {"title": "转人工", "payload": "/request_human"}

# The introduction of each dispute: what the law says (conversations.md's facts only),
# then what happens next. Said once per dispute by action_dispute_intro.
INTROS: dict[str | None, str] = {
    'unpaid_wages': '别着急，欠薪的事工会帮您管。拖欠工资，您可以解除合同并要求经济补偿（《劳动合同法》第38条、第46条）。我问几个问题，整理好交给负责的工会。（我给的是政策指引，不是法律意见。）',
    'overtime': '加班费至少是：工作日 150%，休息日又不补休 200%，法定节假日 300%（《劳动法》第44条）；加班一般每天不超过1小时、特殊情况不超过3小时、每月不超过36小时（《劳动法》第41条）。我问几个问题，整理好交给负责的工会。（我给的是政策指引，不是法律意见。）',
    'injury': '受伤了先治疗、留好病历和票据。单位应在事故后30日内申请工伤认定；单位不申请的，您本人、近亲属或工会可以在1年内申请（《工伤保险条例》第17条）。上下班途中非本人主要责任的交通事故也算工伤（第14条）。我问几个问题，整理好交给负责的工会。（我给的是政策指引，不是法律意见。）',
    'dismissal': '单位解除合同一般要付经济补偿：每满一年一个月工资，六个月以上按一年、不满六个月按半个月（《劳动合同法》第47条）；违法解除要付两倍（第87条）。我问几个问题，整理好交给负责的工会。（我给的是政策指引，不是法律意见。）',
    'social_insurance': '单位不交社保，您可以解除合同并要求经济补偿（《劳动合同法》第38条、第46条）；干满一个月还没签书面合同的，每月可要求两倍工资，最多一年（第82条）。我问几个问题，整理好交给负责的工会。（我给的是政策指引，不是法律意见。）',
    None: '我问几个问题，整理好交给负责的工会。（我给的是政策指引，不是法律意见。）',
}


def question(slot: str, topic: str | None) -> tuple[str, list[Button]]:
    for wanted, text, buttons in QUESTIONS[slot]:
        if wanted is None or wanted == topic:
            return text, buttons
    raise KeyError(slot)


def say(dispatcher: CollectingDispatcher, reply: str) -> None:
    text, buttons = REPLIES[reply]
    dispatcher.utter_message(text=text, buttons=buttons or None)


def hint(dispatcher: CollectingDispatcher, slot: str) -> None:
    dispatcher.utter_message(text=f"没看懂 🙏 {HINTS.get(slot, '请再说一次。')}")


def with_offer(text: str, buttons: list[Button]) -> tuple[str, list[Button]]:
    """A dispute question after two unusable answers: the same question, a way out."""
    return f"{text}\n{OFFER}", [*buttons, *(b for b in (SKIP_BUTTON, HUMAN_BUTTON) if b not in buttons)]


def ask(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> None:
    """Ask the question of ``slot`` as the turn calls for it.

    A question that stays open is asked again, so no turn ends without one. Asked again it
    says why — the files that just came (numbered), the fact that was just corrected — and
    after two turns without an answer (``failures``) it offers 跳过 and 转人工.
    """
    if (tracker.active_loop or {}).get("name") == "join_form":
        text, buttons = question(slot, "join")
        dispatcher.utter_message(text=text, buttons=buttons or None)
        return
    text, buttons = question(slot, tracker.get_slot("topic"))
    if failures(tracker, slot) >= 2:
        text, buttons = with_offer(text, buttons)
    dispatcher.utter_message(text=reask_prefix(tracker) + text, buttons=buttons or None)


def _ask_action(slot: str) -> type[Action]:
    class AskSlot(Action):
        def name(self) -> str:
            return f"action_ask_{slot}"

        async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
            ask(dispatcher, tracker, slot)
            return []

    AskSlot.__name__ = AskSlot.__qualname__ = f"Ask_{slot}"
    AskSlot.__module__ = __name__
    return AskSlot


# One registered action per question; rasa_sdk finds every Action subclass on import. The
# action server's workers unpickle them by module attribute, so each is a module global.
ASK_ACTIONS: dict[str, Any] = {slot: _ask_action(slot) for slot in QUESTIONS}
globals().update({cls.__name__: cls for cls in ASK_ACTIONS.values()})
