"""The search page: the union catalogue (GET /api/v1/search) as a form for signed-in staff.

It runs the same `search` and builds the same holdings (`rendered`: holder names) as
the API, so the page and the API never disagree. What it adds is the form: the typed
values come back as they were, a query or filter the search cannot take is explained
beside its field (400) instead of a server error, and the page links keep every filter.
Each edition and holding links to its record's page (.record_page), and a coordinator
adds an edition to a shipment from the results (the `ShipmentTargets` hook).

Which harvest sources exist is the harvest domain's knowledge: the app factory hands
in a `SourceNames` hook (libfed.kernel.services), as it does the `Holders` one,
rather than this core module importing harvest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import text
from sqlalchemy.orm import Session

from libfed.kernel.callers import Caller
from libfed.kernel.services import services
from libfed.search.api import rendered
from libfed.web.auth import page
from libfed.web.formatting import lang_tag, language_name
from libfed.web.forms import page_number
from libfed.web.menu import MenuEntry

from .query import LOCAL, MAX_WORDS, RANKED, QueryError, SearchQuery, parse, search
from .schemas import LAST_YEAR, MAX_LANGUAGE, MAX_QUERY, MAX_SET

blueprint = Blueprint("search_pages", __name__, template_folder="templates")
MENU = [MenuEntry("search", "search_pages.search_page", lazy_gettext("Catalogue search"))]

PER_PAGE = 20
FIELDS = ("q", "source", "language", "year_from", "year_to", "set")
_YEAR = re.compile(r"[0-9]{1,4}")

# Every language of the index, one index probe each (a "loose index scan" on the
# `language` index): DISTINCT would read every entry on each page view.
_LANGUAGES = text(
    "WITH RECURSIVE present(code) AS ("
    "SELECT min(language) FROM search_entries "
    "UNION ALL SELECT (SELECT min(language) FROM search_entries WHERE language > present.code) "
    "FROM present WHERE present.code IS NOT NULL) "
    "SELECT code FROM present WHERE code IS NOT NULL"
)


@dataclass
class Form:
    """The form as typed (`values`, shown again), what is wrong with it (`errors`, field
    -> sentence), and the query it asks for (None: nothing to search, or errors)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    query: SearchQuery | None = None


def language_label(code: str | None) -> str:
    """A catalogued language code ('uzb') by its name in the page's language (CLDR)."""
    if not code:
        return ""
    return language_name(lang_tag(code) or code)


@blueprint.context_processor
def helpers() -> dict[str, object]:
    """What the search and record pages' templates call."""
    return {"language_label": language_label}


def languages_present(session: Session) -> list[str]:
    """The language codes records are catalogued in, for the language filter."""
    return [code for (code,) in session.execute(_LANGUAGES)]


def _year(raw: str, errors: dict[str, str], name: str) -> int | None:
    if not raw:
        return None
    if not _YEAR.fullmatch(raw):
        errors[name] = _("Enter a year as a number from 0 to %(last)s.", last=LAST_YEAR)
        return None
    return int(raw)


def read_form(args: Mapping[str, str], sources: list[str], languages: list[str]) -> Form:
    """The query the form asks for, or why it cannot be run; an empty query asks for none."""
    values = {name: args.get(name, "").strip() for name in FIELDS}
    values["language"] = values["language"].lower()  # codes are catalogued in lower case
    form = Form(values)
    if not values["q"]:
        return form
    errors = form.errors
    words = values["q"]
    if len(words) > MAX_QUERY:
        errors["q"] = _("A query has at most %(num)s characters.", num=MAX_QUERY)
    else:
        try:
            if not parse(words):
                errors["q"] = _("Give at least one word to search for: letters or digits.")
        except QueryError:
            errors["q"] = _("A query has at most %(num)s words.", num=MAX_WORDS)
    source = values["source"]
    if source and source != LOCAL and source not in sources:
        errors["source"] = _("No harvest source is named %(name)s.", name=source)
    language = values["language"]
    if language and (len(language) > MAX_LANGUAGE or language not in languages):
        errors["language"] = _(
            "No record is catalogued in the language %(code)s.",
            code=values["language"][:MAX_LANGUAGE],
        )
    year_from = _year(values["year_from"], errors, "year_from")
    year_to = _year(values["year_to"], errors, "year_to")
    if year_from is not None and year_to is not None and year_from > year_to:
        errors["year_to"] = _("The last year is before the first one.")
    if len(values["set"]) > MAX_SET:
        errors["set"] = _("A set's name has at most %(num)s characters.", num=MAX_SET)
    if not errors:
        form.query = SearchQuery(
            text=words,
            source=source or None,
            language=language or None,
            year_from=year_from,
            year_to=year_to,
            set_spec=values["set"] or None,
            page=page_number(args),
            per_page=PER_PAGE,
        )
    return form


def page_links(values: Mapping[str, str]) -> Callable[[int], str]:
    """The query string of page `n` with the same words and filters (blank ones left out)."""
    kept = {name: value for name, value in values.items() if value}
    return lambda number: urlencode({**kept, "page": number})


def page_numbers(current: int, last: int) -> list[int | None]:
    """The pages the pager links: the first, the last and two either side of the current
    one; None where pages are skipped."""
    shown = sorted({1, last, *range(max(current - 2, 1), min(current + 2, last) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


def _source_options(session: Session, names: list[str], home: str) -> list[tuple[str, str]]:
    """(value, label) of the source filter: this library, then each source by its holder."""
    holders = services().holders(session, names) if names else {}
    options = [("", _("All sources")), (LOCAL, _("This library (%(name)s)", name=home))]
    for name in names:
        holder = holders.get(name, name)
        options.append((name, name if holder == name else f"{holder} ({name})"))
    return options


@blueprint.get("/search")
@page("viewer")
def search_page(caller: Caller) -> tuple[str, int]:
    """The form; with words, one page of editions and their holdings."""
    oai = services().config.oai
    with services().db.session() as session:
        sources = services().source_names(session)
        languages = languages_present(session)
        form = read_form(request.args, sources, languages)
        results, notice = None, None
        if form.query is not None:
            try:
                found = search(session, form.query)
                if not found.editions and form.query.page > 1:
                    # Past the last page (an old link, a hand-made URL): the first one.
                    notice = _(
                        "There is no page %(page)s of these results; here is the first.",
                        page=form.query.page,
                    )
                    form.query = replace(form.query, page=1)
                    found = search(session, form.query)
            except QueryError:  # read_form checks what parse can refuse; this is a guard
                form.errors["q"] = _("This query cannot be run. Change its words and try again.")
            else:
                results = rendered(
                    session,
                    found,
                    services().holders,
                    oai.repository_name,
                    oai.base_url,
                )
        source_options = _source_options(session, sources, oai.repository_name)
        choice = (
            services().shipment_targets(session, caller)
            if results and results["editions"]
            else None
        )
    language_options = sorted(
        ((code, language_label(code)) for code in languages),
        key=lambda option: option[1].casefold(),
    )
    context: dict[str, Any] = {
        "form": form,
        "results": results,
        "notice": notice,
        "per_page": PER_PAGE,
        "ranked": RANKED,
        "page_args": page_links(form.values),
        "page_numbers": page_numbers,
        "source_options": source_options,
        "language_options": [("", _("All languages")), *language_options],
        "local": LOCAL,
        "caller": caller,
        "choice": choice,
        "back": request.full_path.rstrip("?"),
    }
    return render_template("search/search.html", **context), 400 if form.errors else 200
