"""A random walker through the dispute dialogue, against a running stack (`make run` first).

    .venv/bin/python bench/dialogue_walker.py [--gateway http://127.0.0.1:8080]
        [--per-topic 100] [--seed 1] [--budget 40] [--workers 4]

For each of the five topics it plays ``--per-topic`` conversations through the web chat API.
Each opens with a message of the topic; then, for a random number of turns, every turn is a
random move — a button of the last reply, a plausible answer to the question asked, a random
worker message (stories, abbreviations, dialect, emoji), nonsense, a correction ("不对，金额是
九千"), or a file — after which the walker answers cooperatively (the first option, a plausible
answer, 确认提交) until it reaches a case number or a person, within ``--budget`` turns.

It checks the property of issue "no worker stuck": no bot question (the last text of a turn,
when it asks something) is asked more than 3 times in a row, and every conversation reaches a case or a person. It
prints the conversations run, the longest run of one repeated question, and the share that
reached a case or a person, and exits non-zero when the property fails.
``tests/e2e/test_dialogue_walker.py`` runs a few conversations per topic against a stack it
starts.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

MAX_RUN = 3  # a question may be asked at most this many times in a row
CASE = re.compile(r"案件编号\s*(GY-\d{4}-\d+)")
# What the bot says when a person takes over (not every 工作人员: the phone question names them)
PERSON = re.compile(r"已为您转给工会工作人员|工作人员会在.{0,20}以后回复您|已收到，工会工作人员会在这里回复您")
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF walker photo "

TOPICS = ("unpaid_wages", "overtime", "injury", "dismissal", "social_insurance")
OPENINGS = {
    "unpaid_wages": ["老板欠我三个月工资一共八千多块", "包工头跑路了 欠我们工资", "工资拖了两个月没给 一共一万二",
                     "/report_unpaid_wages", "厂里年底的工资一直不结"],
    "overtime": ["天天加班到半夜 一分钱加班费都没有", "一个月就休一天 加班不给钱", "加班费怎么算 我们从来没拿过",
                 "/report_overtime"],
    "injury": ["在车间被机器压伤了手 老板不给报工伤", "下班路上被车撞了算工伤吗", "手指被冲床压断了 公司不管",
               "/report_injury"],
    "dismissal": ["公司突然让我明天不用来了 补偿也不给", "被辞退了 一分补偿都没有", "老板逼我自己写辞职信",
                  "/report_dismissal"],
    "social_insurance": ["干了两年公司一直没给交社保", "单位不给交五险一金", "入职一年了合同都没签 社保也没有",
                         "/report_social_insurance"],
}

# Which question the bot asks, read from its words as a worker would.
QUESTIONS = (
    ("confirmed", "请核对"), ("evidence", "有证据的话|还有的话接着发"), ("employer", "哪家单位|在哪家单位"),
    ("location", "在哪里干活|哪个城市"), ("amount", "欠了您多少钱|每个月工资大概多少"), ("duration", "拖欠了多久"),
    ("headcount", "一共几个人"), ("construction", "工程项目吗"), ("daily_hours", "一天干几个小时"),
    ("overtime_paid", "加班费给了吗"), ("since", "从什么时候开始"), ("incident_date", "哪天受的伤"),
    ("commute", "上下班路上出的事"), ("employer_reported", "报工伤了吗"), ("dismissal_date", "哪天让您走的"),
    ("service_length", "干了多久"), ("dismissal_how", "怎么通知您的"), ("missing_insurance", "哪些没交"),
    ("contract_signed", "签劳动合同了吗"), ("dispute_text", "发生了什么"), ("phone", "留个手机号"),
    ("consent_union", "单位工会知道"),
)
PLAUSIBLE = {
    "employer": ["义乌鑫达电子厂", "顺丰", "张老板的工地", "恒达建筑劳务", "在永辉超市上班"],
    "location": ["义乌稠江街道", "金华婺城区", "杭州萧山区", "义乌 佛堂镇", "宁波北仑"],
    "amount": ["八千多", "4万余元", "三千五", "12000", "每个月六千"],
    "duration": ["三个月", "半年", "两个多月"],
    "headcount": ["就我一个", "我们12个人", "几个人", "四十多个工友"],
    "construction": ["是的", "不是", "是工地", "不清楚"],
    "daily_hours": ["每天12小时 一周7天", "一天十个钟头 一周六天", "早上八点到晚上十点"],
    "overtime_paid": ["没给", "给了但是少", "一分没有", "不清楚"],
    "since": ["今年3月", "去年年底开始的", "进厂就这样"],
    "incident_date": ["上周三", "11月3号", "昨天"],
    "commute": ["干活的时候", "下班路上", "在车间"],
    "employer_reported": ["没报", "报了", "不知道"],
    "dismissal_date": ["昨天", "这周一", "上个月15号"],
    "service_length": ["两年", "八个月", "三年多"],
    "dismissal_how": ["口头说的", "微信上说的", "逼我写辞职信"],
    "missing_insurance": ["五险都没有", "只交了医保", "公积金没交"],
    "contract_signed": ["没签", "签了"],
    "dispute_text": ["老板一直拖着不给钱", "手被机器压了 现在还在养伤", "天天加班 没有休息"],
    "phone": ["13857912345", "跳过", "159 6712 3456"],
    "consent_union": ["可以", "不要告诉单位"],
    "evidence": ["跳过", "发完了", "没有证据"],
    "confirmed": ["确认", "确认提交"],
}
WORKER_MESSAGES = [
    # stories
    "那天我在车间搬货 机器突然砸下来 手指骨折了 住了一个礼拜院", "每天从早上八点干到晚上十点 一个月就休两天 加班费一分没有",
    "老板说我是临时工不给报 医药费都是我自己垫的", "包工头跑路了 欠我们十几个人工资", "公司说我试用期不合格 让我走人",
    "干了三年了 一直没交社保 现在想走也不给开证明", "我们厂里好多人都没拿到钱 都急死了",
    # abbreviations, dialect, voice-input run-ons
    "木有", "系的", "冇", "唔知", "额滴工资咋还不发", "gz没发", "lb跑了", "nm的加班费", "俺也不知道咋弄",
    "嗯嗯", "好的", "随便", "不想说", "下一个", "在吗", "你是机器人吗", "谢谢", "拜拜", "查进度",
    # emoji
    "😭😭", "👍", "🙏🙏🙏", "😡", "？？？",
]
CORRECTIONS = ["不对，金额是九千", "不对 单位是恒达电子厂", "错了，是上个月15号", "不对，地点是义乌佛堂镇",
               "应该是12个人", "不对，我一个月工资五千"]
NONSENSE_CHARS = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感abcdefxyz0123456789?!。，"


@dataclass
class Chat:
    """One worker's conversation with the web chat API."""

    gateway: str
    sender: str
    session: str | None = None  # a signed session value, when the gateway hands one out
    http: requests.Session = field(default_factory=requests.Session)


