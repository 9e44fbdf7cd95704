"""Masking of log output: the pure rules, the logging filter, and child output in the stack."""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_log import AccessLogger
from hypothesis import given
from hypothesis import strategies as st

import bot.stack
from bot.logmask import MaskingFilter, install_record_masking, mask_line
from bot.logsetup import setup_logging
from bot.settings import load_settings
from bot.stack import Child, Stack

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"  # the shape of a real one: "o" + 27 base64url characters


@pytest.mark.parametrize(("raw", "masked"), [
    # mobile numbers, in any spacing
    ("13812345678", "138****5678"),
    ("电话138 1234 5678。", "电话138****5678。"),
    ("138-1234-5678", "138****5678"),
    ("+86 13812345678", "+86 138****5678"),
    ("0086-138-1234-5678", "0086-138****5678"),
    ("call 138  1234  5678 now", "call 138****5678 now"),
    ("1381 234 5678", "138****5678"),
    ("138.1234.5678", "138****5678"),
    ("１３８ １２３４ ５６７８", "１３８****５６７８"),
    # resident ID numbers
    ("身份证110101199003071234", "身份证110101********1234"),
    ("id=33078219900101123X;", "id=330782********123X;"),
    ("330782 19900101 123X", "330782********123X"),
    # openids: keyed, as a Rasa sender, or shaped like a real one
    ("GET /wechat?signature=ab12&timestamp=1712345678&nonce=99&openid=o-e2e-wage-1 HTTP/1.1",
     "GET /wechat?signature=***&timestamp=1712345678&nonce=***&openid=o***d16330 HTTP/1.1"),
    ("<FromUserName><![CDATA[o-e2e-wage-1]]></FromUserName>", "<FromUserName><![CDATA[o***d16330]]></FromUserName>"),
    ('{"touser": "o-e2e-wage-1", "msgtype": "text"}', '{"touser": "o***d16330", "msgtype": "text"}'),
    ("Received user message from wechat:o-e2e-wage-1", "Received user message from wechat:o***d16330"),
    ("POST /conversations/wechat%3Ao-e2e-wage-1/tracker/events", "POST /conversations/wechat%3Ao***d16330/tracker/events"),
    (f"contact {OPENID} wrote", "contact o***ac5d5b wrote"),
    # secrets
    ("Authorization: Bearer gy_3Nf8.x-Q~z", "Authorization: Bearer ***"),
    ("Cookie: gy_session=Zx9_abc-1; theme=dark", "Cookie: gy_session=***; theme=dark"),
    ("GET /upload/12.1712345678.AbCdEf_gH HTTP/1.1", "GET /upload/*** HTTP/1.1"),
    ("POST https://api.telegram.org/bot123456789:AAH-fake_Token/sendMessage",
     "POST https://api.telegram.org/bot***/sendMessage"),
    ("https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=ACCESS.tok",
     "https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=***"),
    ("Settings(upload_secret='s3cr3t', telegram_bot_token='1:x')", "Settings(upload_secret='***', telegram_bot_token='***')"),
    ('{"password": "hunter2"}', '{"password": "***"}'),
    ("postgresql+asyncpg://gongyou:hunter2@db:5432/gongyou", "postgresql+asyncpg://gongyou:***@db:5432/gongyou"),
    # what the database says about a row
    ("[parameters: ('13812345678', 'wechat', 'o-x', 3)]", "[parameters: masked]"),
    ("[parameters: [('a [b]', 1), ('c', 2)]]", "[parameters: masked]"),
    ("DETAIL:  Key (external_id)=(o-e2e-wage-1) already exists.", "DETAIL:  Key (external_id)=(***) already exists."),
])
def test_personal_data_and_secrets_are_masked(raw: str, masked: str) -> None:
    assert mask_line(raw) == masked
    assert mask_line(masked) == masked  # the stack masks the gateway's masked lines again


@pytest.mark.parametrize("text", [
    "case GY-2026-000123 opened, amount 35000 yuan, headcount 12",
    "2026-01-15 13:45:12,345 INFO bot.notify: due 2026-02-01T09:00:00+08:00",
    "欠薪 12000 元，3 个月，2025年11月到2026年1月",
    "GET /healthz HTTP/1.1 200 took 0.123s from 127.0.0.1:5005",
    "telegram update 812345678 MsgId 24398247183928738 gh_3f2a1b0c9d8e",
    "  File \"bot/notify/dispatch.py\", line 88, in outbox_notifications_pending_dispatch",
    "    token = make_upload_token(contact_id, secret, expires_at=expires_at)",
    "请先登录（Authorization: Bearer <token>）",
    "channel off: wechat: WECHAT_TOKEN is not set",
])
def test_amounts_dates_case_numbers_and_code_are_left_alone(text: str) -> None:
    assert mask_line(text) == text


