"""The model registry in the console: a system admin compares a candidate with the active
model, the gate refuses a worse one unless a reason is written, and rolls back; nobody else
may open the page."""

from __future__ import annotations

import uuid

import aiohttp
from sqlalchemy import select

from bot.db import session_scope
from bot.training.registry import do_activate, do_register_model, get_active, get_model_or_raise
from bot.db import utcnow
from tests.console.conftest import Console
from tests.console.test_access_control import login_browser

OLD = {"accuracy": 0.95, "per_intent_f1": {"report_unpaid_wages": 0.95, "report_injury": 0.97}}


async def test_an_admin_compares_activates_is_stopped_by_the_gate_and_rolls_back(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    names = {k: f"gongyou-{k}-{tag}.tar.gz" for k in ("old", "better", "worse")}
    async with session_scope(console.sessionmaker) as session:
        for key, figures in (("old", OLD), ("better", {**OLD, "accuracy": 0.96}),
                             ("worse", {"accuracy": 0.97, "per_intent_f1": {"report_unpaid_wages": 0.90,
                                                                            "report_injury": 0.97}})):
            await do_register_model(session, name=names[key], data_hash=tag, trained_by="admin:li",
                                    reason=f"{key} model", figures=figures)
        if await get_active(session) is None:
            await do_activate(session, model=await get_model_or_raise(session, name=names["old"]),
                              actor="admin:li", now=utcnow())
        else:  # another test's model is active: ours must be, to compare against it
            await do_activate(session, model=await get_model_or_raise(session, name=names["old"]),
                              actor="admin:li", now=utcnow(), override_reason="test baseline")
    admin = await console.user("city", "admin")
    staff = await console.user("city", "staff")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await login_browser(http, console.url, admin)
        async with http.get(console.url + "/console/models") as response:
            page = await response.text()
        assert response.status == 200 and names["better"] in page and "门槛：通过" in page
        assert "门槛：未通过" in page and "report_unpaid_wages F1 0.900" in page  # the worse one's verdict

        refused_form = {"csrf": csrf, "name": names["worse"]}
        async with http.post(console.url + "/console/models/activate", data=refused_form) as response:
            assert response.status == 400 and "门槛未通过" in await response.text()
        async with http.post(console.url + "/console/models/activate",
                             data={"csrf": csrf, "name": names["better"]}) as response:
            text = await response.text()
        assert response.status == 200 and "已启用" in text and "不在这台机器上" in text  # no such file in tests
        async with session_scope(console.sessionmaker) as session:
            assert (await get_active(session)).name == names["better"]
        async with http.post(console.url + "/console/models/rollback", data={"csrf": csrf}) as response:
            assert response.status == 200 and f"已回退到 {names['old']}" in await response.text()

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await login_browser(http, console.url, staff)
        async with http.get(console.url + "/console/models") as response:
            assert response.status == 403
        async with http.post(console.url + "/console/models/rollback", data={"csrf": csrf}) as response:
            assert response.status == 403
    async with session_scope(console.sessionmaker) as session:
        assert (await get_active(session)).name == names["old"]  # staff changed nothing


async def test_the_page_shows_a_training_job_and_refuses_a_second_while_it_runs(console: Console) -> None:
    from bot.training.jobs import TrainingJob, do_queue_job

    async with session_scope(console.sessionmaker) as session:
        for job in (await session.execute(select(TrainingJob).where(TrainingJob.status.in_(("queued", "running",
                                                                                         "evaluating"))))).scalars():
            job.status = "failed"  # a job another test left: not this test's
        job = await do_queue_job(session, started_by="staff:admin", reason="本周 20 条新标注", now=utcnow())
        job.status, job.progress, job.log_tail = "running", 42, "Starting to train component 'DIETClassifier'."
    admin = await console.user("city", "admin")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            csrf = await login_browser(http, console.url, admin)
            async with http.get(console.url + "/console/models") as response:
                page = await response.text()
            assert f"第 {job.id} 次 · 训练中" in page and 'value="42"' in page and "本周 20 条新标注" in page
            assert 'http-equiv="refresh"' in page  # the page follows the job by itself
            async with http.post(console.url + "/console/models/train", data={"csrf": csrf, "reason": "再训练"}) as response:
                assert response.status == 400 and "还没结束" in await response.text()
    finally:
        async with session_scope(console.sessionmaker) as session:
            (await session.get_one(TrainingJob, job.id)).status = "failed"
