"""The NLU inbox page: an annotator labels messages in the browser's forms; plain staff
cannot open it; the texts are shown redacted."""

from __future__ import annotations

import uuid

import aiohttp

from bot.db import session_scope
from bot.training.inbox import InboxItem, do_record_unsure
from tests.console.conftest import Console
from tests.console.test_access_control import login_browser


async def test_an_annotator_labels_and_discards_while_plain_staff_cannot_look(console: Console) -> None:
    tag = uuid.uuid4().hex[:6]
    async with session_scope(console.sessionmaker) as session:
        first = await do_record_unsure(session, text=f"老板{tag}跑路了 我电话13812345678", sender="telegram:9",
                                       ranking=[{"name": "report_unpaid_wages", "confidence": 0.41}])
        second = await do_record_unsure(session, text=f"{tag}天气咋样", sender="telegram:9",
                                        ranking=[{"name": "greet", "confidence": 0.2}])
    annotator = await console.user("city", "annotator", name="小周")
    staff = await console.user("city", "staff")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await login_browser(http, console.url, annotator)
        async with http.get(console.url + "/console/nlu") as response:
            page = await response.text()
        assert response.status == 200 and f"老板{tag}跑路了" in page and "13812345678" not in page
        assert page.index(f"{tag}天气咋样") < page.index(f"老板{tag}跑路了")  # least sure first
        async with http.post(console.url + "/console/nlu/annotate", data={
                "csrf": csrf, "id": str(first.id), "action": "label", "label": "report_unpaid_wages",
                "label_extra": "report_social_insurance"}) as response:
            assert response.status == 200 and "已处理 1 条" in await response.text()
        async with http.post(console.url + "/console/nlu/annotate", data={
                "csrf": csrf, "id": str(second.id), "action": "label", "label": "out_of_scope"}) as response:
            assert response.status == 200
        async with http.get(console.url + "/console/nlu?status=labelled") as response:
            labelled = await response.text()
        assert "欠薪 + 社保" in labelled and f"staff:{annotator}" in labelled  # who labelled it
    async with session_scope(console.sessionmaker) as session:
        first = await session.get_one(InboxItem, first.id)
        second = await session.get_one(InboxItem, second.id)
    assert (first.label, first.status) == ("report_unpaid_wages+report_social_insurance", "labelled")
    assert "13812345678" not in first.training_text and first.annotated_by == f"staff:{annotator}"
    assert second.label == "out_of_scope"

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await login_browser(http, console.url, staff)
        async with http.get(console.url + "/console/nlu") as response:
            assert response.status == 403
        async with http.post(console.url + "/console/nlu/annotate", data={
                "csrf": csrf, "id": str(second.id), "action": "discard"}) as response:
            assert response.status == 403
    async with session_scope(console.sessionmaker) as session:
        assert (await session.get_one(InboxItem, second.id)).status == "labelled"  # untouched
