"""``python -m bot.fakes``: the fake WeChat API and the fake Telegram Bot API together, on
loopback, for `make run` with ``FAKE_CHANNELS=1`` and for the end-to-end tests.

The credentials are the development ones of :data:`DEV` (``python -m bot stack`` gives the
gateway the same ones). Inspect what the "platforms" received with the control routes:
``curl 127.0.0.1:8090/_fake/messages`` (WeChat customer-service messages),
``curl 127.0.0.1:8091/_fake/chats/<id>/messages`` (Telegram).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wechat-port", type=int, default=WECHAT_PORT)
    parser.add_argument("--telegram-port", type=int, default=TELEGRAM_PORT)
    args = parser.parse_args()
    asyncio.run(serve(wechat_port=args.wechat_port, telegram_port=args.telegram_port))


if __name__ == "__main__":
    main()