def send(chat: Chat, *, text: str | None = None, payload: str | None = None,
         file: tuple[str, bytes] | None = None) -> list[dict[str, Any]]:
    """Say ``text``, press a button (``payload``) or send a ``file``; the bot's replies.

    The one place the walker speaks HTTP: a ``session`` value in a response is kept and sent
    back with every later message (the web chat may come to require one); a 429 is waited
    out as its Retry-After says (start the stack with RATE_WEBCHAT_IP etc. raised to avoid it).
    """
    for _ in range(30):
        extra = {"session": chat.session} if chat.session else {}
        if file is not None:
            name, data = file
            response = chat.http.post(f"{chat.gateway}/chat/api/files", data={"sender": chat.sender, **extra},
                                      files={"file": (name, data, "image/jpeg")}, timeout=120)
        else:
            body = {"sender": chat.sender, **({"payload": payload} if payload else {"text": text}), **extra}
            response = chat.http.post(f"{chat.gateway}/chat/api/messages", json=body, timeout=120)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("Retry-After") or 1))
    response.raise_for_status()
    answer = response.json()
    chat.session = answer.get("session") or chat.session
    return answer.get("replies") or []


def press(chat: Chat, button: dict[str, str]) -> list[dict[str, Any]]:
    """A button as the chat page presses it: intent payloads as payloads, others as text."""
    value = button["payload"]
    return send(chat, payload=value) if value.startswith("/") else send(chat, text=value)


@dataclass
class Walk:
    topic: str
    transcript: list[tuple[str, list[str]]] = field(default_factory=list)
    longest_run: int = 0
    outcome: str | None = None  # "case" | "person" | None
    case_number: str | None = None

    def show(self) -> str:
        lines = [f"== {self.topic}: {self.outcome or 'NEITHER'}, longest run {self.longest_run} =="]
        for said, replies in self.transcript:
            lines.append(f"工友: {said}")
            lines += [f"助手: {r}" for r in replies]
        return "\n".join(lines)


def question_of(replies: list[dict[str, Any]]) -> str:
    """The question a turn ends with: its last text, when that asks something (a question
    mark, buttons, or one of the form's questions); "" for a turn that asks nothing (再见)."""
    asking = [r for r in replies if r.get("text")]
    if not asking:
        return ""
    last = asking[-1]
    text = last["text"].strip()
    return text if ("？" in text or "?" in text or last.get("buttons") or slot_of(text)) else ""


def slot_of(question: str) -> str | None:
    for slot, pattern in QUESTIONS:
        if re.search(pattern, question):
            return slot
    return None


def nonsense(rng: random.Random) -> str:
    return "".join(rng.choice(NONSENSE_CHARS) for _ in range(rng.randint(1, 12)))


