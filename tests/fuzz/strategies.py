"""Hypothesis strategies of requests to every inbound route of the gateway.

Each family draws an :class:`~tests.fuzz.harness.HttpRequest`: totally random ones (bytes,
headers, query strings, methods) and "almost valid" ones — signed and encrypted WeChat
callbacks whose XML, envelope or query is mutated, Telegram updates with the right secret
and a random structure, web-chat requests with a signed session and random payloads,
multipart uploads with odd parts, upload links valid, expired and forged. Signatures,
timestamps and ids are computed at draw time (the draw happens just before the request is
sent), from the :class:`~tests.fuzz.harness.Context` of the running gateways.

``FAMILIES`` names each family with its share of a run: ``tests/fuzz`` and ``bench/fuzz.py``
draw from the same table.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import random
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import strategies as st

from bot.fakes import wechat_callbacks as callbacks
from bot.fakes.wechat_callbacks import wechat_signature
from tests.fuzz.harness import (
    AES_KEY, APP_ID, TELEGRAM_SECRET, WECHAT_TOKEN, Context, HttpRequest,
)

SearchStrategy = st.SearchStrategy


@functools.lru_cache(maxsize=1024)
def weighted(*options: tuple[int, SearchStrategy[Any]]) -> SearchStrategy[Any]:
    """One of ``options``, each as often as its weight. (Built once per set of options:
    building strategies, not drawing from them, is what costs in Hypothesis.)"""
    pool = [strategy for weight, strategy in options for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def choose(draw: st.DrawFn, *weights: int) -> int:
    """The index of one of ``weights``, each as often as its weight (for choices between
    values computed at draw time, which no strategy could be built for in advance)."""
    n = draw(st.integers(0, sum(weights) - 1))
    for index, weight in enumerate(weights):
        if n < weight:
            return index
        n -= weight
    raise AssertionError("unreachable")


# -- values -----------------------------------------------------------------------------------

INTERESTING = [
    "", " ", "\n", "\t", "/", "//", "/greet", "/start", "/start 深链接", "/help@gongyou_bot",
    '/inform{"amount": 99999}', '/report_unpaid_wages{"employer": "宏达", "amount": 1}', "/restart",
    "/send_evidence", "/resume_dialogue", " /inform", "／inform", "1", "２", "3.", " 9 ", "0", "-1", "99",
    "确认", "确认提交", "转人工", "老板欠我三个月工资", "查进度", "GY-2026-000001", "\x00", "a\x00b",
    "\u202e\u0644", "\ufeff", "\u200b\u200d", "𠀀𠀁", "😀👍🏽", "]]>", "<![CDATA[x]]>", "&amp;", "&#0;",
    "<xml>", "'\"", "\\", "%00", "%s%n%x", "{{7*7}}", "${jndi:ldap://127.0.0.1:1/a}",
    "'; DROP TABLE contacts; --", "NaN", "null", "true", "[]", "{}", "\r\n\r\nX-Injected: 1", "ℌ", "ﬁ",
    "İ", "١٢٣", "²", "Ⅻ", "\x7f", "\x1b[31m", "\u0085", "\u2028", "a" * 129, "欠" * 2001,
]
SURROGATES = ["\ud800", "\udfff", "a\udc80b", "\udbff\udfff"]  # lone halves: not encodable as UTF-8

short_text = st.text(max_size=12)


@functools.lru_cache(maxsize=None)
def giant(min_n: int = 50, max_n: int = 30000) -> SearchStrategy[str]:
    """A long string, made by repetition (drawing 30 000 characters one by one is slow)."""
    return st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(min_n, max_n))


@functools.lru_cache(maxsize=None)
def texts(*, max_size: int = 40, surrogates: bool = False) -> SearchStrategy[str]:
    options: list[tuple[int, SearchStrategy[Any]]] = [
        (4, st.text(max_size=max_size)),
        (3, st.sampled_from(INTERESTING)),
        (1, giant()),
        (2, st.builds(lambda a, b: a + b, st.sampled_from(INTERESTING), short_text)),
        (1, st.builds(lambda b: "/" + b, short_text)),
    ]
    if surrogates:
        options.append((1, st.builds(lambda a, s: a + s, short_text, st.sampled_from(SURROGATES))))
    return weighted(*options)


NUMBERS = weighted(
    (3, st.integers(-10, 10**6)),
    (2, st.integers(-2**80, 2**80)),
    (2, st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**12, 10**18,
                         10**20, 10**40, 10**300, -10**20])),
)
NUMERIC_TEXT = weighted(
    (3, NUMBERS.map(str)),
    (2, st.sampled_from(["", " 1", "1 ", "01", "1e5", "1.5", "0x10", "+1", "١٢٣", "²", "nan", "inf", "-inf",
                         "1_000", "9" * 300, "9" * 5000, "-0", "1\n"])),
    (1, short_text),
)
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), NUMBERS)


@functools.lru_cache(maxsize=None)
def json_values(*, max_leaves: int = 12) -> SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), NUMBERS, FLOATS, texts(max_size=20, surrogates=True))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(texts(max_size=10), inner, max_size=4)),
        max_leaves=max_leaves)


@st.composite
def mutate_json(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """``value`` with a few of its members replaced, dropped or added (random types)."""
    if depth > 6:
        return value
    if isinstance(value, dict):
        out = {}
        for key, member in value.items():
            action = draw(st.sampled_from(["keep"] * 10 + ["drop", "replace", "recurse", "recurse"]))
            if action == "drop":
                continue
            out[key] = draw(json_values()) if action == "replace" else (
                draw(mutate_json(member, depth + 1)) if action == "recurse" else member)
        if draw(st.integers(0, 9)) == 0:
            out[draw(texts(max_size=10))] = draw(json_values())
        return out
    if isinstance(value, list):
        return [draw(mutate_json(v, depth + 1)) for v in value]
    return draw(json_values()) if draw(st.integers(0, 11)) == 0 else value


def json_body(value: Any, *, draw: st.DrawFn) -> bytes:
    """``value`` as JSON bytes (NaN and Infinity as Python writes them; lone surrogates as
    ``\\udXXX`` escapes or, unescaped, as bytes no decoder takes)."""
    ascii_only = draw(st.booleans())
    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=None)
def odd_json_bodies() -> SearchStrategy[bytes]:
    """Bodies a JSON reader must refuse in words: broken, nested too deep, not UTF-8, huge."""
    return weighted(
        (3, st.binary(max_size=200)),
        (2, st.sampled_from([b"", b"{", b"{not json", b"[]", b"null", b"NaN", b"-Infinity", b'{"a": NaN}',
                             b'"string"', b"1e999999", b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b'{"a":1}{"b":2}',
                             b'{"update_id": 1, "update_id": "x"}', b"9" * 5000, b'{"\\ud800": "\\udfff"}'])),
        (1, st.integers(1000, 200_000).map(lambda n: b"[" * n + b"]" * n)),
        (1, st.integers(1000, 200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)),
        (1, st.integers(100, 5000).map(lambda n: b"[" * n)),
        (1, st.just(b'{"pad": "' + b"x" * (2 * 1024 * 1024 + 10) + b'"}')),
    )


# -- headers, queries, paths ----------------------------------------------------------------

HEADER_NAME = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1,
                      max_size=20).filter(lambda n: n.lower() not in {
                          "content-length", "transfer-encoding", "host", "connection", "expect", "upgrade",
                          "content-type"})
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
SPECIAL_HEADERS = st.sampled_from([
    ("Content-Encoding", "gzip"), ("Content-Encoding", "deflate"), ("Content-Encoding", "br"),
    ("Content-Encoding", "zstd"), ("Content-Encoding", "bogus"), ("Accept", "application/json"),
    ("Accept-Encoding", "*"), ("X-Real-IP", "not an address"), ("X-Forwarded-For", "1.2.3.4, ::1"),
    ("X-Forwarded-Proto", "https"), ("Cookie", "gongyou_session=x; =;;"), ("Authorization", "Bearer x"),
    ("Range", "bytes=0-1"), ("If-None-Match", "*"), ("Origin", "http://evil.example"),
    ("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET), ("Accept-Charset", "bogus"),
])
CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
    "application/json; charset=bogus", "application/json; charset=utf-16", 'application/json; charset=""',
    "APPLICATION/JSON", "application/json;;", "text/plain", "text/xml", "text/xml; charset=gbk", "application/xml",
    "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz", "multipart/mixed; boundary=xyz", "image/png", "*/*", "", ";", "a/b/c",
    "text/html; charset=utf-7",
]


@functools.lru_cache(maxsize=None)
def extra_headers(max_size: int = 3) -> SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.one_of(st.tuples(HEADER_NAME, HEADER_VALUE), SPECIAL_HEADERS), max_size=max_size)


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in params)


RAW_QUERY = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=&%;+._-~", max_size=60),
    st.lists(st.tuples(texts(max_size=10), texts(max_size=20)), max_size=5).map(encode_query),
    st.sampled_from(["%", "%zz", "%ff%fe", "%00", "a=%ED%A0%80", "&&&", "=", "a=1&a=2", "signature", "x" * 9000]),
)


def path_with_query(path: str, params: Sequence[tuple[str, str]] | str | None) -> str:
    if params is None:
        return path
    query = params if isinstance(params, str) else encode_query(params)
    return f"{path}?{query}" if query else path


# -- WeChat -----------------------------------------------------------------------------------

MSG_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link", "event", "file",
             "miniprogrampage", "music", "news", "TEXT", "Text", " text", ""]
EVENTS = ["subscribe", "unsubscribe", "SCAN", "scan", "CLICK", "click", "VIEW", "LOCATION",
          "TEMPLATESENDJOBFINISH", "subscribe_scan", "view_miniprogram", "MASSSENDJOBFINISH", ""]
TYPE_FIELDS = {
    "text": ["Content"], "image": ["PicUrl", "MediaId"], "voice": ["MediaId", "Format", "Recognition"],
    "video": ["MediaId", "ThumbMediaId"], "shortvideo": ["MediaId", "ThumbMediaId"],
    "location": ["Location_X", "Location_Y", "Scale", "Label"], "link": ["Title", "Description", "Url"],
    "event": ["Event", "EventKey", "Ticket", "Latitude", "Longitude", "Precision"],
}
FIELD_NAMES = sorted({name for names in TYPE_FIELDS.values() for name in names}
                     | {"MsgDataId", "Idx", "Status", "MsgID", "bizmsgmenuid", "Encrypt", "ToUserName", "xml",
                        # a second copy of a field wechatpy reads (xmltodict makes a list of it)
                        "FromUserName", "MsgType", "CreateTime", "MsgId", "Content"})
XML_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1, max_size=10)

BILLION_LAUGHS = ('<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                  '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')
DOCTYPES = [
    BILLION_LAUGHS,
    '<!DOCTYPE xml [<!ENTITY d SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>',
    '<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd">',
    '<!DOCTYPE xml PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://127.0.0.1:1/x.dtd">',
    "<!DOCTYPE xml>",
    '<!DOCTYPE xml [<!ENTITY d "老板欠我工资">]>',
    '<!DOCTYPE xml [<!ELEMENT xml ANY><!ATTLIST xml a CDATA "x">]>',
]
XML_DECLARATIONS = ['<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>',
                    '<?xml version="1.0" encoding="GBK"?>', '<?xml version="1.0" encoding="UTF-16"?>',
                    '<?xml version="1.1"?>', '<?xml version="1.0" encoding="bogus"?>', '<?xml version="2.0"?>',
                    '<?xml-stylesheet href="x"?>', '<?php echo 1; ?>']


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def xml_value(draw: st.DrawFn, value: Any) -> str:
    """An element's content: CDATA, escaped text, raw (maybe breaking the XML), children."""
    text = str(value)
    how = draw(st.sampled_from(["cdata"] * 6 + ["escaped"] * 3 + ["raw", "children", "entity", "empty"]))
    if how == "cdata":
        return _cdata(text)
    if how == "escaped":
        return _escape(text)
    if how == "raw":
        return text
    if how == "children":
        name = draw(XML_NAME)
        return f"<{name}>{_cdata(text)}</{name}>" * draw(st.integers(1, 3))
    if how == "entity":
        return draw(st.sampled_from(["&d;", "&amp;&lt;", "&#x41;", "&#0;", "&#xD800;", "&nope;", "&#1114112;"]))
    return ""


