"""Fault runs against the real stack: what a crash, an outage or a restart in the middle of a
burst of Telegram conversations does to the workers' messages.

    .venv/bin/python bench/faults.py [--workers 30] [--messages 10]
        [--faults all|kill-gateway|rasa-down|actions-down|postgres-restart|dispatcher-kill[,…]]

It starts its own stack (`python -m bot stack` with ``FAKE_CHANNELS=1`` on free ports, against
a database it creates on the local PostgreSQL and drops afterwards; ``TEST_POSTGRES_URL`` as in
the tests). For each fault, ``--workers`` Telegram workers (chats started on the fake Bot API)
each write ``--messages`` messages — a wage dispute, the form's answers, the confirmation, a
thank-you — from a few threads at once, and the fault strikes while they do:

- ``kill-gateway``: SIGKILL the gateway after a third of the messages; the supervisor restarts
  it, and the fake re-delivers every update not answered 200, as Telegram does;
- ``rasa-down``: SIGKILL Rasa; it is down until the supervisor's restart has loaded the model;
- ``actions-down``: SIGSTOP the action server for ``--down`` seconds (it hangs, then goes on);
- ``postgres-restart``: ``pg_ctlcluster … restart`` of the local cluster (every database on it);
- ``dispatcher-kill``: status updates for the cases opened so far, written while the gateway is
  paused, then SIGKILL as soon as the dispatcher has sent the first of them.

Then it waits until nothing is pending anywhere and counts, read-only, from the database and
from what the fake Telegram's chats received: the fault table (target: every message answered,
none answered twice, none lost, no duplicate case). ``tests/e2e/test_faults.py`` runs
``kill-gateway`` in `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.telegram import CHOOSE  # noqa: E402
from bot.notify.texts import render  # noqa: E402

# One worker's messages: the dispute, the form's answers (as typed text), the confirmation
# that opens the case, and small talk after it.
SCRIPT = ("老板拖欠我三个月工资八千", "鑫达电子厂", "义乌稠江街道", "只有我", "不是", "跳过",
          "不要告诉单位", "发完了", "确认提交", "谢谢")
SMALL_TALK = ("在吗", "好的", "你好", "谢谢")
FINAL = ("answered", "for_staff", "failed")  # inbound statuses nothing more happens to
ANSWERED = ("answered", "for_staff")
FAULTS = ("kill-gateway", "rasa-down", "actions-down", "postgres-restart", "dispatcher-kill")
COLUMNS = ("fault", "sent", "answered", "answered twice", "lost", "duplicate cases", "seconds")


def worker_lines(messages: int) -> tuple[str, ...]:
    extra = max(0, messages - len(SCRIPT))
    return SCRIPT[:messages] + tuple(SMALL_TALK[n % len(SMALL_TALK)] for n in range(extra))


def stack_pid(output: Path, name: str) -> int:
    """The pid of ``name`` as the supervisor last started it (``started gateway (pid N, …``)."""
    found = re.findall(rf"started {re.escape(name)} \(pid (\d+)", output.read_text())
    if not found:
        raise LookupError(f"no {name} in {output}")
    return int(found[-1])


def wait_restarted(output: Path, name: str, old_pid: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while (pid := stack_pid(output, name)) == old_pid:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not restarted within {timeout:.0f} s")
        time.sleep(0.2)
    return pid


# --- the workers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    user_id: int
    update_id: int
    text: str
    webhook_status: int | None  # the answer to the fake's first post (None: none, or queued)


@dataclass(frozen=True)
class Trigger:
    """Do ``action`` (in a thread of its own) once ``after`` messages have been sent."""

    after: int
    action: Callable[[], None]


class TelegramBurst:
    """Workers writing to the bot at once, as Telegram users, through the fake Bot API's
    control routes: each worker's messages in order, one every ``interval`` seconds (give or
    take half), the workers spread over ``threads`` threads."""

    def __init__(self, fake: str, user_ids: Sequence[int], *, messages: int, threads: int = 5,
                 interval: float = 1.5, seed: int = 1) -> None:
        self.fake, self.user_ids, self.lines = fake, list(user_ids), worker_lines(messages)
        self.threads, self.interval = threads, interval
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.sent: list[Sent] = []

    def start_chats(self) -> None:
        with requests.Session() as http:
            for user_id in self.user_ids:
                http.post(f"{self.fake}/_fake/chats", json={"user_id": user_id, "first_name": f"工友{user_id % 1000}"},
                          timeout=10).raise_for_status()

    def run(self, triggers: Iterable[Trigger] = ()) -> list[Sent]:
        """Send every worker's messages; returns what was sent once the triggers are done too."""
        self.start_chats()
        pending = sorted(triggers, key=lambda t: t.after)
        fired: list[threading.Thread] = []

        def sent_one(item: Sent) -> None:
            with self._lock:
                self.sent.append(item)
                while pending and len(self.sent) >= pending[0].after:
                    thread = threading.Thread(target=pending.pop(0).action, daemon=True)
                    thread.start()
                    fired.append(thread)

        slices = [self.user_ids[n::self.threads] for n in range(self.threads)]
        starts = {u: self._random.uniform(0, self.interval) for u in self.user_ids}
        gaps = {u: [self._random.uniform(0.5, 1.5) * self.interval for _ in self.lines] for u in self.user_ids}
        workers = [threading.Thread(target=self._thread, args=(users, starts, gaps, sent_one), daemon=True)
                   for users in slices if users]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        for thread in fired:
            thread.join()
        return list(self.sent)

    def _thread(self, users: list[int], starts: dict[int, float], gaps: dict[int, list[float]],
                sent_one: Callable[[Sent], None]) -> None:
        begin = time.monotonic()
        due = {u: begin + starts[u] for u in users}
        position = dict.fromkeys(users, 0)
        with requests.Session() as http:
            while due:
                user = min(due, key=due.__getitem__)
                time.sleep(max(0.0, due[user] - time.monotonic()))
                n = position[user]
                body = {"kind": "text", "user_id": user, "text": self.lines[n]}
                answer = http.post(f"{self.fake}/_fake/updates", json=body, timeout=30).json()
                sent_one(Sent(user, answer["update"]["update_id"], self.lines[n], answer["webhook_status"]))
                position[user] = n + 1
                if position[user] == len(self.lines):
                    del due[user]
                else:
                    due[user] = time.monotonic() + gaps[user][n]


