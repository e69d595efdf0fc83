"""/api/v1/institutions: partners and source owners, read by viewers, written by coordinators."""

from __future__ import annotations

from flask import Response, current_app
from pydantic import BaseModel

from libfed.kernel.api import PREFIX, Api, database, expected_version, page_reply, partial, reply
from libfed.kernel.audit import History, history, render_event
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get

from .institutions import (
    InstitutionIn,
    InstitutionOut,
    InstitutionQuery,
    create_institution,
    list_institutions,
    renderer,
    update_institution,
)
from .models import Institution

api = Api("institutions")
TAG = "institutions"


class InstitutionPage(BaseModel):
    items: list[InstitutionOut]
    total: int
    page: int
    per_page: int


def _home() -> str:
    return current_app.config["LIBFED"].exchange.home_country


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
    render = renderer(_home())
    with database().session() as session:
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
    with database().write() as session:
        institution = create_institution(session, body, actor=caller, home_country=_home())
        data = renderer(_home())(institution)
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
    with database().session() as session:
        data = renderer(_home())(get(session, Institution, institution_id, "institution"))
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
    with database().write() as session:
        institution = update_institution(
            session,
            institution_id,
            body,
            actor=caller,
            home_country=_home(),
            expected_version=expected,
        )
        data = renderer(_home())(institution)
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
    with database().session() as session:
        get(session, Institution, institution_id, "institution")
        return reply(
            {"events": [render_event(e) for e in history(session, "institution", institution_id)]}
        )
