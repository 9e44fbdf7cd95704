"""Fuzz every inbound route of a gateway this command starts itself, at scale.

    .venv/bin/python -m bench.fuzz [--requests 100000] [--database sqlite|postgresql|URL]
        [--workers N] [--families wechat-safe,telegram,…] [--max-seconds S] [--seed N]

The same strategies and checks as ``tests/fuzz`` (``tests.fuzz.strategies.FAMILIES``,
``tests.fuzz.harness``): two real gateways on real ports (WeChat with and without an AES
key, Telegram, the web chat, upload links) over a fresh database — a SQLite file (in
``/dev/shm`` by default), or a database created on the local PostgreSQL
(``TEST_POSTGRES_URL`` as in the tests) and dropped afterwards — with Rasa, the action
server and the platforms' APIs down. The requests are shared out among the families by
their weights and drawn by Hypothesis (generation only: a violation is counted and shown,
not shrunk), one at a time per worker; ``--workers`` (default: the CPUs, at most 4)
processes each start their own gateways over their own database and take a share.
Around an upload the bench looks for the files of the request's own parts in the evidence
store (``--count-files``: count the whole store, as the tests do — slow once it is large).

Prints the requests per route and mode with their status codes, the status-code histogram,
the number of 5xx answers (must be 0), of refused requests that stored something (must be
0), of bodies with a stack trace and of temporary uploads left behind (both must be 0), and
the elapsed time. Exits 1 on any violation, 0 otherwise. ``--max-seconds`` stops early
(the figures are those of what was sent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings  # noqa: E402

from bot.db import create_engine  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from tests.fuzz.harness import Fuzz, Stats, report, running_fuzz_gateways  # noqa: E402
from tests.fuzz.strategies import FAMILIES  # noqa: E402

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CHUNK = 1000  # examples per Hypothesis run; the families take turns run by run


def shares(total: int, families: list[str]) -> dict[str, int]:
    """``total`` requests shared out by weight (the remainder to the heaviest families)."""
    weights = {name: FAMILIES[name][1] for name in families}
    whole = sum(weights.values())
    out = {name: total * w // whole for name, w in weights.items()}
    for name in sorted(weights, key=weights.__getitem__, reverse=True)[: total - sum(out.values())]:
        out[name] += 1
    return out


@contextlib.asynccontextmanager
async def database(kind: str, tmp: Path):  # type: ignore[no-untyped-def]
    """A migrated database of ``kind`` (sqlite, postgresql, or a URL), dropped afterwards
    when this command created it."""
    if kind == "sqlite":
        url, drop = f"sqlite+aiosqlite:///{tmp / 'fuzz.db'}", None
    elif kind == "postgresql":
        name = f"gongyou_fuzz_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        url, drop = f"{base}/{name}", name
    else:
        url, drop = kind, None
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        if drop is not None:
            conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            finally:
                await conn.close()


@contextlib.asynccontextmanager
async def _client():  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:  # made inside the loop, as aiohttp wants
        yield http


def run_family(loop: asyncio.AbstractEventLoop, fuzz: Fuzz, family: str, count: int, run_seed: int) -> int:
    """``count`` requests of ``family`` in one Hypothesis run; how many were sent."""
    sent = 0

    @hypothesis_seed(run_seed)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(request=FAMILIES[family][0](fuzz.ctx))
    def one(request) -> None:  # type: ignore[no-untyped-def]
        nonlocal sent
        if sent >= count:
            return
        sent += 1
        loop.run_until_complete(fuzz.check(request))

    one()
    return sent


def _quiet() -> None:
    # the gateway logs every refusal and every failed send to the (closed) APIs: keep errors only
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot.web.errors").propagate = False  # counted (and named) as 5xx instead
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # its own 400s to unparsable requests
    logging.getLogger("bot.channels.telegram").setLevel(logging.CRITICAL)  # answers to a Bot API that is down
    for odd in (BadContentDispositionHeader, BadContentDispositionParam):  # what aiohttp thinks of odd parts
        warnings.simplefilter("ignore", odd)


def run(args: argparse.Namespace, todo: dict[str, int], run_seed: int, name: str = "") -> Stats:
    """One gateway pair over its own database, ``todo`` requests per family; the figures."""
    _quiet()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stats, started, total = Stats(), time.monotonic(), sum(todo.values())
    with tempfile.TemporaryDirectory(prefix="gongyou-fuzz-", dir=args.tmp_dir) as tmp:
        stack = contextlib.AsyncExitStack()
        url = loop.run_until_complete(stack.enter_async_context(database(args.database, Path(tmp))))
        gateways = loop.run_until_complete(stack.enter_async_context(running_fuzz_gateways(url, Path(tmp) / "var")))
        http = loop.run_until_complete(stack.enter_async_context(_client()))
        fuzz = Fuzz(gateways, http, stats=stats, raise_on_violation=False, count_files=args.count_files)
        print(f"{name}fuzzing {total} requests against {url.split('://')[0]} "
              f"(families: {', '.join(f'{k}={v}' for k, v in todo.items())})", flush=True)
        try:
            while any(todo.values()):
                for family in todo:
                    if not todo[family]:
                        continue
                    if args.max_seconds is not None and time.monotonic() - started > args.max_seconds:
                        todo = {k: 0 for k in todo}
                        break
                    run_seed += 1
                    sent = run_family(loop, fuzz, family, min(CHUNK, todo[family]), run_seed)
                    todo[family] = 0 if sent == 0 else todo[family] - sent  # 0: Hypothesis found no more
                print(f"{name}  … {stats.total} sent, {time.monotonic() - started:.0f} s, 5xx {stats.server_errors}, "
                      f"refused-but-stored {stats.stored_when_refused}", flush=True)
        except KeyboardInterrupt:
            print(f"{name}interrupted: the figures so far", flush=True)
        finally:
            loop.run_until_complete(stack.aclose())
            loop.close()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql, or a database URL")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated; default: all")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes, each with its own gateways and database, sharing the requests")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed of the first run")
    parser.add_argument("--show", type=int, default=10, help="violations shown in full")
    parser.add_argument("--count-files", action="store_true",
                        help="count the whole evidence store around every upload (slow once it holds thousands)")
    parser.add_argument("--tmp-dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                        help="where the SQLite file, evidence and uploads go (default: /dev/shm, in memory)")
    args = parser.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if args.workers < 1 or (args.workers > 1 and args.database not in ("sqlite", "postgresql")):
        parser.error("--workers needs sqlite or postgresql (each worker makes its own database)")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    started = time.monotonic()
    if args.workers == 1:
        stats = run(args, shares(args.requests, families), seed)
    else:
        jobs = []
        for n in range(args.workers):
            share = args.requests // args.workers + (1 if n < args.requests % args.workers else 0)
            jobs.append((args, shares(share, families), seed + 10_000 * n, f"[w{n + 1}] "))
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            results = pool.starmap(run, jobs)
        stats = Stats()
        for result in results:
            stats.merge(result)
    elapsed = time.monotonic() - started
    print()
    print(report(stats, elapsed=elapsed))
    if stats.violations:
        print(f"\n{len(stats.violations)} violations; the first {min(args.show, len(stats.violations))}:")
        for text in stats.violations[: args.show]:
            print("  - " + text[:700])
    bad = stats.server_errors or stats.stored_when_refused or stats.tracebacks or stats.leftovers or stats.violations
    print("\nRESULT:", "FAIL" if bad else "OK")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
