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
    `detail` is a library's own explanation, in English only: the API appends it, the
    pages leave it out. `field` names the field a whole-object check is about.
    """

    template: str
    values: dict[str, Any]
    field: str | None

    def __new__(
        cls,
        template: str,
        /,
        *,
        detail: str | None = None,
        field: str | None = None,
        **values: Any,
    ) -> Message:
        text = template.format(**values)
        message = super().__new__(cls, f"{text}: {detail}" if detail else text)
        message.template = template
        message.values = values
        message.field = field
        return message


class Codes(str):
    """Words of the data model inside a Message (states, directions, kinds of object):
    the API shows them as they are, joined; the pages translate each one."""

    codes: tuple[str, ...]

    def __new__(cls, *codes: str, joiner: str = " or ") -> Codes:
        words = super().__new__(cls, joiner.join(codes))
        words.codes = codes
        return words


def N_(template: str) -> str:
    """Marks a template for extraction (`make translations`) where it is written down,
    for a Message made from it later."""
    return template


# Pydantic's own refusals, in the words the services use.
_PYDANTIC = {
    "extra_forbidden": N_("unknown field"),
    "missing": N_("required"),
    "string_too_long": N_("at most {max_length} characters"),
    "string_too_short": N_("at least {min_length} characters"),
    "too_long": N_("at most {max_length} items"),
    "string_type": N_("must be text"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than_equal": N_("must be at most {le}"),
    "greater_than": N_("must be more than {gt}"),
    "less_than": N_("must be less than {lt}"),
    "literal_error": N_("must be one of {expected}"),
    "enum": N_("must be one of {expected}"),
    "decimal_parsing": N_("must be a number"),
    "decimal_type": N_("must be a number"),
    "decimal_max_places": N_("at most {decimal_places} decimal places"),
    "decimal_max_digits": N_("at most {max_digits} digits"),
    "date_parsing": N_("must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("must be a date (YYYY-MM-DD)"),
    "date_from_datetime_inexact": N_("must be a date (YYYY-MM-DD)"),
    "datetime_parsing": N_("must be a date and time (YYYY-MM-DDThh:mm:ssZ)"),
    "datetime_from_date_parsing": N_("must be a date and time (YYYY-MM-DDThh:mm:ssZ)"),
    "dict_type": N_("must be an object"),
    "list_type": N_("must be a list"),
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
            sentence = _sentence(item)
            named = sentence.field if isinstance(sentence, Message) else None
            name = ".".join(str(part) for part in item["loc"]) or named or "body"
            fields.setdefault(name, sentence)
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
    if "reason" in context and str(item["msg"]).startswith("value is not a valid email"):
        return Message(N_("is not a valid e-mail address"), detail=context["reason"])
    template = _PYDANTIC.get(item["type"])
    if template is not None:
        try:
            return Message(template, **context)
        except (KeyError, IndexError):
            pass
    message: str = item["msg"]
    return message.removeprefix("Value error, ")