def chat_texts(fake: str, user_ids: Iterable[int]) -> dict[int, list[str]]:
    """What each chat received from the bot (text messages; a photo shows as its caption)."""
    with requests.Session() as http:
        return {u: [m.get("text") or m.get("caption") or "" for m in
                    http.get(f"{fake}/_fake/chats/{u}/messages", timeout=10).json()
                    if "text" in m or "caption" in m] for u in user_ids}


# --- counting --------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """The rows of the workers' messages, read-only: inbound by dedupe key, outbox rows, cases."""

    inbound: dict[str, dict[str, Any]]
    outbox: list[dict[str, Any]]
    cases: dict[int, list[str]]  # contact id → case numbers
    contacts: dict[int, int]  # Telegram user id → contact id


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _read(database_url: str, user_ids: Sequence[int]) -> Snapshot:
    from sqlalchemy import text

    from bot.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as db:
            contacts = {int(r.external_id): r.id for r in await db.execute(text(
                "SELECT id, external_id FROM contacts WHERE channel = 'telegram'"))
                if r.external_id.isdigit() and int(r.external_id) in set(user_ids)}
            ids = list(contacts.values()) or [-1]
            inbound = {r.dedupe_key: dict(r._mapping) for r in await db.execute(text(
                "SELECT id, dedupe_key, contact_id, status, attempts, received_at, answered_at "
                "FROM inbound_messages WHERE contact_id = ANY(:ids)"), {"ids": ids})}
            outbox = [dict(r._mapping, params=_json(r.params)) for r in await db.execute(text(
                "SELECT id, idempotency_key, template, params, inbound_id, contact_id, case_id, status, "
                "attempts, created_at, sent_at FROM outbox WHERE contact_id = ANY(:ids) ORDER BY id"), {"ids": ids})]
            cases: dict[int, list[str]] = {}
            for r in await db.execute(text(
                    "SELECT contact_id, number FROM cases WHERE contact_id = ANY(:ids) ORDER BY id"), {"ids": ids}):
                cases.setdefault(r.contact_id, []).append(r.number)
    finally:
        await engine.dispose()
    return Snapshot(inbound, outbox, cases, contacts)


def read_snapshot(database_url: str, user_ids: Sequence[int]) -> Snapshot:
    return asyncio.run(_read(database_url, user_ids))


