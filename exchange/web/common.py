"""What every exchange page needs: partners' names and choices, forms, the reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from libfed.accounts.models import Institution
from libfed.kernel.audit import ledger_changes
from libfed.kernel.errors import Invalid, Stale
from libfed.kernel.fields import country_name
from libfed.kernel.services import services
from libfed.web.forms import field_errors
from libfed.web.i18n import current_language, html_lang

from ..models import Agreement
from ..served_reports import served_report

# What a page view returns: a page, a page with its status, or a redirect.
PageResult = str | tuple[str, int] | Response


def display_name(name: str, other_names: dict[str, str] | None, language: str = "") -> str:
    """A partner's name in the page's language (or a letter's `language`) when the ledger
    knows it ('az' for an Azerbaijani page, 'uz-Latn' or 'uz' for an Uzbek one), else its
    own name."""
    language = language or current_language()
    for tag in (html_lang(language), language.split("_")[0]):
        if other_names and other_names.get(tag):
            return other_names[tag]
    return name


def partner_names(executor: Session | Connection, ids: Iterable[int]) -> dict[int, str]:
    rows = executor.execute(
        select(Institution.id, Institution.name, Institution.other_names).where(
            Institution.id.in_(set(ids))
        )
    )
    return {ident: display_name(name, others) for ident, name, others in rows}


def partner_choices(session: Session, keep: int | None = None) -> list[tuple[int, str]]:
    """The partners a form may choose: those in use, and `keep` (the one the form shows
    now) even when it has been archived since."""
    rows = session.execute(
        select(
            Institution.id, Institution.name, Institution.other_names, Institution.country
        ).where(Institution.archived_at.is_(None) | (Institution.id == keep))
    )
    return sorted(
        (
            (ident, f"{display_name(name, others)} ({country})")
            for ident, name, others, country in rows
        ),
        key=lambda choice: choice[1].casefold(),
    )


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


def record_url(identifier: str) -> str:
    """A record's page (libfed.search.record_page), as the search page links a holding;
    its OAI-PMH formats are linked from there."""
    return url_for("record_pages.record_page", identifier=identifier)


def version_field() -> int:
    """The version the form was made from (its hidden `version` field). Every page that
    changes an object sends it; a post without it was not made from the object as it is
    now, and is refused as stale rather than let through unchecked."""
    text = request.form.get("version", "")
    if not text.isdigit():
        raise Stale()
    return int(text)


def country_label(code: str) -> str:
    """The country's name in the page's language (CLDR), else its English name."""
    locale = get_locale()
    return (locale.territories.get(code) if locale else None) or country_name(code)


def submit(
    save: Callable[[], str],
    show_form: Callable[..., Any],
    saved: str,
    current_version: int | None = None,
) -> Any:
    """A form's POST: `save` (which returns where to go next), or the form again with
    what was typed and each refusal beside its field. An edit from a page that someone
    else's change made stale shows the form again with the current version, so that a
    second save applies what was typed, knowingly."""
    typed = request.form.to_dict()
    try:
        target = save()
    except Invalid as error:
        return show_form(typed, field_errors(error), status=422)
    except Stale:
        flash(
            _(
                "Someone changed this while you were editing it. Check the values and save "
                "again to keep yours."
            ),
            "error",
        )
        return show_form({**typed, "version": current_version}, {}, status=409)
    flash(saved, "success")
    return redirect(target, code=303)


def report(kind: str, year: int) -> dict:
    """A report for the year, from the cache the API reads too, as fresh as the ledger."""
    with services().db.engine.connect() as connection:
        return served_report(connection, kind, year, ledger_changes(connection))
