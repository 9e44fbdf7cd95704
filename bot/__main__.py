"""`python -m bot …`: the gateway, the whole stack, the case store and the model."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT, Settings, SettingsError, load_settings


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _rasa_bin() -> Path:
    return Path(os.environ.get("RASA_BIN") or PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa")


async def _with_session(settings: Settings, work):  # type: ignore[no-untyped-def]
    from bot.db import create_engine, create_sessionmaker, session_scope

    engine = create_engine(settings.database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.web.app import create_app

    web.run_app(
        create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
        print=lambda *_: logging.getLogger("bot").info(
            "gateway listening on %s:%s", settings.gateway_host, settings.gateway_port
        ),
    )
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db import create_engine
    from bot.migrate import upgrade

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("database at the newest schema")
    return 0


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.stack import prepare_database

    created = asyncio.run(prepare_database(settings))
    print(f"demo data loaded ({created} union bodies created)")
    return 0


def cmd_cases_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.queries import case_summary, list_cases

    async def work(session):  # type: ignore[no-untyped-def]
        cases = await list_cases(session, status=args.status, category=args.category, limit=args.limit)
        return [case_summary(c) for c in cases]

    cases = asyncio.run(_with_session(settings, work))
    if args.json:
        _print_json(cases)
    else:
        for c in cases:
            amount = f"{c['amount']}元" if c["amount"] is not None else "-"
            print(f"{c['number']}  {c['category']:<16} {c['status']:<11} {amount:>10}  {c['employer'] or '-'}  → {c['org']}")
        print(f"{len(cases)} case(s)")
    return 0


def cmd_cases_show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.errors import NotFound
    from bot.cases.queries import get_case_detail_or_raise

    try:
        detail = asyncio.run(_with_session(settings, lambda s: get_case_detail_or_raise(s, number=args.number)))
    except NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(detail)
    else:
        for key, value in detail.items():
            if key != "events":
                print(f"{key:>12}: {value}")
        for event in detail["events"]:
            print(f"  {event['created_at']}  {event['kind']:<10} {event['actor']}: {event['note'] or ''}")
    return 0


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.models import TrainingError, ensure_model

    try:
        path, how = ensure_model(PROJECT_ROOT, rasa_bin=_rasa_bin(), force=args.force)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"model {path.relative_to(PROJECT_ROOT)} ({how})")
    return 0


def cmd_stack(settings: Settings, args: argparse.Namespace) -> int:
    from bot.stack import run_stack
    from bot.training.models import TrainingError, ensure_model

    try:
        model, how = ensure_model(PROJECT_ROOT, rasa_bin=_rasa_bin())
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"[gongyou] model {model.name} ({how})", flush=True)
    return run_stack(settings, rasa_bin=_rasa_bin(), model=model)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="工友助手 Gongyou")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway").set_defaults(func=cmd_serve)
    sub.add_parser("stack", help="run Rasa, the action server and the gateway together").set_defaults(func=cmd_stack)
    sub.add_parser("migrate", help="bring the database to the newest schema").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="migrate and load demo union bodies").set_defaults(func=cmd_seed_demo)
    train = sub.add_parser("train", help="train the Rasa model unless one exists for the current data")
    train.add_argument("--force", action="store_true", help="train even if a model exists")
    train.set_defaults(func=cmd_train)

    cases = sub.add_parser("cases", help="the case store").add_subparsers(dest="cases_command", required=True)
    listing = cases.add_parser("list", help="list cases, newest first")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--status")
    listing.add_argument("--category")
    listing.add_argument("--limit", type=int, default=500)
    listing.set_defaults(func=cmd_cases_list)
    show = cases.add_parser("show", help="one case with its timeline")
    show.add_argument("number")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_cases_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    from bot.logsetup import setup_logging

    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return args.func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
