"""NLU and conversation latency against a running stack (`make run` first).

    .venv/bin/python bench/nlu_latency.py [--gateway http://127.0.0.1:8080] [--rasa http://127.0.0.1:5005] [-n 200]

1. Parse latency: ``POST /model/parse`` on Rasa for held-out messages (what the model
   costs per message), p50/p95/p99.
2. A full dispute-form conversation through the gateway's web chat API (what a worker
   waits per turn: gateway → Rasa → action server → database → back), per turn and overall.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.training.nludata import read_examples  # noqa: E402

CONVERSATION = [
    "鑫达电子厂欠我三个月工资一共八千多块",
    "义乌稠江街道",
    "只有我",
    "不是",
    "跳过",
    "不要告诉单位",
    "跳过",
    "确认",
]


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return (f"n={len(ordered)} p50={pick(0.50) * 1000:.1f} ms p95={pick(0.95) * 1000:.1f} ms "
            f"p99={pick(0.99) * 1000:.1f} ms max={ordered[-1] * 1000:.1f} ms")


def bench_parse(rasa: str, n: int) -> None:
    texts = [e.text for e in read_examples(ROOT / "tests" / "nlu" / "heldout.yml")][:n]
    with requests.Session() as http:
        http.post(f"{rasa}/model/parse", json={"text": "你好"}, timeout=30)  # warm-up
        samples = []
        for text in texts:
            started = time.perf_counter()
            response = http.post(f"{rasa}/model/parse", json={"text": text}, timeout=30)
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
    print(f"parse latency (Rasa /model/parse, held-out messages): {percentiles(samples)}")


def bench_conversation(gateway: str, rounds: int) -> None:
    per_turn: list[list[float]] = [[] for _ in CONVERSATION]
    with requests.Session() as http:
        for _ in range(rounds):
            sender = f"bench-{uuid.uuid4().hex[:8]}"
            session = None  # the conversation's, from the first answer
            for i, text in enumerate(CONVERSATION):
                started = time.perf_counter()
                response = http.post(f"{gateway}/chat/api/messages", timeout=60,
                                     json={"sender": sender, "text": text, "session": session})
                per_turn[i].append(time.perf_counter() - started)
                response.raise_for_status()
                session = response.json().get("session", session)
            last = " ".join(r.get("text", "") for r in response.json()["replies"])
            if "案件编号" not in last:
                print(f"warning: conversation did not end with a case: {last[:80]}")
    for text, samples in zip(CONVERSATION, per_turn):
        print(f"  turn {text[:14]:<16} median {statistics.median(samples) * 1000:7.1f} ms  max {max(samples) * 1000:7.1f} ms")
    print(f"per-turn latency over {rounds} conversations: {percentiles([s for turn in per_turn for s in turn])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--rasa", default="http://127.0.0.1:5005")
    parser.add_argument("-n", type=int, default=200, help="messages to parse")
    parser.add_argument("--rounds", type=int, default=5, help="form conversations to run")
    args = parser.parse_args()
    bench_parse(args.rasa, args.n)
    bench_conversation(args.gateway, args.rounds)


if __name__ == "__main__":
    main()
