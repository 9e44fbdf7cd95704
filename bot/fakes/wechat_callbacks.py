"""WeChat's side of a callback to our gateway: XML builders, signing and encryption.

Pure functions, no network: a test of the gateway builds a message with one of the
``*_xml`` builders, turns it into the query and body WeChat would POST with
:func:`callback_request`, and posts that with its own HTTP client. The formats mirror the
official account message push (消息推送) in plain (明文), compatible (兼容) and safe (安全)
mode; encryption is wechatpy's ``WeChatCrypto``, the library our gateway decrypts with.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Literal

from wechatpy.crypto import WeChatCrypto

CallbackMode = Literal["plain", "compatible", "safe"]
DEFAULT_ACCOUNT = "gh_fake0account"  # the account's original id: ToUserName in callbacks


def wechat_signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts, concatenated.

    ``signature`` signs (token, timestamp, nonce); ``msg_signature`` adds the Encrypt field.
    """
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def new_aes_key() -> str:
    """A random EncodingAESKey: 43 characters, base64 of 32 bytes without the ``=``."""
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _render(fields: Mapping[str, str | int | float]) -> str:
    return "<xml>" + "".join(
        f"<{name}>{value if isinstance(value, (int, float)) else _cdata(value)}</{name}>"
        for name, value in fields.items()
    ) + "</xml>"


def _message(
    openid: str, msg_type: str, fields: Mapping[str, str | int | float], *,
    account: str, create_time: int | None, msg_id: int | None,
) -> str:
    envelope = {"ToUserName": account, "FromUserName": openid,
                "CreateTime": create_time or int(time.time()), "MsgType": msg_type}
    # Events carry no MsgId (wechatpy then reports id 0): dedupe them on sender and time.
    tail = {} if msg_type == "event" else {"MsgId": msg_id or secrets.randbits(63)}
    return _render({**envelope, **fields, **tail})


def text_xml(openid: str, content: str, *, account: str = DEFAULT_ACCOUNT,
             create_time: int | None = None, msg_id: int | None = None) -> str:
    """A text message (``MsgType=text``, ``Content``)."""
    return _message(openid, "text", {"Content": content},
                    account=account, create_time=create_time, msg_id=msg_id)


def image_xml(openid: str, media_id: str, pic_url: str = "http://mmbiz.qpic.cn/mmbiz/fake/0", *,
              account: str = DEFAULT_ACCOUNT, create_time: int | None = None,
              msg_id: int | None = None) -> str:
    """An image message (``PicUrl``, ``MediaId``)."""
    return _message(openid, "image", {"PicUrl": pic_url, "MediaId": media_id},
                    account=account, create_time=create_time, msg_id=msg_id)


def voice_xml(openid: str, media_id: str, *, format: str = "amr", recognition: str | None = None,
              account: str = DEFAULT_ACCOUNT, create_time: int | None = None,
              msg_id: int | None = None) -> str:
    """A voice message (``MediaId``, ``Format``; ``Recognition`` only if switched on)."""
    fields = {"MediaId": media_id, "Format": format}
    if recognition is not None:
        fields["Recognition"] = recognition
    return _message(openid, "voice", fields,
                    account=account, create_time=create_time, msg_id=msg_id)


def video_xml(openid: str, media_id: str, thumb_media_id: str, *, short: bool = False,
              account: str = DEFAULT_ACCOUNT, create_time: int | None = None,
              msg_id: int | None = None) -> str:
    """A video (or, with ``short``, a shortvideo) message."""
    return _message(openid, "shortvideo" if short else "video",
                    {"MediaId": media_id, "ThumbMediaId": thumb_media_id},
                    account=account, create_time=create_time, msg_id=msg_id)


def location_xml(openid: str, latitude: float, longitude: float, *, scale: int = 15,
                 label: str = "", account: str = DEFAULT_ACCOUNT, create_time: int | None = None,
                 msg_id: int | None = None) -> str:
    """A location message (``Location_X`` is the latitude, ``Location_Y`` the longitude)."""
    return _message(openid, "location", {"Location_X": latitude, "Location_Y": longitude,
                                         "Scale": scale, "Label": label},
                    account=account, create_time=create_time, msg_id=msg_id)


def link_xml(openid: str, title: str, url: str, *, description: str = "",
             account: str = DEFAULT_ACCOUNT, create_time: int | None = None,
             msg_id: int | None = None) -> str:
    """A link message (``Title``, ``Description``, ``Url``)."""
    return _message(openid, "link", {"Title": title, "Description": description, "Url": url},
                    account=account, create_time=create_time, msg_id=msg_id)


def event_xml(openid: str, event: str, *, event_key: str | None = None,
              account: str = DEFAULT_ACCOUNT, create_time: int | None = None) -> str:
    """An event, spelled as WeChat does: ``subscribe``, ``unsubscribe``, ``CLICK``, ``SCAN``."""
    fields = {"Event": event} if event_key is None else {"Event": event, "EventKey": event_key}
    return _message(openid, "event", fields, account=account, create_time=create_time, msg_id=None)


def verification_request(token: str, echostr: str, *, timestamp: str | None = None,
                         nonce: str | None = None) -> dict[str, str]:
    """The query of WeChat's GET that checks a new callback URL; the answer must be echostr."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    return {"signature": wechat_signature(token, timestamp, nonce), "echostr": echostr,
            "timestamp": timestamp, "nonce": nonce}


def callback_request(
    mode: CallbackMode, token: str, aes_key: str | None, app_id: str, xml: str, *,
    timestamp: str | None = None, nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """The query parameters and body of WeChat's POST carrying ``xml`` to our gateway.

    ``plain`` (明文): signed XML. ``safe`` (安全模式): ``<ToUserName/><Encrypt/>`` only, plus
    ``encrypt_type=aes`` and ``msg_signature`` in the query. ``compatible`` (兼容模式): the
    plain fields and ``Encrypt`` together. The query always has ``signature`` and ``openid``.
    """
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    root = ET.fromstring(xml)
    query = {"signature": wechat_signature(token, timestamp, nonce), "timestamp": timestamp,
             "nonce": nonce, "openid": root.findtext("FromUserName") or ""}
    if mode == "plain":
        return query, xml.encode()
    if mode not in ("safe", "compatible"):
        raise ValueError(f"mode must be plain, compatible or safe, not {mode!r}")
    if not aes_key:
        raise ValueError(f"{mode} mode needs the EncodingAESKey")
    crypto = WeChatCrypto(token, aes_key, app_id)
    sealed = ET.fromstring(crypto.encrypt_message(xml, nonce, timestamp))
    encrypt = sealed.findtext("Encrypt") or ""
    query |= {"encrypt_type": "aes", "msg_signature": sealed.findtext("MsgSignature") or ""}
    if mode == "safe":
        body = _render({"ToUserName": root.findtext("ToUserName") or "", "Encrypt": encrypt})
    else:
        head, _, _ = xml.rpartition("</xml>")
        body = f"{head}<Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
    return query, body.encode()


def decrypt_reply(body: bytes | str, token: str, aes_key: str, app_id: str) -> str:
    """The plain XML of an encrypted passive reply from our gateway, as WeChat would read it.

    Raises ``wechatpy.exceptions.InvalidSignatureException`` if ``MsgSignature`` is wrong.
    """
    root = ET.fromstring(body)
    return WeChatCrypto(token, aes_key, app_id).decrypt_message(
        body, root.findtext("MsgSignature"), root.findtext("TimeStamp"), root.findtext("Nonce")
    )
