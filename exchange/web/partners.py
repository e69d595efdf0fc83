"""Partner pages: the list with this year's balance, a partner's page, its form, its
contact persons, and archiving and merging a duplicate.

Partners are the core's institutions; these pages add what the exchange knows of
them, and what other domains show through the shell's partner panels. A country is
chosen by its name in the page's language, in that language's alphabetical order; a
name the ledger already knows is pointed out before a second partner is stored; a step
that is hard to undo (archiving, merging, removing a contact) asks first, on a page of
its own, with no script.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial

import pycountry
from babel import Locale
from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from libfed.accounts.contacts import (
    create_contact,
    delete_contact,
    list_contacts,
    update_contact,
)
from libfed.accounts.institutions import (
    archive_institution,
    create_institution,
    list_institutions,
    merge_institution,
    update_institution,
)
from libfed.accounts.models import Contact, Institution
from libfed.accounts.schemas import KINDS, ContactIn, InstitutionIn, InstitutionQuery
from libfed.kernel import clock
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.errors import Invalid
from libfed.kernel.fields import country_name
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.collation import sort_key
from libfed.web.forms import field_errors, form_values, page_number
from libfed.web.i18n import label_codes, language_names

from .. import catalogue
from ..agreements import list_agreements, with_usage
from ..models import Agreement, Shipment
from ..partners import same_names
from ..reports import Flow, flows_by_year
from ..schemas import AgreementQuery, ShipmentQuery
from ..shipments import list_shipments, with_totals
from . import blueprint
from .common import PageResult, display_name, partner_choices, report, submit, version_field

# A partner with neither agreement nor shipment: not in the balance, nothing moved.
NOTHING = Flow().render()
# Names in the languages of the pages, kept in `other_names` under their language tags.
NAME_LANGUAGES = ("az", "ru", "uz", "en")
# The fields of these pages as their refusals name them away from the field.
label_codes(
    {
        "postal_address": _l("postal address"),
        "phone": _l("telephone"),
        "letter_language": _l("language of letters"),
        "position": _l("position"),
        "into": _l("partner to keep"),
        "isil": "ISIL",
        "contact": _l("contact person"),
    }
)


# ------------------------------------------------------------------ countries by name


@lru_cache(maxsize=16)
def _countries(locale: str) -> tuple[tuple[str, str], ...]:
    """Every ISO 3166 country as (code, name in `locale`), in the locale's alphabetical
    order (ICU's collation: "Австрия" before "Беларусь" in Russian, "Cibuti" before "Çad"
    and "Xorvatiya" before "İran" in Azerbaijani), CLDR's name where it has one, else the
    English one. Memoised: a pure function of the locale, and 249 names to sort."""
    named = Locale.parse(locale).territories
    choices = [
        (country.alpha_2, named.get(country.alpha_2) or country_name(country.alpha_2))
        for country in pycountry.countries
    ]
    key = sort_key()  # the page's, whose locale this is
    return tuple(sorted(choices, key=lambda choice: key(choice[1])))


def country_choices() -> list[tuple[str, str]]:
    """The countries a partner may be in, the home country first (most partners are
    near), then all in the page's alphabetical order."""
    home = services().home_country
    countries = _countries(str(get_locale() or "en"))
    return [
        *(choice for choice in countries if choice[0] == home),
        *(choice for choice in countries if choice[0] != home),
    ]


# ------------------------------------------------------------------ the list and a partner


@blueprint.get("/partners")
@page("viewer")
def partners(caller: Caller) -> str:
    year = clock.utc_now().year
    archived = request.args.get("archived") == "1"
    query = InstitutionQuery(per_page=100, page=page_number(request.args), archived=archived)
    with services().db.session() as session:
        rows, total = list_institutions(session, query)
    balance = {row["partner_id"]: row for row in report("balance", year)["rows"]}
    return render_template(
        "exchange/partners.html",
        partners=rows,
        total=total,
        query=query,
        year=year,
        archived=archived,
        flows={row.id: balance.get(row.id, NOTHING) for row in rows},
        home=services().home_country,
        caller=caller,
        page_args=lambda number: f"archived=1&page={number}" if archived else f"page={number}",
    )


