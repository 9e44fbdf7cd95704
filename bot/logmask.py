"""Masking personal data and secrets in log output, for every process we run.

One pure function, :func:`mask_line`, used twice: by :class:`MaskingFilter` on the log
records of our own Python processes (gateway, CLI), and by ``bot/stack.py`` on each line a
child writes (Rasa, the action server, the gateway), before it reaches ``var/logs/``.

Decisions:
- Phone and ID numbers: :mod:`bot.cases.privacy` first (what staff see in lists), then a
  looser pass for logs only: a mobile number's 11 digits with up to three spaces, hyphens
  or dots between any two of them ("138 1234  5678", "1381 234 5678"), and an ID number
  grouped 6-8-4. Both keep the same visible digits as privacy does. Digits directly before
  or after mean it is not a phone or ID number (amounts, dates, case numbers stay).
- WeChat openids are masked to ``o***`` plus six hex digits of their SHA-256, so one
  worker's lines can still be followed through gateway, Rasa and action logs. Masked: any
  value after ``openid``, ``FromUserName`` or ``touser`` (``=``, ``:``, JSON, or the XML
  element), any Rasa sender ``wechat:<openid>``, and any word shaped like a real openid:
  ``o`` and 20 or more of ``[A-Za-z0-9_-]`` *with an upper-case letter*. Real openids are
  base64 and have one (all lower-case happens about once in 10⁶); Python names such as
  ``outbox_notifications_pending`` in a traceback do not, and stay readable.
- Secrets: ``Bearer`` credentials; values of keys ending in ``token``, ``secret``,
  ``password``, ``signature``, ``session`` (the ``gy_session`` cookie among them), ``nonce``
  and ``echostr``, written ``key=value`` (query strings, cookies, reprs) or quoted
  ``"key": value`` (JSON, dicts) — not ``key = value``, which in a traceback is a source
  line worth keeping; upload links ``/upload/<token>``, Telegram bot tokens
  (``bot123456:ABC…`` in Bot API URLs) and passwords in URLs (``scheme://user:pw@``).
- SQLAlchemy errors carry the statement's parameters (``[parameters: (…)]``); the whole
  list goes, whatever it holds; PostgreSQL's ``Key (col)=(value)`` details too.
- Masking is idempotent (a masked line passes through unchanged), since the gateway's own
  lines are masked by the filter and again by the stack.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback

from bot.cases.privacy import mask_personal

_FOLD = str.maketrans("０１２３４５６７８９＋－　", "0123456789+- ")
_GAP = r"[ \t\u00a0.\-]{0,3}"
_LOOSE_PHONE = re.compile(
    rf"(?<![0-9])(?P<prefix>(?:\+|00)?86{_GAP})?(?P<head>1[3-9](?:{_GAP}[0-9]))"
    rf"(?:{_GAP}[0-9]){{4}}(?P<tail>(?:{_GAP}[0-9]){{4}})(?![0-9])"
)
_SEPARATORS = re.compile(r"[\s.\-－]")
_LOOSE_ID = re.compile(
    r"(?<![0-9A-Za-z])(?P<head>[0-9]{6})[ \-]?(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])"
    r"(?:0[1-9]|[12][0-9]|3[01])[ \-]?(?P<tail>[0-9]{3}[0-9Xx])(?![0-9A-Za-z])"
)

_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*\]")
_PG_KEY_DETAIL = re.compile(r"(Key \([^)\n]*\)=\()[^\n]*?(\) (?:already exists|is not present))")
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/\s@]+:)[^@\s/*]++(?=@)")
_BEARER = re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]++(?!\*)")
_SECRET_VALUE = re.compile(
    r"(?i)(?<![A-Za-z0-9])"
    r"(?P<key>[A-Za-z_-]*(?:token|secret|password|passwd|signature|session|nonce|echostr))"
    r"(?P<sep>(?:=|[\"']\s*:\s*)[\"']?)(?P<value>[^\s\"'&,;<>*]++)(?!\*)"
)
_UPLOAD_PATH = re.compile(r"(/upload/)[^/\s?\"'#*]++(?!\*)")
_TELEGRAM_TOKEN = re.compile(r"(?<![A-Za-z0-9])bot[0-9]+:[A-Za-z0-9_-]++")
_KEYED_OPENID = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?P<key>openid|FromUserName|touser)"
    r"(?P<sep>=[\"']?|[\"']?\s*:\s*[\"']?|>(?:<!\[CDATA\[)?)(?P<value>[A-Za-z0-9_-]++)(?!\*)"
)
_SENDER_OPENID = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(?P<key>wechat)(?P<sep>:|%3A)(?P<value>[A-Za-z0-9_-]++)(?!\*)"
)
_BARE_OPENID = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<value>o(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{20,})(?![A-Za-z0-9_-])"
)


def _openid_mask(openid: str) -> str:
    return "o***" + hashlib.sha256(openid.encode()).hexdigest()[:6]


def _keyed_openid(match: re.Match[str]) -> str:
    return match["key"] + match["sep"] + _openid_mask(match["value"])


def _loose(pattern: re.Pattern[str], text: str, keep_prefix: bool, stars: int) -> str:
    """Mask what ``pattern`` finds on a full-width-folded copy (same length, so positions
    carry over), keeping the digits of ``head`` and ``tail`` without their separators."""
    folded = text.translate(_FOLD)
    parts, last = [], 0
    for match in pattern.finditer(folded):
        prefix = text[slice(*match.span("prefix"))] if keep_prefix and match["prefix"] else ""
        head, tail = (_SEPARATORS.sub("", text[slice(*match.span(g))]) for g in ("head", "tail"))
        parts += [text[last:match.start()], f"{prefix}{head}{'*' * stars}{tail}"]
        last = match.end()
    return "".join(parts) + text[last:]


def mask_line(text: str) -> str:
    """``text`` with personal data and secrets masked (see the module's decisions)."""
    # Whole blocks and keyed values first, so a later rule never half-masks what they hold
    # (a phone inside "[parameters: …]", digits of an upload token or a Telegram bot id).
    text = _SQL_PARAMETERS.sub("[parameters: masked]", text)
    text = _PG_KEY_DETAIL.sub(r"\1***\2", text)
    text = _URL_PASSWORD.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    text = _TELEGRAM_TOKEN.sub("bot***", text)
    text = _UPLOAD_PATH.sub(r"\1***", text)
    text = _SECRET_VALUE.sub(r"\g<key>\g<sep>***", text)
    text = _KEYED_OPENID.sub(_keyed_openid, text)
    text = _SENDER_OPENID.sub(_keyed_openid, text)
    text = _BARE_OPENID.sub(lambda m: _openid_mask(m["value"]), text)
    text = mask_personal(text)
    text = _loose(_LOOSE_ID, text, keep_prefix=False, stars=8)
    return _loose(_LOOSE_PHONE, text, keep_prefix=True, stars=4)


# Attributes every record has that hold no text a caller passed in; everything else that is
# a string (the message, the traceback, the stack, ``extra=`` fields such as aiohttp's
# ``first_request_line``) is masked.
_PLAIN_ATTRIBUTES = frozenset({
    "name", "levelname", "pathname", "filename", "module", "funcName", "threadName",
    "processName", "taskName", "asctime",
})


class MaskingFilter(logging.Filter):
    """Masks a record in place, before any formatter of the handler sees it.

    The message is rendered (``msg % args``) and stored masked with no arguments left. A
    traceback is rendered the way :class:`logging.Formatter` does and stored, masked, in
    ``exc_text``, the cache every formatter prints instead of rendering ``exc_info`` again;
    ``exc_info`` is then dropped, so no later handler or formatter can render the original
    (an exception's text holds SQL parameters, request bodies, addresses).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string still gets logged, and still masked
            message = f"{record.msg!s} (arguments: {record.args!r})"
        record.msg, record.args = message, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
        for key, value in list(vars(record).items()):
            if key in _PLAIN_ATTRIBUTES:
                continue
            if isinstance(value, str):
                setattr(record, key, mask_line(value))
            elif isinstance(value, dict):
                setattr(record, key, {k: mask_line(v) if isinstance(v, str) else v for k, v in value.items()})
        return True


def install_record_masking() -> None:
    """Mask every record of this process when it is created, whichever handler later
    writes it: for processes whose logging someone else configures (the action server:
    ``rasa_sdk`` and Sanic add their handlers after our code is imported)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "gongyou_masking", False):
        return
    masking = MaskingFilter()

    def masked_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        masking.filter(record)
        return record

    masked_record.gongyou_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_record)