@functools.lru_cache(maxsize=None)
def field_value(name: str) -> SearchStrategy[Any]:
    if name in ("Location_X", "Location_Y", "Latitude", "Longitude", "Precision", "Scale"):
        return st.one_of(FLOATS.map(str), NUMERIC_TEXT)
    if name == "Event":
        return weighted((4, st.sampled_from(EVENTS)), (1, texts(max_size=20)))
    if name == "EventKey":
        return weighted((2, st.sampled_from(["report_unpaid_wages", "qrscene_123", "GREET", "/x", "a" * 65])),
                        (2, texts(max_size=30)))
    if name in ("MsgId", "MsgID", "MsgDataId", "Idx"):
        return NUMERIC_TEXT
    return texts(max_size=40)


@st.composite
def wechat_xml(draw: st.DrawFn, ctx: Context) -> str:
    """A callback's plain XML: WeChat's fields, most of them of a usual shape, some not."""
    msg_type = draw(weighted((6, st.sampled_from(MSG_TYPES)), (1, texts(max_size=12))))
    openid = [lambda: f"o_fz{ctx.unique()}", lambda: draw(texts(max_size=40)),
              lambda: "o" * draw(st.integers(129, 400)), lambda: draw(st.sampled_from(["", " "]))][
        choose(draw, 6, 2, 1, 1)]()
    fields: list[tuple[str, Any]] = [
        ("ToUserName", draw(weighted((5, st.just("gh_fake0account")), (1, texts(max_size=20))))),
        ("FromUserName", openid),
        ("CreateTime", int(time.time()) if choose(draw, 5, 2) == 0 else draw(NUMERIC_TEXT)),
        ("MsgType", msg_type),
    ]
    for name in TYPE_FIELDS.get(msg_type.strip().lower(), draw(st.sampled_from(list(TYPE_FIELDS.values())))):
        if draw(st.integers(0, 9)):
            fields.append((name, draw(field_value(name))))
    if msg_type != "event" or draw(st.booleans()):
        msg_id = [ctx.unique, lambda: draw(NUMERIC_TEXT), lambda: None][choose(draw, 6, 2, 1)]()
        if msg_id is not None:
            fields.append(("MsgId", msg_id))
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.one_of(st.sampled_from(FIELD_NAMES), XML_NAME))
        fields.append((name, draw(field_value(name))))
    if draw(st.integers(0, 5)) == 0:
        fields = draw(st.permutations(fields))
    if draw(st.integers(0, 7)) == 0 and fields:  # one required field missing
        del fields[draw(st.integers(0, len(fields) - 1))]
    body = "".join(f"<{name}>{draw(xml_value(value)) if not isinstance(value, int) else value}</{name}>"
                   for name, value in fields)
    return f"<xml>{body}</xml>"


