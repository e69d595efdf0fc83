"""Managing harvest sources: the service behind `libfed sources ...` and the pages.

What a source may be is `harvest.schemas`' to say; what it may not do here (take a
name in use, belong to an institution that does not exist, be found by a name no
source has) is refused in the services' terms (`libfed.kernel.errors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ScalarSelect, delete, func, select, update
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.kernel.callers import Caller
from libfed.kernel.editing import validated
from libfed.kernel.errors import Conflict, Invalid, Message, NotFound
from libfed.records.models import Record, RecordSet

from .models import Run, ScheduledJob, Source
from .schemas import MASK, UNIT_SECONDS, SourceIn, SourceMove, header_line
from .states import RunStatus


def interval_text(seconds: int) -> str:
    """21600 -> '6h': the largest unit that divides the interval, as it was typed."""
    for unit in ("d", "h", "m"):
        if seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _no_source(name: str) -> NotFound:
    return NotFound(Message("no source is named {name!r}", name=name))


def source_named(session: Session, name: str) -> Source:
    source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if source is None:
        raise _no_source(name)
    return source


def masked_headers(headers: Mapping[str, str] | None) -> list[str]:
    """The source's headers as the pages and `libfed sources show` write them: names with
    their values masked, since a header is how a provider's API key travels."""
    return [f"{name}: {MASK}" for name in headers or {}]


def _parsed(line: str) -> tuple[str, str] | None:
    """A header line's name and value; None for a line that is no header, which the
    check refuses with the other fields."""
    try:
        return header_line(line)
    except ValueError:
        return None


def unmasked(lines: Iterable[str], stored: Mapping[str, str] | None) -> list[str]:
    """Header lines as typed, a masked value replaced by the one stored under its name
    (names compared as HTTP does, ignoring case): the edit form shows values masked, and
    saving it unchanged must not replace a key with asterisks. A masked value for a name
    not stored stays, for the check to refuse."""
    known = {name.lower(): value for name, value in (stored or {}).items()}
    kept = []
    for line in lines:
        parsed = _parsed(line)
        if parsed and parsed[1] == MASK and parsed[0].lower() in known:
            line = f"{parsed[0]}: {known[parsed[0].lower()]}"
        kept.append(line)
    return kept


def headers_changed(
    stored: Mapping[str, str] | None, given: Iterable[str], removed: Iterable[str]
) -> list[str]:
    """The command line's change of a source's headers: `given` lines (`Name: value`)
    added or replacing the one of that name, `removed` names taken away (Invalid when none
    is stored under one); the others stay."""
    given, removed = list(given), list(removed)
    names = {name.lower() for name in stored or {}}
    unknown = [name for name in removed if name.lower() not in names]
    if unknown:
        raise Invalid(
            {"removed_headers": Message("the source sends no header {name}", name=unknown[0][:80])}
        )
    replaced = {name.lower() for name in removed}
    replaced |= {parsed[0].lower() for parsed in map(_parsed, given) if parsed}
    kept = [f"{n}: {v}" for n, v in (stored or {}).items() if n.lower() not in replaced]
    return kept + given


def add_source(session: Session, name: str, base_url: str, **fields: object) -> Source:
    """Add the source `name`, harvested from `base_url`; `fields` are SourceIn's others
    (prefix, sets, every_seconds, cron, institution_id, the per-source settings). Invalid
    or Conflict when it cannot be added as asked."""
    from .intake import VERSION as INTAKE_VERSION  # here: parsers are not needed to list

    values = validated(SourceIn, {"name": name, "base_url": base_url, **fields})
    if session.scalar(select(Source.id).where(Source.name == name)) is not None:
        raise Conflict(Message("a source named {name!r} exists already", name=name))
    _check_institution(session, values.institution_id)
    source = Source(
        **values.model_dump(),
        intake_version=INTAKE_VERSION,  # nothing stored yet that older rules let in
    )
    session.add(source)
    session.flush()
    return source


def _check_institution(session: Session, institution_id: int | None) -> None:
    if institution_id is not None and session.get(Institution, institution_id) is None:
        raise Invalid(
            {"institution_id": Message("no institution has the id {id}", id=institution_id)}
        )


def edit_source(session: Session, name: str, **fields: object) -> Source:
    """Change the source `name`: `fields` (SourceIn's, but its name) replace its values
    and the result is checked as a new source is, so an edit cannot make a source the
    CLI would refuse (an interval and a cron at once). The name stays: the records'
    `source:<name>` set and the scheduler's job are named after it. Headers given as
    lines replace the stored ones, a masked value keeping its stored value (`unmasked`)."""
    source = source_named(session, name)
    if isinstance(fields.get("headers"), list):  # lines as typed, values perhaps masked
        fields["headers"] = unmasked(fields["headers"], source.headers)  # type: ignore[arg-type]
    current = {field: getattr(source, field) for field in SourceIn.model_fields}
    values = validated(SourceIn, {**current, **fields, "name": name})
    _check_institution(session, values.institution_id)
    schedule = (source.every_seconds, source.cron, source.enabled)
    for field, value in values.model_dump().items():
        setattr(source, field, value)
    if (source.every_seconds, source.cron, source.enabled) != schedule:
        source.due_at = None  # the queue's workers count it again (harvest.queue)
    session.flush()
    return source


def move_source(session: Session, name: str, base_url: str) -> None:
    """Harvest `name` from `base_url` from now on: an operator's answer to a provider that
    redirected us to another host, which the harvester never follows by itself. The
    source keeps its records, its state and its schedule."""
    moved = validated(SourceMove, {"base_url": base_url})
    source = source_named(session, name)
    source.base_url, source.parked_until = moved.base_url, None


