"""A fake Telegram Bot API server for tests and local development.

It speaks the wire format of https://core.telegram.org/bots/api: ``/bot<token>/<method>`` with
parameters in the query string, an urlencoded or multipart form, or a JSON body; answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description"[, "parameters"]}``
with the status codes and descriptions api.telegram.org gives for the cases we exercise; and
serves downloads at ``/file/bot<token>/<file_path>``. Its state (:mod:`bot.fakes.telegram_state`)
is driven from Python or, for a person with curl, from the JSON routes under ``/_fake/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from bot.fakes.telegram_state import (
    DEFAULT_PHOTO_SIZES,
    JSON,
    SECRET_TOKEN_HEADER,
    ApiError,
    ChatState,
    Clock,
    FakeTelegram,
    InjectedFailure,
    PendingUpdate,
    RateLimits,
    StoredFile,
    TelegramUser,
    UpdateBuilder,
    WebhookDelivery,
    WebhookState,
    bad_request,
    copy_json,
    photo_size,
    webhook_request,
    without_none,
)

__all__ = [
    "API_METHODS", "DEFAULT_PHOTO_SIZES", "FAKE_TELEGRAM", "SECRET_TOKEN_HEADER", "ApiError",
    "ChatState", "FakeTelegram", "InjectedFailure", "PendingUpdate", "RateLimits", "StoredFile",
    "TelegramUser", "UpdateBuilder", "WebhookDelivery", "WebhookState", "create_fake_telegram",
    "running_fake_telegram", "webhook_request",
]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# Parameters the Bot API reads as JSON-serialized objects when they arrive as form fields.
JSON_PARAMETERS = frozenset({"reply_markup", "entities", "caption_entities", "allowed_updates",
                             "link_preview_options", "reply_parameters"})
BUTTON_ACTIONS = frozenset(
    {"callback_data", "url", "web_app", "login_url", "switch_inline_query", "copy_text", "pay",
     "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "callback_game"}
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message")


class Params:
    """One call's parameters, read with the types the real server applies to each of them."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str, default: float = 0.0) -> float:
        try:
            return float(self.values.get(name) or default)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        return str(self.values.get(name, "")).lower() in ("true", "1")

    def obj(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str) or name not in JSON_PARAMETERS:
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def upload(self, name: str) -> web.FileField | None:
        value = self.values.get(name)
        return value if isinstance(value, web.FileField) else None

    def loggable(self) -> JSON:
        return {key: (f"<upload {value.filename}>" if isinstance(value, web.FileField) else value)
                for key, value in self.values.items()}


