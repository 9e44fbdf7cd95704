"""The NLU inbox as annotators work it: messages the model was unsure about, least sure
first, with its guess; mark it correct, pick another intent (several topics with +), or
discard — one message or many at once. Texts are shown redacted (the form they enter
training data in)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.cases.access import check_can_annotate
from bot.cases.errors import InvalidInput
from bot.console.auth import staff_of
from bot.db import session_scope, utcnow
from bot.gateway import Gateway
from bot.training.inbox import LABELS, do_annotate, guess, list_inbox, redact

STATUS_WORDS = {"new": "待标注", "labelled": "已标注", "discarded": "已丢弃"}


class NluViews:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def index(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        check_can_annotate(staff.actor)
        status = request.query.get("status", "new")
        if status not in STATUS_WORDS:
            raise InvalidInput("status must be new, labelled or discarded")
        async with session_scope(self.gateway.sessionmaker) as session:
            items = await list_inbox(session, status=status)
        rows = [{"id": i.id, "text": i.training_text or redact(i.text), "guess": guess(i)[0],
                 "confidence": guess(i)[1], "label": i.label, "by": i.annotated_by,
                 "at": i.annotated_at, "created_at": i.created_at} for i in items]
        return aiohttp_jinja2.render_template("nlu.html", request, {
            "section": "nlu", "rows": rows, "status": status, "status_words": STATUS_WORDS, "labels": LABELS,
            "flash": request.query.get("msg")})

    async def annotate(self, request: web.Request) -> web.Response:
        staff = staff_of(request)
        check_can_annotate(staff.actor)
        form = await request.post()
        try:
            ids = [int(v) for v in form.getall("id", []) if str(v).isdigit()]
        except ValueError as exc:
            raise InvalidInput("bad message id") from exc
        if not ids:
            raise InvalidInput("请先勾选消息")
        action = str(form.get("action") or "")
        label = str(form.get("label") or "")
        if extra := str(form.get("label_extra") or "").strip():  # a second grievance in the same message
            label = f"{label}+{extra}"
        async with session_scope(self.gateway.sessionmaker) as session:
            changed = await do_annotate(session, ids=ids, action=action, label=label,
                                        actor=staff.actor.label, now=utcnow())
        raise web.HTTPSeeOther(f"/console/nlu?msg=已处理 {changed} 条")