def moved_to(session: Session, source_id: int) -> str | None:
    """Where the provider sent the source's last run, if it stopped on a redirect to
    another host."""
    run = session.scalars(
        select(Run).where(Run.source_id == source_id).order_by(Run.id.desc()).limit(1)
    ).one_or_none()
    return next((e["moved_to"] for e in (run.errors if run else []) if "moved_to" in e), None)


def remove_source(session: Session, name: str) -> None:
    """Remove a source and its state and runs; its harvested records stay served."""
    removed = session.execute(delete(Source).where(Source.name == name)).rowcount
    if not removed:
        raise _no_source(name)


@dataclass(frozen=True)
class SourceSummary:
    source: Source
    last_run: Run | None


def list_sources(session: Session) -> list[SourceSummary]:
    latest = (
        select(Run.source_id, func.max(Run.id).label("run_id")).group_by(Run.source_id).subquery()
    )
    rows = session.execute(
        select(Source, Run)
        .outerjoin(latest, latest.c.source_id == Source.id)
        .outerjoin(Run, Run.id == latest.c.run_id)
        .order_by(Source.name)
    ).all()
    return [SourceSummary(source, run) for source, run in rows]


def source_names(session: Session) -> list[str]:
    return list(session.scalars(select(Source.name).order_by(Source.name)))


def _last_finished_runs() -> ScalarSelect[int]:
    """The id of each source's last finished run: what its state is judged by (a run
    still going says nothing yet)."""
    return (
        select(func.max(Run.id))
        .where(Run.status != RunStatus.RUNNING)
        .group_by(Run.source_id)
        .scalar_subquery()
    )


def base_urls(session: Session) -> list[str]:
    """The base URLs of the sources whose last finished run went through the whole list,
    for the friends description of Identify: harvesters follow these addresses, and a
    source that fails, redirects elsewhere or was never harvested is no friend to offer."""
    return list(
        session.scalars(
            select(Source.base_url)
            .join(Run, Run.source_id == Source.id)
            .where(Run.id.in_(_last_finished_runs()), Run.status == RunStatus.SUCCEEDED)
            .distinct()
            .order_by(Source.base_url)
        )
    )


def records_held(session: Session, names: list[str]) -> dict[str, int]:
    """Live (not deleted) records harvested from each named source, by its `source:<name>`
    set: one grouped read of the set-membership index, cheap enough for a list page."""
    from .aggregate import source_sets  # here: the renderers are not needed to list

    specs = {source_sets(name)[1]: name for name in names}
    if not specs:
        return {}
    rows = session.execute(
        select(RecordSet.set_spec, func.count())
        .join(Record, Record.id == RecordSet.record_id)
        .where(RecordSet.set_spec.in_(specs), Record.deleted.is_(False))
        .group_by(RecordSet.set_spec)
    ).all()
    return {specs[spec]: count for spec, count in rows}


def next_runs(session: Session) -> dict[str, datetime]:
    """Source name -> next scheduled run (naive UTC), as the scheduler last stored it, or
    as the harvest queue holds it (`Source.due_at`).

    Only sources a scheduler has a job for, or the queue a due time, appear: none while
    neither has run.
    """
    rows = session.execute(
        select(ScheduledJob.id, ScheduledJob.next_run_time).where(
            ScheduledJob.id.like("source:%"), ScheduledJob.next_run_time.is_not(None)
        )
    ).all()
    scheduled = {
        job_id.removeprefix("source:"): datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
        for job_id, stamp in rows
    }
    # With the harvest queue, workers take a source when its due time comes.
    queued = session.execute(
        select(Source.name, Source.due_at).where(Source.due_at.is_not(None), Source.enabled)
    ).all()
    return {**dict(queued), **scheduled}


def holders(session: Session, names: Iterable[str]) -> dict[str, str]:
    """Source name -> the institution holding its records (its name, or the source's own
    name when no institution is linked), for the holdings of the union catalogue search."""
    rows = session.execute(
        select(Source.name, Institution.name)
        .outerjoin(Institution, Institution.id == Source.institution_id)
        .where(Source.name.in_(set(names)))
    )
    return {source: institution or source for source, institution in rows}


def sources_of(session: Session, institution_id: int) -> list[str]:
    """The names of the sources harvesting an institution's catalogue."""
    return list(
        session.scalars(
            select(Source.name).where(Source.institution_id == institution_id).order_by(Source.name)
        )
    )


def move_institution(session: Session, duplicate_id: int, survivor_id: int, _actor: Caller) -> None:
    """A merged duplicate's sources harvest the survivor's catalogue (the hook
    libfed.kernel.services.MoveInstitution); sources are not audited, nor is this."""
    session.execute(
        update(Source)
        .where(Source.institution_id == duplicate_id)
        .values(institution_id=survivor_id)
    )


def failed_sources(session: Session) -> list[str]:
    """The enabled sources whose last finished run failed, for the dashboard to flag: a
    source that failed once and then succeeded needs nothing, and one switched off is
    not expected to be harvested. A partial run is not counted: the next run resumes it."""
    return list(
        session.scalars(
            select(Source.name)
            .join(Run, Run.source_id == Source.id)
            .where(
                Run.id.in_(_last_finished_runs()),
                Run.status == RunStatus.FAILED,
                Source.enabled.is_(True),
            )
            .order_by(Source.name)
        )
    )
