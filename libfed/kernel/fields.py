"""Field types for what people type: checked once here, used by every input model.

Hostile or careless text must be stored verbatim or refused, never half-stored:
control characters (NUL is refused by PostgreSQL, and breaks CSV and XML) and lone
surrogates (which no database can encode) are refused; surrounding blanks are
trimmed. Codes are checked against the maintained registries (pycountry for
ISO 3166 countries and ISO 639 languages, Babel's CLDR data for ISO 4217 currencies).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pycountry
from babel.numbers import list_currencies
from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StrictInt

from .errors import Message

# PostgreSQL's INTEGER: ids, counts and amounts in minor units all fit in it.
MAX_INT = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\r\n\t\u2028\u2029]")


def _checked(value: str, *, multiline: bool) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(Message("contains an invalid character (a lone surrogate)")) from None
    if _CONTROL.search(value) or (not multiline and _LINE_BREAKS.search(value)):
        raise ValueError(Message("contains a control character"))
    value = value.strip()
    if not value:
        raise ValueError(Message("must not be blank (leave it out or send null instead)"))
    return value


def _line(value: str) -> str:
    return _checked(value, multiline=False)


def _paragraphs(value: str) -> str:
    return _checked(value, multiline=True)


def line(max_length: int) -> Any:
    """A one-line text of at most `max_length` characters."""
    return Annotated[str, Field(max_length=max_length), AfterValidator(_line)]


def paragraphs(max_length: int = 10_000) -> Any:
    """Free text that may span lines (notes)."""
    return Annotated[str, Field(max_length=max_length), AfterValidator(_paragraphs)]


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2, upper-cased ('az' is taken as 'AZ')."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(
            Message(
                "{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'AZ', 'TR')", value=value
            )
        )
    return code


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return country.name if country else code


# ISO 4217 as CLDR (through Babel) keeps it: withdrawn currencies included, because a
# ledger holds past years (Bulgarian books of 2025 were valued in leva, BGN, which the
# euro replaced in 2026). XXX and XTS are ISO's "no currency" and "testing" codes.
_CURRENCIES = frozenset(list_currencies()) - {"XXX", "XTS"}


def currency_code(value: str) -> str:
    code = value.strip().upper()
    if code not in _CURRENCIES:
        raise ValueError(
            Message("{value!r} is not an ISO 4217 currency code (e.g. 'AZN', 'EUR')", value=value)
        )
    return code


def language_code(value: str) -> str:
    """ISO 639: 'az', 'aze' or 'ger'/'deu' alike, kept as the MARC (639-2/B) code."""
    code = value.strip().lower()
    language = None
    if len(code) == 2:
        language = pycountry.languages.get(alpha_2=code)
    elif len(code) == 3:
        language = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(
            bibliographic=code
        )
    if language is None:
        raise ValueError(
            Message(
                "{value!r} is not an ISO 639 language code (e.g. 'aze', 'rus', 'uz')", value=value
            )
        )
    return getattr(language, "bibliographic", None) or language.alpha_3


def http_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s?#]+", value):
        raise ValueError(
            Message(
                "{value!r} is not a web address starting with http:// or https:// (without ? or #)",
                value=value,
            )
        )
    return value


def _require_text(value: object) -> object:
    """Dates travel as ISO 8601 text; a number is not a date."""
    if not isinstance(value, str | date):
        raise ValueError(Message("must be ISO 8601 text (YYYY-MM-DD, or YYYY-MM-DDThh:mm:ssZ)"))
    return value


def _as_utc(value: datetime) -> datetime:
    """Naive UTC at one-second precision, as every stored time; no offset means UTC."""
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(Message("is out of range")) from None
    if not 1900 <= value.year <= 9999:
        raise ValueError(Message("is out of range (years 1900 to 9999)"))
    return value.replace(microsecond=0)


Country = Annotated[str, Field(max_length=64), AfterValidator(country_code)]
Currency = Annotated[str, Field(max_length=16), AfterValidator(currency_code)]
Language = Annotated[str, Field(max_length=16), AfterValidator(language_code)]
HttpUrl = Annotated[str, Field(max_length=1024), AfterValidator(http_url)]
IsoDate = Annotated[date, BeforeValidator(_require_text)]
Timestamp = Annotated[datetime, BeforeValidator(_require_text), AfterValidator(_as_utc)]
Id = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]
Count = Annotated[StrictInt, Field(ge=1, le=1_000_000)]
Flag = StrictBool
# Amounts of money: up to 10 million with hundredths, as text ("12.50") or a number.
Money = Annotated[Decimal, Field(ge=0, le=10_000_000, decimal_places=2)]


def to_minor(amount: Decimal | None) -> int | None:
    return None if amount is None else int(amount * 100)


def from_minor(minor: int | None) -> str | None:
    return None if minor is None else f"{Decimal(minor) / 100:.2f}"
