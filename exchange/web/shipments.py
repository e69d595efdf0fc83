"""Shipment pages: the list, the forms, items, transitions, history and the packing list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache, partial
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.support import Translations
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from pydantic import ValidationError
from sqlalchemy.orm import Session
from stdnum import isbn as stdnum_isbn
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from libfed.accounts.models import Institution
from libfed.kernel.audit import render_event
from libfed.kernel.callers import Caller
from libfed.kernel.errors import N_, Invalid, Message, Stale
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.forms import field_errors, form_text, form_values
from libfed.web.i18n import LANGUAGES, TRANSLATIONS, named_refusals, translate
from libfed.web.pages import csrf

from .. import bulk, lookup
from ..catalogue import may_accession
from ..federation.events import twin_of
from ..federation.notes import add_note, list_notes, mark_seen, peer_names, render_note
from ..items import (
    RowsInvalid,
    add_item,
    add_items,
    get_item,
    list_items,
    remove_item,
    render_item,
    update_item,
)
from ..models import Agreement
from ..schemas import ItemIn, ShipmentCreate, ShipmentIn, ShipmentQuery, TransitionIn
from ..shipments import (
    create_shipment,
    get_shipment,
    list_shipments,
    machine_of,
    shipment_history,
    transition,
    update_shipment,
    with_totals,
)
from ..states import DIRECTIONS, STATES, TIMED_STATES
from . import blueprint
from .common import (
    PageResult,
    agreement_choices,
    partner_choices,
    partner_names,
    submit,
    version_field,
)
from .history import change_words, history_names
from .labels import STATE_LABELS
from .lists import ACCESSIONS_SET_SPEC


def _items_of(shipment_id: int) -> str:
    """Where a change of a shipment's lines comes back to: its page, at the items."""
    return url_for("exchange_pages.shipment", shipment_id=shipment_id) + "#items"


# ------------------------------------------------------------------ list


@blueprint.get("/shipments")
@page("viewer")
def shipments(caller: Caller) -> PageResult:
    filters = {key: value for key, value in request.args.items() if value.strip()}
    errors: dict[str, str] = {}
    try:
        query = ShipmentQuery.model_validate(
            {key: int(value) if value.isdigit() else value for key, value in filters.items()}
        )
    except ValidationError as error:
        errors = field_errors(Invalid.of(error))
        query = ShipmentQuery()
    with services().db.engine.connect() as connection:
        rows, total = list_shipments(connection, query)
        listed = with_totals(connection, rows)
        names = partner_names(connection, (row["partner_id"] for row in listed))
    with services().db.session() as session:
        partners = partner_choices(session, keep=query.partner_id)

    def page_args(number: int) -> str:
        return urlencode({**filters, "page": number})

    return render_template(
        "exchange/shipments.html",
        shipments=listed,
        total=total,
        query=query,
        filters=filters,
        errors=errors,
        partner_names=names,
        partners=partners,
        directions=DIRECTIONS,
        states=STATES,
        page_args=page_args,
        caller=caller,
    ), (400 if errors else 200)


# ------------------------------------------------------------------ create and edit


def _form(
    values: dict, errors: dict, *, shipment: dict | None = None, status: int = 200
) -> PageResult:
    with services().db.session() as session:
        partners = partner_choices(session, keep=shipment["partner_id"] if shipment else None)
        agreements = agreement_choices(session)
    return render_template(
        "exchange/shipment_form.html",
        values=values,
        errors=errors,
        shipment=shipment,
        partners=partners,
        agreements=agreements,
        directions=DIRECTIONS,
    ), status


@blueprint.route("/shipments/new", methods=["GET", "POST"])
@page("coordinator")
def new_shipment(caller: Caller) -> PageResult:
    if request.method == "GET":
        values = {"direction": request.args.get("direction", "outgoing")}
        if request.args.get("partner_id", "").isdigit():
            values["partner_id"] = request.args["partner_id"]
        return _form(values, {})

    def save() -> str:
        with services().db.write() as session:
            ident = create_shipment(
                session,
                form_values(ShipmentCreate, request.form),
                actor=caller,
                home_country=services().home_country,
            ).id
        return url_for("exchange_pages.shipment", shipment_id=ident)

    return submit(save, _form, _("Shipment started."))


