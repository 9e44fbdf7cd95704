"""Typed domain errors; the gateway maps ``code`` to an HTTP status in one place."""


class DomainError(Exception):
    code = "domain_error"


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class Forbidden(DomainError):
    """The actor is known but may not do this (the web layer answers 403)."""

    code = "forbidden"


class LoginRefused(DomainError):
    """A log-in was refused; ``reason`` says why, the message says it to the person.

    ``bad_credentials`` has one message for an unknown name and a wrong password alike, so
    the answer never tells whether an account exists.
    """

    code = "login_refused"
    MESSAGES = {
        "bad_credentials": "用户名或密码错误",
        "rate_limited": "登录尝试过于频繁，请 15 分钟后再试",
        "locked": "密码连续输错次数过多，账户已暂时锁定，请稍后再试或联系管理员",
    }

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in self.MESSAGES:
            raise ValueError(f"unknown log-in refusal reason {reason!r}")
        super().__init__(message or self.MESSAGES[reason])
        self.reason = reason
