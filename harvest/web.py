"""The harvesting pages: each source with its last run, a source's runs, a run's log,
"harvest now", the forms an administrator adds and edits a source with, and the panel on
a partner's page.

They read the harvester's own tables and start harvests through the same entry point
as the scheduler (`harvest_detached`: in a process of its own, never in the one that
serves pages), so a harvest started from a browser waits its turn on a host like any
other.
"""

from __future__ import annotations

import logging
import re
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, lazy_gettext, ngettext
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from libfed.accounts.models import Institution
from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.errors import Conflict, Invalid, Message, NotFound
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.forms import field_errors, form_text, form_values, page_number
from libfed.web.i18n import translate
from libfed.web.menu import MenuEntry

from .changes import changes_listing
from .detached import harvest_detached
from .leases import lease_holder
from .models import QuarantinedRecord, Run, Source
from .run import records_per_second, run_seconds
from .schemas import SourceIn
from .sources import (
    add_source,
    edit_source,
    interval_text,
    list_sources,
    masked_headers,
    move_source,
    moved_to,
    next_runs,
    records_held,
)
from .states import LABELS

log = logging.getLogger(__name__)

blueprint = Blueprint("harvest_pages", __name__, template_folder="templates")
MENU = [MenuEntry("harvesting", "harvest_pages.sources", lazy_gettext("Harvesting"))]

RUNS_PER_PAGE = 20
QUARANTINE_PER_PAGE = 50


def status_label(status: str) -> str:
    """A run's status in the page's language (one unknown here shown as stored)."""
    return _(LABELS[status]) if status in LABELS else status


