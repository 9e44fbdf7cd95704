"""One settings object, read once from the environment and passed down.

Every variable of ``docs/architecture`` (see README) has a working local default except the
secrets of real channels; a variable set in the environment always wins over the default,
and a ``.env`` file in the working directory is read first if present (it never overrides a
variable that is already set).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent


ENVIRONMENTS = ("development", "test", "production")


class SettingsError(ValueError):
    """A configuration variable has a value we cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if not 0 < value < 65536 and name.endswith("PORT"):
        raise SettingsError(f"{name} must be a TCP port (1-65535), got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _redis_url(env: Mapping[str, str]) -> str | None:
    value = env.get("REDIS_URL") or None
    if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"REDIS_URL must be a redis:// URL, got {value.split('://')[0]}://…")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{name} must be 1 or 0, got {env[name]!r}")


def _env_name(env: Mapping[str, str]) -> str:
    # A typo ("prod") must not quietly drop what production refuses.
    value = env.get("GONGYOU_ENV") or "development"
    if value not in ENVIRONMENTS:
        raise SettingsError(f"GONGYOU_ENV must be one of {', '.join(ENVIRONMENTS)}, got {value!r}")
    return value


def _database_url(env: Mapping[str, str], var_dir: Path) -> str:
    value = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'gongyou.db'}"
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            "DATABASE_URL must use sqlite+aiosqlite:// or postgresql+asyncpg://, "
            f"got {value.split('://')[0]}://…"
        )
    return value


@dataclass(frozen=True)
class WeChatSettings:
    token: str
    app_id: str
    app_secret: str
    aes_key: str | None
    api_base_url: str
    # status updates outside the 48-hour window (verified service accounts); unset = they wait
    template_id: str | None = None
    template_field: str = "content"  # the template's {{content.DATA}} placeholder
    # plain mode (no AES key) in production: only when WECHAT_ALLOW_PLAIN=1 says so
    allow_plain: bool = False


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str
    secret_token: str
    api_base_url: str


@dataclass(frozen=True)
class Settings:
    """Validated configuration for all three processes."""

    database_url: str
    rasa_url: str
    action_url: str
    gateway_host: str
    gateway_port: int
    rasa_port: int
    action_port: int
    evidence_dir: Path
    var_dir: Path
    wechat: WeChatSettings | None = None
    telegram: TelegramSettings | None = None
    # Why a flag: the web chat lets anyone talk as any sender, so it is only on by default
    # when nobody but this machine can reach it.
    webchat_enabled: bool = True
    disabled_channels: tuple[str, ...] = field(default=())
    # The deadline scheduler and outbox dispatcher run inside every gateway.
    background_jobs: bool = True
    scheduler_interval: float = 60.0
    dispatch_interval: float = 2.0
    retry_interval: float = 15.0  # how often messages kept while Rasa was down are retried
    # signs /upload/<token> links (documents WeChat cannot carry); derived from the WeChat
    # app secret when unset, so it is stable across restarts and gateways
    upload_secret: str | None = None
    # where workers reach the gateway from outside (upload links); default: the gateway itself
    public_base_url: str | None = None
    # optional: shared state across gateways (the WeChat access token is published there)
    redis_url: str | None = None
    # Which gateway holds a lease on a message or an outbox row: stable across restarts of
    # the same gateway (host and port), so a restarted one frees what its killed self held.
    gateway_id: str = ""
    # GONGYOU_ENV: "production" refuses what is only fit for a trial (WeChat in plain mode)
    env: str = "development"
    # operators' token for /metrics and the details of /healthz from elsewhere than this host
    metrics_token: str | None = None
    # signs web chat sessions; unset: a key kept in var/ (see bot.gateway.webchat_secret)
    webchat_secret: str | None = None
    # rate limits set in the environment (field of bot.web.ratelimit.RateLimits → (per
    # minute, burst)); the rest keep their defaults
    rates: dict[str, tuple[float, int]] = field(default_factory=dict)
    # upload caps set in the environment (field of bot.channels.streaming.UploadLimits → bytes)
    upload_caps: dict[str, int] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        return (self.public_base_url or self.gateway_url).rstrip("/")

    @property
    def gateway_url(self) -> str:
        host = "127.0.0.1" if self.gateway_host in ("0.0.0.0", "::") else self.gateway_host
        return f"http://{host}:{self.gateway_port}"


def _wechat(env: Mapping[str, str], env_name: str) -> tuple[WeChatSettings | None, str | None]:
    """WeChat's settings, or ``None`` and the reason it is switched off."""
    if not (env.get("WECHAT_TOKEN") and env.get("WECHAT_APP_ID") and env.get("WECHAT_APP_SECRET")):
        return None, "wechat (WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET not all set)"
    aes_key = env.get("WECHAT_AES_KEY") or None
    if aes_key is not None and len(aes_key) != 43:
        raise SettingsError(
            f"WECHAT_AES_KEY must be the 43-character EncodingAESKey, got {len(aes_key)} characters")
    allow_plain = _flag(env, "WECHAT_ALLOW_PLAIN")
    if env_name == "production" and aes_key is None and not allow_plain:
        # In plain mode the signature covers the query only, not the message: whoever saw
        # one callback URL could post any worker's words under it while it is fresh.
        return None, ("wechat (plain mode refused in production: set WECHAT_AES_KEY for safe mode, "
                      "or WECHAT_ALLOW_PLAIN=1 to accept unsigned message bodies)")
    return WeChatSettings(
        token=env["WECHAT_TOKEN"],
        app_id=env["WECHAT_APP_ID"],
        app_secret=env["WECHAT_APP_SECRET"],
        aes_key=aes_key,
        api_base_url=_url(env, "WECHAT_API_BASE_URL", "https://api.weixin.qq.com"),
        template_id=env.get("WECHAT_TEMPLATE_ID") or None,
        template_field=env.get("WECHAT_TEMPLATE_FIELD") or "content",
        allow_plain=allow_plain,
    ), None


