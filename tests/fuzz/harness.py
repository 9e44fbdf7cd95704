"""The fuzz harness: real gateways on real ports, and one checked request at a time.

:func:`running_fuzz_gateways` starts two apps exactly as ``create_app`` builds them, over one
database and one evidence directory:

- ``aes``: WeChat with an EncodingAESKey (callbacks in safe and compatible mode), Telegram,
  the web chat and upload links;
- ``plain``: the same without the key (WeChat in plain mode; a compatible-mode body is read
  from its plain fields).

Rasa, the action server, WeChat's API and Telegram's Bot API are closed ports, so nothing
outside is needed: every accepted message is stored and "kept for later". The per-address
and per-sender rate limits are raised (a fuzzer is one client posting far faster than a
person; ``test_ratelimit`` fuzzes with small limits), and Telegram's outbound pacing (1 s a
chat, 30/s overall: our politeness to the Bot API, not an inbound check) is lifted so the
thousands of "please write in words" answers do not queue for minutes behind it.

:meth:`Fuzz.check` sends one :class:`HttpRequest` and checks the properties:

- no 5xx;
- no stack trace in the body;
- a refused request (4xx) stored nothing: no new row in ``inbound_messages``, ``contacts``,
  ``evidence_items`` or ``callback_nonces`` (``Snapshot``), and for the file routes no new
  file in the evidence store (every file counted, in the tests; in the bench, whose store
  grows to thousands, the files its own parts would be stored as);
- no temporary upload left behind (``var/tmp/upload-*``) once a file route answered;
- an answer at all (a hang, or a connection dropped twice, is a violation too).

Requests are sent one after another, so the database before and after a request differs
only by what that request did: answering an accepted message in the background (Rasa down:
kept for retry, a turn row, a failed send) writes to other tables and never to those four —
files of WeChat and Telegram are downloaded in the background, from an API that is down. So
one query after each request serves as the "before" of the next.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import re
import time
import traceback
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from yarl import URL

from bot.cases.evidence import EvidenceItem, evidence_path
from bot.cases.models import Contact, InboundRecord
from bot.cases.nonces import CallbackNonce
from bot.channels.telegram import SendPacer
from bot.channels.upload import make_upload_token
from bot.channels.webchat import WebChatChannel
from bot.db import create_engine
from bot.fakes.wechat_callbacks import callback_request, text_xml
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.keys import GATEWAY
from tests.conftest import free_port

WECHAT_TOKEN = "fuzz-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wxfuzz00000000001"
APP_SECRET = "fuzz-app-secret"
TELEGRAM_TOKEN = "123456:AAHfuzzTokenForGongyouTests"
TELEGRAM_SECRET = "gongyou-fuzz_secret"
UPLOAD_SECRET = "fuzz-upload-secret"
WEBCHAT_SECRET = "fuzz-webchat-secret"
HIGH = "1000000/100000"  # a rate no fuzz run reaches
FILE_ROUTES = frozenset({"chat/files", "upload"})
# what a Python traceback looks like in a body (the error middleware must never send one)
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"[^\"\n]{1,300}\", line \d+")


# -- the request ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One request as the strategies describe it. ``target`` names the gateway (``aes`` or
    ``plain``); ``path`` is the percent-encoded path and query, sent exactly as given."""

    route: str  # wechat, telegram, chat/messages, chat/files, chat/updates, upload
    mode: str  # e.g. "safe POST", "plain GET", "valid-secret json", "random"
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    target: str = "aes"
    skip_auto_headers: tuple[str, ...] = ()
    # SHA-256 of each part of a multipart body: where the evidence store would put it
    digests: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.route} {self.mode}"

    def __repr__(self) -> str:  # short enough for a failure report, long enough to replay
        body = self.body if self.body is None or len(self.body) <= 600 else self.body[:600] + b"..."
        return (f"HttpRequest({self.method} {self.target}:{self.path[:400]!r} headers={self.headers!r} "
                f"body({0 if self.body is None else len(self.body)})={body!r})")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


