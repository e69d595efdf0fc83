"""The sets page: every OAI set with its members, and the form an administrator defines
or changes a set's rule with, counting the records it would hold before saving.

Sets are the data provider's (what harvesters select by), so their page is the OAI
domain's; what a rule is and who its members are is libfed.records' (set_rules,
set_membership), the same services `libfed sets rule` calls. Every stored record is
evaluated when a rule is saved: within the request for a catalogue of up to
INLINE_RECORDS live records (the page then says how many records are in the set and
how many datestamps changed), beyond that in a thread of the worker, so that the one
request thread of a `libfed serve` worker is not held for minutes. A pass cut short (the
server stopped) is finished by saving the rule again; records written meanwhile follow
the rule already.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from libfed.kernel.db import Database
from libfed.kernel.errors import Invalid
from libfed.kernel.services import services
from libfed.records import set_membership
from libfed.records.identifiers import is_set_spec
from libfed.records.set_rules import Rule, check_spec, parse_rule
from libfed.web.auth import page
from libfed.web.formatting import number
from libfed.web.forms import field_errors
from libfed.web.menu import MenuEntry

log = logging.getLogger(__name__)

blueprint = Blueprint("oai_pages", __name__, template_folder="templates")
MENU = [MenuEntry("sets", "oai_pages.sets", lazy_gettext("Sets"))]
MAX_TYPED = 4000  # characters of one form field: a rule is a few lines
INLINE_RECORDS = 20_000  # live records evaluated within the request (some 5 s)


def rule_labels() -> dict[str, str]:
    """The rule form's labels in the page's language, beside each field and before each
    refusal above the form."""
    return {
        "spec": _("Set"),
        "name": _("Name"),
        "languages": _("Languages"),
        "years": _("Years"),
        "subjects": _("Subject words"),
        "fields": _("MARC fields"),
        "sources": _("Sources"),
        "rule": _("Rule"),
    }


def _form_of(rule: Rule | None) -> dict[str, str]:
    """A rule as its form shows it: one subject and one field condition a line."""
    if rule is None:
        return {}
    return {
        "languages": ", ".join(rule.languages),
        "years": rule.years,
        "subjects": "\n".join(rule.subjects),
        "fields": "\n".join(condition.typed for condition in rule.fields),
        "sources": ", ".join(rule.sources),
    }


def _typed(form: Any) -> dict[str, str]:
    return {
        name: form.get(name, "")[:MAX_TYPED]
        for name in ("name", "languages", "years", "subjects", "fields", "sources")
    }


def _rule_of(typed: dict[str, str]) -> Rule:
    return parse_rule(
        languages=[typed["languages"]],
        years=typed["years"],
        subjects=typed["subjects"].splitlines(),
        fields=typed["fields"].splitlines(),
        sources=[typed["sources"]],
    )


@blueprint.get("/sets")
@page("viewer")
def sets(caller) -> str:  # type: ignore[no-untyped-def]
    with services().db.session() as session:
        summaries = set_membership.set_summaries(session)
    return render_template(
        "oai/sets.html", summaries=summaries, caller=caller, errors={}, labels=rule_labels()
    )


@blueprint.get("/sets/new")
@page("admin")
def new_set(caller) -> Response | tuple[str, int]:  # type: ignore[no-untyped-def]
    """The rule form of the set named in the list page's small form."""
    spec = request.args.get("spec", "").strip()[:255]
    try:
        check_spec(spec)
    except Invalid as error:
        with services().db.session() as session:
            summaries = set_membership.set_summaries(session)
        return render_template(
            "oai/sets.html",
            summaries=summaries,
            caller=caller,
            errors=field_errors(error),
            labels=rule_labels(),
            spec=spec,
        ), 422
    return redirect(url_for(".rule", spec=spec), code=303)


def _rule_page(  # type: ignore[no-untyped-def]
    caller,
    spec: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    previewed: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    if not is_set_spec(spec):
        abort(404)
    with services().db.session() as session:
        found = set_membership.set_summaries(session, [spec])
    summary = found[0] if found else None
    return render_template(
        "oai/set_rule.html",
        spec=spec,
        summary=summary,
        values=_form_of(summary.rule if summary else None) if values is None else values,
        errors=errors or {},
        labels=rule_labels(),
        previewed=previewed,
        caller=caller,
    ), status


@blueprint.get("/sets/<spec>")
@page("admin")
def rule(spec: str, caller) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    return _rule_page(caller, spec)


@blueprint.post("/sets/<spec>")
@page("admin")
def save(spec: str, caller) -> Response | tuple[str, int]:  # type: ignore[no-untyped-def]
    """Count the records the typed rule would hold (`action=preview`), or save it and
    make every record follow it; refusals beside their fields, nothing stored."""
    typed = _typed(request.form)
    try:
        check_spec(spec)
        made = _rule_of(typed)
    except Invalid as error:
        return _rule_page(caller, spec, typed, field_errors(error), status=422)
    db = services().db
    if request.form.get("action") == "preview":
        return _rule_page(caller, spec, typed, previewed=set_membership.preview(db, spec, made))
    name = typed["name"].strip()[:255] or None
    log.info("%s set the rule of set %s from the web: %s", caller.name, spec, made.options())
    if set_membership.live_records(db) > INLINE_RECORDS:
        set_membership.store_rule(db, spec, made, name)
        threading.Thread(
            target=_evaluate, args=(db, spec), name=f"set-rule:{spec}", daemon=True
        ).start()
        flash(
            _(
                "Rule saved. The stored records are being evaluated now: the set's "
                "count grows until that is done."
            ),
            "success",
        )
        return redirect(url_for(".rule", spec=spec), code=303)
    done = set_membership.save_rule(db, spec, made, name)
    flash(
        _(
            "Rule saved. Records in the set: %(members)s; datestamps changed: %(changed)s.",
            members=number(done.members),
            changed=number(done.changed),
        ),
        "success",
    )
    return redirect(url_for(".rule", spec=spec), code=303)


def _evaluate(db: Database, spec: str) -> None:
    """The thread's body: every record made to follow the rules; it never raises, so
    the worker serves on whatever happens (the log says what did)."""
    try:
        done = set_membership.reevaluate(db)
    except Exception:
        log.exception("evaluating the records for the rule of set %s failed", spec)
    else:
        log.info(
            "rule of set %s: %s records read, %s datestamps changed", spec, done.read, done.changed
        )


@blueprint.post("/sets/<spec>/remove-rule")
@page("admin")
def remove(spec: str, caller) -> Response:  # type: ignore[no-untyped-def]
    done = set_membership.remove_rule(services().db, spec)
    if done is None:
        abort(404)
    log.info("%s removed the rule of set %s from the web", caller.name, spec)
    flash(
        _(
            "Rule removed. The set keeps its records (%(members)s), as if assigned by hand.",
            members=number(done.members),
        ),
        "success",
    )
    return redirect(url_for(".rule", spec=spec), code=303)
