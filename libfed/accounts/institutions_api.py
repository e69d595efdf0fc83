"""/api/v1/institutions: partners and source owners, read by viewers, written by coordinators."""

from __future__ import annotations

from flask import Response

from libfed.kernel.api import PREFIX, Api, expected_version, page_reply, partial, reply
from libfed.kernel.audit import History, history, render_event
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.services import services

from .institutions import create_institution, list_institutions, renderer, update_institution
from .models import Institution
from .schemas import InstitutionIn, InstitutionOut, InstitutionPage, InstitutionQuery

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


@api.route(
    "PATCH",
    "/institutions/{institution_id}",
    summary="Change an institution",
    tag=TAG,
    role="coordinator",
    body=partial(InstitutionIn),
    response=InstitutionOut,
    if_match=True,
)
def institutions_update(caller: Caller, institution_id: int, body: dict) -> Response:
    expected = expected_version()
    with services().db.write() as session:
        institution = update_institution(
            session,
            institution_id,
            body,
            actor=caller,
            home_country=services().home_country,
            expected_version=expected,
        )
        data = renderer(services().home_country)(institution)
    return reply(data, version=data["version"])


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