def test_the_same_openid_gets_the_same_mask_wherever_it_appears() -> None:
    lines = mask_line(f"openid={OPENID}\nwechat:{OPENID}\n<FromUserName><![CDATA[{OPENID}]]>\n{OPENID}")
    assert OPENID not in lines
    assert lines.count("o***ac5d5b") == 4


_PLAIN = "abcdefghijklmnpqrstuvwxyz ,.;!?()，。、！？（）：工资老板欠我三个月电话号码是请联系"
_SEPARATORS = st.sampled_from(["", " ", "-", "  ", " - ", "."])


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, str, str]:
    """(the number as written, its first three digits, its last four)."""
    head = draw(st.sampled_from("3456789"))
    digits = "1" + head + draw(st.text("0123456789", min_size=9, max_size=9))
    groups = (digits[:3], digits[3:7], digits[7:])
    if draw(st.booleans()):
        written = draw(_SEPARATORS).join(groups)
    else:  # a separator between any two digits after the second
        written = digits[:2] + "".join(draw(_SEPARATORS) + d for d in digits[2:])
    prefix = draw(st.sampled_from(["", "+86 ", "+86", "0086-", "86 "]))
    return prefix + written, prefix + digits[:3], digits[7:]


@given(before=st.text(_PLAIN, max_size=30), phone=phones(), after=st.text(_PLAIN, max_size=30))
def test_text_around_a_phone_is_kept_and_the_phone_is_not(before: str, phone: tuple[str, str, str], after: str) -> None:
    written, head, tail = phone
    assert mask_line(before + written + after) == f"{before}{head}****{tail}{after}"


@given(st.text(_PLAIN + "0123456789 -+=:/?&oO_[]'\"", max_size=80))
def test_masking_twice_changes_nothing(text: str) -> None:
    once = mask_line(text)
    assert mask_line(once) == once