RATE_VARIABLES = {"RATE_WEBCHAT_IP": "webchat_ip", "RATE_WEBCHAT_FILES_IP": "webchat_files_ip",
                  "RATE_WEBCHAT_POLL_IP": "webchat_poll_ip", "RATE_UPLOAD_IP": "upload_ip", "RATE_SENDER": "sender"}
UPLOAD_VARIABLES = {"UPLOAD_MAX_FILE_MB": "per_file", "UPLOAD_MAX_REQUEST_MB": "per_request",
                    "UPLOAD_MAX_DAY_MB": "per_contact_day"}


def _rates(env: Mapping[str, str]) -> dict[str, tuple[float, int]]:
    """``RATE_*="30/10"``: 30 a minute, bursts of 10."""
    rates = {}
    for name, field_name in RATE_VARIABLES.items():
        raw = env.get(name)
        if not raw:
            continue
        minute, sep, burst = raw.strip().partition("/")
        try:
            value = (float(minute), int(burst))
        except ValueError:
            value = None
        if not sep or value is None or value[0] <= 0 or value[1] < 1:
            raise SettingsError(f"{name}={raw!r} is not a rate: write '<per minute>/<burst>', e.g. '30/10'")
        rates[field_name] = value
    return rates


def _upload_caps(env: Mapping[str, str]) -> dict[str, int]:
    caps = {field_name: _int(env, name, 1) * 1024 * 1024 for name, field_name in UPLOAD_VARIABLES.items()
            if env.get(name)}
    if env.get("UPLOAD_MAX_FILES"):
        caps["max_files"] = _int(env, "UPLOAD_MAX_FILES", 9)
    return caps


def load_settings(environ: Mapping[str, str] | None = None, *, dotenv: Path | None = None) -> Settings:
    """Read the settings from ``environ`` (default ``os.environ``) and a ``.env`` file.

    Raises:
        SettingsError: a variable is set to something unusable; the message names it.
    """
    env: dict[str, str] = {}
    dotenv_path = dotenv if dotenv is not None else Path.cwd() / ".env"
    if dotenv_path.is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    rasa_port = _int(env, "RASA_PORT", 5005)
    action_port = _int(env, "ACTION_PORT", 5055)
    var_dir = Path(env.get("GONGYOU_VAR_DIR") or PROJECT_ROOT / "var")
    gateway_host = env.get("GATEWAY_HOST") or "127.0.0.1"
    env_name = _env_name(env)

    disabled: list[str] = []
    wechat, wechat_off = _wechat(env, env_name)
    if wechat_off:
        disabled.append(wechat_off)
    telegram = None
    if env.get("TELEGRAM_BOT_TOKEN") and env.get("TELEGRAM_SECRET_TOKEN"):
        telegram = TelegramSettings(
            bot_token=env["TELEGRAM_BOT_TOKEN"],
            secret_token=env["TELEGRAM_SECRET_TOKEN"],
            api_base_url=_url(env, "TELEGRAM_API_BASE_URL", "https://api.telegram.org"),
        )
    else:
        disabled.append("telegram (TELEGRAM_BOT_TOKEN, TELEGRAM_SECRET_TOKEN not both set)")

    upload_secret = env.get("UPLOAD_SECRET") or None
    if upload_secret is None and wechat is not None:
        upload_secret = hmac.new(wechat.app_secret.encode(), b"gongyou-upload-links", hashlib.sha256).hexdigest()

    # Behind the production reverse proxy the gateway binds to loopback too, so loopback alone
    # says nothing there: in production the web chat is on only when asked for.
    webchat_default = gateway_host in ("127.0.0.1", "localhost", "::1") and env_name != "production"
    webchat_raw = env.get("WEBCHAT_ENABLED")
    webchat = webchat_default if not webchat_raw else webchat_raw.lower() in ("1", "true", "yes")

    return Settings(
        database_url=_database_url(env, var_dir),
        rasa_url=_url(env, "RASA_URL", f"http://127.0.0.1:{rasa_port}"),
        action_url=_url(env, "ACTION_URL", f"http://127.0.0.1:{action_port}"),
        gateway_host=gateway_host,
        gateway_port=_int(env, "GATEWAY_PORT", 8080),
        rasa_port=rasa_port,
        action_port=action_port,
        evidence_dir=Path(env.get("EVIDENCE_DIR") or var_dir / "evidence"),
        var_dir=var_dir,
        wechat=wechat,
        telegram=telegram,
        webchat_enabled=webchat,
        disabled_channels=tuple(disabled),
        background_jobs=(env.get("BACKGROUND_JOBS") or "1").lower() not in ("0", "false", "no"),
        scheduler_interval=_float(env, "SCHEDULER_INTERVAL", 60.0),
        dispatch_interval=_float(env, "DISPATCH_INTERVAL", 2.0),
        retry_interval=_float(env, "RETRY_INTERVAL", 15.0),
        upload_secret=upload_secret,
        redis_url=_redis_url(env),
        gateway_id=(env.get("GATEWAY_ID") or f"{socket.gethostname()}:{_int(env, 'GATEWAY_PORT', 8080)}")[:64],
        public_base_url=_url(env, "PUBLIC_BASE_URL", "") if env.get("PUBLIC_BASE_URL") else None,
        env=env_name,
        metrics_token=env.get("METRICS_TOKEN") or None,
        webchat_secret=env.get("WEBCHAT_SECRET") or None,
        rates=_rates(env),
        upload_caps=_upload_caps(env),
    )
