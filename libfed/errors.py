"""What a service refuses, in terms the web API, the web pages and the CLI all translate.

Services raise these and never HTTP errors, so that the same call behaves alike
from every door.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class Message(str):
    """An English sentence that keeps its template and values.

    The API and the CLI show it as it is; the web pages look its template up in the
    user's language and fill the values in again (`libfed.web.i18n.translate`).
    Templates use `str.format` fields, and the extractor finds them by this name.
    """

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, **values: Any) -> Message:
        message = super().__new__(cls, template.format(**values))
        message.template = template
        message.values = values
        return message


# Pydantic's own refusals, in the words the services use.
_PYDANTIC = {
    "extra_forbidden": "unknown field",
    "missing": "required",
    "string_too_long": "at most {max_length} characters",
    "string_too_short": "at least {min_length} characters",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "decimal_max_places": "at most {decimal_places} decimal places",
    "decimal_max_digits": "at most {max_digits} digits",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date (YYYY-MM-DD)",
    "datetime_parsing": "must be a date and time (YYYY-MM-DDThh:mm:ssZ)",
    "datetime_from_date_parsing": "must be a date and time (YYYY-MM-DDThh:mm:ssZ)",
    "dict_type": "must be an object",
    "list_type": "must be a list",
}


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
    context = item.get("ctx") or {}
    error = context.get("error")
    if isinstance(error, ValueError) and error.args and isinstance(error.args[0], Message):
        return error.args[0]
    template = _PYDANTIC.get(item["type"])
    if template is not None:
        try:
            return Message(template, **context)
        except (KeyError, IndexError):
            pass
    message: str = item["msg"]
    return message.removeprefix("Value error, ")