def random_move(rng: random.Random, replies: list[dict[str, Any]], slot: str | None,
                ) -> tuple[str, dict[str, Any]]:
    """(what the worker does, as shown, and the arguments for :func:`send`)."""
    buttons = [b for r in replies for b in r.get("buttons") or []]
    kind = rng.choices(["button", "plausible", "worker", "nonsense", "correction", "file"],
                       weights=[30, 20, 20, 10, 10, 10])[0]
    if kind == "button" and buttons:
        # 转人工 ends the walk; pressed now and then, not as often as the other buttons
        pool = [b for b in buttons if b["payload"] != "/request_human" or rng.random() < 0.2] or buttons
        button = rng.choice(pool)
        return f"[{button['title']}]", {"button": button}
    if kind == "plausible" and slot in PLAUSIBLE:
        text = rng.choice(PLAUSIBLE[slot])
        return text, {"text": text}
    if kind == "nonsense":
        text = nonsense(rng)
        return text, {"text": text}
    if kind == "correction":
        text = rng.choice(CORRECTIONS)
        return text, {"text": text}
    if kind == "file":
        name = f"证据{rng.randint(1, 999)}.jpg"
        return f"[文件 {name}]", {"file": (name, PHOTO + name.encode())}
    text = rng.choice(WORKER_MESSAGES)
    return text, {"text": text}


def cooperative_move(topic: str, replies: list[dict[str, Any]], slot: str | None,
                     rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A worker who now answers what is asked: the first option, or a plausible answer."""
    buttons = [b for r in replies for b in r.get("buttons") or []
               if b["payload"] not in ("/request_human", "跳过", "取消", "/deny")]
    if slot == "confirmed":
        return "[确认提交]", {"button": {"title": "确认提交", "payload": "/affirm"}}
    if slot in PLAUSIBLE and slot != "evidence" and not buttons:
        text = PLAUSIBLE[slot][0]
        return text, {"text": text}
    if slot is not None and buttons:
        return f"[{buttons[0]['title']}]", {"button": buttons[0]}
    if slot == "evidence":
        return "跳过", {"text": "跳过"}
    # no question open (cancelled, topics offered, small talk): tell the problem again
    text = rng.choice([o for o in OPENINGS[topic] if not o.startswith("/")])
    return text, {"text": text}


def walk(gateway: str, topic: str, rng: random.Random, *, budget: int = 40) -> Walk:
    """One conversation: an opening, a random phase, then cooperative answers."""
    chat = Chat(gateway, f"walk-{uuid.uuid4().hex[:12]}")
    result = Walk(topic)
    random_turns = rng.randint(0, budget // 2)
    opening = rng.choice(OPENINGS[topic])
    said, move = opening, ({"payload": opening} if opening.startswith("/") else {"text": opening})
    previous, run = "", 0
    with chat.http:
        for turn in range(budget):
            button = move.pop("button", None)
            replies = press(chat, button) if button else send(chat, **move)
            shown = [r["text"] for r in replies if r.get("text")]
            result.transcript.append((said, shown))
            words = " ".join(shown)
            if found := CASE.search(words):
                result.outcome, result.case_number = "case", found.group(1)
                break
            if PERSON.search(words):
                result.outcome = "person"
                break
            question = question_of(replies)
            run = run + 1 if question and question == previous else (1 if question else 0)
            previous = question
            result.longest_run = max(result.longest_run, run)
            slot = slot_of(question)
            if turn < random_turns:
                said, move = random_move(rng, replies, slot)
            else:
                said, move = cooperative_move(topic, replies, slot, rng)
    return result


def run_walks(gateway: str, *, per_topic: int, seed: int, budget: int = 40,
              workers: int = 4) -> list[Walk]:
    """``per_topic`` walks for each topic, ``workers`` at a time; seeded, so repeatable in
    what each walker does (the bot's answers may still vary with timing, e.g. office hours)."""
    jobs = [(topic, seed * 100_003 + n * 10_000 + i) for n, topic in enumerate(TOPICS) for i in range(per_topic)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: walk(gateway, job[0], random.Random(job[1]), budget=budget), jobs))


def figures(walks: list[Walk]) -> str:
    outcomes = Counter(w.outcome for w in walks)
    reached = outcomes["case"] + outcomes["person"]
    longest = max((w.longest_run for w in walks), default=0)
    turns = sum(len(w.transcript) for w in walks)
    lines = [
        f"conversations run: {len(walks)} ({len(walks) // len(TOPICS)} per topic), worker turns: {turns}",
        f"longest run of one repeated question: {longest} (allowed: {MAX_RUN})",
        f"reached a case or a person: {reached}/{len(walks)} = {reached / max(len(walks), 1):.1%} "
        f"(case {outcomes['case']}, person {outcomes['person']}, neither {outcomes[None]})",
    ]
    for topic in TOPICS:
        mine = [w for w in walks if w.topic == topic]
        got = Counter(w.outcome for w in mine)
        lines.append(f"  {topic:<17} case {got['case']:>4}  person {got['person']:>4}  neither {got[None]:>3}  "
                     f"longest run {max((w.longest_run for w in mine), default=0)}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--per-topic", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", type=int, default=40, help="worker turns per conversation")
    parser.add_argument("--workers", type=int, default=4, help="conversations at a time")
    args = parser.parse_args()
    started = time.monotonic()
    walks = run_walks(args.gateway, per_topic=args.per_topic, seed=args.seed, budget=args.budget,
                      workers=args.workers)
    print(figures(walks))
    print(f"took {time.monotonic() - started:.0f} s")
    bad = [w for w in walks if w.outcome is None or w.longest_run > MAX_RUN]
    for w in bad[:3]:
        print("\n" + w.show())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
