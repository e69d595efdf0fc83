"""/api/v1/institutions: partners and source owners, read by viewers, written by coordinators;
their contact persons; archiving, and merging a duplicate into the institution it duplicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from libfed.kernel.api import PREFIX, Api, expected_version, page_reply, partial, reply
from libfed.kernel.audit import History, history, render_event
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.services import services

from .contacts import (
    create_contact,
    delete_contact,
    list_contacts,
    render_contact,
    update_contact,
)
from .institutions import (
    archive_institution,
    create_institution,
    list_institutions,
    merge_institution,
    renderer,
    update_institution,
)
from .models import Contact, Institution
from .schemas import (
    ContactIn,
    ContactList,
    ContactOut,
    InstitutionIn,
    InstitutionOut,
    InstitutionPage,
    InstitutionQuery,
    MergeIn,
)

api = Api("institutions")
TAG = "institutions"


@api.route(
    "GET",
    "/institutions",
    summary="List institutions",
    tag=TAG,
    role="viewer",
    query=InstitutionQuery,
    response=InstitutionPage,
)
def institutions_list(caller: Caller, query: InstitutionQuery) -> Response:
    render = renderer(services().home_country)
    with services().db.session() as session:
        rows, total = list_institutions(session, query)
        return page_reply([render(row) for row in rows], total, query)


@api.route(
    "POST",
    "/institutions",
    summary="Add an institution",
    tag=TAG,
    role="coordinator",
    body=InstitutionIn,
    response=InstitutionOut,
    status=201,
)
def institutions_create(caller: Caller, body: dict) -> Response:
    with services().db.write() as session:
        institution = create_institution(
            session, body, actor=caller, home_country=services().home_country
        )
        data = renderer(services().home_country)(institution)
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/institutions/{data['id']}")


@api.route(
    "GET",
    "/institutions/{institution_id}",
    summary="Read an institution",
    tag=TAG,
    role="viewer",
    response=InstitutionOut,
)
def institutions_read(caller: Caller, institution_id: int) -> Response:
    with services().db.session() as session:
        data = renderer(services().home_country)(
            get(session, Institution, institution_id, "institution")
        )
    return reply(data, version=data["version"])


def _changed(
    change: Callable[..., Institution], institution_id: int, *args: Any, **kwargs: Any
) -> Response:
    """Every change of one institution (edit, archive, unarchive, merge) is guarded by
    If-Match, written by its service in one transaction with the caller as actor and the
    server's home country, and answered alike: the institution as read, with its new
    version. One path, so that no change answers differently from another."""
    expected = expected_version()
    home_country = services().home_country
    with services().db.write() as session:
        institution = change(
            session,
            institution_id,
            *args,
            home_country=home_country,
            expected_version=expected,
            **kwargs,
        )
        data = renderer(home_country)(institution)
    return reply(data, version=data["version"])


@api.route(
    "PATCH",
    "/institutions/{institution_id}",
    summary="Change an institution",
    tag=TAG,
    role="coordinator",
    body=partial(InstitutionIn),
    response=InstitutionOut,
    if_match=True,
    hints={
        "archived_at": "read-only: POST .../archive or .../unarchive",
        "merged_into_id": "read-only: POST .../merge",
    },
)
def institutions_update(caller: Caller, institution_id: int, body: dict) -> Response:
    return _changed(update_institution, institution_id, body, actor=caller)


@api.route(
    "GET",
    "/institutions/{institution_id}/history",
    summary="An institution's changes",
    tag=TAG,
    role="viewer",
    response=History,
)
def institutions_history(caller: Caller, institution_id: int) -> Response:
    with services().db.session() as session:
        get(session, Institution, institution_id, "institution")
        return reply(
            {"events": [render_event(e) for e in history(session, "institution", institution_id)]}
        )


@api.route(
    "POST",
    "/institutions/{institution_id}/archive",
    summary="Archive an institution (it leaves lists and choices; its history stays)",
    tag=TAG,
    role="coordinator",
    response=InstitutionOut,
    if_match=True,
)
def institutions_archive(caller: Caller, institution_id: int) -> Response:
    return _changed(archive_institution, institution_id, actor=caller)


@api.route(
    "POST",
    "/institutions/{institution_id}/unarchive",
    summary="Bring an archived institution back",
    tag=TAG,
    role="coordinator",
    response=InstitutionOut,
    if_match=True,
)
def institutions_unarchive(caller: Caller, institution_id: int) -> Response:
    return _changed(archive_institution, institution_id, actor=caller, archived=False)


@api.route(
    "POST",
    "/institutions/{institution_id}/merge",
    summary="Merge a duplicate into another institution",
    tag=TAG,
    role="coordinator",
    body=MergeIn,
    response=InstitutionOut,
    if_match=True,
)
def institutions_merge(caller: Caller, institution_id: int, body: dict) -> Response:
    """Everything pointing at this institution (shipments, agreements, contacts, harvest
    sources) moves to `into`, in one transaction; `into`'s empty fields are filled from
    this one, which stays archived with `merged_into_id`. Answers with the survivor.
    If-Match is this institution's version."""
    return _changed(
        merge_institution,
        institution_id,
        body["into"],
        actor=caller,
        movers=services().institution_movers,
        into_version=body.get("into_version"),
    )


# ------------------------------------------------------------------ contacts

CONTACTS = "contacts"


@api.route(
    "GET",
    "/institutions/{institution_id}/contacts",
    summary="An institution's contact persons",
    tag=CONTACTS,
    role="viewer",
    response=ContactList,
)
def contacts_list(caller: Caller, institution_id: int) -> Response:
    with services().db.session() as session:
        get(session, Institution, institution_id, "institution")
        return reply({"items": [render_contact(c) for c in list_contacts(session, institution_id)]})


@api.route(
    "POST",
    "/institutions/{institution_id}/contacts",
    summary="Add a contact person",
    tag=CONTACTS,
    role="coordinator",
    body=ContactIn,
    response=ContactOut,
    status=201,
)
def contacts_create(caller: Caller, institution_id: int, body: dict) -> Response:
    with services().db.write() as session:
        data = render_contact(create_contact(session, institution_id, body, actor=caller))
    return reply(data, 201, version=data["version"], location=f"{PREFIX}/contacts/{data['id']}")


@api.route(
    "GET",
    "/contacts/{contact_id}",
    summary="Read a contact person",
    tag=CONTACTS,
    role="viewer",
    response=ContactOut,
)
def contacts_read(caller: Caller, contact_id: int) -> Response:
    with services().db.session() as session:
        data = render_contact(get(session, Contact, contact_id, "contact"))
    return reply(data, version=data["version"])


@api.route(
    "PATCH",
    "/contacts/{contact_id}",
    summary="Change a contact person",
    tag=CONTACTS,
    role="coordinator",
    body=partial(ContactIn),
    response=ContactOut,
    if_match=True,
)
def contacts_update(caller: Caller, contact_id: int, body: dict) -> Response:
    expected = expected_version()
    with services().db.write() as session:
        data = render_contact(
            update_contact(session, contact_id, body, actor=caller, expected_version=expected)
        )
    return reply(data, version=data["version"])


@api.route(
    "DELETE",
    "/contacts/{contact_id}",
    summary="Remove a contact person (the audit trail keeps what it held)",
    tag=CONTACTS,
    role="coordinator",
    status=204,
    if_match=True,
)
def contacts_delete(caller: Caller, contact_id: int) -> Response:
    expected = expected_version()
    with services().db.write() as session:
        delete_contact(session, contact_id, actor=caller, expected_version=expected)
    return Response(status=204)