@blueprint.route("/shipments/<int:shipment_id>/edit", methods=["GET", "POST"])
@page("coordinator")
def edit_shipment(caller: Caller, shipment_id: int) -> PageResult:
    with services().db.session() as session:
        current = with_totals(session, [get_shipment(session, shipment_id)])[0]
    if request.method == "GET":
        return _form(form_text(ShipmentIn, current), {}, shipment=current)

    def save() -> str:
        with services().db.write() as session:
            update_shipment(
                session,
                shipment_id,
                form_values(ShipmentIn, request.form, blank="clear"),
                actor=caller,
                home_country=services().home_country,
                expected_version=version_field(),
            )
        return url_for("exchange_pages.shipment", shipment_id=shipment_id)

    return submit(save, partial(_form, shipment=current), _("Changes saved."), current["version"])


# ------------------------------------------------------------------ one shipment


def _shipment_page(
    shipment_id: int,
    *,
    item_values: dict | None = None,
    item_errors: dict | None = None,
    move_values: dict | None = None,
    move_errors: dict | None = None,
    bulk_form: str | None = None,
    bulk_text: str = "",
    bulk_errors: list[str] | None = None,
    note_values: dict | None = None,
    note_errors: dict | None = None,
    reader: Caller | None = None,
    status: int = 200,
) -> PageResult:
    """The shipment's page; a coordinator `reader` has now seen the thread's new notes."""
    with services().db.session() as session:
        shipment = get_shipment(session, shipment_id)
        data = with_totals(session, [shipment])[0]
        machine = machine_of(shipment)
        partner = session.get(Institution, shipment.partner_id)
        agreement = session.get(Agreement, shipment.agreement_id) if shipment.agreement_id else None
        items = [render_item(item) for item in list_items(session, shipment_id)]
        events = [render_event(event) for event in shipment_history(session, shipment_id)]
        named = history_names(session, events)
        query = request.args.get("q", "").strip()
        found = lookup.search(session, query) if query else []
        accessionable = may_accession(shipment)
        twin = twin_of(session, shipment)
        names = peer_names(session)
        notes = [render_note(note, names) for note in list_notes(session, shipment_id)]
    if reader is not None and reader.may("coordinator") and not all(n["seen"] for n in notes):
        with services().db.write() as session:
            mark_seen(session, shipment_id)
    return render_template(
        "exchange/shipment.html",
        shipment=data,
        partner=partner,
        agreement=agreement,
        items=items,
        events=events,
        editable=shipment.status in machine.editable,
        receipt_open=shipment.status in machine.receipt_open,
        international=partner is not None and partner.country != services().home_country,
        item_values=item_values or {"copies": 1},
        item_errors=item_errors or {},
        move_values=move_values or {},
        move_errors=move_errors or {},
        change_words=partial(change_words, named),
        query=query,
        found=found,
        timed_states=TIMED_STATES,
        confirmed_states=CONFIRMED_STATES,
        accessionable=accessionable,
        accessions_set=ACCESSIONS_SET_SPEC,
        scanning=bulk_form == "scan" or request.args.get("scan") == "1",
        bulk_form=bulk_form,
        bulk_text=bulk_text,
        bulk_errors=bulk_errors or [],
        max_lines=bulk.MAX_LINES,
        max_mib=bulk.MAX_FILE_BYTES >> 20,
        twin=twin,
        with_received=data["direction"] == "incoming"
        or any(item["received_copies"] is not None for item in items),
        differences={
            item["id"]: item["received_copies"] - item["copies"]
            for item in items
            if item["received_copies"] is not None and item["received_copies"] != item["copies"]
        },
        notes=notes,
        note_values=note_values or {},
        note_errors=note_errors or {},
    ), status


@blueprint.get("/shipments/<int:shipment_id>")
@page("viewer")
def shipment(caller: Caller, shipment_id: int) -> PageResult:
    return _shipment_page(shipment_id, reader=caller)


@blueprint.post("/shipments/<int:shipment_id>/notes")
@page("coordinator")
def add_shipment_note(caller: Caller, shipment_id: int) -> PageResult:
    """A note in the thread; a linked shipment's peer is sent it."""
    text = request.form.get("body", "")
    try:
        with services().db.write() as session:
            add_note(session, shipment_id, text, actor=caller)
    except Invalid as error:
        return _shipment_page(
            shipment_id, note_values={"body": text}, note_errors=field_errors(error), status=422
        )
    flash(_("The note is added to the thread."), "success")
    return redirect(
        url_for("exchange_pages.shipment", shipment_id=shipment_id) + "#notes", code=303
    )


