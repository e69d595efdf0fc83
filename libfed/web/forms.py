"""Between an HTML form and a service: typed values in, translated field errors out.

Forms send text; the services' input models are strict. The model's own schema
says which fields are numbers or flags, so one function serves every form.
Numbers are read and written as the page's language writes them ("3,5" on a
Russian or Azerbaijani page), while the JSON API keeps JSON numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from babel import numbers
from flask_babel import get_locale
from pydantic import BaseModel
from werkzeug.datastructures import MultiDict

from libfed.kernel.errors import Invalid
from libfed.kernel.paging import LAST_PAGE

from .i18n import translate


@cache  # a model's schema does not change; building it costs milliseconds
def _kinds(model: type[BaseModel]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for name, schema in model.model_json_schema()["properties"].items():
        options = schema.get("anyOf", [schema])
        kinds[name] = {option.get("type", "") for option in options}
    return kinds


# The form every page also accepts, whatever its language: digits with a full stop.
_PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# What a number typed in any of the interface's languages is made of; anything else
# (an exponent "1e3", letters) is not a number a person types into a form.
_NUMBER_CHARACTERS = re.compile(r"[-+0-9.,\s\u00a0\u202f\u2019']+")


def _locale_name() -> str:
    return str(get_locale() or "en")


def parse_number(text: str, locale: str | None = None) -> Decimal | None:
    """A number typed in a form, read in the page's language (CLDR via Babel: "3,5" and
    "1 000" on a Russian page, "1,000.5" on an English one) or in the plain "3.5" every
    page accepts. None when it is not a number, or when the two readings disagree
    ("3.500" on an Azerbaijani page, where the full stop groups thousands, is 3500 or
    3.5): a guess would store a wrong weight or value without anyone noticing."""
    text = text.strip()
    if not text or not _NUMBER_CHARACTERS.fullmatch(text):
        return None
    locale = locale or _locale_name()
    plain = Decimal(text) if _PLAIN.fullmatch(text) else None
    group = numbers.get_group_symbol(locale)
    if group in ("\u00a0", "\u202f"):  # people type an ordinary space for these
        text = re.sub(r"\s", group, text)
    try:
        local: Decimal | None = numbers.parse_decimal(text, locale, strict=True)
    except (numbers.NumberFormatError, InvalidOperation):
        local = None
    if plain is not None and local is not None and plain != local:
        return None
    return plain if plain is not None else local


def number_text(value: int | Decimal | str, locale: str | None = None) -> str:
    """A number as a form field shows it for editing: the page's decimal sign and no
    grouping, so that saving the form unchanged reads it back as the same number (a
    grouped "1.000" would be ambiguous on an Azerbaijani page). Hundredths stay, as
    money is written ("42,50"); finer zeros go (a weight kept in grams, "3.500", is
    "3,5")."""
    number = Decimal(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        number = number.normalize()
    text = format(number, "f")
    return text.replace(".", numbers.get_decimal_symbol(locale or _locale_name()))


class Unreadable:
    """What a number field holds when its text is not a number: the model refuses it as
    not a number ("must be a number", "must be a whole number") beside the field, as
    it refuses any other bad value; the form shows the text as it was typed."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return repr(self.text)


def _typed(text: str, kinds: set[str]) -> Any:
    if kinds & {"integer", "number"}:
        value = parse_number(text)
        if value is None:
            return Unreadable(text)
        if "integer" in kinds and value == value.to_integral_value():
            return int(value)
        return value
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    return text


def form_values(
    model: type[BaseModel], form: MultiDict[str, str], *, blank: str = "omit"
) -> dict[str, Any]:
    """The model's fields present in the form. A blank field is left out (`blank="omit"`,
    for a new object: the default applies) or sent as None (`"clear"`, for a change)."""
    values: dict[str, Any] = {}
    for name, kinds in _kinds(model).items():
        if name not in form:
            continue
        text = form.get(name, "")
        if text.strip() == "":
            if blank == "clear":
                values[name] = None
            continue
        values[name] = _typed(text, kinds)
    return values


def form_text(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """An object's values for its edit form, the numbers written as the page writes
    them (see `number_text`); the other values as they are."""
    kinds = _kinds(model)
    return {
        name: number_text(value)
        if value is not None
        and not isinstance(value, bool)
        and kinds.get(name, set()) & {"integer", "number"}
        else value
        for name, value in values.items()
    }


def page_number(args: Mapping[str, str]) -> int:
    """The page a link asks for; one that is not a page number (`page=x`, an old link)
    is the first page, one past the last allowed is the last allowed."""
    raw = args.get("page", "")
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 1
    return min(max(number, 1), LAST_PAGE)


def field_errors(error: Invalid) -> dict[str, str]:
    """One sentence per field, in the page's language; the form shows each by its field."""
    return {name: translate(message) for name, message in error.fields.items()}
