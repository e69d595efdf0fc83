"""The first page after sign-in: what waits for a coordinator, and this year so far.

Harvests that failed are flagged here too, though this domain does not import the
harvester: it asks the services' `failed_harvest_sources` hook, which a server without
a harvester leaves answering "none".

The reminders are the ones the weekly digest mails (`exchange.attention.reminders`);
an administrator may send that digest from here at once."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import format_percent, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from libfed.kernel import clock
from libfed.kernel.callers import Caller
from libfed.kernel.mail import MailError, is_configured
from libfed.kernel.services import services
from libfed.web.auth import page

from .. import digest
from ..attention import reminders, waiting
from ..federation.peer_status import failing_by_peer, recent_changes
from ..shipments import with_totals
from . import blueprint
from .common import partner_names, report


@blueprint.get("/")
@page("viewer")
def dashboard(caller: Caller) -> str:
    now = clock.utc_now()
    config = services().config
    with services().db.session() as session:
        failed_harvests = services().failed_harvest_sources(session)
        connection = session.connection()
        groups = waiting(connection, now)
        rendered = {group.kind: with_totals(connection, group.oldest) for group in groups}
        due = reminders(session, now, config)
        partner_ids = {row["partner_id"] for rows in rendered.values() for row in rows} | {
            item.partner_id for group in due for item in group.items
        }
        failing = failing_by_peer(session, config.federation.failing_after_attempts)
        changes = recent_changes(session)
        names = partner_names(
            connection, partner_ids | {failed.peer.institution_id for failed in failing}
        )
    return render_template(
        "exchange/dashboard.html",
        groups=groups,
        rendered=rendered,
        reminders=due,
        names=names,
        link=url_for,
        percent=format_percent,
        totals=report("balance", now.year)["totals"],
        year=now.year,
        acknowledgement_days=config.exchange.acknowledgement_days,
        failed_harvests=failed_harvests,
        failing=failing,
        changes=changes,
        mail_configured=is_configured(config.mail),
        caller=caller,
    )


def _unsent(status: str) -> str:
    """What the button's message says of an outcome that sent nothing."""
    return {
        digest.NOTHING_TO_REMIND: _("Nothing to remind: no mail was sent."),
        digest.NO_RECIPIENTS: _(
            "No coordinator or administrator has an e-mail address: no mail was sent."
        ),
        digest.NO_SERVER: _("No mail server is configured: no mail was sent."),
    }[status]


@blueprint.post("/reminders/send")
@page("admin")
def send_reminders(caller: Caller) -> Response:
    """Send the week's digest now, even if this week's went already (an administrator
    asked for it); the next Monday's goes as usual."""
    try:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        outcome = digest.send_digest(app, force=True)
    except MailError as error:
        flash(
            _(
                "The reminder digest was not sent: the mail server %(server)s said: %(reason)s",
                server=error.server or "",
                reason=error.reason,
            ),
            "error",
        )
    else:
        if outcome.status == digest.SENT:
            flash(
                ngettext(
                    "The reminder digest went to %(num)s person.",
                    "The reminder digest went to %(num)s people.",
                    outcome.sent,
                ),
                "success",
            )
        else:
            flash(_unsent(outcome.status), "info")
    return redirect(url_for("exchange_pages.dashboard"))
