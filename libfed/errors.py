"""What a service refuses, in terms the web API, the web pages and the CLI all translate.

Services raise these and never HTTP errors, so that the same call behaves alike
from every door.
"""

from __future__ import annotations

from pydantic import ValidationError


class ServiceError(Exception):
    """A request the service cannot carry out; `str()` is a sentence for people."""


class NotFound(ServiceError):
    pass


class Invalid(ServiceError):
    """Input refused, with one message per offending field (dotted path for nested ones)."""

    def __init__(self, fields: dict[str, str], message: str = "the input is not valid") -> None:
        super().__init__(message)
        self.fields = fields

    @classmethod
    def of(cls, error: ValidationError) -> Invalid:
        fields: dict[str, str] = {}
        for item in error.errors():
            name = ".".join(str(part) for part in item["loc"]) or "body"
            fields.setdefault(name, _sentence(item))
        return cls(fields)


class Conflict(ServiceError):
    """The request does not fit the object's state (a transition the machine forbids)."""

    def __init__(self, message: str, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.allowed = allowed


class Stale(ServiceError):
    """The object changed since the caller read it (its version moved on)."""


def _sentence(item: dict) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    message: str = item["msg"]
    return message.removeprefix("Value error, ")
