"""The model registry in the console (system admins): every model with its figures, the
active one, per-intent F1 of a candidate beside the active model's, the gate's verdict, and
activate / roll back — which load the model into the running Rasa with every turn held
meanwhile, so no worker's message fails."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from bot.cases.errors import DomainError, Forbidden
from bot.console.auth import staff_of
from bot.db import session_scope, utcnow
from bot.dialogue.swap import load_into_rasa
from bot.gateway import Gateway
from bot.settings import PROJECT_ROOT
from bot.training.jobs import RUNNING, do_queue_job, list_jobs
from bot.training.metrics import CONTRACT_INTENTS
from bot.training.registry import do_activate, do_rollback, get_active, get_model_or_raise, judge, list_models


def _admin(request: web.Request):  # type: ignore[no-untyped-def]
    staff = staff_of(request)
    if not staff.actor.is_admin:
        raise Forbidden("只有系统管理员可以管理模型")
    return staff


class ModelViews:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def index(self, request: web.Request) -> web.Response:
        return await self._page(request, request.query.get("msg"), request.query.get("kind", "ok"))

    async def _page(self, request: web.Request, flash: str | None, kind: str) -> web.Response:
        _admin(request)
        async with session_scope(self.gateway.sessionmaker) as session:
            models = await list_models(session)
            active = await get_active(session)
            jobs = await list_jobs(session, limit=5)
        base = (active.figures or {}) if active else {}
        rows = []
        for m in models:
            figures = m.figures or {}
            gate = judge(figures, base) if active and m.id != active.id else None
            rows.append({"model": m, "figures": figures, "gate": gate,
                         "f1": [(i, (base.get("per_intent_f1") or {}).get(i), (figures.get("per_intent_f1") or {}).get(i))
                                for i in CONTRACT_INTENTS]})
        return aiohttp_jinja2.render_template("models.html", request, {
            "section": "models", "rows": rows, "active": active, "flash": flash, "flash_kind": kind, "jobs": jobs,
            "running": any(j.status in RUNNING for j in jobs)})

    async def activate(self, request: web.Request) -> web.Response:
        staff = _admin(request)
        form = await request.post()
        name = str(form.get("name") or "")
        try:
            async with session_scope(self.gateway.sessionmaker) as session:
                model = await get_model_or_raise(session, name=name)
                await do_activate(session, model=model, actor=staff.actor.label, now=utcnow(),
                                  override_reason=str(form.get("override") or "") or None)
        except DomainError as exc:  # the gate refused, or no such model: said on the page
            return await self._refused(request, str(exc))
        said = await self._load(name)
        raise web.HTTPSeeOther(f"/console/models?msg={quote(f'{name} 已启用：{said}')}")

    async def rollback(self, request: web.Request) -> web.Response:
        staff = _admin(request)
        try:
            async with session_scope(self.gateway.sessionmaker) as session:
                back, _ = await do_rollback(session, actor=staff.actor.label, now=utcnow())
                name = back.name
        except DomainError as exc:
            return await self._refused(request, str(exc))
        said = await self._load(name)
        raise web.HTTPSeeOther(f"/console/models?msg={quote(f'已回退到 {name}：{said}')}")

    async def train(self, request: web.Request) -> web.Response:
        staff = _admin(request)
        form = await request.post()
        try:
            async with session_scope(self.gateway.sessionmaker) as session:
                job = await do_queue_job(session, started_by=staff.actor.label, reason=str(form.get("reason") or ""),
                                         now=utcnow())
        except DomainError as exc:
            return await self._refused(request, str(exc))
        self.gateway.trainer.start(job.id)
        raise web.HTTPSeeOther(f"/console/models?msg={quote(f'第 {job.id} 次训练已开始')}")

    async def _refused(self, request: web.Request, why: str) -> web.Response:
        response = await self._page(request, why, "error")
        response.set_status(400)
        return response

    async def _load(self, name: str) -> str:
        return await load_into_rasa(self.gateway.sessionmaker, self.gateway.rasa, name=name,
                                    path=PROJECT_ROOT / "models" / name)
