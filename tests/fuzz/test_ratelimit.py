"""Rate limits under fuzz: gateways with small limits (bursts of 3, one token a minute back)
still answer every generated request without a 5xx, refuse the flood with 429 (and store
nothing of it: the usual 4xx check), and a flooding WeChat or Telegram sender is stored and
acknowledged with 200 — never refused, never a 5xx.

Each example is a burst from one client address of its own (``X-Real-IP``, which the gateway
takes from a proxy on this host), so buckets never carry over between examples or tests;
with one token a minute, a burst of a few seconds gets no more than its three. Runs on both
database kinds (a few hundred requests each).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.fakes.wechat_callbacks import callback_request, text_xml
from bot.web.ratelimit import RateLimits
from tests.fuzz.harness import (
    AES_KEY, APP_ID, GENERATED, TELEGRAM_SECRET, WECHAT_TOKEN, Fuzz, HttpRequest, running_fuzz_gateways,
)
from tests.fuzz.strategies import FAMILIES

BURST = 3
LIMITED = {name: f"1/{BURST}" for name in ("RATE_WEBCHAT_IP", "RATE_WEBCHAT_FILES_IP", "RATE_WEBCHAT_POLL_IP",
                                          "RATE_UPLOAD_IP", "RATE_SENDER")}
GROUPS = tuple(RateLimits().ip_groups())  # the path prefixes limited per address
PER_ADDRESS = ("chat-messages", "chat-files", "chat-updates", "upload-get", "upload-post")


@pytest.fixture(scope="module")
async def limited(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fuzz]:
    async with running_fuzz_gateways(database_url, tmp_path_factory.mktemp("limited"), rates=LIMITED) as gateways:
        async with aiohttp.ClientSession() as http:
            checker = Fuzz(gateways, http, stats=GENERATED)
            yield checker
            checker.close()


def from_address(request: HttpRequest, address: str) -> HttpRequest:
    return replace(request, headers=(("X-Real-IP", address), *request.headers))


def group_of(request: HttpRequest) -> str | None:
    path = request.path.split("?", 1)[0]
    compressed = request.body is not None and any(
        k.lower() == "content-encoding" and v.strip().lower() not in ("", "identity") for k, v in request.headers)
    if compressed:  # refused (415) before the limits are asked
        return None
    return next((prefix for prefix in GROUPS if path.startswith(prefix)), None)


def new_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 256}.{n // 256 % 256}.{n // 65536 % 256}"


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_a_burst_from_one_address_gets_429_and_never_a_5xx(limited: Fuzz, data: st.DataObject) -> None:
    address, seen, refused = new_address(), Counter[str](), Counter[str]()
    for _ in range(16):
        family = data.draw(st.sampled_from(PER_ADDRESS))
        request = from_address(data.draw(FAMILIES[family][0](limited.ctx)), address)
        answer = await limited.check(request)  # no 5xx, no trace, a 429 stores nothing
        assert answer is not None
        if (group := group_of(request)) is not None:
            seen[group] += 1
            refused[group] += answer.status == 429
    for group, n in seen.items():
        if n > BURST + 1:  # one token back at most while the burst lasts
            assert refused[group], f"{n} requests to {group} from {address}, none refused with 429"


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(words=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30),
                      min_size=8, max_size=8))
async def test_a_flooding_sender_is_limited_on_every_channel_and_never_gets_a_5xx(
    limited: Fuzz, words: list[str]
) -> None:
    ctx, unique = limited.ctx, limited.ctx.unique()
    sender, openid, user = f"fz-rl{unique}", f"o_rl{unique}", unique % 10**9
    statuses: dict[str, list[int]] = {"webchat": [], "wechat": [], "telegram": []}
    for n, text in enumerate(words):
        # each from an address of its own: only the limit per sender can refuse them
        chat = HttpRequest("chat/messages", "flood", "POST", "/chat/api/messages",
                           headers=(("X-Real-IP", new_address()), ("Content-Type", "application/json")),
                           body=json.dumps({"sender": sender, "session": ctx.session_for(sender),
                                            "text": text.strip() or "在吗", "message_id": f"rl{n}"}).encode("utf-8", "surrogatepass"))
        query, body = callback_request("safe", WECHAT_TOKEN, AES_KEY, APP_ID,
                                       text_xml(openid, text or "在吗", msg_id=ctx.unique()), nonce=ctx.fresh_nonce())
        wechat = HttpRequest("wechat", "flood", "POST", "/wechat?" + "&".join(f"{k}={v}" for k, v in query.items()),
                             headers=(("Content-Type", "text/xml"),), body=body)
        update = {"update_id": ctx.unique(), "message": {
            "message_id": n + 1, "date": 1_700_000_000, "text": text.strip() or "在吗",
            "chat": {"id": user, "type": "private"}, "from": {"id": user, "is_bot": False, "first_name": "阿明"}}}
        telegram = HttpRequest("telegram", "flood", "POST", "/telegram/webhook",
                               headers=(("Content-Type", "application/json"),
                                        ("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)),
                               body=json.dumps(update).encode("utf-8", "surrogatepass"))
        for channel, request in (("webchat", chat), ("wechat", wechat), ("telegram", telegram)):
            answer = await limited.check(request)
            assert answer is not None
            statuses[channel].append(answer.status)
    # the web chat refuses the flood (nothing of it stored: checked on every 4xx) …
    assert 429 in statuses["webchat"], statuses
    assert set(statuses["webchat"]) <= {200, 400, 429}, statuses
    # … WeChat and Telegram keep every message (a refusal would make them retry, then drop it)
    assert set(statuses["wechat"]) == {200}, statuses
    assert set(statuses["telegram"]) <= {200, 400}, statuses
