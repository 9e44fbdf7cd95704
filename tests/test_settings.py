"""Every configuration variable overrides its default; bad values name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

NO_DOTENV = Path("/nonexistent/.env")


def test_defaults_work_on_one_machine() -> None:
    s = load_settings({}, dotenv=NO_DOTENV)
    assert s.database_url.startswith("sqlite+aiosqlite:///") and s.database_url.endswith("var/gongyou.db")
    assert (s.rasa_url, s.action_url) == ("http://127.0.0.1:5005", "http://127.0.0.1:5055")
    assert (s.gateway_host, s.gateway_port) == ("127.0.0.1", 8080)
    assert s.wechat is None and s.telegram is None and s.webchat_enabled


def test_every_variable_overrides_its_default(tmp_path: Path) -> None:
    s = load_settings(
        {
            "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/other",
            "RASA_PORT": "6005",
            "ACTION_PORT": "6055",
            "GATEWAY_HOST": "0.0.0.0",
            "GATEWAY_PORT": "9090",
            "EVIDENCE_DIR": str(tmp_path / "ev"),
            "WECHAT_TOKEN": "t", "WECHAT_APP_ID": "wxid", "WECHAT_APP_SECRET": "s",
            "WECHAT_AES_KEY": "k" * 43, "WECHAT_API_BASE_URL": "http://127.0.0.1:7001",
            "TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_SECRET_TOKEN": "sec",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:7002",
        },
        dotenv=NO_DOTENV,
    )
    assert s.database_url.endswith("/other")
    # A second instance only needs its ports: Rasa's and the actions' URLs follow them.
    assert (s.rasa_url, s.action_url) == ("http://127.0.0.1:6005", "http://127.0.0.1:6055")
    assert s.gateway_port == 9090 and s.evidence_dir == tmp_path / "ev"
    assert s.wechat is not None and s.wechat.aes_key == "k" * 43 and s.wechat.api_base_url == "http://127.0.0.1:7001"
    assert s.telegram is not None and s.telegram.api_base_url == "http://127.0.0.1:7002"
    # Bound beyond loopback, the web chat (anyone may speak as anyone) is off by default.
    assert not s.webchat_enabled


def test_rasa_url_wins_over_rasa_port() -> None:
    s = load_settings({"RASA_PORT": "6005", "RASA_URL": "http://10.0.0.5:5005"}, dotenv=NO_DOTENV)
    assert s.rasa_url == "http://10.0.0.5:5005"


@pytest.mark.parametrize(
    "name, value",
    [("GATEWAY_PORT", "eighty"), ("RASA_PORT", "70000"), ("DATABASE_URL", "mysql://x"), ("RASA_URL", "localhost:5005"),
     ("REDIS_URL", "http://127.0.0.1:6379"), ("PUBLIC_BASE_URL", "union.example.cn")],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value}, dotenv=NO_DOTENV)


def test_the_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("GATEWAY_PORT=7777\nRASA_PORT=6006\n")
    s = load_settings({"GATEWAY_PORT": "8888"}, dotenv=dotenv)
    assert s.gateway_port == 8888 and s.rasa_port == 6006


WECHAT = {"WECHAT_TOKEN": "t", "WECHAT_APP_ID": "wxid", "WECHAT_APP_SECRET": "s"}


def test_in_production_wechat_without_an_aes_key_is_off_and_says_why() -> None:
    s = load_settings({**WECHAT, "GONGYOU_ENV": "production"}, dotenv=NO_DOTENV)
    assert s.env == "production" and s.wechat is None
    [reason] = [r for r in s.disabled_channels if r.startswith("wechat")]
    assert "plain mode" in reason and "WECHAT_AES_KEY" in reason and "WECHAT_ALLOW_PLAIN=1" in reason
    # safe mode is what production wants
    safe = load_settings({**WECHAT, "GONGYOU_ENV": "production", "WECHAT_AES_KEY": "k" * 43}, dotenv=NO_DOTENV)
    assert safe.wechat is not None and not any(r.startswith("wechat") for r in safe.disabled_channels)


def test_plain_mode_in_production_only_when_explicitly_allowed() -> None:
    s = load_settings({**WECHAT, "GONGYOU_ENV": "production", "WECHAT_ALLOW_PLAIN": "1"}, dotenv=NO_DOTENV)
    assert s.wechat is not None and s.wechat.aes_key is None and s.wechat.allow_plain
    assert not any(r.startswith("wechat") for r in s.disabled_channels)


def test_outside_production_plain_mode_stays_on() -> None:
    s = load_settings(WECHAT, dotenv=NO_DOTENV)
    assert s.env == "development" and s.wechat is not None and not s.wechat.allow_plain


@pytest.mark.parametrize("name, value", [("GONGYOU_ENV", "prod"), ("WECHAT_ALLOW_PLAIN", "maybe")])
def test_a_bad_environment_or_flag_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({**WECHAT, name: value}, dotenv=NO_DOTENV)


def test_in_production_the_web_chat_is_off_unless_asked_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.settings import load_settings

    none = tmp_path / "none.env"
    assert load_settings({}, dotenv=none).webchat_enabled  # a developer's machine
    assert not load_settings({"GONGYOU_ENV": "production"}, dotenv=none).webchat_enabled  # behind the proxy
    assert load_settings({"GONGYOU_ENV": "production", "WEBCHAT_ENABLED": "1"}, dotenv=none).webchat_enabled
    assert load_settings({"METRICS_TOKEN": "t0k"}, dotenv=none).metrics_token == "t0k"