@pytest.fixture
def masked_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose one handler masks; what it writes is in the StringIO."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger(f"tests.logmask.{time.monotonic_ns()}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def test_an_integrity_error_traceback_loses_its_parameters(masked_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = masked_log
    engine = sa.create_engine("sqlite://")
    contacts = sa.Table("contacts", sa.MetaData(), sa.Column("phone", sa.String, unique=True),
                        sa.Column("name", sa.String))
    contacts.metadata.create_all(engine)
    row = {"phone": "13812345678", "name": "张三"}  # not on a line the traceback quotes
    with engine.begin() as connection:
        connection.execute(contacts.insert(), row)
    try:
        with engine.begin() as connection:
            connection.execute(contacts.insert(), row)
    except sa.exc.IntegrityError as exc:
        assert "13812345678" in str(exc)  # what would have been written
        logger.exception("saving contact %s failed", "138 1234 5678")
    written = out.getvalue()
    assert "Traceback (most recent call last)" in written and "IntegrityError" in written
    assert "[parameters: masked]" in written
    assert "saving contact 138****5678 failed" in written
    assert "1234" not in written and "张三" not in written


def test_a_traceback_stays_masked_for_handlers_after_the_filter(masked_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = masked_log
    plain = io.StringIO()
    later = logging.StreamHandler(plain)  # no filter of its own: it formats the same record
    logger.addHandler(later)
    try:
        try:
            raise ValueError(f"unknown contact wechat:{OPENID}")
        except ValueError:
            logger.error("lookup failed", exc_info=True, extra={"sender": f"wechat:{OPENID}"})
    finally:
        logger.removeHandler(later)
    for written in (out.getvalue(), plain.getvalue()):
        assert "ValueError: unknown contact wechat:o***ac5d5b" in written
        assert OPENID not in written


def test_a_message_whose_arguments_do_not_fit_is_still_written_masked(
    masked_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = masked_log
    logger.info("phone %s and %s", "13812345678")
    assert "138****5678" in out.getvalue() and "13812345678" not in out.getvalue()


def test_the_access_log_line_and_its_fields_are_masked(masked_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = masked_log
    records: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(collector)
    request = make_mocked_request(
        "GET", f"/wechat?signature=ab12&timestamp=1712345678&nonce=99&openid={OPENID}",
        headers={"Referer": "https://gongyou.example/upload/12.1712345678.AbCdEf", "User-Agent": "Mozilla"},
    )
    AccessLogger(logger, AccessLogger.LOG_FORMAT).log(request, web.Response(), 0.01)
    logger.removeHandler(collector)
    line = out.getvalue()
    assert "/wechat?signature=***&timestamp=1712345678&nonce=***&openid=o***ac5d5b" in line
    assert '"https://gongyou.example/upload/***"' in line
    assert OPENID not in line and "ab12" not in line and "AbCdEf" not in line
    # a formatter writing the fields (JSON logs) finds them masked too
    assert OPENID not in records[0].first_request_line
    assert "AbCdEf" not in records[0].request_header["Referer"]


def test_setup_logging_masks_every_logger_and_uncaught_crashes(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.excepthook
    try:
        setup_logging()
        logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /upload/12.99.sig HTTP/1.1" 200')
        logging.getLogger("sqlalchemy.engine").warning("[parameters: ('13812345678',)]")
        try:
            raise RuntimeError("worker 138-1234-5678 not found")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    finally:
        root.handlers[:], root.level, sys.excepthook = saved
    err = capsys.readouterr().err
    assert "/upload/*** HTTP/1.1" in err and "[parameters: masked]" in err
    assert "RuntimeError: worker 138****5678 not found" in err
    assert "1234" not in err and "12.99.sig" not in err


def test_record_masking_covers_handlers_configured_later() -> None:
    saved = logging.getLogRecordFactory()
    out = io.StringIO()
    handler = logging.StreamHandler(out)  # as Sanic adds its own, after our code is imported
    logger = logging.getLogger("tests.logmask.sanic")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_record_masking()
        install_record_masking()  # a second import of the actions package changes nothing
        logger.warning("sender wechat:%s phone %s", "o-e2e-wage-1", "13812345678")
    finally:
        logging.setLogRecordFactory(saved)
        logger.removeHandler(handler)
    assert out.getvalue() == "sender wechat:o***d16330 phone 138****5678\n"


CHILD = """
import sys
print("Received user message '138 1234 5678' from wechat:o-e2e-wage-1", flush=True)
print("GET /upload/12.1712345678.AbCdEf HTTP/1.1", file=sys.stderr, flush=True)
raise ValueError("[parameters: ('110101199003071234',)]")
"""


def test_the_stack_writes_child_output_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.stack, "PROJECT_ROOT", tmp_path)
    settings = load_settings({"GONGYOU_VAR_DIR": str(tmp_path)}, dotenv=tmp_path / "none.env")
    stack = Stack(settings, rasa_bin=tmp_path / "rasa", model=tmp_path / "model.tar.gz")
    stack.children = [Child("talker", [sys.executable, "-c", CHILD])]
    try:
        stack.start()
        deadline = time.monotonic() + 30
        while (dead := stack.dead_child()) is None:
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.05)
        log = dead.log_path.read_text()  # complete as soon as the child is found dead
    finally:
        stack.stop()
    assert dead.log_path == tmp_path / "var" / "logs" / "talker.log"
    assert "Received user message '138****5678' from wechat:o***d16330" in log
    assert "GET /upload/*** HTTP/1.1" in log
    assert "ValueError: [parameters: masked]" in log
    for secret in ("1234 5678", "o-e2e-wage-1", "AbCdEf", "110101199003071234"):
        assert secret not in log


def test_what_a_worker_wrote_is_logged_without_their_phone_or_id_number_in_any_spacing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.excepthook
    try:
        setup_logging()
        logging.getLogger("bot.dialogue.pipeline").info(
            "inbound 7: 我电话 138 1234 5678，身份证 330782 19900101 123X，另一个 139-8765-4321")
    finally:
        root.handlers[:], root.level, sys.excepthook = saved
    err = capsys.readouterr().err
    assert "电话 138****5678，身份证 330782********123X，另一个 139****4321" in err
    for digits in ("1234 5678", "19900101", "8765"):
        assert digits not in err


def test_a_database_error_logged_with_its_traceback_keeps_no_personal_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.excepthook
    engine = sa.create_engine("sqlite://")
    contacts = sa.Table("contacts", sa.MetaData(), sa.Column("phone", sa.String, unique=True),
                        sa.Column("name", sa.String))
    contacts.metadata.create_all(engine)
    row = {"phone": "13812345678", "name": "张三"}
    with engine.begin() as connection:
        connection.execute(contacts.insert(), row)
    try:
        setup_logging()
        try:
            with engine.begin() as connection:
                connection.execute(contacts.insert(), row)
        except sa.exc.IntegrityError:
            logging.getLogger("bot.dialogue.pipeline").exception("inbound 7: turn failed")
    finally:
        root.handlers[:], root.level, sys.excepthook = saved
    err = capsys.readouterr().err
    assert "inbound 7: turn failed" in err and "IntegrityError" in err
    assert "13812345678" not in err and "张三" not in err
