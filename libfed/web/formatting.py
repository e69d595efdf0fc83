"""Numbers, money, dates and role names as the page's language writes them (CLDR via Babel)."""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import pycountry
from babel import dates, numbers
from flask import Flask
from flask_babel import get_locale, lazy_gettext

from libfed.kernel.services import services

from .i18n import label_codes

ROLE_LABELS = {
    "viewer": lazy_gettext("viewer"),
    "coordinator": lazy_gettext("coordinator"),
    "admin": lazy_gettext("administrator"),
}


label_codes(ROLE_LABELS)


# A report page formats a thousand cells, most of them the same few values; Babel
# takes tens of microseconds per cell. Formatting is a pure function of the locale and
# the value, so it is memoised per process.
@lru_cache(maxsize=8192)
def _decimal(locale: str, value: int | Decimal) -> str:
    return numbers.format_decimal(value, locale=locale)


@lru_cache(maxsize=8192)
def _currency(locale: str, amount: str, currency: str) -> str:
    return numbers.format_currency(Decimal(amount), currency, locale=locale)


@lru_cache(maxsize=8192)
def _date(locale: str, value: date) -> str:
    return dates.format_date(value, "medium", locale=locale)


@lru_cache(maxsize=8192)
def _datetime(locale: str, zone: ZoneInfo, value: datetime) -> str:
    return dates.format_datetime(value.replace(tzinfo=UTC), "medium", tzinfo=zone, locale=locale)


def _locale() -> str:
    return str(get_locale())


def number(value: int | Decimal | str | None) -> str:
    """A count or a measure as the page's language writes it ("3,5" for a weight the
    ledger renders as "3.500" on a Russian page); decimal text is read as a Decimal."""
    if value is None or value == "":
        return ""
    return _decimal(_locale(), Decimal(value) if isinstance(value, str) else value)


def money(amount: str | Decimal | None, currency: str | None) -> str:
    """Decimal text as the ledger keeps it, in the locale's currency format."""
    if amount is None:
        return ""
    return _currency(_locale(), str(amount), currency or "XXX")


def _zone() -> ZoneInfo:
    return ZoneInfo(services().config.web.timezone)


def day(value: date | datetime | str | None) -> str:
    """A date, or the day a stored UTC time falls on in the configured zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value.removesuffix("Z")
        value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC).astimezone(_zone()).date()
    return _date(_locale(), value)


def moment(value: datetime | str | None) -> str:
    """A stored UTC time in the configured zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.removesuffix("Z"))
    return _datetime(_locale(), _zone(), value)


# Languages of the region CLDR does not name in Uzbek (nor ISO 639's translators):
# Karakalpak, spoken in Uzbekistan, would otherwise be named in English.
_NAMES_CLDR_LACKS = {
    "uz_Latn": {"kaa": "qoraqalpoqcha"},
    "uz_Cyrl": {"kaa": "қорақалпоқча"},
}


def language_name(tag: str) -> str:
    """A language tag ('ru', 'uz-Cyrl') named in the page's language (CLDR). A code CLDR
    does not name (a family such as 'myn', catalogued in MARC) is named by ISO 639 in
    the page's language where its translators did, else in English: never as the code."""
    locale = get_locale()
    language = tag.split("-")[0]
    named = locale.languages.get(language) if locale else None
    named = named or _NAMES_CLDR_LACKS.get(str(locale), {}).get(language)
    return named or _iso_language_name(language, str(locale or "en")) or tag


@lru_cache(maxsize=512)
def _iso_language_name(code: str, locale: str) -> str | None:
    for database, domain in (
        (pycountry.languages, "iso639-3"),
        (pycountry.language_families, "iso639-5"),
    ):
        found = database.get(alpha_3=code.lower()) if len(code) == 3 else None
        if found is not None:
            words = gettext.translation(
                domain, pycountry.LOCALES_DIR, languages=[locale.split("_")[0]], fallback=True
            )
            return words.gettext(found.name)
    return None


def lang_tag(code: str | None) -> str | None:
    """A MARC / ISO 639 language code as an HTML `lang` value ('aze' -> 'az'), so that
    screen readers read a title in its own language; None when it names no language."""
    if not code:
        return None
    found = pycountry.languages.get(alpha_3=code.lower()) or pycountry.languages.get(
        bibliographic=code.lower()
    )
    if found is None:
        return None
    return getattr(found, "alpha_2", None) or found.alpha_3


def install_formatting(app: Flask) -> None:
    app.jinja_env.filters.update(
        number=number, money=money, day=day, moment=moment, lang_tag=lang_tag
    )
    app.jinja_env.globals["role_label"] = lambda role: ROLE_LABELS.get(role, role)
    app.jinja_env.globals["language_name"] = language_name
