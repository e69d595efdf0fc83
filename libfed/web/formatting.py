"""Numbers, money, dates and role names as the page's language writes them (CLDR via Babel)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pycountry
from flask import Flask
from flask_babel import (
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    lazy_gettext,
)

from .i18n import label_codes

ROLE_LABELS = {
    "viewer": lazy_gettext("viewer"),
    "coordinator": lazy_gettext("coordinator"),
    "admin": lazy_gettext("administrator"),
}


label_codes(ROLE_LABELS)


def number(value: int | Decimal | None) -> str:
    return "" if value is None else format_decimal(value)


def money(amount: str | Decimal | None, currency: str | None) -> str:
    """Decimal text as the ledger keeps it, in the locale's currency format."""
    if amount is None:
        return ""
    return format_currency(Decimal(amount), currency or "XXX")


def day(value: date | datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return format_date(value, "medium")


def moment(value: datetime | str | None) -> str:
    """A stored UTC time in the configured zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.removesuffix("Z"))
    return format_datetime(value, "medium")


def language_name(tag: str) -> str:
    """A language tag ('ru', 'uz-Cyrl') named in the page's language (CLDR)."""
    locale = get_locale()
    language = tag.split("-")[0]
    return (locale.languages.get(language) if locale else None) or tag


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
