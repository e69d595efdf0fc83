"""Partner pages: the list with this year's balance, a partner's page, and its form.

Partners are the core's institutions; these pages add what the exchange knows of
them, and what other domains show through the shell's partner panels.
"""

from __future__ import annotations

from functools import partial

from flask import render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from libfed.accounts.institutions import create_institution, list_institutions, update_institution
from libfed.accounts.models import Institution
from libfed.accounts.schemas import KINDS, InstitutionIn, InstitutionQuery
from libfed.kernel import clock
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.forms import form_values, page_number

from .. import catalogue
from ..agreements import list_agreements, with_usage
from ..reports import Flow, flows_by_year
from ..schemas import AgreementQuery, ShipmentQuery
from ..shipments import list_shipments, with_totals
from . import blueprint
from .common import PageResult, report, submit, version_field

# A partner with neither agreement nor shipment: not in the balance, nothing moved.
NOTHING = Flow().render()
# Names in the languages of the pages, kept in `other_names` under their language tags.
NAME_LANGUAGES = ("az", "ru", "uz", "en")


@blueprint.get("/partners")
@page("viewer")
def partners(caller: Caller) -> str:
    year = clock.utc_now().year
    query = InstitutionQuery(per_page=100, page=page_number(request.args))
    with services().db.session() as session:
        rows, total = list_institutions(session, query)
    balance = {row["partner_id"]: row for row in report("balance", year)["rows"]}
    return render_template(
        "exchange/partners.html",
        partners=rows,
        total=total,
        query=query,
        year=year,
        flows={row.id: balance.get(row.id, NOTHING) for row in rows},
        home=services().home_country,
        caller=caller,
        page_args=lambda number: f"page={number}",
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
    return render_template(
        "exchange/partner.html",
        partner=institution,
        agreements=agreements,
        by_year=by_year,
        shipments=shipments,
        shipment_count=shipment_count,
        home=services().home_country,
        panels=[Markup(panel) for panel in panels if panel],
        caller=caller,
        this_year=clock.utc_now().year,
        sources=sources,
    )


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


def _form(
    values: dict, errors: dict, *, partner: Institution | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "exchange/partner_form.html",
        values=values,
        errors=errors,
        partner=partner,
        kinds=KINDS,
        name_languages=NAME_LANGUAGES,
    ), status


def _as_form(institution: Institution) -> dict:
    values = {column: getattr(institution, column) for column in InstitutionIn.model_fields}
    values["version"] = institution.version
    for tag, name in (institution.other_names or {}).items():
        values[f"name_{tag}"] = name
    return values


@blueprint.route("/partners/new", methods=["GET", "POST"])
@page("coordinator")
def new_partner(caller: Caller) -> PageResult:
    if request.method == "GET":
        return _form({"kind": "national_library"}, {})

    def save() -> str:
        with services().db.write() as session:
            ident = create_institution(
                session,
                _institution_values("omit"),
                actor=caller,
                home_country=services().home_country,
            ).id
        return url_for("exchange_pages.partner", partner_id=ident)

    return submit(save, _form, _("Partner added."))


@blueprint.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@page("coordinator")
def edit_partner(caller: Caller, partner_id: int) -> PageResult:
    with services().db.session() as session:
        institution = get(session, Institution, partner_id, "institution")
        current = _as_form(institution)
    if request.method == "GET":
        return _form(current, {}, partner=institution)

    def save() -> str:
        with services().db.write() as session:
            update_institution(
                session,
                partner_id,
                _institution_values("clear"),
                actor=caller,
                home_country=services().home_country,
                expected_version=version_field(),
            )
        return url_for("exchange_pages.partner", partner_id=partner_id)

    return submit(
        save, partial(_form, partner=institution), _("Changes saved."), current["version"]
    )
