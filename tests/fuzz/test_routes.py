"""Every inbound route under generated requests, on SQLite and on PostgreSQL alike.

Each family of ``strategies.FAMILIES`` runs ``weight × SCALE`` examples per database kind
(the ``database_url`` fixture's two variants): 1 500 requests on each, 3 000 in all. The
properties (no 5xx, no stack trace, a refused request stores nothing, no temporary upload
left) are checked on every answer by :meth:`tests.fuzz.harness.Fuzz.check`; a violation fails
the example and Hypothesis shrinks it. ``bench/fuzz.py`` runs the same families at scale.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import Fuzz
from tests.fuzz.strategies import FAMILIES

SCALE = 15


def examples(family: str):  # type: ignore[no-untyped-def]
    return settings(max_examples=FAMILIES[family][1] * SCALE, deadline=None,
                    suppress_health_check=list(HealthCheck))


async def run(fuzz: Fuzz, family: str, data: st.DataObject) -> None:
    await fuzz.check(data.draw(FAMILIES[family][0](fuzz.ctx), label=family))


@examples("wechat-plain")
@given(data=st.data())
async def test_wechat_plain_callbacks(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "wechat-plain", data)


@examples("wechat-compatible")
@given(data=st.data())
async def test_wechat_compatible_callbacks(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "wechat-compatible", data)


@examples("wechat-safe")
@given(data=st.data())
async def test_wechat_safe_callbacks(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "wechat-safe", data)


@examples("wechat-get")
@given(data=st.data())
async def test_wechat_url_verification(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "wechat-get", data)


@examples("telegram")
@given(data=st.data())
async def test_telegram_webhook(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "telegram", data)


@examples("chat-messages")
@given(data=st.data())
async def test_web_chat_messages(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "chat-messages", data)


@examples("chat-files")
@given(data=st.data())
async def test_web_chat_files(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "chat-files", data)


@examples("chat-updates")
@given(data=st.data())
async def test_web_chat_updates(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "chat-updates", data)


@examples("upload-get")
@given(data=st.data())
async def test_upload_page(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "upload-get", data)


@examples("upload-post")
@given(data=st.data())
async def test_upload_post(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "upload-post", data)


@examples("random")
@given(data=st.data())
async def test_random_requests_to_every_route(fuzz: Fuzz, data: st.DataObject) -> None:
    await run(fuzz, "random", data)