@blueprint.get("/partners/<int:partner_id>")
@page("viewer")
def partner(caller: Caller, partner_id: int) -> str:
    with services().db.session() as session:
        institution = get(session, Institution, partner_id, "institution")
        agreements = with_usage(
            session,
            list_agreements(session, AgreementQuery(partner_id=partner_id, per_page=100))[0],
        )
        by_year = dict(sorted(flows_by_year(session, partner_id).items(), reverse=True))
        rows, shipment_count = list_shipments(
            session, ShipmentQuery(partner_id=partner_id, per_page=20)
        )
        shipments = with_totals(session, rows)
        # The harvest sources the exchange lists compare with (the harvest domain knows).
        sources = catalogue.partner_sources(session, partner_id)
        panels = [panel(session, partner_id) for panel in services().institution_panels]
        contacts = list_contacts(session, partner_id)
        survivor = (
            session.get(Institution, institution.merged_into_id)
            if institution.merged_into_id
            else None
        )
    return render_template(
        "exchange/partner.html",
        partner=institution,
        contacts=contacts,
        survivor=survivor,
        agreements=agreements,
        by_year=by_year,
        shipments=shipments,
        shipment_count=shipment_count,
        home=services().home_country,
        panels=[Markup(panel) for panel in panels if panel],
        caller=caller,
        this_year=clock.utc_now().year,
        sources=sources,
        languages=language_names(),
    )


# ------------------------------------------------------------------ the partner form


class _Duplicates(Exception):
    """A partner was about to be stored under a name the ledger already has: the
    transaction is rolled back and the form asks first."""

    def __init__(self, found: list[tuple[int, str, str, bool]]) -> None:
        super().__init__("duplicates")
        self.found = found


def _institution_values(blank: str) -> dict:
    values = form_values(InstitutionIn, request.form, blank=blank)
    names = {
        tag: request.form[f"name_{tag}"].strip()
        for tag in NAME_LANGUAGES
        if request.form.get(f"name_{tag}", "").strip()
    }
    if names or blank == "clear":
        values["other_names"] = names
    return values


def _names(institution: Institution) -> set[str]:
    return {institution.name, *(institution.other_names or {}).values()}


def _refuse_duplicates(session: Session, institution: Institution) -> None:
    """Unless the form confirmed it, refuse storing a partner named like another one in
    use (in any of their names), listing those."""
    if request.form.get("duplicate_confirmed") == "yes":
        return
    found = same_names(session, _names(institution), other_than=institution.id)
    if found:
        raise _Duplicates(
            [
                (
                    other.id,
                    display_name(other.name, other.other_names),
                    other.country,
                    other.archived_at is not None,
                )
                for other in found
            ]
        )


