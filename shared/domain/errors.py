"""Errors that the services raise and the entry points turn into 4xx replies.

Each carries a stable machine-readable `code` (the contract with the clinic app) and the HTTP status that
fits it; the message is for people and never holds a token or patient data.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal explained to the caller: nothing was written."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidRequest(DomainError):
    """The request is malformed or misses a field."""

    status = 400
    code = "invalid_request"


class NotFound(DomainError):
    """The thing does not exist, or belongs to another clinic (which we do not reveal)."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The caller may not do this."""

    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """A rule of the clinic or the state of the link refuses it."""

    status = 409
    code = "conflict"


class ExpiredState(NotFound):
    """A consent round trip that took too long. Its link is still known, so the person can be sent back to
    where the clinic app asked."""

    code = "invalid_state"

    def __init__(self, clinic_id: str, link_id: str) -> None:
        super().__init__("the sign-in took too long; start again")
        self.clinic_id = clinic_id
        self.link_id = link_id
