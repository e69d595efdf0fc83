"""Agreement forms, reached from the partner's page (an agreement belongs to one partner)."""

from __future__ import annotations

from functools import partial

from flask import render_template, request, url_for
from flask_babel import gettext as _

from libfed.accounts.models import Institution
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.forms import form_text, form_values

from ..agreements import create_agreement, update_agreement, with_usage
from ..models import Agreement
from ..schemas import AgreementIn
from . import blueprint
from .common import PageResult, submit, version_field


def _form(
    values: dict,
    errors: dict,
    *,
    partner: Institution,
    agreement: dict | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "exchange/agreement_form.html",
        values=values,
        errors=errors,
        partner=partner,
        agreement=agreement,
    ), status


@blueprint.route("/partners/<int:partner_id>/agreements/new", methods=["GET", "POST"])
@page("coordinator")
def new_agreement(caller: Caller, partner_id: int) -> PageResult:
    with services().db.session() as session:
        partner = get(session, Institution, partner_id, "institution")
    if request.method == "GET":
        return _form({"basis": "copy_for_copy"}, {}, partner=partner)

    def save() -> str:
        values = {**form_values(AgreementIn, request.form), "partner_id": partner_id}
        with services().db.write() as session:
            create_agreement(session, values, actor=caller)
        return url_for("exchange_pages.partner", partner_id=partner_id) + "#agreements"

    return submit(save, partial(_form, partner=partner), _("Agreement added."))


@blueprint.route("/agreements/<int:agreement_id>/edit", methods=["GET", "POST"])
@page("coordinator")
def edit_agreement(caller: Caller, agreement_id: int) -> PageResult:
    with services().db.session() as session:
        # With what was counted under it: a value-for-value agreement shows its balance.
        current = with_usage(session, [get(session, Agreement, agreement_id, "agreement")])[0]
        partner = get(session, Institution, current["partner_id"], "institution")
    if request.method == "GET":
        return _form(form_text(AgreementIn, current), {}, partner=partner, agreement=current)

    def save() -> str:
        values = form_values(AgreementIn, request.form, blank="clear")
        values.pop("partner_id", None)
        with services().db.write() as session:
            update_agreement(
                session, agreement_id, values, actor=caller, expected_version=version_field()
            )
        return url_for("exchange_pages.partner", partner_id=partner.id) + "#agreements"

    return submit(
        save,
        partial(_form, partner=partner, agreement=current),
        _("Changes saved."),
        current["version"],
    )
