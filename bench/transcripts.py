"""One conversation per dispute topic, typed as a worker would, from the opening message to
the case number — against a running stack (`make run` first).

    .venv/bin/python bench/transcripts.py [--gateway http://127.0.0.1:8080] [--markdown]

Each opening message names the employer and the amount, so by issue #4 each conversation
must reach its case number in at most 8 worker turns. The script prints every turn (the
worker's words, the bot's replies and buttons), the turn count and the case number, and
exits non-zero when a conversation does not end in a case or takes more turns.
``tests/e2e/test_dispute_topics.py`` plays the same scripts against a stack it starts.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from dataclasses import dataclass, field

import requests

MAX_TURNS = 8


@dataclass(frozen=True)
class Script:
    topic: str        # case category the conversation must open
    title: str
    lines: tuple[str, ...]
    expect: dict[str, object] = field(default_factory=dict)  # facts the opened case must carry


SCRIPTS: tuple[Script, ...] = (
    Script(
        "unpaid_wages", "欠薪 unpaid wages",
        ("义乌鑫达电子厂欠我三个月工资八千多块 老板一直拖着不给",
         "义乌稠江街道",
         "就我一个",
         "不是工地",
         "13857912345",
         "可以告诉",
         "没有证据",
         "确认"),
        {"amount": 8000, "employer": "鑫达电子厂"},
    ),
    Script(
        "overtime", "加班 overtime",
        ("在金华宏达模具厂上班天天加班到半夜 一个月工资才四千五 加班费一分都没有",
         "金华婺城区",
         "每天差不多13个小时",
         "没给过",
         "去年三月开始",
         "跳过",
         "就这些",
         "确认"),
        {"employer": "宏达模具厂", "facts.monthly_wage": 4500},
    ),
    Script(
        "injury", "工伤 work injury",
        ("我在顺丰分拣中心干活 手被传送带卷进去骨折了 医药费花了一万二 公司一分不给报",
         "杭州萧山",
         "上个月12号",
         "在车间干活的时候",
         "没有报",
         "15967123456",
         "没有",
         "确认"),
        {"employer": "顺丰", "amount": 12000},
    ),
    Script(
        "dismissal", "解雇 dismissal",
        ("永辉超市突然叫我明天不用来了 干了三年 一个月六千 补偿一分没有",
         "宁波北仑",
         "这周一",
         "店长口头说的",
         "13600001111",
         "跳过",
         "确认"),
        {"employer": "永辉超市", "facts.monthly_wage": 6000, "facts.service_months": 36},
    ),
    Script(
        "social_insurance", "社保 social insurance",
        ("在富士康干了两年 社保一直没给交 每个月工资五千二",
         "郑州航空港区",
         "五险都没有",
         "入职就没交",
         "没签合同",
         "跳过",
         "没有",
         "确认"),
        {"employer": "富士康", "facts.monthly_wage": 5200},
    ),
)


def render(replies: list[dict]) -> list[str]:
    out = []
    for reply in replies:
        text = (reply.get("text") or "").strip()
        if text:
            out.append(text)
        if reply.get("buttons"):
            out.append("[" + " | ".join(b["title"] for b in reply["buttons"]) + "]")
    return out


def play(gateway: str, script: Script, sender: str | None = None) -> tuple[list[tuple[str, list[str]]], str | None]:
    """Say the script's lines; returns the transcript and the case number (None if no case)."""
    sender = sender or f"transcript-{uuid.uuid4().hex[:8]}"
    transcript: list[tuple[str, list[str]]] = []
    number = None
    session = None  # the conversation's, from the first answer
    with requests.Session() as http:
        for line in script.lines:
            response = http.post(f"{gateway}/chat/api/messages", timeout=60,
                                 json={"sender": sender, "text": line, "session": session})
            response.raise_for_status()
            session = response.json().get("session", session)
            replies = render(response.json()["replies"])
            transcript.append((line, replies))
            found = re.search(r"案件编号\s*(GY-\d{4}-\d+)", " ".join(replies))
            if found:
                number = found.group(1)
                break
    return transcript, number


def show(script: Script, transcript: list[tuple[str, list[str]]], number: str | None, markdown: bool) -> str:
    lines = [f"### {script.title}" if markdown else f"== {script.title} ==", ""]
    if markdown:
        lines.append("```")
    for said, replies in transcript:
        lines.append(f"工友: {said}")
        for reply in replies:
            first, *rest = reply.splitlines()
            lines.append(f"助手: {first}")
            lines += [f"      {r}" for r in rest]
    if markdown:
        lines.append("```")
    lines += ["", f"worker turns: {len(transcript)}; case: {number or 'NOT OPENED'}", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--markdown", action="store_true", help="print as Markdown")
    args = parser.parse_args()
    failed = 0
    for script in SCRIPTS:
        transcript, number = play(args.gateway, script)
        print(show(script, transcript, number, args.markdown))
        if number is None or len(transcript) > MAX_TURNS:
            failed += 1
    print(f"{len(SCRIPTS) - failed}/{len(SCRIPTS)} topics reached a case in at most {MAX_TURNS} worker turns")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