# -- the gateways and what the strategies need to know about them ----------------------------


@dataclass
class Context:
    """Secrets and known identities the "almost valid" strategies sign and address with.

    ``run`` makes message ids, update ids and nonces unique across runs over one database
    (the test database lives for the whole session; a replayed id would only be a repeat).
    """

    known_senders: list[str] = field(default_factory=list)  # web chat, each with a contact
    contact_ids: list[int] = field(default_factory=list)  # for validly signed upload links
    run: int = field(default_factory=lambda: random.randrange(1, 10**6))
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    used_nonces: list[tuple[str, str]] = field(default_factory=list)  # signed (timestamp, nonce) pairs

    def unique(self) -> int:
        """A number no other request of this process used."""
        return self.run * 10**9 + next(self._counter)

    def session_for(self, sender: str) -> str:
        return WebChatChannel(sessionmaker=None, render=lambda t, p: "",  # type: ignore[arg-type]
                              secret=WEBCHAT_SECRET).session_for(sender)

    def upload_token(self, contact_id: int, *, expires_in: int = 3600) -> str:
        return make_upload_token(contact_id, UPLOAD_SECRET, expires_at=int(time.time()) + expires_in)

    def fresh_nonce(self) -> str:
        return f"n{self.unique()}"


def fuzz_settings(database_url: str, var_dir: Path, evidence_dir: Path, port: int, *,
                  aes_key: str | None, rates: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
    env = {
        "DATABASE_URL": database_url,
        "GATEWAY_PORT": str(port),
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_URL": f"http://127.0.0.1:{free_port()}",
        "GONGYOU_VAR_DIR": str(var_dir),
        "EVIDENCE_DIR": str(evidence_dir),
        "BACKGROUND_JOBS": "0",
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_AES_KEY": aes_key or "",
        "WECHAT_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "UPLOAD_SECRET": UPLOAD_SECRET,
        "WEBCHAT_SECRET": WEBCHAT_SECRET,
        # small caps, so "oversized" costs a megabyte, not sixty
        "UPLOAD_MAX_FILE_MB": "1", "UPLOAD_MAX_REQUEST_MB": "2", "UPLOAD_MAX_DAY_MB": "4",
    }
    for name in ("RATE_WEBCHAT_IP", "RATE_WEBCHAT_FILES_IP", "RATE_WEBCHAT_POLL_IP", "RATE_UPLOAD_IP", "RATE_SENDER"):
        env[name] = (rates or {}).get(name, HIGH)
    return load_settings(env, dotenv=var_dir / "none.env")


@dataclass
class Gateways:
    urls: dict[str, str]  # "aes" / "plain" → base URL
    apps: dict[str, web.Application]
    engine: AsyncEngine
    evidence_dir: Path
    tmp_dirs: list[Path]
    ctx: Context
    # what the last checked request left (see Fuzz): kept here, where every Fuzz on these
    # gateways sees it, so a request through one never passes for the doing of another
    last_rows: tuple[int | None, ...] | None = None
    last_files: int | None = None

    async def drain(self) -> None:
        """Wait for the background work of accepted messages (turns, Telegram's answers)."""
        for app in self.apps.values():
            gateway = app[GATEWAY]
            await gateway.pipeline.drain()
            if gateway.telegram is not None:
                while gateway.telegram._tasks:
                    await gateway.telegram._tasks.pop()  # type: ignore[misc]


@contextlib.asynccontextmanager
async def running_fuzz_gateways(database_url: str, var_dir: Path, *,
                                rates: Mapping[str, str] | None = None,
                                known_senders: int = 4) -> AsyncIterator[Gateways]:
    """The two gateways, started, with a few known web-chat senders (each with a contact and
    a signed session) and their contacts' upload links."""
    evidence_dir = var_dir / "evidence"
    runners, urls, apps, tmp_dirs = [], {}, {}, []
    for name, key in (("aes", AES_KEY), ("plain", None)):
        port = free_port()
        settings = fuzz_settings(database_url, var_dir / name, evidence_dir, port, aes_key=key, rates=rates)
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        gateway = app[GATEWAY]
        assert gateway.telegram is not None and gateway.wechat is not None
        assert (gateway.wechat.crypto is not None) == (key is not None)
        gateway.telegram.pacer = SendPacer(per_chat=0.0, overall=10**6)
        runners.append(runner)
        urls[name], apps[name] = f"http://127.0.0.1:{port}", app
        tmp_dirs.append(settings.var_dir / "tmp")
    # reads only: on SQLite without the gateway's BEGIN IMMEDIATE, which would queue each
    # snapshot behind (and in front of) the gateway's own writes
    engine = create_async_engine(database_url) if database_url.startswith("sqlite") else create_engine(database_url)
    ctx = Context()
    gateways = Gateways(urls, apps, engine, evidence_dir, tmp_dirs, ctx)
    try:
        async with aiohttp.ClientSession() as http:
            await _seed_identities(http, gateways, known_senders)
        yield gateways
    finally:
        await gateways.drain()
        for runner in runners:
            await runner.cleanup()
        await engine.dispose()


async def _seed_identities(http: aiohttp.ClientSession, gateways: Gateways, count: int) -> None:
    ctx = gateways.ctx
    for n in range(count):
        sender = f"fz-{uuid.uuid4().hex[:10]}"
        async with http.post(gateways.urls["aes"] + "/chat/api/messages",  # an address each: limits may be small
                             json={"sender": sender, "text": "老板欠我三个月工资"},
                             headers={"X-Real-IP": f"192.0.2.{n + 1}"}) as resp:
            assert resp.status == 200, await resp.text()
        ctx.known_senders.append(sender)
    # a WeChat worker too, so upload links also name a contact of another channel
    openid = f"o_fuzz{uuid.uuid4().hex[:12]}"
    query, body = callback_request("safe", WECHAT_TOKEN, AES_KEY, APP_ID, text_xml(openid, "你好"),
                                   nonce=ctx.fresh_nonce())
    async with http.post(gateways.urls["aes"] + "/wechat", params=query, data=body) as resp:
        assert resp.status == 200, await resp.text()
    async with gateways.engine.connect() as connection:
        ids = (await connection.execute(select(Contact.id).where(
            Contact.external_id.in_([*ctx.known_senders, openid])))).scalars().all()
    ctx.contact_ids.extend(sorted(ids))


# -- the checks ------------------------------------------------------------------------------


_TABLES = (InboundRecord, Contact, EvidenceItem, CallbackNonce)
_SNAPSHOT = select(*(select(func.max(t.id)).scalar_subquery() for t in _TABLES))


@dataclass(frozen=True)
class Snapshot:
    """The newest row of each table a request may write; for the file routes (nothing else
    writes to the evidence store in a request) the number of files in it, and which of the
    request's parts are there."""

    rows: tuple[int | None, ...]
    files: int | None = None
    present: frozenset[str] = frozenset()

    def stored(self, before: Snapshot) -> list[str]:
        grew = [t.__tablename__ for t, a, b in zip(_TABLES, before.rows, self.rows) if (a or 0) != (b or 0)]
        if before.files is not None and self.files is not None and self.files != before.files:
            grew.append(f"evidence files ({before.files} → {self.files})")
        if new := self.present - before.present:
            grew.append(f"evidence files of its parts ({len(new)})")
        return grew


def _count_files(root: Path) -> int:
    total = 0
    for _dirpath, _dirs, files in os.walk(root):
        total += len(files)
    return total


@dataclass
class Stats:
    """What a run sent and what came back."""

    by_label: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    by_label_status: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: int = 0
    stored_when_refused: int = 0
    tracebacks: int = 0
    leftovers: int = 0
    no_answer: int = 0
    resent: int = 0
    no_answer_kinds: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_label.values())

    def merge(self, other: Stats) -> None:
        self.by_label.update(other.by_label)
        self.statuses.update(other.statuses)
        self.by_label_status.update(other.by_label_status)
        for name in ("server_errors", "stored_when_refused", "tracebacks", "leftovers", "no_answer", "resent"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.no_answer_kinds.update(other.no_answer_kinds)
        self.violations.extend(other.violations)


# every generated request the fuzz tests of this process sent (the summary line of the run)
GENERATED = Stats()


class Violation(AssertionError):
    pass


class ServerErrors(logging.Handler):
    """The error middleware's log of an unhandled exception: what a 500 was, in one line
    (its type, message and the innermost frame of our code)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            ours = [f for f in traceback.extract_tb(exc.__traceback__) if "/bot/" in f.filename]
            where = f" at {ours[-1].filename.split('/bot/', 1)[-1]}:{ours[-1].lineno}" if ours else ""
            self.last = f"{type(exc).__name__}: {str(exc)[:200]}{where}"


class Fuzz:
    """Sends requests to the gateways one at a time and checks every answer."""

    def __init__(self, gateways: Gateways, http: aiohttp.ClientSession, *, stats: Stats | None = None,
                 raise_on_violation: bool = True, count_files: bool = True) -> None:
        self.gateways = gateways
        self.http = http
        self.stats = stats if stats is not None else Stats()
        self.raise_on_violation = raise_on_violation
        self.errors = ServerErrors()
        logging.getLogger("bot.web.errors").addHandler(self.errors)
        # Count every file of the evidence store around each file-route request (the tests);
        # without (the bench, whose store grows to thousands of files), only the files its
        # own parts would be stored as are looked for.
        self.count_files = count_files

    @property
    def ctx(self) -> Context:
        return self.gateways.ctx

    def close(self) -> None:
        logging.getLogger("bot.web.errors").removeHandler(self.errors)

    async def _rows(self) -> tuple[int | None, ...]:
        async with self.gateways.engine.connect() as connection:
            return tuple((await connection.execute(_SNAPSHOT)).one())

    def _present(self, request: HttpRequest) -> frozenset[str]:
        root = self.gateways.evidence_dir
        return frozenset(d for d in request.digests if evidence_path(root, d).exists())

    async def _before(self, request: HttpRequest, files: bool) -> Snapshot:
        """The tables as the previous request left them: between two requests only the
        background answers of accepted messages run, and they write none of these tables, so
        one query a request does (a wrong guess could only report a refusal that stored)."""
        gateways = self.gateways
        rows = gateways.last_rows if gateways.last_rows is not None else await self._rows()
        count = None
        if files and self.count_files:
            count = gateways.last_files if gateways.last_files is not None else _count_files(gateways.evidence_dir)
        return Snapshot(rows, count, self._present(request) if files else frozenset())

    def _leftovers(self) -> list[str]:
        found = []
        for tmp in self.gateways.tmp_dirs:
            if tmp.is_dir():
                found += [p.name for p in tmp.iterdir() if p.name.startswith("upload-")]
        return found

    async def send(self, request: HttpRequest) -> Answer:
        """The answer to ``request``; sent again, once, on a new connection when the kept-alive
        one turns out closed (the server may close it after answering the previous request)."""
        try:
            return await self._send(self.http, request)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            self.stats.resent += 1
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
                return await self._send(fresh, request)

    async def _send(self, http: aiohttp.ClientSession, request: HttpRequest) -> Answer:
        url = URL(self.gateways.urls[request.target] + request.path, encoded=True)
        async with http.request(
            request.method, url, headers=list(request.headers), data=request.body, allow_redirects=False,
            skip_auto_headers=request.skip_auto_headers, timeout=aiohttp.ClientTimeout(total=60),
        ) as resp:
            body = await resp.read()
            return Answer(resp.status, body, resp.headers.get("Content-Type", ""))

    async def check(self, request: HttpRequest) -> Answer | None:
        """Send ``request`` and check the properties; a violation raises (or, with
        ``raise_on_violation=False``, is counted and returned with the answer)."""
        files = request.route in FILE_ROUTES
        before = await self._before(request, files)
        self.errors.last = None
        try:
            answer = await self.send(request)
        except aiohttp.ClientResponseError as exc:
            # answered, but not in a shape the client reads to the end: a body after the
            # answer to a HEAD request, as aiohttp's own parser sends its 400s; judged by the status
            answer = Answer(exc.status, str(exc.message).encode(), "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            # No answer, twice: the server hung (a timeout) or dropped the connection.
            self.stats.no_answer += 1
            self.stats.no_answer_kinds[f"{request.label}: {type(exc).__name__}"] += 1
            self.stats.by_label[request.label] += 1
            self.gateways.last_rows = self.gateways.last_files = None
            self._violation(request, None, [f"no answer: {exc!r}"])
            return None
        problems: list[str] = []
        if answer.status >= 500:
            self.stats.server_errors += 1
            problems.append(f"HTTP {answer.status}" + (f" ({self.errors.last})" if self.errors.last else ""))
        if TRACEBACK.search(answer.body):
            self.stats.tracebacks += 1
            problems.append("a stack trace in the body")
        after = Snapshot(await self._rows())
        self.gateways.last_rows = after.rows
        if files:
            count = _count_files(self.gateways.evidence_dir) if self.count_files else None
            self.gateways.last_files = count
            after = Snapshot(after.rows, count, self._present(request))
        if 400 <= answer.status < 500:
            if grew := after.stored(before):
                self.stats.stored_when_refused += 1
                problems.append(f"refused with {answer.status} but stored: {', '.join(grew)}")
        if files and (left := self._leftovers()):
            self.stats.leftovers += 1
            problems.append(f"temporary uploads left behind: {left[:3]}")
        self.stats.by_label[request.label] += 1
        self.stats.statuses[answer.status] += 1
        self.stats.by_label_status[(request.label, answer.status)] += 1
        if problems:
            self._violation(request, answer, problems)
        return answer

    def _violation(self, request: HttpRequest, answer: Answer | None, problems: list[str]) -> None:
        shown = "" if answer is None else f" → {answer.status} {answer.body[:500]!r}"
        text = f"{'; '.join(problems)}: {request!r}{shown}"
        self.stats.violations.append(text)
        if self.raise_on_violation:
            raise Violation(text)


def report(stats: Stats, *, elapsed: float) -> str:
    """The figures of a run, as the bench prints them."""
    lines = [f"requests: {stats.total} in {elapsed:.1f} s ({stats.total / elapsed if elapsed else 0:.0f}/s)", "",
             "requests per route and mode:"]
    width = max((len(label) for label in stats.by_label), default=10)
    for label, n in sorted(stats.by_label.items()):
        codes = " ".join(f"{code}:{count}" for (lab, code), count in sorted(stats.by_label_status.items())
                         if lab == label)
        lines.append(f"  {label:<{width}}  {n:>7}   {codes}")
    lines += ["", "status codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(stats.statuses.items())), "",
              f"5xx answers:                      {stats.server_errors}",
              f"refused (4xx) but stored:         {stats.stored_when_refused}",
              f"stack traces in a body:           {stats.tracebacks}",
              f"temporary uploads left behind:    {stats.leftovers}",
              f"closed without an answer:         {stats.no_answer}"
              + "".join(f"\n    {kind}: {n}" for kind, n in stats.no_answer_kinds.most_common()),
              f"sent again on a new connection:   {stats.resent}",
              f"elapsed:                          {elapsed:.1f} s"]
    return "\n".join(lines)