@st.composite
def mutate_xml(draw: st.DrawFn, xml: str) -> str:
    """The XML as it came, or with a DTD, a declaration, comments, junk, a cut, another root."""
    how = draw(st.sampled_from(["none"] * 16 + ["doctype", "comment-doctype", "declaration", "truncate", "insert",
                                              "root", "nest", "attributes", "trailing", "bom", "pi"]))
    if how == "doctype":
        return draw(st.sampled_from(DOCTYPES)) + xml
    if how == "comment-doctype":
        comments = "".join(f"<!--{draw(short_text).replace('--', '')}-->" for _ in range(draw(st.integers(1, 3))))
        lead = draw(st.sampled_from(["", '<?xml version="1.0"?>']))
        return lead + comments + draw(st.sampled_from(DOCTYPES)) + xml
    if how == "declaration":
        return draw(st.sampled_from(XML_DECLARATIONS)) + xml
    if how == "truncate":
        return xml[: draw(st.integers(0, max(0, len(xml) - 1)))]
    if how == "insert":
        at = draw(st.integers(0, len(xml)))
        return xml[:at] + draw(st.one_of(texts(max_size=8), st.sampled_from(["<", "&", "]]>", "</xml>", "<x>"]))) + xml[at:]
    if how == "root":
        name = draw(st.one_of(XML_NAME, st.sampled_from(["XML", "a:xml", "html"])))
        return f"<{name} xmlns:a=\"urn:x\">{xml[5:-6]}</{name}>"
    if how == "nest":
        depth = draw(st.integers(1, 3000))
        return xml[:-6] + "<a>" * depth + "x" + "</a>" * depth + "</xml>"
    if how == "attributes":
        return '<xml a="1" b="&lt;" xmlns="urn:x">' + xml[5:]
    if how == "trailing":
        return xml + draw(st.sampled_from(["<xml></xml>", "junk", "<!-- -->", "\x00"]))
    if how == "bom":
        return "\ufeff" + xml
    return '<?pi data?>' + xml


@st.composite
def encoded(draw: st.DrawFn, text: str) -> bytes:
    """Usually UTF-8; sometimes another encoding, or lone surrogates passed through."""
    how = draw(st.sampled_from(["utf-8"] * 16 + ["utf-16", "gbk", "latin-1", "surrogate", "invalid"]))
    if how == "surrogate":
        at = draw(st.integers(0, len(text)))
        return (text[:at] + draw(st.sampled_from(SURROGATES)) + text[at:]).encode("utf-8", "surrogatepass")
    if how == "invalid":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + raw[at:]
    return text.encode(how, "replace")


def seal(message: bytes, *, app_id: bytes = APP_ID.encode(), length: int | None = None,
         padding: int | None = None) -> str:
    """WeChat's encryption of ``message`` (any bytes), as the Encrypt field carries it:
    AES-256-CBC of random(16) + length(4, big-endian) + message + app id, PKCS#7 to 32.
    ``length`` and ``padding`` forge those fields."""
    key = base64.b64decode(AES_KEY + "=")
    plain = os.urandom(16) + struct.pack(">I", len(message) if length is None else length) + message + app_id
    pad = 32 - len(plain) % 32 if padding is None else padding
    plain += bytes([pad % 256]) * (32 - len(plain) % 32 or 32)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


@st.composite
def encrypt_field(draw: st.DrawFn, inner: bytes) -> str:
    how = draw(st.sampled_from(["valid"] * 8 + ["app-id", "length", "padding", "garbage", "not-base64", "truncated",
                                              "empty"]))
    if how == "valid":
        return seal(inner)
    if how == "app-id":
        return seal(inner, app_id=draw(st.sampled_from([b"", b"wxother", APP_ID.encode() + b"\xff", b"\x00"])))
    if how == "length":
        return seal(inner, length=draw(st.sampled_from([0, 1, len(inner) + 1, len(inner) + 100, 2**32 - 1])))
    if how == "padding":
        return seal(inner, padding=draw(st.sampled_from([0, 33, 255, 200])))
    if how == "garbage":
        return base64.b64encode(draw(st.binary(max_size=96))).decode()
    if how == "not-base64":
        return draw(texts(max_size=30))
    if how == "truncated":
        sealed = seal(inner)
        return sealed[: draw(st.integers(0, len(sealed) - 1))]
    return ""