def _from_catalogue(session: Session, values: dict[str, Any]) -> bool:
    """An ISBN typed alone takes the title (and the rest) from this server's catalogue.
    False when the ISBN is in no record."""
    entry = lookup.by_isbn(session, values["isbn"])
    if entry is None:
        return False
    found = {
        "title": entry.title,
        "author": entry.author,
        "year": entry.year,
        "record_identifier": entry.identifier,
    }
    values.update({key: value for key, value in found.items() if value and key not in values})
    return True


@blueprint.post("/shipments/<int:shipment_id>/items")
@page("coordinator")
def add_shipment_item(caller: Caller, shipment_id: int) -> PageResult:
    values = form_values(ItemIn, request.form)
    with services().db.session() as session:
        looked_up = "isbn" in values and "title" not in values and _from_catalogue(session, values)
    try:
        with services().db.write() as session:
            item = add_item(session, shipment_id, values, actor=caller)
            title = item.title
    except Invalid as error:
        errors = field_errors(error)
        if "isbn" in values and "title" in errors and not looked_up and "isbn" not in errors:
            errors["title"] = _("No record of this server has this ISBN: type the title.")
        return _shipment_page(
            shipment_id, item_values=request.form.to_dict(), item_errors=errors, status=422
        )
    flash(_("Added “%(title)s”.", title=title), "success")
    return redirect(_items_of(shipment_id), code=303)


# ------------------------------------------------------------------ many items at once

# The columns a spreadsheet may have, by the headings the pages give them; a heading
# is recognised in every language of the interface, and as the field's own name.
_HEADINGS = {
    "isbn": N_("ISBN"),
    "title": N_("Title"),
    "author": N_("Author"),
    "year": N_("Year"),
    "copies": N_("Copies"),
    "unit_value": N_("Unit value"),
    "currency": N_("Currency"),
    "language": N_("Language"),
    "issn": N_("ISSN"),
    "notes": N_("Notes"),
}


@cache
def _heading_names() -> dict[str, str]:
    catalogues = [Translations.load(str(TRANSLATIONS), [code]) for code in LANGUAGES]
    return bulk.heading_names(
        {
            name: [catalogue.gettext(msgid) for catalogue in catalogues] + [msgid]
            for name, msgid in _HEADINGS.items()
        }
    )


def _item_rows(rows: list[bulk.Row]) -> list[tuple[int, dict]]:
    """Rows as the item service takes them: numbers read as the page writes them, and
    an ISBN without a title completed from this server's catalogue, else titled by the
    ISBN itself, in no language (a book the catalogue lacks is still a line; its title
    can be given in the row, the third column of a pasted line or a Title column)."""
    typed = []
    with services().db.session() as session:
        for row in rows:
            values = form_values(ItemIn, MultiDict(row.values))
            isbn = values.get("isbn")
            unknown = (
                isinstance(isbn, str)
                and "title" not in values
                and stdnum_isbn.is_valid(isbn)
                and not _from_catalogue(session, values)
            )
            if unknown:
                values["title"] = "ISBN " + stdnum_isbn.format(stdnum_isbn.to_isbn13(isbn))
            typed.append((row.line, values))
    return typed


def _row_refusals(error: RowsInvalid, rows: dict[int, dict], *, numbered: bool) -> list[str]:
    """Each refused row as one sentence: its line (of a list or a file), then each
    field's refusal by the field's name. A title missing only because the ISBN was
    refused goes unsaid."""
    said = []
    for line, fields in error.rows.items():
        if "isbn" in fields and "title" not in rows.get(line, {}):
            fields = {name: message for name, message in fields.items() if name != "title"}
        refusals = named_refusals(field_errors(Invalid(fields)))
        said.append(
            _("Line %(line)s: %(refusals)s", line=line, refusals=refusals) if numbered else refusals
        )
    return said


def _add_rows(
    caller: Caller,
    shipment_id: int,
    form: str,
    text: str,
    read: Callable[[], list[bulk.Row]],
) -> PageResult:
    """Store the rows `read()` gives, all or none; refusals by line on the page again,
    with the typed text kept for correction."""
    rows: list[tuple[int, dict]] = []
    try:
        rows = _item_rows(read())
        if not rows:
            raise bulk.Unreadable(Message("there is nothing to add"))
        with services().db.write() as session:
            lines = add_items(session, shipment_id, rows, actor=caller)
            changed = [(line.title, line.copies) for line in lines]
    except RowsInvalid as error:
        refusals = _row_refusals(error, dict(rows), numbered=form != "scan")
    except bulk.Unreadable as error:
        refusals = [translate(error.message)]
    except Invalid as error:
        refusals = [named_refusals(field_errors(error))]
    else:
        if form == "scan":
            title, copies = changed[0]
            flash(
                ngettext(
                    "“%(title)s”: %(num)s copy on its line.",
                    "“%(title)s”: %(num)s copies on its line.",
                    copies,
                    title=title,
                ),
                "success",
            )
            # No #fragment: a browser does not autofocus a page opened at one.
            return redirect(
                url_for("exchange_pages.shipment", shipment_id=shipment_id, scan=1), code=303
            )
        flash(
            ngettext(
                "%(num)s line added or given more copies.",
                "%(num)s lines added or given more copies.",
                len(changed),
            ),
            "success",
        )
        return redirect(_items_of(shipment_id), code=303)
    return _shipment_page(
        shipment_id, bulk_form=form, bulk_text=text, bulk_errors=refusals, status=422
    )


