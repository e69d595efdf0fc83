"""The first page after sign-in: what waits for a coordinator, and this year so far.

Harvests that failed are flagged here too, though this domain does not import the
harvester: it asks the services' `failed_harvest_sources` hook, which a server without
a harvester leaves answering "none"."""

from __future__ import annotations

from flask import render_template

from libfed.kernel import clock
from libfed.kernel.callers import Caller
from libfed.kernel.services import services
from libfed.web.auth import page

from ..attention import ACKNOWLEDGEMENT_AFTER, OVERDUE_AFTER, waiting
from ..shipments import with_totals
from . import blueprint
from .common import partner_names, report


@blueprint.get("/")
@page("viewer")
def dashboard(caller: Caller) -> str:
    now = clock.utc_now()
    with services().db.session() as session:
        failed_harvests = services().failed_harvest_sources(session)
        connection = session.connection()
        groups = waiting(connection, now)
        rendered = {group.kind: with_totals(connection, group.oldest) for group in groups}
        partner_ids = {row["partner_id"] for rows in rendered.values() for row in rows}
        names = partner_names(connection, partner_ids)
    return render_template(
        "exchange/dashboard.html",
        groups=groups,
        rendered=rendered,
        names=names,
        totals=report("balance", now.year)["totals"],
        year=now.year,
        overdue_days=OVERDUE_AFTER.days,
        acknowledgement_days=ACKNOWLEDGEMENT_AFTER.days,
        failed_harvests=failed_harvests,
        caller=caller,
    )