@st.composite
def signed_query(draw: st.DrawFn, ctx: Context, *, encrypt: str | None, with_msg_signature: bool) -> list[tuple[str, str]]:
    """The callback's query, signed for this moment, then maybe spoiled."""
    now = int(time.time())
    timestamp = str(now + draw(st.integers(-200, 200)))
    nonce = ctx.fresh_nonce()
    how = draw(st.sampled_from(["valid"] * 20 + ["stale", "future", "odd-timestamp", "odd-nonce", "replay",
                                               "bad-signature", "no-signature", "upper-signature",
                                               "bad-msg-signature", "no-encrypt-type", "other-encrypt-type",
                                               "duplicate", "extra"]))
    if how == "stale":
        timestamp = str(now - draw(st.integers(301, 10**9)))
    elif how == "future":
        timestamp = str(now + draw(st.integers(301, 10**9)))
    elif how == "odd-timestamp":
        timestamp = draw(NUMERIC_TEXT)
    elif how == "odd-nonce":
        nonce = draw(texts(max_size=40))
    elif how == "replay" and ctx.used_nonces:
        timestamp, nonce = draw(st.sampled_from(ctx.used_nonces[-20:]))
    signature = wechat_signature(WECHAT_TOKEN, timestamp, nonce)
    if how == "bad-signature":
        signature = draw(st.one_of(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40), texts(max_size=50)))
    elif how == "upper-signature":
        signature = signature.upper()
    params = [("signature", signature), ("timestamp", timestamp), ("nonce", nonce), ("openid", "o_fz")]
    if how == "no-signature":
        params = params[1:]
    if with_msg_signature and encrypt is not None:
        msg_signature = wechat_signature(WECHAT_TOKEN, timestamp, nonce, encrypt)
        if how == "bad-msg-signature":
            msg_signature = draw(st.one_of(st.just("0" * 40), texts(max_size=50), st.just(signature)))
        encrypt_type = {"no-encrypt-type": None, "other-encrypt-type": draw(st.sampled_from(["AES", "raw", ""]))}.get(
            how, "aes")
        if encrypt_type is not None:
            params.append(("encrypt_type", encrypt_type))
        params.append(("msg_signature", msg_signature))
    if how == "duplicate":
        params.insert(0, ("signature", "0" * 40))
    if how == "extra":
        params += draw(st.lists(st.tuples(texts(max_size=10), texts(max_size=20)), max_size=3))
    if how in ("valid", "odd-nonce", "odd-timestamp"):
        ctx.used_nonces.append((timestamp, nonce))
        del ctx.used_nonces[:-200]
    return params


@functools.lru_cache(maxsize=None)
def xml_headers() -> SearchStrategy[list[tuple[str, str]]]:
    content_type = weighted((6, st.sampled_from(["text/xml", "application/xml", "text/xml; charset=utf-8"])),
                            (1, st.sampled_from(CONTENT_TYPES)))
    return st.builds(lambda ct, extra: [("Content-Type", ct), *extra], content_type,
                     weighted((4, st.builds(list)), (1, extra_headers())))


def xml_legal(text: str) -> str:
    """``text`` without the characters XML 1.0 has no place for (the builders parse what they build)."""
    return "".join(c for c in text if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd"
                   or c >= "\U00010000")


XML_TEXT = st.text(max_size=40).map(xml_legal)


@st.composite
def built_message(draw: st.DrawFn, ctx: Context) -> str:
    """A message as ``bot.fakes.wechat_callbacks`` builds it, with drawn values."""
    openid = f"o_fz{ctx.unique()}" if choose(draw, 4, 1) == 0 else draw(XML_TEXT)
    msg_id, kind = ctx.unique(), draw(st.sampled_from(["text"] * 4 + ["image", "voice", "video", "location", "link",
                                                                      "event"]))
    if kind == "text":
        content = draw(weighted((3, XML_TEXT), (1, st.sampled_from(INTERESTING)), (1, giant(10, 30000))))
        return callbacks.text_xml(openid, xml_legal(content), msg_id=msg_id)
    if kind == "image":
        return callbacks.image_xml(openid, draw(XML_TEXT), msg_id=msg_id)
    if kind == "voice":
        return callbacks.voice_xml(openid, draw(XML_TEXT), format=draw(st.sampled_from(["amr", "speex", ""])),
                                   recognition=draw(st.none() | XML_TEXT), msg_id=msg_id)
    if kind == "video":
        return callbacks.video_xml(openid, draw(XML_TEXT), draw(XML_TEXT), short=draw(st.booleans()), msg_id=msg_id)
    if kind == "location":
        return callbacks.location_xml(openid, draw(st.floats(-90, 90)), draw(st.floats(-180, 180)),
                                      label=draw(XML_TEXT), msg_id=msg_id)
    if kind == "link":
        return callbacks.link_xml(openid, draw(XML_TEXT), draw(XML_TEXT), msg_id=msg_id)
    return callbacks.event_xml(openid, draw(st.sampled_from(EVENTS[:-1])),
                               event_key=draw(st.none() | st.sampled_from(["report_unpaid_wages", "qrscene_7"]) | XML_TEXT))


@st.composite
def built_post(draw: st.DrawFn, ctx: Context, mode: str) -> HttpRequest:
    """A callback signed (and encrypted) by ``callback_request``, as WeChat sends it; then,
    sometimes, its body mutated after signing (plain mode signs only the query)."""
    xml = draw(built_message(ctx))
    timestamp = str(int(time.time()) + draw(st.integers(-200, 200)))
    state = random.getstate()  # wechatpy pads with random.choice; Hypothesis wants strategies to leave it be
    try:
        query, body = callbacks.callback_request(mode, WECHAT_TOKEN, AES_KEY, APP_ID, xml,  # type: ignore[arg-type]
                                                 timestamp=timestamp, nonce=ctx.fresh_nonce())
    finally:
        random.setstate(state)
    if choose(draw, 2, 1) == 1:
        body = draw(encoded(draw(mutate_xml(body.decode()))))
    target, label = ("plain", mode) if mode == "plain" else ("aes", mode)
    if mode == "compatible" and choose(draw, 4, 1) == 1:
        target, label = "plain", "compatible→plain-gw"
    return HttpRequest("wechat", f"{label} POST", "POST", path_with_query("/wechat", list(query.items())),
                       headers=tuple(draw(xml_headers())), body=body, target=target)


@st.composite
def wechat_post(draw: st.DrawFn, ctx: Context, mode: str) -> HttpRequest:
    """A callback in ``mode``: plain, compatible or safe (compatible is also sent to the
    gateway without a key, which reads its plain fields). A third are built as WeChat sends
    them (``built_post``); the rest here, field by field, any of them odd, the envelope and
    its encryption forged or not, the query signed for this moment then maybe spoiled."""
    if choose(draw, 1, 2) == 0:
        return draw(built_post(ctx, mode))
    xml = draw(wechat_xml(ctx))
    inner = draw(encoded(draw(mutate_xml(xml))))
    target = "plain" if mode == "plain" else "aes"
    label = mode
    if mode == "plain":
        body, encrypt = inner, None
    else:
        encrypt = draw(encrypt_field(inner))
        envelope_how = draw(st.sampled_from(["usual"] * 8 + ["two-encrypts", "encrypt-children", "doctype", "junk"]))
        if mode == "safe":
            envelope = f"<xml><ToUserName>{_cdata('gh_fake0account')}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
        else:
            # the plain fields beside Encrypt: as sent (mutations and all), or the message as it was
            plain = inner.decode("utf-8", "replace") if choose(draw, 1, 1) == 0 else xml
            head, _, _ = plain.rpartition("</xml>")
            envelope = f"{head or '<xml>'}<Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
            if draw(st.integers(0, 4)) == 0:
                target, label = "plain", "compatible→plain-gw"
        if envelope_how == "two-encrypts":
            envelope = envelope.replace("</xml>", f"<Encrypt>{_cdata(seal(b'<xml/>'))}</Encrypt></xml>")
        elif envelope_how == "encrypt-children":
            envelope = envelope.replace("<Encrypt>", "<Encrypt><a>1</a>", 1)
        elif envelope_how == "doctype":
            envelope = draw(st.sampled_from(DOCTYPES)) + envelope
        elif envelope_how == "junk":
            envelope = draw(mutate_xml(envelope))
        body = envelope.encode("utf-8", "surrogatepass")
    params = draw(signed_query(ctx, encrypt=encrypt, with_msg_signature=mode != "plain"))
    return HttpRequest("wechat", f"{label} POST", "POST", path_with_query("/wechat", params),
                       headers=tuple(draw(xml_headers())), body=body, target=target)


