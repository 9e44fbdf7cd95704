"""Typed domain errors; the gateway maps ``code`` to an HTTP status in one place."""


class DomainError(Exception):
    code = "domain_error"


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"
