"""/api/v1/harvest: a source's runs, what each run changed, and the statistics of what is
harvested. Read-only, for any signed-in role, as the harvesting pages are (a viewer's
token reads them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.kernel.api import Api, page_reply, reply
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Message, NotFound
from libfed.kernel.paging import PageQuery, paginate
from libfed.kernel.services import services

from .changes import KINDS, changes_of, listed_counts, run_totals
from .models import Run, Source
from .run import run_seconds
from .statistics import all_counts, source_counts

api = Api("harvest")
TAG = "harvesting"


# ------------------------------------------------------------------ models


class RunError(BaseModel):
    url: str
    message: str


class RunOut(BaseModel):
    id: int
    source: str
    kind: str = Field(description="harvest, or reconcile (identifiers compared with ours)")
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None = Field(description="How long it took; null while it goes")
    requests: int
    pages: int
    added: int
    changed: int
    deleted: int
    quarantined: int
    repaired: int
    errors: int = Field(description="Faults survived and the one that ended it, if any")


class RunDetail(RunOut):
    error_log: list[RunError]
    listed: dict[str, int] = Field(
        description="Changes of each kind the run lists (GET .../changes): at most 10,000 "
        "each, and only for a source's last runs; the counts above count every record"
    )


class RunPage(BaseModel):
    items: list[RunOut]
    total: int
    page: int
    per_page: int


class FieldChange(BaseModel):
    field: str = Field(description="A Dublin Core element: title, creator, date, ...")
    before: list[str]
    after: list[str]


class ChangeOut(BaseModel):
    identifier: str = Field(description="The record's OAI identifier here")
    change: Literal["added", "changed", "deleted", "quarantined"]
    fields: list[FieldChange] = Field(description="For a changed record: what changed")


class ChangePage(BaseModel):
    items: list[ChangeOut]
    total: int
    page: int
    per_page: int


class ChangeQuery(PageQuery):
    change: Literal["added", "changed", "deleted", "quarantined"] | None = None


class Count(BaseModel):
    value: str
    records: int


class Breakdown(BaseModel):
    values: list[Count] = Field(description="The most common values, most records first")
    other: int = Field(description="Records with a value not listed")
    unknown: int = Field(description="Records without one")


class SourceStatistics(BaseModel):
    records: int = Field(description="Live records (tombstones are not counted)")
    formats: Breakdown = Field(description="Metadata formats each record is served in")
    languages: Breakdown = Field(description="As catalogued (ISO 639-2: aze, rus, uzb)")
    years: Breakdown
    types: Breakdown = Field(description="The first dc:type (MARC: the leader's type)")


class NamedStatistics(SourceStatistics):
    name: str


class Statistics(BaseModel):
    total: SourceStatistics
    sources: list[NamedStatistics]


# ------------------------------------------------------------------ helpers


def source_named(session: Session, name: str) -> Source:
    """The source `name`; NotFound (a 404, on a page or in the API) if there is none."""
    found = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if found is None:
        raise NotFound(Message("no harvest source named {name!r}", name=name))
    return found


def _run(session: Session, run_id: int) -> tuple[Run, str]:
    found = session.get(Run, run_id)
    if found is None:
        raise NotFound(Message("no harvest run {run_id}", run_id=run_id))
    return found, session.get_one(Source, found.source_id).name


def run_json(run: Run, source: str) -> dict[str, object]:
    totals = run_totals(run)
    return {
        "id": run.id,
        "source": source,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at.isoformat() + "Z",
        "finished_at": run.finished_at.isoformat() + "Z" if run.finished_at else None,
        "seconds": run_seconds(run),
        "requests": run.requests,
        "pages": run.pages,
        **{str(kind): n for kind, n in totals.items()},
        "repaired": run.repaired,
        "errors": len(run.errors or []),
    }


# ------------------------------------------------------------------ operations


@api.route(
    "GET",
    "/harvest/sources/{name}/runs",
    summary="A source's runs, newest first",
    tag=TAG,
    role="viewer",
    query=PageQuery,
    response=RunPage,
)
def source_runs(caller: Caller, name: str, query: PageQuery) -> Response:
    with services().db.session() as session:
        found = source_named(session, name)
        runs, total = paginate(
            session, select(Run).where(Run.source_id == found.id).order_by(Run.id.desc()), query
        )
        return page_reply([run_json(r, found.name) for r in runs], total, query)


@api.route(
    "GET",
    "/harvest/runs/{run_id}",
    summary="A run: its status, counts and errors",
    tag=TAG,
    role="viewer",
    response=RunDetail,
)
def run_read(caller: Caller, run_id: int) -> Response:
    with services().db.session() as session:
        found, source = _run(session, run_id)
        listed = listed_counts(session, run_id)
    return reply(
        run_json(found, source)
        | {"error_log": list(found.errors or []), "listed": {str(k): listed[k] for k in KINDS}}
    )


@api.route(
    "GET",
    "/harvest/runs/{run_id}/changes",
    summary="What a run changed, record by record",
    tag=TAG,
    role="viewer",
    query=ChangeQuery,
    response=ChangePage,
)
def run_changes(caller: Caller, run_id: int, query: ChangeQuery) -> Response:
    """In the order the run met them; a changed record with its Dublin Core fields before
    and after (values cut to 500 characters, at most 50 fields)."""
    with services().db.session() as session:
        _run(session, run_id)
        items, total = changes_of(
            session, run_id, query.change, (query.page - 1) * query.per_page, query.per_page
        )
    return page_reply(
        [{"identifier": c.identifier, "change": c.change, "fields": c.fields} for c in items],
        total,
        query,
    )


@api.route(
    "GET",
    "/harvest/statistics",
    summary="Live harvested records by format, language, year and type: in all and per source",
    tag=TAG,
    role="viewer",
    response=Statistics,
)
def statistics(caller: Caller) -> Response:
    """Each breakdown names its 50 most common values; `other` counts the rest."""
    with services().db.session() as session:
        per_source, total = all_counts(session)
    return reply(
        {
            "total": total.as_json(),
            "sources": [{"name": name} | c.as_json() for name, c in per_source.items()],
        }
    )


@api.route(
    "GET",
    "/harvest/sources/{name}/statistics",
    summary="A source's live records by format, language, year and type",
    tag=TAG,
    role="viewer",
    response=SourceStatistics,
)
def source_statistics(caller: Caller, name: str) -> Response:
    with services().db.session() as session:
        source_named(session, name)
        counts = source_counts(session, name)
    return reply(counts.as_json())
