"""Numbers, money, dates and role names as the page's language writes them (CLDR via Babel)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask
from flask_babel import format_currency, format_date, format_datetime, format_decimal, lazy_gettext

ROLE_LABELS = {
    "viewer": lazy_gettext("viewer"),
    "coordinator": lazy_gettext("coordinator"),
    "admin": lazy_gettext("administrator"),
}


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


def install_formatting(app: Flask) -> None:
    app.jinja_env.filters.update(number=number, money=money, day=day, moment=moment)
    app.jinja_env.globals["role_label"] = lambda role: ROLE_LABELS.get(role, role)