def expected_texts(row: dict[str, Any]) -> list[str]:
    """The Telegram messages one delivered outbox row makes (as the adapter sends them)."""
    if row["template"] != "turn":
        return [render(row["template"], row["params"])]
    texts = []
    for reply in row["params"].get("replies") or []:
        if reply.get("text"):
            texts.append(reply["text"])
        elif reply.get("buttons") and not reply.get("image"):
            texts.append(CHOOSE)
    return texts


@dataclass
class Tally:
    """One row of the fault table, and what is behind its numbers."""

    fault: str
    sent: int = 0
    answered: int = 0
    twice: int = 0
    lost: int = 0
    duplicate_cases: int = 0
    seconds: float = 0.0
    out_of_order: list[int] = field(default_factory=list)  # inbound ids answered after a later one
    details: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """The target: every message answered, once, in order; nothing lost; no second case."""
        return self.answered == self.sent and not (self.twice or self.lost or self.duplicate_cases
                                                   or self.out_of_order)

    def cells(self) -> tuple[str, ...]:
        return (self.fault, str(self.sent), str(self.answered), str(self.twice), str(self.lost),
                str(self.duplicate_cases), f"{self.seconds:.0f}")


def table(rows: Sequence[Tally]) -> str:
    """The fault table in Markdown."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def tally_messages(fault: str, sent: Sequence[Sent], snapshot: Snapshot, received: dict[int, list[str]],
                   *, seconds: float) -> Tally:
    """Count a burst: every update stored once and answered, the answer delivered once."""
    tally = Tally(fault, sent=len(sent), seconds=seconds)
    sent_rows = [r for r in snapshot.outbox if r["status"] == "sent"]
    turns: dict[int, list[dict[str, Any]]] = {}
    for row in sent_rows:
        # ":kept:" and ":waiting" rows only tell the worker a message is saved (an
        # acknowledgement, not an answer): the answer is the one plain turn row
        if (row["template"] == "turn" and row["inbound_id"] is not None
                and ":kept:" not in row["idempotency_key"] and not row["idempotency_key"].endswith(":waiting")):
            turns.setdefault(row["inbound_id"], []).append(row)
    not_stored, unanswered, undelivered, twice = [], [], [], set()
    for item in sent:
        record = snapshot.inbound.get(f"telegram:{item.update_id}")
        if record is None:
            not_stored.append(item.update_id)
        elif record["status"] not in ANSWERED:
            unanswered.append((item.update_id, record["id"], record["status"]))
        elif any(r["inbound_id"] == record["id"] and r["template"] == "turn" and r["status"] != "sent"
                 for r in snapshot.outbox):
            undelivered.append((item.update_id, record["id"]))
        else:
            tally.answered += 1
        if record is not None and len(turns.get(record["id"], ())) > 1:
            twice.add(record["id"])
    # What each chat got against what was marked delivered to it: a surplus is a message sent
    # twice (a crash between the send and its record); a shortfall, one marked sent but not.
    by_contact: dict[int, list[dict[str, Any]]] = {}
    for row in sent_rows:
        by_contact.setdefault(row["contact_id"], []).append(row)
    for user_id, texts in received.items():
        rows = by_contact.get(snapshot.contacts.get(user_id, -1), [])
        expected = Counter(t for row in rows for t in expected_texts(row))
        for text, extra in (Counter(texts) - expected).items():
            owners = [r["inbound_id"] or r["idempotency_key"] for r in rows if text in expected_texts(r)]
            twice.update(owners[-1:] or [f"chat {user_id}"])
            tally.details.append(f"chat {user_id}: {extra} extra {text[:40]!r} (rows of inbound {owners})")
        for text, short in (expected - Counter(texts)).items():
            tally.details.append(f"chat {user_id}: {short} missing {text[:40]!r} (marked sent, not received)")
            undelivered.append((user_id, text[:20]))
    tally.twice = len(twice)
    tally.lost = len(not_stored) + len(unanswered) + len(undelivered)
    tally.duplicate_cases = sum(len(numbers) - 1 for numbers in snapshot.cases.values() if len(numbers) > 1)
    if not_stored:
        tally.details.append(f"not stored (update ids): {not_stored[:20]}")
    if unanswered:
        tally.details.append(f"not answered (update id, inbound id, status): {unanswered[:20]}")
    if undelivered:
        tally.details.append(f"answered, answer not delivered: {undelivered[:20]}")
    for contact_id, numbers in snapshot.cases.items():
        if len(numbers) > 1:
            tally.details.append(f"contact {contact_id}: cases {numbers}")
    tally.out_of_order = answered_out_of_order(snapshot)
    if tally.out_of_order:
        tally.details.append(f"answered after a later message of the same worker: {len(tally.out_of_order)} "
                             f"(inbound {tally.out_of_order[:20]})")
    refused = [s.update_id for s in sent if s.webhook_status != 200]
    tally.details.append(f"updates not taken at the first post (re-delivered by the fake): {len(refused)}")
    tally.details.append(latency_note(snapshot, sent))
    return tally


def answered_out_of_order(snapshot: Snapshot) -> list[int]:
    """Messages whose answer was written after the answer to a later message of the same
    worker (the order of turn rows is the order Rasa answered in)."""
    turn_of = {r["inbound_id"]: r["id"] for r in snapshot.outbox
               if r["template"] == "turn" and r["inbound_id"] is not None and ":kept:" not in r["idempotency_key"]}
    late: list[int] = []
    by_contact: dict[int, list[int]] = {}
    for record in snapshot.inbound.values():
        if record["id"] in turn_of:
            by_contact.setdefault(record["contact_id"], []).append(record["id"])
    for inbound_ids in by_contact.values():
        first_later = None  # the smallest turn row id among the worker's later messages
        for inbound_id in sorted(inbound_ids, reverse=True):
            if first_later is not None and turn_of[inbound_id] > first_later:
                late.append(inbound_id)
            first_later = min(turn_of[inbound_id], first_later or turn_of[inbound_id])
    return sorted(late)


def latency_note(snapshot: Snapshot, sent: Sequence[Sent]) -> str:
    """How long the slowest answers took from storing the message to delivering the answer."""
    keys = {f"telegram:{s.update_id}" for s in sent}
    delivered = {r["inbound_id"]: r["sent_at"] for r in snapshot.outbox
                 if r["template"] == "turn" and r["status"] == "sent" and ":kept:" not in r["idempotency_key"]}
    waits = sorted((delivered[r["id"]] - r["received_at"]).total_seconds()
                   for k, r in snapshot.inbound.items() if k in keys and r["id"] in delivered)
    if not waits:
        return "no answer delivered"
    over = sum(w > 30 for w in waits)
    return (f"store → answer delivered: median {waits[len(waits) // 2]:.1f} s, max {waits[-1]:.1f} s, "
            f"{over} over 30 s; cases opened: {sum(len(n) for n in snapshot.cases.values())}")


def settle(fake: str, database_url: str, sent: Sequence[Sent], *, timeout: float, quiet: float = 5.0,
           say: Callable[[str], None] = print) -> bool:
    """Wait until the fake holds no update, every message is answered or given up, no outbox
    row of the workers waits, and no chat has received anything for ``quiet`` seconds."""
    users = sorted({s.user_id for s in sent})
    keys = {f"telegram:{s.update_id}" for s in sent}
    deadline, last, since, reason = time.monotonic() + timeout, None, time.monotonic(), ""
    while time.monotonic() < deadline:
        pending = requests.get(f"{fake}/_fake/pending", timeout=10).json()["count"]
        snapshot = read_snapshot(database_url, users)
        open_inbound = sum(1 for k in keys if snapshot.inbound.get(k, {}).get("status") not in FINAL)
        open_outbox = sum(1 for r in snapshot.outbox if r["status"] == "pending")
        counts = {u: len(t) for u, t in chat_texts(fake, users).items()}
        if counts != last:
            last, since = counts, time.monotonic()
        now_reason = f"{pending} updates at the fake, {open_inbound} messages open, {open_outbox} outbox rows pending"
        if now_reason != reason:
            say(f"  waiting: {now_reason}")
            reason = now_reason
        if not pending and not open_inbound and not open_outbox and time.monotonic() - since >= quiet:
            return True
        time.sleep(1)
    say(f"  gave up waiting after {timeout:.0f} s: {reason}")
    return False


# --- the stack -------------------------------------------------------------------------------

ADMIN_DSN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class BenchStack:
    """`python -m bot stack` with fake channels, on free ports, against a database of its own."""

    def __init__(self, var_dir: Path) -> None:
        self.db_name = f"gongyou_faults_{uuid.uuid4().hex[:8]}"
        base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        self.database_url = f"{base}/{self.db_name}"
        self.var_dir = var_dir
        self.output = var_dir / "stack.out"
        self.ports = {name: free_port() for name in ("gateway", "rasa", "actions", "wechat", "telegram")}
        self.env = {k: v for k, v in os.environ.items() if k not in ("RASA_URL", "ACTION_URL", "RASA_TRACKER_DB")}
        self.env.update(
            DATABASE_URL=self.database_url, GONGYOU_VAR_DIR=str(var_dir), FAKE_CHANNELS="1", DISPATCH_INTERVAL="1",
            GATEWAY_PORT=str(self.ports["gateway"]), RASA_PORT=str(self.ports["rasa"]),
            ACTION_PORT=str(self.ports["actions"]), FAKE_WECHAT_PORT=str(self.ports["wechat"]),
            FAKE_TELEGRAM_PORT=str(self.ports["telegram"]),
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def fake(self) -> str:
        return f"http://127.0.0.1:{self.ports['telegram']}"

    def start(self, timeout: float = 600) -> None:
        asyncio.run(_admin(f'CREATE DATABASE "{self.db_name}"'))
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with self.output.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "stack"], cwd=ROOT, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while "[gongyou] web chat:" not in self.output.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not start:\n{self.output.read_text()[-3000:]}")
            time.sleep(0.5)

    def pid(self, name: str) -> int:
        return stack_pid(self.output, name)

    def cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120, check=True).stdout

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))


# --- the faults ------------------------------------------------------------------------------

def say(message: str) -> None:
    print(message, flush=True)


def run_burst(stack: BenchStack, fault: str, user_ids: Sequence[int], triggers: Sequence[Trigger], *,
              messages: int, interval: float, settle_timeout: float) -> Tally:
    burst = TelegramBurst(stack.fake, user_ids, messages=messages, interval=interval)
    started = time.monotonic()
    sent = burst.run(triggers)
    say(f"  {len(sent)} messages sent in {time.monotonic() - started:.0f} s")
    settle(stack.fake, stack.database_url, sent, timeout=settle_timeout, say=say)
    seconds = time.monotonic() - started
    snapshot = read_snapshot(stack.database_url, user_ids)
    return tally_messages(fault, sent, snapshot, chat_texts(stack.fake, user_ids), seconds=seconds)


def kill(stack: BenchStack, name: str) -> Callable[[], None]:
    def action() -> None:
        pid = stack.pid(name)
        say(f"  SIGKILL {name} (pid {pid})")
        os.kill(pid, signal.SIGKILL)
        new = wait_restarted(stack.output, name, pid)
        say(f"  {name} restarted by the supervisor (pid {new})")
    return action


def pause(stack: BenchStack, name: str, seconds: float) -> Callable[[], None]:
    def action() -> None:
        pid = stack.pid(name)
        say(f"  SIGSTOP {name} (pid {pid}) for {seconds:.0f} s")
        os.killpg(pid, signal.SIGSTOP)
        time.sleep(seconds)
        os.killpg(pid, signal.SIGCONT)
        say(f"  SIGCONT {name}")
    return action


async def _others_connected(own: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        rows = await conn.fetch("SELECT DISTINCT datname FROM pg_stat_activity WHERE datname IS NOT NULL "
                                "AND datname NOT IN ($1, 'postgres') AND pid <> pg_backend_pid()", own)
    finally:
        await conn.close()
    return [r["datname"] for r in rows]


def postgres_in_use(stack: BenchStack) -> str | None:
    """Why a cluster restart must not happen now (it cuts every session on the cluster)."""
    others = asyncio.run(_others_connected(stack.db_name))
    if others:
        return (f"skipped: restarting PostgreSQL would cut the sessions of {', '.join(others)}; run it when "
                "nothing else uses the cluster, or pass --shared-postgres-ok")
    return None


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    say(f"  pg_ctlcluster {version} main restart")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
    say("  PostgreSQL back")


def dispatcher_kill(stack: BenchStack, user_ids: Sequence[int], *, settle_timeout: float) -> Tally:
    """Status updates for every open case of the workers, written while the gateway is paused
    (SIGSTOP), so the dispatcher finds them as one batch when it goes on (SIGCONT); SIGKILL as
    soon as the first has reached a worker. Each update must reach its worker exactly once."""
    snapshot = read_snapshot(stack.database_url, user_ids)
    numbers = [n for contact_numbers in snapshot.cases.values() for n in contact_numbers]
    tally = Tally("dispatcher-kill", sent=len(numbers))
    if not numbers:
        tally.details.append("no cases to update")
        return tally
    started = time.monotonic()
    before = sum(len(t) for t in chat_texts(stack.fake, user_ids).values())
    gateway = stack.pid("gateway")
    os.kill(gateway, signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=lambda part=numbers[n::4]: [
            stack.cli("cases", "update", number, "--status", "accepted", "--note", "已联系单位") for number in part])
            for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        os.kill(gateway, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while sum(len(t) for t in chat_texts(stack.fake, user_ids).values()) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(gateway, signal.SIGKILL)
    say(f"  SIGKILL gateway (pid {gateway}) mid-batch; restarted as pid {wait_restarted(stack.output, 'gateway', gateway)}")
    users = sorted(user_ids)
    deadline = time.monotonic() + settle_timeout
    while time.monotonic() < deadline:
        rows = [r for r in read_snapshot(stack.database_url, users).outbox if r["template"] != "turn"]
        if rows and all(r["status"] != "pending" for r in rows):
            break
        time.sleep(1)
    time.sleep(5)
    after = read_snapshot(stack.database_url, users)
    received = chat_texts(stack.fake, users)
    by_contact = {contact: user for user, contact in after.contacts.items()}
    status_rows = [r for r in after.outbox if r["template"] != "turn" and r["case_id"] is not None]
    for row in status_rows:
        text = render(row["template"], row["params"])
        got = received.get(by_contact.get(row["contact_id"], -1), []).count(text)
        if got == 1:
            tally.answered += 1
        elif got > 1:
            tally.answered += 1
            tally.twice += 1
            tally.details.append(f"outbox {row['id']} ({row['idempotency_key']}) delivered {got} times")
        else:
            tally.lost += 1
            tally.details.append(f"outbox {row['id']} ({row['idempotency_key']}, {row['status']}) not delivered")
    tally.sent = len(status_rows)
    tally.duplicate_cases = sum(len(n) - 1 for n in after.cases.values() if len(n) > 1)
    tally.seconds = time.monotonic() - started
    return tally


def fault_list(value: str) -> tuple[str, ...]:
    names = FAULTS if value == "all" else tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in FAULTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown fault {', '.join(unknown) or value!r}; "
                                         f"choose all or from {', '.join(FAULTS)}")
    return names


def run_fault(stack: BenchStack, fault: str, users: Sequence[int], args: argparse.Namespace) -> Tally:
    total = len(users) * args.messages
    actions = {
        "kill-gateway": lambda: kill(stack, "gateway"),
        "rasa-down": lambda: kill(stack, "rasa"),
        "actions-down": lambda: pause(stack, "actions", args.down),
        "postgres-restart": lambda: restart_postgres,
    }
    trigger = Trigger(max(1, total // 3), actions[fault]())
    return run_burst(stack, fault, users, [trigger], messages=args.messages, interval=args.interval,
                     settle_timeout=args.settle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=30)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--faults", default="all", type=fault_list,
                        help=f"all, or one or more (comma-separated) of {', '.join(FAULTS)}")
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between a worker's messages")
    parser.add_argument("--down", type=float, default=60, help="seconds the action server hangs")
    parser.add_argument("--settle", type=float, default=600, help="seconds to wait for everything to be answered")
    parser.add_argument("--shared-postgres-ok", action="store_true",
                        help="restart PostgreSQL even while other databases on it are in use")
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var" / f"faults-{uuid.uuid4().hex[:6]}")
    args = parser.parse_args(argv)
    faults = args.faults
    stack = BenchStack(args.var_dir)
    rows: list[Tally] = []
    with_cases: list[int] = []  # workers whose conversations reached the confirmation
    say(f"starting the stack (output in {stack.output})")
    try:
        stack.start()
        for n, fault in enumerate(faults, start=1):
            users = [9_000_000 + 10_000 * n + w for w in range(args.workers)]
            say(f"{fault}: {args.workers} workers × {args.messages} messages")
            if fault == "dispatcher-kill":
                if not with_cases:
                    say("  first, a burst without a fault to open the cases")
                    run_burst(stack, "(cases)", users, (), messages=len(SCRIPT), interval=args.interval,
                              settle_timeout=args.settle)
                    with_cases = users
                row = dispatcher_kill(stack, with_cases, settle_timeout=args.settle)
            elif fault == "postgres-restart" and not args.shared_postgres_ok and (why := postgres_in_use(stack)):
                row = Tally(fault, details=[why])
            else:
                row = run_fault(stack, fault, users, args)
                if args.messages > SCRIPT.index("确认提交"):
                    with_cases += users
            rows.append(row)
            say(table([row]))
            for line in row.details:
                say(f"    {line}")
    finally:
        stack.stop()
    say("\n" + table(rows))
    return 0 if all(row.clean for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