def check_reply_markup(markup: Any) -> JSON | None:
    """Validate ``reply_markup``; returns the inline keyboard Telegram echoes in the Message, if any."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None  # reply keyboards and ForceReply are accepted but not echoed back
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be '
                          "an Array of Arrays")
    for button in (button for row in rows for button in row):
        if not isinstance(button, dict) or not button.get("text") or not BUTTON_ACTIONS & button.keys():
            raise bad_request("can't parse inline keyboard button: "
                              "Text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


# --- Bot API methods: each takes the state and the parameters and returns the ``result`` ------

@dataclass
class Described:
    """A result Telegram answers with a ``description`` beside it (setWebhook, deleteWebhook)."""

    result: Any
    description: str


async def get_me(fake: FakeTelegram, params: Params) -> Any:
    return dict(fake.bot_user, can_join_groups=True, can_read_all_group_messages=False,
                supports_inline_queries=False, can_connect_to_business=False, has_main_web_app=False)


async def send_message(fake: FakeTelegram, params: Params) -> Any:
    chat = fake.chat_for_sending(params.text("chat_id"))
    text = params.text("text") or ""
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    markup = check_reply_markup(params.obj("reply_markup"))
    fake.take_send_slot(chat.user.id)
    return fake.record_bot_message(chat, {"text": text, "entities": params.obj("entities")}, markup)


async def send_photo(fake: FakeTelegram, params: Params) -> Any:
    chat = fake.chat_for_sending(params.text("chat_id"))
    caption = params.text("caption")
    if caption and len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    markup = check_reply_markup(params.obj("reply_markup"))
    upload, photo = params.upload("photo"), params.text("photo")
    if upload is not None:
        sizes = fake.photo_sizes(upload.file.read())
    elif photo in fake.files:
        sizes = [photo_size(fake.files[photo], 1280, 960)]
    elif photo and photo.startswith(("http://", "https://")):
        sizes = fake.photo_sizes(b"")  # the fake does not fetch URLs; the call log keeps the URL
    else:
        raise bad_request("there is no photo in the request" if not photo
                          else "wrong file identifier/HTTP URL specified")
    fake.take_send_slot(chat.user.id)
    return fake.record_bot_message(chat, {"photo": sizes, "caption": caption}, markup)


async def answer_callback_query(fake: FakeTelegram, params: Params) -> Any:
    query_id = params.text("callback_query_id") or ""
    query = fake.callback_queries.get(query_id)
    if query is None or any(a["id"] == query_id for a in fake.answered_callback_queries):
        raise bad_request(QUERY_INVALID)
    fake.answered_callback_queries.append(without_none({
        "id": query_id, "data": query.get("data"), "text": params.text("text"),
        "show_alert": params.flag("show_alert"), "url": params.text("url"),
        "cache_time": params.integer("cache_time")}))
    return True


async def edit_message_reply_markup(fake: FakeTelegram, params: Params) -> Any:
    if params.text("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # the fake sends no inline messages
    chat = fake.chat_for_sending(params.text("chat_id"))
    message_id = params.integer("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = next((m for m in chat.messages if m["message_id"] == message_id), None)
    if message is None:
        raise bad_request("message to edit not found")
    markup = check_reply_markup(params.obj("reply_markup"))
    if message.get("reply_markup") == markup:
        raise bad_request(NOT_MODIFIED)
    message.pop("reply_markup", None)
    message.update(without_none({"reply_markup": markup, "edit_date": int(fake.now())}))
    return copy_json(message)


async def get_file(fake: FakeTelegram, params: Params) -> Any:
    stored = fake.files.get(params.text("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.content) > MAX_DOWNLOAD_BYTES:
        raise bad_request("file is too big")
    return stored.to_file()


async def set_webhook(fake: FakeTelegram, params: Params) -> Any:
    url, secret = params.text("url") or "", params.text("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise bad_request("secret token contains unallowed characters")
    if url and not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if params.flag("drop_pending_updates"):
        fake.pending_updates.clear()
        fake.webhook_delivery.drop()
    fake.webhook = WebhookState(url, secret, params.integer("max_connections", 40) or 40,
                                params.obj("allowed_updates"))
    if url:
        fake.terminate_polls("Conflict: terminated by setWebhook request")
    return Described(True, "Webhook was set" if url else "Webhook was deleted")


async def delete_webhook(fake: FakeTelegram, params: Params) -> Any:
    was_set = bool(fake.webhook.url)
    if params.flag("drop_pending_updates"):
        fake.pending_updates.clear()
        fake.webhook_delivery.drop()
    fake.webhook_delivery.to_polling()  # what waited for the webhook is there for getUpdates
    fake.webhook = WebhookState()
    return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")


async def get_webhook_info(fake: FakeTelegram, params: Params) -> Any:
    info: JSON = {"url": fake.webhook.url, "has_custom_certificate": False,
                  "pending_update_count": fake.pending_update_count()}
    if fake.webhook.url:
        info.update(without_none({"max_connections": fake.webhook.max_connections,
                                  "allowed_updates": fake.webhook.allowed_updates}))
        if fake.webhook_delivery.last_error:
            info["last_error_date"], info["last_error_message"] = fake.webhook_delivery.last_error
    return info


async def get_updates(fake: FakeTelegram, params: Params) -> Any:
    limit = min(max(params.integer("limit", 100) or 100, 1), 100)
    return await fake.poll(offset=params.integer("offset", 0) or 0, limit=limit,
                           timeout=params.number("timeout"))


ApiMethod = Callable[[FakeTelegram, Params], Awaitable[Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_METHODS: dict[str, ApiMethod] = {
    "getMe": get_me, "sendMessage": send_message, "sendPhoto": send_photo,
    "answerCallbackQuery": answer_callback_query, "editMessageReplyMarkup": edit_message_reply_markup,
    "getFile": get_file, "setWebhook": set_webhook, "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info, "getUpdates": get_updates,
}
# Method names are case-insensitive on the real server.
_METHODS_BY_LOWER = {name.lower(): (name, method) for name, method in API_METHODS.items()}


# --- HTTP ----------------------------------------------------------------------------------

FAKE_TELEGRAM = web.AppKey("fake_telegram", FakeTelegram)


def _error(exc: ApiError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status)


async def read_params(request: web.Request) -> Params:
    """Query string, then the body: JSON, urlencoded or multipart, as the Bot API accepts."""
    values: JSON = dict(request.query)
    if request.content_type == "application/json" and request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON encoded request body") from None
        values.update(body if isinstance(body, dict) else {})
    elif request.method == "POST":
        values.update(await request.post())
    return Params(values)


async def handle_api(request: web.Request) -> web.Response:
    """``/bot<token>/<method>``: authenticate, find the method, apply injected failures, answer."""
    fake = request.app[FAKE_TELEGRAM]
    if request.match_info["token"] != fake.token:
        return _error(ApiError(401, "Unauthorized"))
    found = _METHODS_BY_LOWER.get(request.match_info["method"].lower())
    if found is None:
        return _error(ApiError(404, "Not Found"))
    name, method = found
    try:
        params = await read_params(request)
        fake.calls.append((name, params.loggable()))
        await fake.apply_injected_failure(name)
        result = await method(fake, params)
    except ApiError as exc:
        return _error(exc)
    if isinstance(result, Described):
        body = {"ok": True, "result": result.result, "description": result.description}
        return web.json_response(body)
    return web.json_response({"ok": True, "result": result})


async def handle_download(request: web.Request) -> web.Response:
    """``/file/bot<token>/<file_path>``: the bytes of a file getFile described."""
    fake = request.app[FAKE_TELEGRAM]
    if request.match_info["token"] != fake.token:
        return _error(ApiError(401, "Unauthorized"))
    path = request.match_info["file_path"]
    stored = next((f for f in fake.files.values() if f.file_path == path), None)
    if stored is None or len(stored.content) > MAX_DOWNLOAD_BYTES:
        return _error(ApiError(404, "Not Found"))
    return web.Response(body=stored.content, content_type=stored.mime_type)


# --- control routes (/_fake/...) ------------------------------------------------------------

async def control_start_chat(request: web.Request) -> web.Response:
    body = await request.json()
    user = TelegramUser(int(body["user_id"]), body.get("first_name", "工友"), body.get("username"))
    chat = request.app[FAKE_TELEGRAM].start_chat(user, started=body.get("started", True))
    return web.json_response({"chat": chat.user.to_chat(), "started": chat.started})


async def control_block_chat(request: web.Request) -> web.Response:
    fake, chat_id = request.app[FAKE_TELEGRAM], int(request.match_info["chat_id"])
    fake.block_chat(chat_id, blocked=request.match_info["action"] == "block")
    return web.json_response({"chat_id": chat_id, "blocked": fake.chats[chat_id].blocked})


async def control_messages(request: web.Request) -> web.Response:
    chat_id = int(request.match_info["chat_id"])
    return web.json_response(request.app[FAKE_TELEGRAM].sent_messages(chat_id))


async def control_register_file(request: web.Request) -> web.Response:
    """Raw body; Content-Type is the mime type; ``?file_name=`` and ``?kind=`` optional."""
    stored = request.app[FAKE_TELEGRAM].register_file(
        await request.read(), mime_type=request.content_type, file_name=request.query.get("file_name"),
        kind=request.query.get("kind", "document"))
    return web.json_response(stored.to_file())


async def control_update(request: web.Request) -> web.Response:
    """An Update object, or ``{"kind": "text"|"start"|"callback_query", "user_id": .., ...}``."""
    fake, body = request.app[FAKE_TELEGRAM], await request.json()
    kind = body.pop("kind", None)
    if kind in ("text", "start", "callback_query"):
        body = getattr(fake.updates, kind)(int(body.pop("user_id")), **body)
    elif kind is not None:
        raise web.HTTPBadRequest(text=f"unknown kind {kind!r}")
    status = await fake.deliver(body)
    waiting = any(p.update["update_id"] == body.get("update_id") for p in fake.webhook_delivery.pending())
    return web.json_response({"update": body, "webhook_status": status, "pending": waiting})


async def control_pending(request: web.Request) -> web.Response:
    """What Telegram still holds for the bot: updates the webhook has not taken, with how often
    each was tried, and those waiting for getUpdates."""
    fake = request.app[FAKE_TELEGRAM]
    waiting = [{"update_id": p.update["update_id"], "attempts": p.attempts, "last_error": p.last_error}
               for p in fake.webhook_delivery.pending()]
    return web.json_response({"count": fake.pending_update_count(), "webhook": waiting,
                              "polling": len(fake.pending_updates)})


async def control_answered(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAKE_TELEGRAM].answered_callback_queries)


async def control_calls(request: web.Request) -> web.Response:
    return web.json_response([{"method": m, "params": p} for m, p in request.app[FAKE_TELEGRAM].calls])


async def control_clock(request: web.Request) -> web.Response:
    fake = request.app[FAKE_TELEGRAM]
    fake.advance(float((await request.json()).get("advance", 0)))
    return web.json_response({"now": fake.now()})


async def control_failures(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[FAKE_TELEGRAM].fail_next(body.pop("method"), **body)
    return web.json_response({"queued": True})


async def control_limits(request: web.Request) -> web.Response:
    fake = request.app[FAKE_TELEGRAM]
    fake.limits = RateLimits(**{**asdict(fake.limits), **await request.json()})
    return web.json_response(asdict(fake.limits))


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A bad control request (unknown chat, missing field) answers 400 with the reason."""
    try:
        return await handler(request)
    except (KeyError, ValueError, TypeError) as exc:
        if not request.path.startswith("/_fake/"):
            raise
        return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)