def _form(
    values: dict,
    errors: dict,
    *,
    partner: Institution | None = None,
    duplicates: list[tuple[int, str, str, bool]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "exchange/partner_form.html",
        values=values,
        errors=errors,
        partner=partner,
        kinds=KINDS,
        name_languages=NAME_LANGUAGES,
        countries=country_choices(),
        letter_languages=list(language_names().items()),
        duplicates=duplicates or [],
    ), status


def _as_form(institution: Institution) -> dict:
    values = {column: getattr(institution, column) for column in InstitutionIn.model_fields}
    values["version"] = institution.version
    for tag, name in (institution.other_names or {}).items():
        values[f"name_{tag}"] = name
    return values


def _asking_about_duplicates(
    save: Callable[[], str], show_form: Callable[..., tuple[str, int]], saved: str, *args: int
) -> PageResult:
    try:
        return submit(save, show_form, saved, *args)
    except _Duplicates as duplicates:
        return show_form(request.form.to_dict(), {}, duplicates=duplicates.found)


@blueprint.route("/partners/new", methods=["GET", "POST"])
@page("coordinator")
def new_partner(caller: Caller) -> PageResult:
    if request.method == "GET":
        return _form({"kind": "national_library"}, {})

    def save() -> str:
        with services().db.write() as session:
            institution = create_institution(
                session,
                _institution_values("omit"),
                actor=caller,
                home_country=services().home_country,
            )
            _refuse_duplicates(session, institution)
            ident = institution.id
        return url_for("exchange_pages.partner", partner_id=ident)

    return _asking_about_duplicates(save, _form, _("Partner added."))


@blueprint.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@page("coordinator")
def edit_partner(caller: Caller, partner_id: int) -> PageResult:
    with services().db.session() as session:
        institution = get(session, Institution, partner_id, "institution")
        current = _as_form(institution)
        names_before = _names(institution)
    if request.method == "GET":
        return _form(current, {}, partner=institution)

    def save() -> str:
        with services().db.write() as session:
            changed = update_institution(
                session,
                partner_id,
                _institution_values("clear"),
                actor=caller,
                home_country=services().home_country,
                expected_version=version_field(),
            )
            if _names(changed) != names_before:  # a renamed partner may now be a duplicate
                _refuse_duplicates(session, changed)
        return url_for("exchange_pages.partner", partner_id=partner_id)

    return _asking_about_duplicates(
        save, partial(_form, partner=institution), _("Changes saved."), current["version"]
    )


# ------------------------------------------------------------------ archive


def _archived(caller: Caller, partner_id: int, archived: bool, done: str) -> PageResult:
    """Archive or bring back, guarded by the page's version; the partner's page says `done`."""
    with services().db.write() as session:
        archive_institution(
            session,
            partner_id,
            actor=caller,
            home_country=services().home_country,
            expected_version=version_field(),
            archived=archived,
        )
    flash(done, "success")
    return redirect(url_for("exchange_pages.partner", partner_id=partner_id), code=303)


@blueprint.route("/partners/<int:partner_id>/archive", methods=["GET", "POST"])
@page("coordinator")
def archive_partner(caller: Caller, partner_id: int) -> PageResult:
    """GET asks (what archiving does, and that it can be undone); POST archives."""
    if request.method == "GET":
        with services().db.session() as session:
            institution = get(session, Institution, partner_id, "institution")
        return render_template("exchange/partner_archive.html", partner=institution)
    return _archived(
        caller, partner_id, True, _("The partner is archived. Its history and reports stay.")
    )


@blueprint.post("/partners/<int:partner_id>/unarchive")
@page("coordinator")
def unarchive_partner(caller: Caller, partner_id: int) -> PageResult:
    return _archived(caller, partner_id, False, _("The partner is back in the lists."))


# ------------------------------------------------------------------ merge


def _count(session: Session, column: InstrumentedAttribute[int], partner_id: int) -> int:
    return session.scalar(select(func.count()).where(column == partner_id)) or 0


def _merge_page(
    partner_id: int, into: int | None, errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    """The merge's two questions on one page: which partner to keep, then, once chosen,
    what will move to it, with the button that merges."""
    with services().db.session() as session:
        institution = get(session, Institution, partner_id, "institution")
        survivor = session.get(Institution, into) if into and not errors else None
        moves = {
            "shipments": _count(session, Shipment.partner_id, partner_id),
            "agreements": _count(session, Agreement.partner_id, partner_id),
            "contacts": _count(session, Contact.institution_id, partner_id),
            "sources": catalogue.partner_sources(session, partner_id),
        }
        choices = [choice for choice in partner_choices(session) if choice[0] != partner_id]
    return render_template(
        "exchange/partner_merge.html",
        partner=institution,
        survivor=survivor,
        choices=choices,
        moves=moves,
        values={"into": into},
        errors=errors,
    ), status


def _merge_target(text: str | None) -> tuple[int | None, dict[str, str]]:
    if not text:
        return None, {}
    if not text.isdigit() or len(text) > 9:
        return None, {"into": _("Choose a partner from the list.")}
    return int(text), {}


@blueprint.route("/partners/<int:partner_id>/merge", methods=["GET", "POST"])
@page("coordinator")
def merge_partner(caller: Caller, partner_id: int) -> PageResult:
    """GET: choose the partner to keep, then see what moves to it; POST: merge, in one
    transaction (everything moves, or nothing does)."""
    if request.method == "GET":
        into, errors = _merge_target(request.args.get("into"))
        if into is not None:
            # Refused choices (itself, an archived one) are named before anything is asked.
            with services().db.session() as session:
                chosen = session.get(Institution, into)
                if into == partner_id or chosen is None or chosen.archived_at is not None:
                    errors = {"into": _("Choose another partner, one in use.")}
        return _merge_page(partner_id, into, errors, 422 if errors else 200)
    into, errors = _merge_target(request.form.get("into"))
    if into is None:
        return _merge_page(partner_id, None, errors or {"into": _("Choose a partner.")}, 422)
    survivor_version = request.form.get("into_version", "")
    try:
        with services().db.write() as session:
            merge_institution(
                session,
                partner_id,
                into,
                actor=caller,
                home_country=services().home_country,
                movers=services().institution_movers,
                expected_version=version_field(),
                into_version=int(survivor_version) if survivor_version.isdigit() else None,
            )
    except Invalid as error:
        return _merge_page(partner_id, None, field_errors(error), 422)
    flash(_("The partners are merged: everything is now this partner's."), "success")
    return redirect(url_for("exchange_pages.partner", partner_id=into), code=303)


# ------------------------------------------------------------------ contacts


def _contact_form(
    values: dict,
    errors: dict,
    *,
    partner: Institution,
    contact: Contact | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "exchange/contact_form.html",
        values=values,
        errors=errors,
        partner=partner,
        contact=contact,
    ), status


def _partner_of(contact_id: int) -> tuple[Contact, Institution]:
    with services().db.session() as session:
        contact = get(session, Contact, contact_id, "contact")
        return contact, get(session, Institution, contact.institution_id, "institution")


def _contacts_of(partner_id: int) -> str:
    return url_for("exchange_pages.partner", partner_id=partner_id) + "#contacts"


@blueprint.route("/partners/<int:partner_id>/contacts/new", methods=["GET", "POST"])
@page("coordinator")
def new_contact(caller: Caller, partner_id: int) -> PageResult:
    with services().db.session() as session:
        institution = get(session, Institution, partner_id, "institution")
    show = partial(_contact_form, partner=institution)
    if request.method == "GET":
        return show({}, {})

    def save() -> str:
        with services().db.write() as session:
            create_contact(session, partner_id, form_values(ContactIn, request.form), actor=caller)
        return _contacts_of(partner_id)

    return submit(save, show, _("Contact person added."))


@blueprint.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@page("coordinator")
def edit_contact(caller: Caller, contact_id: int) -> PageResult:
    contact, institution = _partner_of(contact_id)
    current = {column: getattr(contact, column) for column in ContactIn.model_fields}
    current["version"] = contact.version
    show = partial(_contact_form, partner=institution, contact=contact)
    if request.method == "GET":
        return show(current, {})

    def save() -> str:
        with services().db.write() as session:
            update_contact(
                session,
                contact_id,
                form_values(ContactIn, request.form, blank="clear"),
                actor=caller,
                expected_version=version_field(),
            )
        return _contacts_of(institution.id)

    return submit(save, show, _("Changes saved."), contact.version)


@blueprint.route("/contacts/<int:contact_id>/remove", methods=["GET", "POST"])
@page("coordinator")
def remove_contact(caller: Caller, contact_id: int) -> PageResult:
    contact, institution = _partner_of(contact_id)
    if request.method == "GET":
        return render_template("exchange/contact_remove.html", contact=contact, partner=institution)
    with services().db.write() as session:
        delete_contact(session, contact_id, actor=caller, expected_version=version_field())
    flash(_("Contact person removed."), "success")
    return redirect(_contacts_of(institution.id), code=303)