@st.composite
def wechat_get(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    """WeChat's URL check: a signed query with ``echostr``, or not quite."""
    target = draw(st.sampled_from(["aes", "plain"]))
    params = draw(signed_query(ctx, encrypt=None, with_msg_signature=False))
    echostr = [lambda: str(ctx.unique()), lambda: draw(texts(max_size=40, surrogates=True)), lambda: None][
        choose(draw, 3, 3, 1)]()
    if echostr is not None:
        params.append(("echostr", echostr))
    if draw(st.integers(0, 9)) == 0:
        params = draw(st.permutations(params))
    return HttpRequest("wechat", f"{'plain' if target == 'plain' else 'aes'}-gw GET", "GET",
                       path_with_query("/wechat", params), headers=tuple(draw(extra_headers(2))), target=target)


# -- Telegram ---------------------------------------------------------------------------------

CHAT_TYPES = ["private", "group", "supergroup", "channel", "", "PRIVATE", "sender"]
ENTITY_TYPES = ["bot_command", "mention", "url", "bold", "text_link", "custom_emoji", "bogus"]


_TG_USER = st.fixed_dictionaries(
    {"is_bot": weighted((5, st.just(False)), (1, st.booleans())),
     "first_name": weighted((6, texts(max_size=20)), (1, json_values(max_leaves=2)))},
    optional={"last_name": texts(max_size=20), "username": texts(max_size=20),
              "language_code": st.sampled_from(["zh-hans", "en", "", "x" * 50])})


@st.composite
def tg_user(draw: st.DrawFn, ctx: Context) -> dict[str, Any]:
    user = draw(_TG_USER)
    user["id"] = ctx.unique() % 10**10 if choose(draw, 5, 2) == 0 else draw(NUMBERS)
    return user


@functools.lru_cache(maxsize=None)
@st.composite
def tg_file(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    base = {"file_id": draw(texts(max_size=20)), "file_unique_id": draw(texts(max_size=10))}
    odd = json_values(max_leaves=2)  # a value of the wrong type (PTB does not check types)
    if draw(st.integers(0, 3)):
        base["file_size"] = draw(weighted((4, NUMBERS), (1, FLOATS), (1, odd)))
    if kind in ("photo", "video", "video_note"):
        base.update(width=draw(weighted((5, NUMBERS), (1, odd))), height=draw(weighted((5, NUMBERS), (1, odd))))
    if kind in ("document", "audio", "video"):
        base.update(file_name=draw(texts(max_size=30)), mime_type=draw(st.one_of(
            st.sampled_from(["application/pdf", "image/png", "audio/ogg", "video/mp4", "", "x" * 200]),
            texts(max_size=20))))
    if kind in ("voice", "audio", "video", "video_note"):
        base["duration"] = draw(NUMBERS)
        if kind == "video_note":
            base["length"] = draw(NUMBERS)
    return base


@st.composite
def tg_message(draw: st.DrawFn, ctx: Context, *, depth: int = 0) -> dict[str, Any]:
    user = draw(tg_user(ctx))
    chat_type = draw(weighted((5, st.just("private")), (2, st.sampled_from(CHAT_TYPES)), (1, texts(max_size=10))))
    chat_id = user["id"] if chat_type == "private" and draw(st.integers(0, 5)) else draw(NUMBERS)
    message: dict[str, Any] = {"message_id": draw(NUMBERS),
                               "date": int(time.time()) if choose(draw, 4, 1) == 0 else draw(NUMBERS),
                               "chat": {"id": chat_id, "type": chat_type}, "from": user}
    content = draw(st.sampled_from(["text"] * 6 + ["photo", "document", "voice", "audio", "video", "video_note",
                                                  "sticker", "location", "contact", "caption-only", "nothing"]))
    if content == "text":
        message["text"] = draw(texts(max_size=60, surrogates=True))
        if draw(st.integers(0, 3)) == 0:
            message["entities"] = draw(st.lists(st.fixed_dictionaries(
                {"type": st.sampled_from(ENTITY_TYPES), "offset": NUMBERS, "length": NUMBERS}), max_size=3))
    elif content == "photo":
        message["photo"] = draw(st.lists(tg_file("photo"), max_size=4))
    elif content in ("document", "voice", "audio", "video", "video_note"):
        message[content] = draw(tg_file(content))
    elif content == "sticker":
        message["sticker"] = {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
                              "is_animated": False, "is_video": False}
    elif content == "location":
        message["location"] = {"latitude": draw(FLOATS), "longitude": draw(FLOATS)}
    elif content == "contact":
        message["contact"] = {"phone_number": draw(texts(max_size=20)), "first_name": draw(texts(max_size=10))}
    if content != "text" and draw(st.integers(0, 2)) == 0:
        message["caption"] = draw(texts(max_size=40, surrogates=True))
    if depth == 0 and draw(st.integers(0, 9)) == 0:
        message["reply_to_message"] = draw(tg_message(ctx, depth=1))
    return message


@st.composite
def tg_update(draw: st.DrawFn, ctx: Context) -> Any:
    update_id = [ctx.unique, lambda: draw(NUMBERS), lambda: draw(json_values(max_leaves=2))][choose(draw, 6, 2, 1)]()
    kind = draw(st.sampled_from(["message"] * 6 + ["edited_message", "channel_post", "callback_query", "callback_query",
                                                  "my_chat_member", "random-key", "none", "deep"]))
    update: dict[str, Any] = {"update_id": update_id}
    if kind in ("message", "edited_message", "channel_post"):
        update[kind] = draw(tg_message(ctx))
    elif kind == "deep":  # replies to replies, as deep as a JSON reader goes
        message = draw(tg_message(ctx, depth=1))
        for _ in range(draw(st.integers(10, 1200))):
            message = {**message, "reply_to_message": message}
        update["message"] = message
    elif kind == "callback_query":
        user = draw(tg_user(ctx))
        update[kind] = {"id": draw(texts(max_size=20)), "from": user, "chat_instance": draw(texts(max_size=10)),
                        "data": draw(weighted((2, st.sampled_from(["b:1", "b:2", "b:999999999"])), (2, texts(max_size=70)))),
                        **({"message": draw(tg_message(ctx, depth=1))} if draw(st.booleans()) else {})}
    elif kind == "my_chat_member":
        user = draw(tg_user(ctx))
        member = {"status": draw(st.sampled_from(["kicked", "member", "left", "administrator", "bogus"])), "user": user}
        update[kind] = {"chat": {"id": user["id"], "type": draw(st.sampled_from(CHAT_TYPES))}, "from": user,
                        "date": draw(NUMBERS), "old_chat_member": member, "new_chat_member": member}
    elif kind == "random-key":
        update[draw(texts(max_size=15))] = draw(json_values())
    if draw(st.integers(0, 3)) == 0:
        update = draw(mutate_json(update))
    return update


@st.composite
def telegram_post(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    """A webhook call: usually with the secret; a random Update-like structure, random JSON,
    or a body no JSON reader takes."""
    secret = draw(weighted((8, st.just(TELEGRAM_SECRET)), (1, st.none()),
                           (1, st.sampled_from(["", TELEGRAM_SECRET + " ", TELEGRAM_SECRET.upper(), TELEGRAM_SECRET[:-1]])),
                           (1, HEADER_VALUE)))
    shape = draw(st.sampled_from(["update"] * 7 + ["json", "json", "odd"]))
    if shape == "update":
        body = json_body(draw(tg_update(ctx)), draw=draw)
    elif shape == "json":
        body = json_body(draw(json_values()), draw=draw)
    else:
        body = draw(odd_json_bodies())
    content_type = draw(weighted((8, st.just("application/json")), (2, st.sampled_from(CONTENT_TYPES)), (1, st.none())))
    headers = [("Content-Type", content_type)] if content_type is not None else []
    if secret is not None:
        headers.append(("X-Telegram-Bot-Api-Secret-Token", secret))
    headers += draw(weighted((5, st.builds(list)), (1, extra_headers())))
    mode = "secret" if secret == TELEGRAM_SECRET else "wrong-secret"
    return HttpRequest("telegram", f"{mode} {shape}", "POST", "/telegram/webhook", headers=tuple(headers), body=body,
                       skip_auto_headers=("Content-Type",))


# -- the web chat -----------------------------------------------------------------------------


@st.composite
def chat_identity(draw: st.DrawFn, ctx: Context) -> tuple[Any, Any, str]:
    """(sender, session, label): a known sender with its session, without it, with a wrong
    one; a new sender; a sender of a shape the API refuses; a value of the wrong type."""
    how = draw(st.sampled_from(["known"] * 4 + ["new"] * 3 + ["known-no-session", "known-wrong-session",
                                                          "new-other-session", "odd-sender", "wrong-type"]))
    known = draw(st.sampled_from(ctx.known_senders)) if ctx.known_senders else "nobody"
    if how == "known":
        return known, ctx.session_for(known), "session"
    if how == "new":
        sender = f"fz-{ctx.unique()}"
        return sender, draw(st.sampled_from([None, ctx.session_for(sender)])), "new-sender"
    if how == "known-no-session":
        return known, None, "no-session"
    if how == "known-wrong-session":
        wrong = [lambda: draw(texts(max_size=45)), lambda: ctx.session_for(known).upper(),
                 lambda: ctx.session_for(known)[:-1], lambda: draw(json_values(max_leaves=2))][choose(draw, 1, 1, 1, 1)]()
        return known, wrong, "wrong-session"
    if how == "new-other-session":
        return f"fz-{ctx.unique()}", ctx.session_for(known), "new-sender"
    if how == "odd-sender":
        return draw(st.one_of(texts(max_size=70), st.sampled_from([known + "\n", " " + known, known.upper(), "a" * 65,
                                                                   "."]))), None, "odd-sender"
    return draw(json_values(max_leaves=3)), draw(json_values(max_leaves=2)), "wrong-type"


@functools.lru_cache(maxsize=None)
def chat_text() -> SearchStrategy[Any]:
    return weighted((6, texts(max_size=60, surrogates=True)),
                    (2, st.builds(lambda i, e: f"/{i}{json.dumps(e, ensure_ascii=False)}",
                                  st.sampled_from(["inform", "report_unpaid_wages", "affirm", "greet", "x"]),
                                  st.dictionaries(short_text, json_values(max_leaves=2), max_size=3))),
                    (1, st.integers(1990, 2010).map(lambda n: "欠" * n)),
                    (1, json_values(max_leaves=3)), (1, st.none()))


@functools.lru_cache(maxsize=None)
def host_headers() -> SearchStrategy[list[tuple[str, str]]]:
    return weighted((12, st.builds(list)), (1, st.sampled_from([
        [("Host", "evil.example")], [("Host", "127.0.0.1")], [("Host", "LOCALHOST:1")], [("Host", "")]])))


@st.composite
def chat_message(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    sender, session, label = draw(chat_identity(ctx))
    shape = draw(st.sampled_from(["object"] * 8 + ["json", "odd"]))
    if shape == "object":
        body: dict[str, Any] = {"sender": sender}
        if session is not None:
            body["session"] = session
        text = draw(chat_text())
        if text is not None:
            body["text"] = text
        payload = draw(weighted((4, st.none()), (2, st.builds(lambda s: "/" + s, texts(max_size=30))),
                                (1, st.integers(495, 520).map(lambda n: "/" + "x" * n)), (1, json_values(max_leaves=2))))
        if payload is not None:
            body["payload"] = payload
        message_id = [lambda: None, lambda: f"m{ctx.unique()}", lambda: "m-repeated",
                      lambda: draw(texts(max_size=110)), lambda: draw(json_values(max_leaves=2))][choose(draw, 3, 3, 1, 1, 1)]()
        if message_id is not None:
            body["message_id"] = message_id
        if draw(st.integers(0, 5)) == 0:
            body = draw(mutate_json(body))
        data = json_body(body, draw=draw)
    elif shape == "json":
        data, label = json_body(draw(json_values()), draw=draw), "json"
    else:
        data, label = draw(odd_json_bodies()), "odd-body"
    content_type = draw(weighted((8, st.just("application/json")), (2, st.sampled_from(CONTENT_TYPES)), (1, st.none())))
    headers = ([("Content-Type", content_type)] if content_type is not None else []) + draw(host_headers())
    headers += draw(weighted((5, st.builds(list)), (1, extra_headers())))
    return HttpRequest("chat/messages", label, "POST", "/chat/api/messages", headers=tuple(headers), body=data,
                       skip_auto_headers=("Content-Type",))


@st.composite
def chat_updates(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    sender, session, label = draw(chat_identity(ctx))
    params: list[tuple[str, str]] = []
    if sender is not None and draw(st.integers(0, 9)):
        params.append(("sender", sender if isinstance(sender, str) else json.dumps(sender)))
    if session is not None:
        params.append(("session", session if isinstance(session, str) else json.dumps(session)))
    query: list[tuple[str, str]] | str = params
    if draw(st.integers(0, 7)) == 0:
        query = draw(RAW_QUERY)
        label = "raw-query"
    headers = draw(host_headers()) + draw(weighted((5, st.builds(list)), (1, extra_headers())))
    return HttpRequest("chat/updates", label, "GET", path_with_query("/chat/api/updates", query), headers=tuple(headers))


# -- multipart --------------------------------------------------------------------------------

FILE_CONTENT_TYPES = ["image/jpeg", "image/png", "application/pdf", "audio/amr", "video/mp4", "application/octet-stream",
                      "text/plain; charset=bogus", "", "x" * 150, "multipart/mixed; boundary=inner", "image/*"]
FIELD_CONTENT_TYPES = ["text/plain", "text/plain; charset=utf-8", "text/plain; charset=bogus",
                       "text/plain; charset=utf-16", "text/plain; charset=gbk", "application/json", "text/plain; charset="]
OVER_A_MEGABYTE = b"\x89PNG" + os.urandom(1024 * 1024 + 1)  # over the fuzz gateways' cap per file
FILENAMES = ["a.jpg", "工资条.png", "../../etc/passwd", "C:\\Users\\x\\合同.pdf", "", ".", "..", "a" * 300 + ".pdf",
             "%E5%B7%A5.jpg", "%ff%fe.jpg", "%00.jpg", "x\x00y.jpg", "name\".jpg", "f\r\nX-Injected: 1", "😀.png",
             "\u202egpj.exe", "CON", "a/b/", "%", "noextension"]


def _disposition(name: str | None, filename: str | None, style: str) -> str:
    parts = ["form-data"]
    if name is not None:
        parts.append(f'name="{name}"' if style != "unquoted" else f"name={name}")
    if filename is not None:
        if style == "rfc5987":
            parts.append("filename*=UTF-8''" + quote(filename.encode("utf-8", "surrogatepass"), safe=""))
        elif style == "both":
            parts.append(f'filename="{filename}"; filename*=UTF-8\'\'{quote(filename.encode("utf-8", "surrogatepass"))}')
        else:
            parts.append(f'filename="{filename}"')
    return "; ".join(parts)


@st.composite
def file_part(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bytes]:
    filename = draw(weighted((4, st.sampled_from(FILENAMES)), (2, texts(max_size=30)), (1, st.none())))
    style = draw(st.sampled_from(["quoted"] * 4 + ["rfc5987", "both", "unquoted"]))
    name = draw(weighted((8, st.just("file")), (1, st.sampled_from(["File", "file[]", "", "sender"])), (1, st.none())))
    headers = [("Content-Disposition", _disposition(name, filename, style).replace("\r", "").replace("\n", ""))]
    content_type = draw(weighted((6, st.sampled_from(FILE_CONTENT_TYPES[:6])), (2, st.sampled_from(FILE_CONTENT_TYPES)),
                                 (1, st.none())))
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if draw(st.integers(0, 9)) == 0:
        headers.append(draw(st.sampled_from([("Content-Transfer-Encoding", "base64"),
                                             ("Content-Transfer-Encoding", "quoted-printable"),
                                             ("Content-Transfer-Encoding", "bogus"), ("Content-Encoding", "gzip"),
                                             ("Content-Length", "5"), ("X-Odd", "\u00e9")])))
    content = draw(weighted((5, st.binary(min_size=1, max_size=300)), (1, st.just(b"")),
                            (1, st.integers(1, 50_000).map(lambda n: os.urandom(16) * n)),
                            (1, st.just(OVER_A_MEGABYTE))))
    return headers, content


@st.composite
def field_part(draw: st.DrawFn, name: str, value: Any) -> tuple[list[tuple[str, str]], bytes]:
    headers = [("Content-Disposition", _disposition(name, None, "quoted"))]
    if draw(st.integers(0, 6)) == 0:
        headers.append(("Content-Type", draw(st.sampled_from(FIELD_CONTENT_TYPES))))
    text = value if isinstance(value, str) else json.dumps(value)
    return headers, text.encode("utf-8", "surrogatepass")


@st.composite
def multipart(draw: st.DrawFn, parts: list[tuple[list[tuple[str, str]], bytes]]) -> tuple[str, bytes, str]:
    """(Content-Type, body, label) of a multipart request made of ``parts``, by hand: the
    boundary, line endings and framing may be wrong."""
    boundary = (f"fzb{os.urandom(8).hex()}" if choose(draw, 6, 1) == 0
                else draw(st.sampled_from(["", "a" * 80, "b b", "\"quoted\"", "--", "x;y", "日本"])))
    eol = draw(weighted((8, st.just(b"\r\n")), (1, st.just(b"\n"))))
    frame = draw(st.sampled_from(["usual"] * 10 + ["no-end", "no-start", "preamble", "wrong-boundary", "truncate",
                                               "garbage", "nested"]))
    b = boundary.encode("utf-8", "replace")
    chunks = []
    if frame == "preamble":
        chunks.append(b"preamble junk" + eol)
    for headers, content in parts:
        head = eol.join(f"{k}: {v}".encode("utf-8", "surrogatepass") for k, v in headers)
        chunks.append(b"--" + b + eol + head + eol + eol + content + eol)
    if frame == "nested":
        inner = b"--inner" + eol + b'Content-Disposition: form-data; name="file"; filename="n.txt"' + eol + eol + b"x" + eol + b"--inner--" + eol
        chunks.append(b"--" + b + eol + b'Content-Disposition: form-data; name="file"' + eol +
                      b"Content-Type: multipart/mixed; boundary=inner" + eol + eol + inner + eol)
    if frame != "no-end":
        chunks.append(b"--" + b + b"--" + eol)
    body = b"".join(chunks)
    if frame == "no-start":
        body = body[len(b) + 2:]
    elif frame == "truncate":
        body = body[: draw(st.integers(0, len(body)))]
    elif frame == "garbage":
        body = draw(st.binary(max_size=400))
    declared = boundary if frame != "wrong-boundary" else "other" + boundary
    content_type = [lambda: f"multipart/form-data; boundary={declared}",
                    lambda: f'multipart/form-data; boundary="{declared}"',
                    lambda: draw(st.sampled_from(CONTENT_TYPES))][choose(draw, 8, 1, 1)]()
    return content_type, body, frame


def digests(parts: list[tuple[list[tuple[str, str]], bytes]]) -> tuple[str, ...]:
    """Where the evidence store would keep each part (it names a file by its SHA-256)."""
    return tuple(hashlib.sha256(content).hexdigest() for _, content in parts if content)


@st.composite
def chat_files(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    sender, session, label = draw(chat_identity(ctx))
    parts: list[tuple[list[tuple[str, str]], bytes]] = []
    if sender is not None and draw(st.integers(0, 9)):
        parts.append(draw(field_part("sender", sender)))
    if session is not None:
        parts.append(draw(field_part("session", session)))
    if draw(st.booleans()):
        message_id = [lambda: f"m{ctx.unique()}", lambda: draw(texts(max_size=110)), lambda: "x" * 1100][
            choose(draw, 3, 1, 1)]()
        parts.append(draw(field_part("message_id", message_id)))
    parts += draw(st.lists(file_part(), max_size=draw(st.sampled_from([3, 3, 3, 11]))))
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["sender", "session", "other", "text", "x" * 100]))
        parts.append(draw(field_part(name, draw(weighted((3, texts(max_size=30)), (1, st.just("y" * 2000)))))))
    if draw(st.integers(0, 5)) == 0:
        parts = draw(st.permutations(parts))
    content_type, body, frame = draw(multipart(parts))
    headers = [("Content-Type", content_type)] + draw(host_headers())
    return HttpRequest("chat/files", f"{label} {frame}", "POST", "/chat/api/files", headers=tuple(headers), body=body,
                       skip_auto_headers=("Content-Type",), digests=digests(parts))


# -- upload links -----------------------------------------------------------------------------


@st.composite
def upload_token(draw: st.DrawFn, ctx: Context) -> tuple[str, str]:
    """(percent-encoded token, label)."""
    contact = draw(st.sampled_from(ctx.contact_ids)) if ctx.contact_ids else 1
    how = draw(st.sampled_from(["valid"] * 6 + ["expired", "forged", "unknown-contact", "huge-contact", "odd",
                                              "digits", "slash", "long"]))
    if how == "valid":
        token = ctx.upload_token(contact)
    elif how == "expired":
        token = ctx.upload_token(contact, expires_in=-draw(st.integers(1, 10**6)))
    elif how == "forged":
        valid = ctx.upload_token(contact)
        at = draw(st.integers(0, len(valid) - 1))
        token = valid[:at] + draw(st.sampled_from("A0_-x.")) + valid[at + 1:]
    elif how == "unknown-contact":
        token = ctx.upload_token(draw(st.integers(10**9, 10**17)))
    elif how == "huge-contact":
        token = ctx.upload_token(draw(st.sampled_from([10**18 - 1, 10**18, 2**63, 10**30])))
    elif how == "odd":
        token = draw(texts(max_size=60, surrogates=True))
    elif how == "digits":
        token = draw(st.sampled_from(["²", "١.٢.", "1.1." + "A" * 43, "0" * 5000, "1." * 30, "-1.1.x"]))
    elif how == "slash":
        token = draw(st.sampled_from(["a/b", "../chat", "%2F", "x?y", "#frag"]))
    else:
        token = "t" * draw(st.integers(100, 9000))
    encoded_token = quote(token.encode("utf-8", "surrogatepass"), safe="") if how != "slash" else token
    return encoded_token, "valid" if how == "valid" else how


@st.composite
def upload_get(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    token, label = draw(upload_token(ctx))
    query = draw(weighted((5, st.none()), (1, RAW_QUERY)))
    return HttpRequest("upload", f"GET {label}", "GET", path_with_query(f"/upload/{token}", query),
                       headers=tuple(draw(weighted((5, st.builds(list)), (1, extra_headers())))))


@st.composite
def upload_post(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    token, label = draw(upload_token(ctx))
    parts: list[tuple[list[tuple[str, str]], bytes]] = []
    if draw(st.booleans()):
        submission = [lambda: f"sub{ctx.unique()}", lambda: "sub-repeated-1234", lambda: draw(texts(max_size=80)),
                      lambda: "s" * 1100][choose(draw, 3, 1, 1, 1)]()
        parts.append(draw(field_part("submission", submission)))
    parts += draw(st.lists(file_part(), max_size=draw(st.sampled_from([3, 3, 3, 11]))))
    if draw(st.integers(0, 3)) == 0:
        parts.append(draw(field_part(draw(st.sampled_from(["other", "submission", "file"])), draw(texts(max_size=20)))))
    content_type, body, _frame = draw(multipart(parts))
    if draw(st.integers(0, 9)) == 0:  # a form post that is no upload
        content_type, body = draw(st.sampled_from(CONTENT_TYPES)), draw(st.binary(max_size=100))
    headers = [("Content-Type", content_type)] + draw(weighted((6, st.builds(list)), (1, extra_headers())))
    return HttpRequest("upload", f"POST {label}", "POST", f"/upload/{token}", headers=tuple(headers), body=body,
                       skip_auto_headers=("Content-Type",), digests=digests(parts))


# -- totally random ---------------------------------------------------------------------------

ROUTES = {"/wechat": "wechat", "/telegram/webhook": "telegram", "/chat/api/messages": "chat/messages",
          "/chat/api/files": "chat/files", "/chat/api/updates": "chat/updates", "/upload/": "upload"}
METHODS = ["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "TRACE"]


@st.composite
def random_request(draw: st.DrawFn, ctx: Context) -> HttpRequest:
    """Any method, headers, query and bytes to any inbound route (or a path next to one)."""
    path = draw(st.sampled_from(list(ROUTES)))
    route = ROUTES[path]
    if path == "/upload/":
        path += (ctx.upload_token(ctx.contact_ids[0]) if ctx.contact_ids else "x") if choose(draw, 1, 1) == 0 \
            else draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-%", max_size=50))
    if draw(st.integers(0, 9)) == 0:
        path += draw(st.sampled_from(["/", "//", "/..", "%2e%2e", "/x", ".json", ";x"]))
        route = "near-route"
    query = draw(weighted((2, st.none()), (3, RAW_QUERY)))
    headers = draw(extra_headers(5))
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(st.sampled_from(CONTENT_TYPES))))
    headers += draw(host_headers())
    method = draw(st.sampled_from(METHODS))
    body = None if method in ("GET", "HEAD") and draw(st.booleans()) else draw(
        weighted((6, st.binary(max_size=500)), (1, odd_json_bodies())))
    return HttpRequest(route, "random", method, path_with_query(path, query), headers=tuple(headers), body=body,
                       target=draw(st.sampled_from(["aes", "plain"])), skip_auto_headers=("Content-Type",))


# -- the table both the tests and the bench draw from -----------------------------------------

Family = Callable[[Context], SearchStrategy[HttpRequest]]
FAMILIES: dict[str, tuple[Family, int]] = {
    "wechat-plain": (lambda ctx: wechat_post(ctx, "plain"), 10),
    "wechat-compatible": (lambda ctx: wechat_post(ctx, "compatible"), 10),
    "wechat-safe": (lambda ctx: wechat_post(ctx, "safe"), 10),
    "wechat-get": (wechat_get, 5),
    "telegram": (telegram_post, 12),
    "chat-messages": (chat_message, 12),
    "chat-files": (chat_files, 8),
    "chat-updates": (chat_updates, 5),
    "upload-get": (upload_get, 4),
    "upload-post": (upload_post, 8),
    "random": (random_request, 16),
}