def create_fake_telegram(token: str, *, clock: Clock | None = None) -> web.Application:
    """The fake server as an aiohttp application; its state is ``app[FAKE_TELEGRAM]``.

    Besides the Bot API, JSON control routes for a person with curl:
    ``POST /_fake/chats`` ``{"user_id", "first_name"?, "username"?, "started"?}``;
    ``POST /_fake/chats/{id}/block`` (or ``unblock``); ``GET /_fake/chats/{id}/messages``;
    ``POST /_fake/files?file_name=&kind=`` with the raw bytes, Content-Type = mime type;
    ``POST /_fake/updates`` an Update, or ``{"kind": "text"|"start"|"callback_query",
    "user_id", "text"|"payload"|"data"}`` (posted to the webhook if one is set, else queued;
    answers ``webhook_status`` of the first post, and ``pending`` while it waits to be posted
    again); ``GET /_fake/pending`` (updates not yet taken); ``GET /_fake/callback_queries``
    (answered); ``GET /_fake/calls``;
    ``POST /_fake/clock`` ``{"advance": seconds}``; ``POST /_fake/failures`` ``{"method",
    "status", "times"?, "description"?, "retry_after"?, "delay"?}``;
    ``POST /_fake/limits`` ``{"enabled"?, "per_chat_per_second"?, "overall_per_second"?}``.
    """
    app = web.Application(client_max_size=50 * 1024 * 1024, middlewares=[control_errors])
    app[FAKE_TELEGRAM] = FakeTelegram(token, clock=clock)
    app.add_routes([
        web.route("*", "/bot{token}/{method}", handle_api),
        web.get("/file/bot{token}/{file_path:.+}", handle_download),
        web.post("/_fake/chats", control_start_chat),
        web.post("/_fake/chats/{chat_id}/{action:block|unblock}", control_block_chat),
        web.get("/_fake/chats/{chat_id}/messages", control_messages),
        web.post("/_fake/files", control_register_file),
        web.post("/_fake/updates", control_update),
        web.get("/_fake/pending", control_pending),
        web.get("/_fake/callback_queries", control_answered),
        web.get("/_fake/calls", control_calls),
        web.post("/_fake/clock", control_clock),
        web.post("/_fake/failures", control_failures),
        web.post("/_fake/limits", control_limits),
    ])

    async def release_polls(app: web.Application) -> None:
        app[FAKE_TELEGRAM].close()

    async def stop_delivery(app: web.Application) -> None:
        await app[FAKE_TELEGRAM].webhook_delivery.close()

    app.on_shutdown.append(release_polls)
    app.on_cleanup.append(stop_delivery)
    return app


@contextlib.asynccontextmanager
async def running_fake_telegram(token: str, *, clock: Clock | None = None,
                                host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[FakeTelegram]:
    """Serve the fake on ``host`` (a free port by default); ``fake.base_url`` is its origin."""
    app = create_fake_telegram(token, clock=clock)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        fake = app[FAKE_TELEGRAM]
        fake.base_url = f"http://{host}:{runner.addresses[0][1]}"
        yield fake
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """``python -m bot.fakes.telegram --token 123:abc --port 8081``: the fake for local development."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--token", required=True, help="the bot token the gateway uses")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    web.run_app(create_fake_telegram(args.token), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