@blueprint.post("/shipments/<int:shipment_id>/items/scan")
@page("coordinator")
def scan_item(caller: Caller, shipment_id: int) -> PageResult:
    """One ISBN from a barcode scanner (or typed): a new line, or one more copy on the
    line that has it; the page comes back ready for the next one."""
    text = request.form.get("isbn", "").strip()[: bulk.MAX_CELL]

    def read() -> list[bulk.Row]:
        return [bulk.Row(1, {"isbn": text})] if text else []

    return _add_rows(caller, shipment_id, "scan", text, read)


def _large_form() -> None:
    """Let this request's form be as large as an import may be (the application's body
    limit is smaller), then make the CSRF check, which reads the form: the views that
    call this are exempt from the check made before any view, with the usual limits."""
    request.max_content_length = bulk.MAX_FILE_BYTES + 64 * 1024  # the form around it
    request.max_form_memory_size = bulk.MAX_FILE_BYTES
    csrf.protect()


def _too_large(shipment_id: int, form: str, message: Message) -> PageResult:
    return _shipment_page(shipment_id, bulk_form=form, bulk_errors=[translate(message)], status=413)


@blueprint.post("/shipments/<int:shipment_id>/items/paste")
@page("coordinator")
def paste_items(caller: Caller, shipment_id: int) -> PageResult:
    """A pasted list: 2,000 lines with their titles may be larger than a form's usual limit."""
    try:
        _large_form()
        text = request.form.get("lines", "")
    except RequestEntityTooLarge:
        return _too_large(
            shipment_id,
            "paste",
            Message("the list is larger than {max} MiB", max=bulk.MAX_FILE_BYTES >> 20),
        )
    return _add_rows(caller, shipment_id, "paste", text, lambda: bulk.read_pasted(text))


@blueprint.post("/shipments/<int:shipment_id>/items/import")
@page("coordinator")
def import_items(caller: Caller, shipment_id: int) -> PageResult:
    """A spreadsheet's rows, from a file up to the import's limit (see _large_form)."""
    try:
        _large_form()
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _too_large(
            shipment_id,
            "import",
            Message("the file is larger than {max} MiB", max=bulk.MAX_FILE_BYTES >> 20),
        )
    if upload is None or not upload.filename:
        return _shipment_page(
            shipment_id,
            bulk_form="import",
            bulk_errors=[_("Choose a CSV or XLSX file to import.")],
            status=422,
        )
    data = upload.stream.read(bulk.MAX_FILE_BYTES + 1)
    filename = upload.filename

    def read() -> list[bulk.Row]:
        return bulk.read_spreadsheet(filename, data, _heading_names())

    return _add_rows(caller, shipment_id, "import", "", read)


csrf.exempt(paste_items)
csrf.exempt(import_items)


# The fields of a line its edit page offers; the record it links to and the copies
# received are set by their own steps (the catalogue search, accession, receipt).
_LINE_FIELDS = (
    "title",
    "author",
    "isbn",
    "issn",
    "year",
    "language",
    "copies",
    "unit_value",
    "currency",
    "notes",
)


def _line_form(
    values: dict, errors: dict, *, shipment_id: int, item: dict, status: int = 200
) -> PageResult:
    return render_template(
        "exchange/item_form.html",
        values=values,
        errors=errors,
        shipment_id=shipment_id,
        item=item,
    ), status


