"""What every exchange page needs: the database, the home country, the partner choices."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.db import Database
from libfed.fields import country_name
from libfed.models import Institution

from ..models import Agreement


def database() -> Database:
    return current_app.extensions["libfed.db"]


def home_country() -> str:
    return current_app.config["LIBFED"].exchange.home_country


def partner_choices(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(Institution.id, Institution.name, Institution.country).order_by(Institution.name)
    )
    return [(ident, f"{name} ({country})") for ident, name, country in rows]


def agreement_choices(session: Session, partner_id: int | None = None) -> list[tuple[int, str]]:
    statement = (
        select(Agreement.id, Agreement.start_date, Institution.name)
        .join(Institution, Institution.id == Agreement.partner_id)
        .order_by(Institution.name, Agreement.start_date)
    )
    if partner_id is not None:
        statement = statement.where(Agreement.partner_id == partner_id)
    return [
        (ident, f"{name}, {start.isoformat()} (#{ident})")
        for ident, start, name in session.execute(statement)
    ]


def version_field() -> int | None:
    """The version the form was made from (its hidden `version` field)."""
    text = request.form.get("version", "")
    return int(text) if text.isdigit() else None


def country_label(code: str) -> str:
    """The country's name in the page's language (CLDR), else its English name."""
    locale = get_locale()
    return (locale.territories.get(code) if locale else None) or country_name(code)
