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


def _actor(args: argparse.Namespace) -> str:
    return f"staff:{args.actor}"


def _when(text: str | None):  # type: ignore[no-untyped-def]
    """An ISO date or datetime given on the command line, in union time when naive."""
    from datetime import datetime

    from bot.cases.deadlines import UNION_TZ

    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UNION_TZ)


def _run_domain(settings: Settings, work) -> int:  # type: ignore[no-untyped-def]
    from bot.cases.errors import DomainError

    try:
        result = asyncio.run(_with_session(settings, work))
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result is not None:
        print(result)
    return 0


def cmd_cases_update(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.commands import do_update_status
    from bot.db import utcnow

    async def work(session):  # type: ignore[no-untyped-def]
        event = await do_update_status(
            session, number=args.number, status=args.status, note=args.note, actor=_actor(args),
            now=utcnow(), outcome=args.outcome, amount_recovered=args.amount_recovered,
            agency=args.agency, reply_due=_when(args.reply_due),
        )
        return f"{args.number.upper()}: {event.kind}（已通知职工）"

    return _run_domain(settings, work)


def cmd_cases_escalate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.commands import do_escalate_by_number
    from bot.db import utcnow

    async def work(session):  # type: ignore[no-untyped-def]
        event = await do_escalate_by_number(session, number=args.number, reason=args.reason, actor=_actor(args), now=utcnow())
        return event.note

    return _run_domain(settings, work)


def cmd_cases_reassign(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.commands import do_reassign_by_number
    from bot.db import utcnow

    async def work(session):  # type: ignore[no-untyped-def]
        event = await do_reassign_by_number(
            session, number=args.number, org_code=args.org, note=args.note, actor=_actor(args), now=utcnow()
        )
        return event.note

    return _run_domain(settings, work)


def cmd_cases_stats(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.orgs import get_org_by_code_or_raise
    from bot.cases.stats import compute_stats, format_stats, stats_as_dict
    from bot.db import utcnow

    since, until = _when(args.since), _when(args.until)

    async def work(session):  # type: ignore[no-untyped-def]
        org = await get_org_by_code_or_raise(session, code=args.org) if args.org else None
        stats = await compute_stats(session, org_id=org.id if org else None, since=since, until=until, now=utcnow())
        if args.json:
            return json.dumps(stats_as_dict(stats), ensure_ascii=False, indent=2, default=str)
        return format_stats(stats, org_name=org.name if org else "全部", since=since, until=until)

    return _run_domain(settings, work)


def cmd_createadmin(settings: Settings, args: argparse.Namespace) -> int:
    """An admin of ``--org`` (default: the city federation); the password comes from
    ``GONGYOU_ADMIN_PASSWORD`` or is asked for, never from the command line."""
    import getpass

    from bot.cases.staff import do_create_staff_user

    try:
        password = os.environ.get("GONGYOU_ADMIN_PASSWORD") or getpass.getpass("password: ")
    except EOFError:
        print("error: no password given (set GONGYOU_ADMIN_PASSWORD or run in a terminal)", file=sys.stderr)
        return 1

    async def work(session):  # type: ignore[no-untyped-def]
        user = await do_create_staff_user(
            session, username=args.username, display_name=args.name or args.username,
            org_code=args.org, role="admin", password=password,
        )
        return f"admin {user.username} created for org {args.org}"

    return _run_domain(settings, work)


def _password(prompt: str) -> str | None:
    import getpass

    try:
        return os.environ.get("GONGYOU_ADMIN_PASSWORD") or getpass.getpass(prompt)
    except EOFError:
        print("error: no password given (set GONGYOU_ADMIN_PASSWORD or run in a terminal)", file=sys.stderr)
        return None


def cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    """A staff account of ``--org`` with ``--role``; the password from GONGYOU_ADMIN_PASSWORD
    or a prompt, never from the command line."""
    from bot.cases.staff import do_create_staff_user

    password = _password(f"password for {args.username}: ")
    if password is None:
        return 1

    async def work(session):  # type: ignore[no-untyped-def]
        user = await do_create_staff_user(
            session, username=args.username, display_name=args.name or args.username,
            org_code=args.org, role=args.role, password=password,
        )
        return f"{user.role} {user.username} created for org {args.org}"

    return _run_domain(settings, work)


def cmd_orgs_list(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.cases.models import Org

    async def work(session):  # type: ignore[no-untyped-def]
        orgs = list((await session.execute(select(Org).order_by(Org.id))).scalars())
        codes = {o.id: o.code for o in orgs}
        return [{"code": o.code, "name": o.name, "kind": o.kind, "parent": codes.get(o.parent_id),
                 "province": o.province} for o in orgs]

    orgs = asyncio.run(_with_session(settings, work))
    if args.json:
        _print_json(orgs)
    else:
        for o in orgs:
            print(f"{o['code']:<22} {o['kind']:<16} {o['name']}  ← {o['parent'] or '-'}")
    return 0


def cmd_orgs_import(settings: Settings, args: argparse.Namespace) -> int:
    """Load the union hierarchy from a YAML or CSV file: the report on stdout, or every
    problem on stderr and exit 1 with nothing written."""
    from bot.cases.errors import InvalidInput
    from bot.cases.hierarchy import do_import_hierarchy, read_hierarchy

    try:
        data = read_hierarchy(Path(args.file))
    except (InvalidInput, OSError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = asyncio.run(_with_session(
        settings, lambda session: do_import_hierarchy(session, data=data, dry_run=args.dry_run)))
    print(report.format(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def cmd_messages_unanswered(settings: Settings, args: argparse.Namespace) -> int:
    """Messages the bot could not answer: given up (each handed to a person) and, unless
    --failed-only, those waiting for a retry."""
    from bot.cases.messages import list_unanswered

    rows = asyncio.run(_with_session(
        settings, lambda session: list_unanswered(session, include_retrying=not args.failed_only)))
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no unanswered messages")
    for r in rows:
        state = "given to staff" if r["status"] == "failed" else f"retry at {r['next_try_at'] or 'once Rasa is up'}"
        print(f"{r['id']:>7} {r['channel']:<9} {r['contact']:<10} {r['attempts']} tries  {state}  "
              f"{r['text'][:40]!r}  {r['error'] or ''}")
    return 0


def cmd_handback(settings: Settings, args: argparse.Namespace) -> int:
    """Give a conversation in human handoff back to the bot (the console has a button too)."""
    from bot.cases.errors import NotFound
    from bot.cases.handoffs import do_close_handoff, get_open_handoff
    from bot.cases.messages import do_hand_back, get_contact_by_sender_id
    from bot.db import utcnow

    async def work(session):  # type: ignore[no-untyped-def]
        contact = await get_contact_by_sender_id(session, sender_id=args.sender)
        if contact is None:
            raise NotFound(f"no contact {args.sender!r} (expected <channel>:<id>, e.g. webchat:web-1a2b)")
        handoff = await get_open_handoff(session, contact_id=contact.id)
        if handoff is not None:
            await do_close_handoff(session, handoff=handoff, actor=f"staff:{args.actor}", now=utcnow())
            return f"{args.sender}: back with the bot"
        changed = await do_hand_back(session, contact=contact)
        return f"{args.sender}: {'back with the bot' if changed else 'was not with staff'}"

    return _run_domain(settings, work)


def cmd_tick(settings: Settings, args: argparse.Namespace) -> int:
    """One scheduler round and one dispatcher round, as the gateway does continuously, with
    the gateway's own senders (a row is marked sent only when its channel accepted it)."""
    from bot.db import utcnow
    from bot.gateway import running

    async def run() -> tuple[int, int]:
        async with running(settings) as gateway:
            breaches = await gateway.scheduler_round(now=utcnow())
            sent = await gateway.dispatcher.run_once(now=utcnow(), limit=args.limit)
            return len(breaches), sent

    breaches, sent = asyncio.run(run())
    print(f"deadlines breached: {breaches}; notifications sent: {sent}")
    return 0


def cmd_telegram_poll(settings: Settings, args: argparse.Namespace) -> int:
    """Development with a real bot and no public URL: delete the webhook and long-poll
    Telegram, with the gateway's parts and background jobs running in this process."""
    if settings.telegram is None:
        print("error: set TELEGRAM_BOT_TOKEN and TELEGRAM_SECRET_TOKEN (any value will do for polling)",
              file=sys.stderr)
        return 2
    from bot.channels.telegram import poll_updates
    from bot.gateway import running
    from bot.web.background import background_jobs

    async def run() -> None:
        async with running(settings) as gateway, background_jobs(gateway):
            assert gateway.telegram is not None
            print("[gongyou] polling Telegram; Ctrl-C stops", flush=True)
            await poll_updates(gateway.telegram, gateway.pipeline)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        print("[gongyou] stopped", flush=True)
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


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.evaluate import run_eval
    from bot.training.models import TrainingError

    try:
        out, summary = run_eval(PROJECT_ROOT, rasa_bin=_rasa_bin(), folds=args.folds, sealed=not args.no_sealed,
                                rescore_sealed=args.rescore_sealed)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    diet, base = summary["diet"], summary["baseline_tfidf_logreg"]
    print(f"held-out messages: {summary['heldout_examples']} (training examples: {summary['train_examples']})")
    print(f"{'':28}{'DIET':>8}{'baseline':>10}")
    for key in ("accuracy", "macro_f1", "dispute_macro_f1", "min_intent_f1"):
        print(f"{key:28}{diet[key]:>8.3f}{base[key]:>10.3f}")
    for entity, f1 in diet["judged_entity_f1"].items():
        print(f"entity F1 {entity:18}{f1:>8.3f}")
    if "cross_validation" in summary:
        cv = summary["cross_validation"]
        print(f"{args.folds}-fold cross-validation: accuracy {cv.get('accuracy')}, macro-F1 {cv.get('macro_f1')}, "
              f"lowest intent F1 {cv.get('min_intent_f1')}, entity F1 per token {cv.get('entity_f1_per_token')}")
    if "sealed" in summary:
        row = summary["sealed"]
        sd, sb = row["diet"], row["baseline_tfidf_logreg"]
        note = " — from the ledger: this training data was scored before" if row.get("from_ledger") else ""
        print(f"sealed set: {sd['messages']} messages by six authors (scored {row['date']}{note})")
        for key in ("accuracy", "topic_macro_f1", "macro_f1", "out_of_scope_recall"):
            print(f"  {key:26}{sd[key]:>8.3f}{sb[key]:>10.3f}")
        print(f"  several grievances, every topic found: {sd['several_grievances']['every_topic_found']}"
              f"/{sd['several_grievances']['messages']} (baseline {sb['several_grievances']['every_topic_found']})")
        print(f"  out of scope taken as a topic at >= 0.9: {sd.get('out_of_scope_taken_as_topic_at_0.9')}")
        print(f"  entity F1 (judged, overlapping spans) {sd.get('entity_f1_relaxed_judged')}; per entity "
              f"{sd.get('entity_f1_relaxed')}")
    print(f"report: {(out / 'report.md').relative_to(PROJECT_ROOT)} ({summary['seconds']} s)")
    print(_record_figures(settings, summary))
    return 0


def _record_figures(settings: Settings, summary: dict[str, Any]) -> str:
    """The evaluation goes to the registry, on the model of the same training data (its NLU
    is the one evaluated): what the gate compares before that model may be activated."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.training.models import model_name, training_hash
    from bot.training.registry import do_register_model

    diet = summary["diet"]
    figures = {"accuracy": diet["accuracy"], "macro_f1": diet["macro_f1"],
               "per_intent_f1": {k: v["f1"] for k, v in diet["per_intent"].items()},
               "entity_f1": diet.get("judged_entity_f1"), "heldout_messages": summary["heldout_examples"]}
    if "sealed" in summary:
        figures["sealed"] = {k: summary["sealed"]["diet"].get(k) for k in (
            "accuracy", "topic_macro_f1", "out_of_scope_recall", "out_of_scope_taken_as_topic_at_0.9",
            "several_grievances", "entity_f1_relaxed_judged")}
    name = f"{model_name(PROJECT_ROOT)}.tar.gz"

    async def work(session):  # type: ignore[no-untyped-def]
        await do_register_model(session, name=name, data_hash=training_hash(PROJECT_ROOT),
                                trained_by=os.environ.get("USER") or "eval", reason="python -m bot eval",
                                figures=figures)
    try:
        asyncio.run(_with_session(settings, work))
    except (SQLAlchemyError, OSError) as exc:
        return f"figures not recorded in the registry ({type(exc).__name__}: run python -m bot migrate first)"
    return f"figures recorded in the registry for {name}"


def cmd_models_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.registry import list_models, model_row

    async def work(session):  # type: ignore[no-untyped-def]
        return [model_row(m) for m in await list_models(session)]

    rows = asyncio.run(_with_session(settings, work))
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no models registered yet (make run registers the one it serves)")
    for r in rows:
        accuracy = f"{r['accuracy']:.3f}" if r["accuracy"] is not None else "  —  "
        print(f"{'*' if r['status'] == 'active' else ' '} {r['name']:<36} {r['status']:<9} accuracy {accuracy}  "
              f"{r['created_at'][:16]}  {r['trained_by']}: {r['reason'] or ''}")
    return 0


async def _load_into_rasa(settings: Settings, name: str) -> str:
    """Swap the model into the running Rasa, gateways holding their turns meanwhile."""
    import aiohttp

    from bot.db import create_engine, create_sessionmaker
    from bot.dialogue.rasa_client import RasaClient
    from bot.dialogue.swap import load_into_rasa

    engine = create_engine(settings.database_url)
    try:
        async with aiohttp.ClientSession() as http:
            said = await load_into_rasa(create_sessionmaker(engine), RasaClient(http, settings.rasa_url), name=name,
                                        path=PROJECT_ROOT / "models" / name)
    finally:
        await engine.dispose()
    return f"{said}（{settings.rasa_url}）" if said.startswith("已加载") else said


def cmd_models_activate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.errors import DomainError
    from bot.db import utcnow
    from bot.training.registry import do_activate, get_model_or_raise

    async def work(session):  # type: ignore[no-untyped-def]
        model = await get_model_or_raise(session, name=args.name)
        before, gate = await do_activate(session, model=model, actor=f"cli:{args.actor}", now=utcnow(),
                                         override_reason=args.override)
        return before.name if before else None, gate

    try:
        before, gate = asyncio.run(_with_session(settings, work))
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: active (before: {before or '—'}); gate: {'; '.join(gate.reasons)}"
          f"{'' if gate.passed else ' — overridden: ' + args.override}")
    print(asyncio.run(_load_into_rasa(settings, args.name)))
    return 0


def cmd_models_rollback(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cases.errors import DomainError
    from bot.db import utcnow
    from bot.training.registry import do_rollback

    async def work(session):  # type: ignore[no-untyped-def]
        back, gone = await do_rollback(session, actor=f"cli:{args.actor}", now=utcnow())
        return back.name, gone.name

    try:
        back, gone = asyncio.run(_with_session(settings, work))
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{back}: active again ({gone} retired)")
    print(asyncio.run(_load_into_rasa(settings, back)))
    return 0


def cmd_intents_add(settings: Settings, args: argparse.Namespace) -> int:
    """A question type the bot answers after the next training (see bot/training/admin_intents.py)."""
    from bot.cases.errors import InvalidInput
    from bot.training.admin_intents import do_add_admin_intent

    async def work(session):  # type: ignore[no-untyped-def]
        intent = await do_add_admin_intent(session, root=PROJECT_ROOT, name=args.name, title=args.title,
                                           examples=args.example, answer=args.answer, source=args.source,
                                           actor=f"cli:{args.actor}")
        return len(intent.examples)

    try:
        count = asyncio.run(_with_session(settings, work))
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {count} examples; the bot answers it once a model trained after now is active "
          "(the console's 模型 page: 开始训练)")
    return 0


def cmd_intents_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.admin_intents import list_admin_intents

    async def work(session):  # type: ignore[no-untyped-def]
        return [{"name": i.name, "title": i.title, "examples": i.examples, "answer": i.answer, "source": i.source,
                 "created_by": i.created_by} for i in await list_admin_intents(session)]

    rows = asyncio.run(_with_session(settings, work))
    if args.json:
        _print_json(rows)
    for r in rows if not args.json else []:
        print(f"{r['name']:<36} {r['title']}  {len(r['examples'])} examples  ({r['source']})")
    return 0


def cmd_nlu_export(settings: Settings, args: argparse.Namespace) -> int:
    """The messages labelled in the NLU inbox, in nlu/ format (redacted), for review in git."""
    from bot.training.inbox import export_labelled

    text = asyncio.run(_with_session(settings, export_labelled))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({text.count(chr(10) + '    - ')} examples)")
    else:
        sys.stdout.write(text)
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

    evaluation = sub.add_parser("eval", help="score the NLU model on the held-out set, cross-validate, compare with a baseline")
    evaluation.add_argument("--folds", type=int, default=5, help="cross-validation folds (0 = skip)")
    evaluation.add_argument("--no-sealed", action="store_true", help="do not score the sealed set")
    evaluation.add_argument("--rescore-sealed", action="store_true",
                            help="score the sealed set again although this training data was scored (recorded)")
    evaluation.set_defaults(func=cmd_eval)

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

    update = cases.add_parser("update", help="change a case's status as staff would (the worker is told)")
    update.add_argument("number")
    update.add_argument("--status", required=True,
                        choices=["accepted", "in_progress", "referred", "resolved", "closed", "withdrawn"])
    update.add_argument("--note")
    update.add_argument("--outcome", help="with --status resolved: paid_in_full, paid_in_part, …")
    update.add_argument("--amount-recovered", type=int)
    update.add_argument("--agency", help="with --status referred: who the case goes to")
    update.add_argument("--reply-due", help="with --status referred: ISO date the agency must answer by")
    update.add_argument("--actor", default="cli")
    update.set_defaults(func=cmd_cases_update)

    escalate = cases.add_parser("escalate", help="move a case to the union above, with a reason")
    escalate.add_argument("number")
    escalate.add_argument("--reason", required=True)
    escalate.add_argument("--actor", default="cli")
    escalate.set_defaults(func=cmd_cases_escalate)

    reassign = cases.add_parser("reassign", help="give a case to another union body")
    reassign.add_argument("number")
    reassign.add_argument("--org", required=True, help="code of the union body")
    reassign.add_argument("--note", required=True)
    reassign.add_argument("--actor", default="cli")
    reassign.set_defaults(func=cmd_cases_reassign)

    stats = cases.add_parser("stats", help="figures for a union and everything below it")
    stats.add_argument("--org", help="code of the union body (default: all)")
    stats.add_argument("--since", help="ISO date, cases opened from then")
    stats.add_argument("--until", help="ISO date, cases opened before then")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_cases_stats)

    sub.add_parser("telegram-poll", help="development: take Telegram updates by long polling instead of the webhook"
                   ).set_defaults(func=cmd_telegram_poll)
    tick = sub.add_parser("tick", help="run the deadline scheduler and the dispatcher once")
    tick.add_argument("--limit", type=int, default=200, help="most notifications to deliver in this round")
    tick.set_defaults(func=cmd_tick)
    messages = sub.add_parser("messages", help="workers' messages").add_subparsers(dest="messages_command", required=True)
    unanswered = messages.add_parser("unanswered", help="messages the bot could not answer (given up, or waiting for a retry)")
    unanswered.add_argument("--json", action="store_true")
    unanswered.add_argument("--failed-only", action="store_true", help="only those given up and handed to a person")
    unanswered.set_defaults(func=cmd_messages_unanswered)
    models = sub.add_parser("models", help="the model registry: which model is served").add_subparsers(
        dest="models_command", required=True)
    list_models = models.add_parser("list", help="every registered model, the active one starred")
    list_models.add_argument("--json", action="store_true")
    list_models.set_defaults(func=cmd_models_list)
    activate = models.add_parser("activate", help="serve a model (gated on its evaluation) and load it into Rasa")
    activate.add_argument("name", help="the model file under models/, e.g. gongyou-1a2b….tar.gz")
    activate.add_argument("--override", help="activate although the gate refused it: the written reason, kept")
    activate.add_argument("--actor", default=os.environ.get("USER") or "admin", help="who (kept in the registry)")
    activate.set_defaults(func=cmd_models_activate)
    rollback = models.add_parser("rollback", help="serve again the model active before the current one")
    rollback.add_argument("--actor", default=os.environ.get("USER") or "admin")
    rollback.set_defaults(func=cmd_models_rollback)
    intents = sub.add_parser("intents", help="question types admins add without code").add_subparsers(
        dest="intents_command", required=True)
    add_intent = intents.add_parser("add", help="a question type with its examples and its cited answer")
    add_intent.add_argument("--name", required=True, help="ask_… in lower case, e.g. ask_high_temperature_allowance")
    add_intent.add_argument("--title", required=True, help="what it is about, e.g. 高温补贴")
    add_intent.add_argument("--example", action="append", default=[], help="a way a worker asks it (at least 5)")
    add_intent.add_argument("--answer", required=True, help="what the bot answers")
    add_intent.add_argument("--source", required=True, help="the law or notice the answer rests on")
    add_intent.add_argument("--actor", default=os.environ.get("USER") or "admin")
    add_intent.set_defaults(func=cmd_intents_add)
    list_intents = intents.add_parser("list", help="the question types admins added")
    list_intents.add_argument("--json", action="store_true")
    list_intents.set_defaults(func=cmd_intents_list)
    nlu = sub.add_parser("nlu", help="the NLU inbox").add_subparsers(dest="nlu_command", required=True)
    export = nlu.add_parser("export", help="messages labelled in the inbox, in nlu/ format (personal data taken out)")
    export.add_argument("--out", help="write to this file instead of standard output")
    export.set_defaults(func=cmd_nlu_export)
    handback = sub.add_parser("handback", help="give a conversation in human handoff back to the bot")
    handback.add_argument("sender", help="<channel>:<id>, as the Rasa sender id")
    handback.add_argument("--actor", default="cli")
    handback.set_defaults(func=cmd_handback)
    users = sub.add_parser("users", help="staff accounts").add_subparsers(dest="users_command", required=True)
    add_user = users.add_parser("add", help="create a staff account (password from GONGYOU_ADMIN_PASSWORD or a prompt)")
    add_user.add_argument("--username", required=True)
    add_user.add_argument("--org", required=True, help="code of the union body (python -m bot orgs list)")
    add_user.add_argument("--role", required=True, choices=["staff", "org_admin", "admin", "expert"])
    add_user.add_argument("--name", help="the name colleagues see")
    add_user.set_defaults(func=cmd_users_add)
    orgs = sub.add_parser("orgs", help="union bodies").add_subparsers(dest="orgs_command", required=True)
    list_orgs = orgs.add_parser("list", help="every union body: code, name, kind, parent")
    list_orgs.add_argument("--json", action="store_true")
    list_orgs.set_defaults(func=cmd_orgs_list)
    import_orgs = orgs.add_parser("import", help="load the union hierarchy from FILE.yml or FILE.csv "
                                  "(bot/cases/hierarchy.py); exit 1 and nothing written on any problem")
    import_orgs.add_argument("file")
    import_orgs.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    import_orgs.set_defaults(func=cmd_orgs_import)
    admin = sub.add_parser("createadmin", help="create an admin account (password from GONGYOU_ADMIN_PASSWORD or a prompt)")
    admin.add_argument("--username", required=True)
    admin.add_argument("--name")
    admin.add_argument("--org", default="city")
    admin.set_defaults(func=cmd_createadmin)
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