def schedule_text(source: Source) -> str:
    """The source's schedule in the page's language, unit as it was typed (6h, 90m)."""
    if source.cron:
        return _("cron %(expression)s", expression=source.cron)
    seconds = source.every_seconds
    if not seconds:
        return _("manual")
    if seconds % 86400 == 0:
        return ngettext("every %(num)s day", "every %(num)s days", seconds // 86400)
    if seconds % 3600 == 0:
        return ngettext("every %(num)s hour", "every %(num)s hours", seconds // 3600)
    if seconds % 60 == 0:
        return ngettext("every %(num)s minute", "every %(num)s minutes", seconds // 60)
    return ngettext("every %(num)s second", "every %(num)s seconds", seconds)


def seconds_text(seconds: float) -> str:
    """Seconds as the page's language writes them, to the millisecond: "1,5 s"."""
    return _("%(seconds)s s", seconds=format_decimal(seconds, "#,##0.###"))


def mode_labels() -> dict[str, str]:
    """How a source's records are asked for, in the page's language (the verbs themselves
    are for docs/harvesting.md: they are no words of any language)."""
    return {
        "records": _("Records, page by page"),
        "identifiers": _("Identifiers, then each record on its own"),
    }


def duration(run: Run) -> str:
    seconds = run_seconds(run)
    if seconds is None:
        return ""
    if seconds < 1:
        return _("< 1 s")
    if seconds < 60:  # tenths, when the times have them (never rounded up to a minute)
        return _("%(seconds)s s", seconds=format_decimal(int(seconds * 10) / 10, "#,##0.#"))
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    if minutes:
        return _("%(minutes)s min %(seconds)s s", minutes=minutes, seconds=seconds)
    return _("%(seconds)s s", seconds=seconds)


@blueprint.context_processor
def _helpers() -> dict[str, object]:
    return {
        "status_label": status_label,
        "schedule_text": schedule_text,
        "duration": duration,
        "records_per_second": records_per_second,
        "seconds_text": seconds_text,
        "mode_labels": mode_labels,
        "server_timeout": lambda: services().config.harvest.timeout_seconds,
    }


def _page_args(number: int) -> str:
    return urlencode({"page": number})


def _source(session: Session, name: str) -> Source:
    source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if source is None:
        raise NotFound(Message("no harvest source named {name!r}", name=name))
    return source


def _institutions(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        session.execute(
            select(Institution.id, Institution.name).where(Institution.id.in_(ids))
        ).all()
    )


# ------------------------------------------------------------------ source forms

# Set specs as typed in one field: separated by commas or spaces (a spec has neither).
_SET_SEPARATORS = re.compile(r"[\s,]+")


def source_labels() -> dict[str, str]:
    """The source form's labels, in the page's language: beside each field and before
    each refusal in the list above the form, so both name a field the same way."""
    return {
        "name": _("Name"),
        "base_url": _("Base URL"),
        "prefix": _("Metadata format"),
        "sets": _("Sets"),
        "every_seconds": _("Interval"),
        "cron": _("Cron schedule"),
        "institution_id": _("Institution"),
        "enabled": _("Enabled"),
        "request_delay_seconds": _("Delay between requests"),
        "headers": _("Request headers"),
        "mode": _("Listing mode"),
        "window_days": _("Date window"),
        "timeout_seconds": _("Timeout"),
        "contact_email": _("Contact e-mail"),
        "reconcile_cron": _("Reconciliation schedule"),
    }


# The settings typed as numbers: read in the page's language ("1,5" on a Russian page).
_NUMBERS = ("request_delay_seconds", "window_days", "timeout_seconds")


def _typed_source(form: Any) -> dict[str, object]:
    """What the form says of a source, as the service takes it (the same values the CLI
    passes: the interval as typed, '6h'); the service's checks are the only ones. A blank
    interval, cron, institution or setting is none; a blank format keeps the default.
    The per-source settings a form does not send are left as they are: the headers' lines
    as typed (`Name: value`, a masked value keeping the stored one), numbers in the
    page's language."""
    values: dict[str, object] = {
        field: form.get(field, "").strip() for field in ("name", "base_url", "prefix")
    }
    if not values["prefix"]:
        del values["prefix"]
    values["sets"] = [spec for spec in _SET_SEPARATORS.split(form.get("sets", "")) if spec]
    for field in ("every_seconds", "cron", "institution_id"):
        values[field] = form.get(field, "").strip() or None
    values["enabled"] = "enabled" in form
    numbers = MultiDict([(field, form[field]) for field in _NUMBERS if field in form])
    values |= form_values(SourceIn, numbers, blank="clear")
    if "headers" in form:
        values["headers"] = form["headers"].splitlines()
    if form.get("mode"):
        values["mode"] = form["mode"]
    for field in ("contact_email", "reconcile_cron"):
        if field in form:
            values[field] = form[field].strip() or None
    return values


def _form_of(found: Source) -> dict[str, object]:
    """A source's values as its edit form shows them (the interval in its unit: 6h)."""
    delay = found.request_delay_seconds
    return {
        "name": found.name,
        "base_url": found.base_url,
        "prefix": found.prefix,
        "sets": ", ".join(found.sets or []),
        "every_seconds": interval_text(found.every_seconds) if found.every_seconds else "",
        "cron": found.cron or "",
        "institution_id": found.institution_id,
        "enabled": found.enabled,
        "headers": "\n".join(masked_headers(found.headers)),
        "mode": found.mode,
        "contact_email": found.contact_email or "",
        "reconcile_cron": found.reconcile_cron or "",
        **form_text(
            SourceIn,
            {
                # The float as it was typed (0.1, not its binary expansion).
                "request_delay_seconds": None if delay is None else Decimal(str(delay)),
                "window_days": found.window_days,
                "timeout_seconds": found.timeout_seconds,
            },
        ),
    }


def _institution_choices(session: Session, keep: int | None = None) -> list[tuple[int, str]]:
    """The institutions a source may belong to, by name (an id is not what people know):
    those in use, and `keep` (the source's own) even when it has been archived since."""
    rows = session.execute(
        select(Institution.id, Institution.name).where(
            Institution.archived_at.is_(None) | (Institution.id == keep)
        )
    ).all()
    return sorted(((ident, name) for ident, name in rows), key=lambda row: row[1].casefold())


def _refusals(save: Any) -> dict[str, str]:
    """Run `save`; the service's refusals, each by the field it is about (a name in use
    is the name's), in the page's language. Empty when it was saved."""
    try:
        save()
    except Invalid as error:
        return field_errors(error)
    except Conflict as error:
        return {"name": translate(error.args[0])}
    return {}


# An empty form, with the defaults `libfed sources add` takes.
NEW_SOURCE = {
    "prefix": SourceIn.model_fields["prefix"].default,
    "mode": SourceIn.model_fields["mode"].default,
    "enabled": True,
}


@blueprint.get("/harvesting")
@page("viewer")
def sources(caller) -> str:  # type: ignore[no-untyped-def]
    return _sources_page(caller, NEW_SOURCE, {})[0]


def _sources_page(  # type: ignore[no-untyped-def]
    caller, values: dict[str, object], errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    with services().db.session() as session:
        summaries = list_sources(session)
        names = [s.source.name for s in summaries]
        held = records_held(session, names)
        upcoming = next_runs(session)
        institutions = _institutions(
            session, {s.source.institution_id for s in summaries if s.source.institution_id}
        )
        choices = _institution_choices(session) if caller.may("admin") else []
    return render_template(
        "harvest/sources.html",
        summaries=summaries,
        held=held,
        upcoming=upcoming,
        institutions=institutions,
        caller=caller,
        values=values,
        errors=errors,
        labels=source_labels(),
        institution_choices=choices,
    ), status


@blueprint.post("/harvesting")
@page("admin")
def new_source(caller) -> Response | tuple[str, int]:  # type: ignore[no-untyped-def]
    """Add a source as `libfed sources add` does, or show the form again with what was
    typed and each refusal beside its field (nothing stored)."""
    typed = _typed_source(request.form)

    def save() -> None:
        with services().db.write() as session:
            add_source(session, **typed)  # type: ignore[arg-type]

    errors = _refusals(save)
    if errors:
        return _sources_page(caller, {**request.form.to_dict(), **_ticked(typed)}, errors, 422)
    log.info("%s added the harvest source %s from the web", caller.name, typed["name"])
    flash(_("Source %(name)s added.", name=typed["name"]), "success")
    return redirect(url_for(".source", name=typed["name"]), code=303)


def _ticked(typed: dict[str, object]) -> dict[str, object]:
    """The checkbox as typed: a form leaves an unticked box out altogether."""
    return {"enabled": typed["enabled"]}


@blueprint.get("/harvesting/<name>")
@page("viewer")
def source(name: str, caller) -> str:  # type: ignore[no-untyped-def]
    return _source_page(name, caller, None, {})[0]


def _source_page(  # type: ignore[no-untyped-def]
    name: str, caller, values: dict[str, object] | None, errors: dict[str, str], status: int = 200
) -> tuple[str, int]:
    """A source's page; for an administrator with its edit form (`values`: as typed, or
    none for the source's own)."""
    number = page_number(request.args)
    with services().db.session() as session:
        found = _source(session, name)
        total = session.scalar(select(func.count()).where(Run.source_id == found.id)) or 0
        runs = session.scalars(
            select(Run)
            .where(Run.source_id == found.id)
            .order_by(Run.id.desc())
            .offset((number - 1) * RUNS_PER_PAGE)
            .limit(RUNS_PER_PAGE)
        ).all()
        institution = _institutions(
            session, {found.institution_id} if found.institution_id else set()
        )
        held = records_held(session, [name]).get(name, 0)
        upcoming = next_runs(session).get(name) if found.enabled else None
        moved = moved_to(session, found.id)
        choices = _institution_choices(session, found.institution_id) if caller.may("admin") else []
    parked = found.parked_until
    return render_template(
        "harvest/source.html",
        source=found,
        runs=runs,
        total=total,
        page=number,
        per_page=RUNS_PER_PAGE,
        page_args=_page_args,
        held=held,
        upcoming=upcoming,
        institution=institution.get(found.institution_id or 0),
        caller=caller,
        parked=parked if parked and parked > clock.utc_now() else None,
        moved=moved,
        values=_form_of(found) if values is None else values,
        errors=errors,
        labels=source_labels(),
        institution_choices=choices,
    ), status


@blueprint.post("/harvesting/<name>/edit")
@page("admin")
def edit(name: str, caller) -> Response | tuple[str, int]:  # type: ignore[no-untyped-def]
    """Change a source with the checks a new one gets; its name stays (see `edit_source`)."""
    with services().db.session() as session:
        _source(session, name)  # an unknown name is the page's 404, not a form error
    typed = _typed_source(request.form)
    typed.pop("name")

    def save() -> None:
        with services().db.write() as session:
            edit_source(session, name, **typed)

    errors = _refusals(save)
    if errors:
        values = {**request.form.to_dict(), **_ticked(typed), "name": name}
        return _source_page(name, caller, values, errors, 422)
    log.info("%s changed the harvest source %s from the web", caller.name, name)
    flash(_("Source %(name)s saved.", name=name), "success")
    return redirect(url_for(".source", name=name), code=303)


@blueprint.get("/harvesting/runs/<int:run_id>")
@page("viewer")
def run(run_id: int, caller) -> str:  # type: ignore[no-untyped-def]
    number = page_number(request.args)
    with services().db.session() as session:
        found = session.get(Run, run_id)
        if found is None:
            raise NotFound(Message("no harvest run {run_id}", run_id=run_id))
        owner = session.get_one(Source, found.source_id)
        quarantined = session.execute(
            select(QuarantinedRecord.url, QuarantinedRecord.reason)
            .where(QuarantinedRecord.run_id == run_id)
            .order_by(QuarantinedRecord.id)
            .offset((number - 1) * QUARANTINE_PER_PAGE)
            .limit(QUARANTINE_PER_PAGE)
        ).all()
        kept = session.scalar(select(func.count()).where(QuarantinedRecord.run_id == run_id)) or 0
        changes = changes_listing(session, found, request.args)
    return render_template(
        "harvest/run.html",
        changes=changes,
        run=found,
        source=owner,
        quarantined=quarantined,
        kept=kept,
        page=number,
        per_page=QUARANTINE_PER_PAGE,
        page_args=_page_args,
        caller=caller,
    )


# ------------------------------------------------------------------ harvest now

# Names whose harvest this process has started and not yet finished: a second click
# is refused even before the run's row exists (it waits for its host's lock first).
_started: dict[str, threading.Thread] = {}
_started_lock = threading.Lock()


def _harvest_in_background(db: Database, config: Config, name: str) -> None:
    """The thread's body: it waits for the harvest's own process and never raises, so
    the serving process goes on whatever the partner's server does to the harvest."""
    try:
        harvest_detached(db, config, name, "from the web")
    finally:
        with _started_lock:
            _started.pop(name, None)


@blueprint.post("/harvesting/<name>/harvest-now")
@page("coordinator")
def harvest_now(name: str, caller) -> Response:  # type: ignore[no-untyped-def]
    db = services().db
    with db.session() as session:
        _source(session, name)
    # Held by whichever process harvests the source now; expired when that one died.
    busy = lease_holder(db, f"source:{name}", clock.utc_now()) is not None
    with _started_lock:
        busy = busy or name in _started
        if not busy:
            thread = threading.Thread(
                target=_harvest_in_background,
                args=(db, services().config, name),
                name=f"harvest-now:{name}",
                daemon=True,  # a harvest cut short resumes from its last page
            )
            _started[name] = thread
            thread.start()
    if busy:
        flash(_("A harvest of %(name)s is already running.", name=name), "error")
    else:
        log.info("harvest of %s started from the web by %s", name, caller.name)
        flash(_("Harvest started"), "success")
    return redirect(url_for(".source", name=name), code=303)


@blueprint.post("/harvesting/<name>/move")
@page("coordinator")
def move(name: str, caller) -> Response:  # type: ignore[no-untyped-def]
    """Confirm the address the provider redirected the last run to (and only that one:
    a base URL is otherwise set where the source is added)."""
    wanted = request.form.get("base_url", "")
    with services().db.write() as session:
        found = _source(session, name)
        if not wanted or wanted != moved_to(session, found.id):
            flash(_("The provider no longer redirects there: harvest again to see where."), "error")
            return redirect(url_for(".source", name=name), code=303)
        move_source(session, name, wanted)
    log.info("%s confirmed %s as the new base URL of %s", caller.name, wanted, name)
    flash(_("From now on %(name)s is harvested from %(url)s.", name=name, url=wanted), "success")
    return redirect(url_for(".source", name=name), code=303)


def background_harvests() -> list[threading.Thread]:
    """The harvests this process started from the web and that still go on."""
    with _started_lock:
        return list(_started.values())


# ------------------------------------------------------------------ partner panel


def source_panel(session: Session, institution_id: int) -> Markup | None:
    """The partner's harvest sources with their last run, for the partner's page."""
    owned = session.scalars(
        select(Source).where(Source.institution_id == institution_id).order_by(Source.name)
    ).all()
    if not owned:
        return None
    latest = session.scalars(
        select(Run).where(
            Run.id.in_(
                select(func.max(Run.id))
                .where(Run.source_id.in_([s.id for s in owned]))
                .group_by(Run.source_id)
            )
        )
    ).all()
    last_runs = {r.source_id: r for r in latest}
    return Markup(
        render_template(
            "harvest/panel.html",
            sources=owned,
            last_runs=last_runs,
            status_label=status_label,
        )
    )
