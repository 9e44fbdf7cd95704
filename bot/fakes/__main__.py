"""``python -m bot.fakes``: the fake WeChat API and the fake Telegram Bot API together, on
loopback, for `make run` with ``FAKE_CHANNELS=1`` and for the end-to-end tests.

The credentials are the development ones of :data:`DEV` (``python -m bot stack`` gives the
gateway the same ones). Inspect what the "platforms" received with the control routes:
``curl 127.0.0.1:8090/_fake/messages`` (WeChat customer-service messages),
``curl 127.0.0.1:8091/_fake/chats/<id>/messages`` (Telegram).

``python -m bot.fakes wechat-say "老板欠我三个月工资"`` plays WeChat's side of one message:
a signed, encrypted (safe mode) callback to the gateway's ``/wechat``, then prints what the
bot sent back through the (fake) customer-service API.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
import uuid

import aiohttp

from aiohttp import web

from bot.fakes.telegram import create_fake_telegram
from bot.fakes.wechat import create_fake_wechat

# Development credentials: never real ones. The AES key is any 43 characters of base64.
DEV = {
    "WECHAT_TOKEN": "gongyou-dev-token",
    "WECHAT_APP_ID": "wxfake0000000001",
    "WECHAT_APP_SECRET": "fake-app-secret",
    "WECHAT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "WECHAT_TEMPLATE_ID": "case-status-dev",
    "TELEGRAM_BOT_TOKEN": "123456789:fake-dev-token",
    "TELEGRAM_SECRET_TOKEN": "gongyou-dev-secret",
}
WECHAT_PORT = 8090
TELEGRAM_PORT = 8091


def channel_env(*, wechat_port: int = WECHAT_PORT, telegram_port: int = TELEGRAM_PORT) -> dict[str, str]:
    """What the gateway needs to talk to the fakes."""
    return {
        **DEV,
        "WECHAT_API_BASE_URL": f"http://127.0.0.1:{wechat_port}",
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{telegram_port}",
    }


async def serve(*, wechat_port: int, telegram_port: int) -> None:
    wechat = create_fake_wechat(DEV["WECHAT_APP_ID"], DEV["WECHAT_APP_SECRET"], templates=[DEV["WECHAT_TEMPLATE_ID"]])
    telegram = create_fake_telegram(DEV["TELEGRAM_BOT_TOKEN"])
    runners = [web.AppRunner(wechat), web.AppRunner(telegram)]
    for runner, port in zip(runners, (wechat_port, telegram_port)):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"fake WeChat API on http://127.0.0.1:{wechat_port}, fake Telegram Bot API on "
          f"http://127.0.0.1:{telegram_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()


async def wechat_say(text: str, *, openid: str, gateway: str, fake: str, wait: float = 15.0) -> list[str]:
    """One worker message over WeChat (safe mode) to the gateway; returns the bot's answers."""
    from bot.fakes.wechat_callbacks import callback_request, text_xml

    async with aiohttp.ClientSession() as http:
        await http.post(f"{fake}/_fake/add_follower", json={"openid": openid})
        await http.post(f"{fake}/_fake/note_inbound", json={"openid": openid})  # opens the 48-hour window

        async def sent() -> list[str]:
            async with http.get(f"{fake}/_fake/messages") as response:
                messages = (await response.json())["messages"]
            return [m["body"].get("text", {}).get("content", "") for m in messages if m["touser"] == openid]

        before = len(await sent())
        xml = text_xml(openid, text, msg_id=uuid.uuid4().int % 10**17)
        query, body = callback_request("safe", DEV["WECHAT_TOKEN"], DEV["WECHAT_AES_KEY"], DEV["WECHAT_APP_ID"], xml)
        async with http.post(f"{gateway}/wechat", params=query, data=body) as response:
            if response.status != 200:
                raise SystemExit(f"gateway answered HTTP {response.status}: {await response.text()}")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            answers = (await sent())[before:]
            if answers:
                return answers
            await asyncio.sleep(0.3)
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wechat-port", type=int, default=WECHAT_PORT)
    parser.add_argument("--telegram-port", type=int, default=TELEGRAM_PORT)
    commands = parser.add_subparsers(dest="command")
    say = commands.add_parser("wechat-say", help="send one message as a WeChat worker and print the answer")
    say.add_argument("text")
    say.add_argument("--openid", default="o-dev-worker-1", help="who is writing (keeps the conversation)")
    say.add_argument("--gateway", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    if args.command == "wechat-say":
        answers = asyncio.run(wechat_say(args.text, openid=args.openid, gateway=args.gateway.rstrip("/"),
                                         fake=f"http://127.0.0.1:{args.wechat_port}"))
        print("\n---\n".join(answers) if answers else "(no answer within 15 s: is `FAKE_CHANNELS=1 make run` up?)")
        return
    asyncio.run(serve(wechat_port=args.wechat_port, telegram_port=args.telegram_port))


if __name__ == "__main__":
    main()
