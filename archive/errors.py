"""Errors the services raise: a stable code for programs, a Chinese message for people."""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class Invalid(ServiceError):
    pass


class Unauthorized(ServiceError):
    pass


class TooMany(ServiceError):
    pass


class TooLarge(ServiceError):
    pass


class Unavailable(ServiceError):
    """A backend (search cluster, object store) cannot be reached; the request may be retried."""