@blueprint.route("/shipments/<int:shipment_id>/items/<int:item_id>/edit", methods=["GET", "POST"])
@page("coordinator")
def edit_item(caller: Caller, shipment_id: int, item_id: int) -> PageResult:
    """A whole line changed: the title of a book scanned before the catalogue knew it,
    its author, value or notes."""
    with services().db.session() as session:
        current = render_item(get_item(session, shipment_id, item_id))
    show = partial(_line_form, shipment_id=shipment_id, item=current)
    if request.method == "GET":
        return show(form_text(ItemIn, current), {})

    def save() -> str:
        patch = form_values(ItemIn, request.form, blank="clear")
        with services().db.write() as session:
            update_item(
                session,
                shipment_id,
                item_id,
                {name: value for name, value in patch.items() if name in _LINE_FIELDS},
                actor=caller,
                expected_version=version_field(),
            )
        return _items_of(shipment_id)

    return submit(save, show, _("Changes saved."), current["version"])


def _change_count(
    caller: Caller, shipment_id: int, item_id: int, field: str, done: str | None
) -> Response:
    """A count typed beside a line of the shipment page's items (copies sent, copies
    received): only that field changes, guarded by the line's version, and the page comes
    back at its items with the refusal, or `done`, said above them."""
    patch = form_values(ItemIn, request.form, blank="clear")
    try:
        with services().db.write() as session:
            update_item(
                session,
                shipment_id,
                item_id,
                {field: patch.get(field)},
                actor=caller,
                expected_version=version_field(),
            )
    except Invalid as error:
        flash(named_refusals(field_errors(error)), "error")
    else:
        if done:
            flash(done, "success")
    return redirect(_items_of(shipment_id), code=303)


@blueprint.post("/shipments/<int:shipment_id>/items/<int:item_id>/copies")
@page("coordinator")
def change_copies(caller: Caller, shipment_id: int, item_id: int) -> Response:
    return _change_count(caller, shipment_id, item_id, "copies", _("Copies changed."))


@blueprint.post("/shipments/<int:shipment_id>/items/<int:item_id>/withdraw")
@page("coordinator")
def withdraw_item(caller: Caller, shipment_id: int, item_id: int) -> Response:
    with services().db.write() as session:
        remove_item(session, shipment_id, item_id, actor=caller, expected_version=version_field())
    flash(_("The item was withdrawn; the history keeps it."), "success")
    return redirect(_items_of(shipment_id), code=303)


@blueprint.post("/shipments/<int:shipment_id>/items/<int:item_id>/received")
@page("coordinator")
def receive_item(caller: Caller, shipment_id: int, item_id: int) -> Response:
    return _change_count(caller, shipment_id, item_id, "received_copies", None)


def _moment_in_utc(text: str) -> str:
    """A datetime-local value, meant in the configured zone, as ISO 8601 with its offset."""
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        return text  # the service names the field and says what it expects
    zone = ZoneInfo(services().config.web.timezone)
    return local.replace(tzinfo=local.tzinfo or zone).isoformat()


# Steps hard to undo (the machine has no way back from them, or only a long one): the
# page asks before taking them, and the buttons for them look dangerous.
CONFIRMED_STATES = frozenset({"cancelled", "lost", "returned"})


def _confirm_step(shipment_id: int, target: str) -> PageResult:
    """The question a step that is hard to undo asks first, as a page of its own (no
    script needed): the same form again, sent on only with `confirmed=yes`. A page
    made stale by someone else's change is refused as stale before anything is asked."""
    expected = version_field()
    with services().db.session() as session:
        shipment = get_shipment(session, shipment_id)
        if shipment.version != expected:
            raise Stale()
        partner = session.get(Institution, shipment.partner_id)
    return render_template(
        "exchange/confirm_step.html",
        shipment=shipment,
        partner=partner,
        target=target,
        sent=request.form.to_dict(),
    )


@blueprint.post("/shipments/<int:shipment_id>/transition")
@page("coordinator")
def move_shipment(caller: Caller, shipment_id: int) -> PageResult:
    data = form_values(TransitionIn, request.form)
    if data.get("to") in CONFIRMED_STATES and request.form.get("confirmed") != "yes":
        return _confirm_step(shipment_id, data["to"])
    if "at" in data:
        data["at"] = _moment_in_utc(data["at"])
    try:
        with services().db.write() as session:
            moved = transition(
                session, shipment_id, data, actor=caller, expected_version=version_field()
            )
            status = moved.status
    except Invalid as error:
        # Shown beside its field, with what was typed, as any form's refusal is.
        return _shipment_page(
            shipment_id,
            move_values=request.form.to_dict(),
            move_errors=field_errors(error),
            status=422,
        )
    flash(_("The shipment is now %(state)s.", state=STATE_LABELS[status]), "success")
    return redirect(url_for("exchange_pages.shipment", shipment_id=shipment_id), code=303)
