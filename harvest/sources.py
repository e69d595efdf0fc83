"""Managing harvest sources: the service behind `libfed sources ...` (and, later, the web)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.records.models import Record, RecordSet

from .aggregate import source_sets
from .intake import VERSION as INTAKE_VERSION
from .models import NAME_PATTERN, Run, ScheduledJob, Source

_NAME = re.compile(NAME_PATTERN)
_INTERVAL = re.compile(r"([0-9]+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SourceError(ValueError):
    """A source cannot be saved as asked; the message says why."""


def interval_seconds(text: str) -> int:
    """'6h' -> 21600; units s, m, h, d."""
    match = _INTERVAL.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise SourceError(f"{text!r} is not an interval such as 30m, 6h or 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def interval_text(seconds: int) -> str:
    """21600 -> '6h': the largest unit that divides the interval, as it was typed."""
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _check_base_url(base_url: str) -> None:
    if not re.fullmatch(r"https?://[^\s?#]+", base_url):
        raise SourceError(f"{base_url!r} is not an http(s) base URL without query")


def add_source(
    session: Session,
    name: str,
    base_url: str,
    prefix: str = "oai_dc",
    sets: list[str] | None = None,
    every_seconds: int | None = None,
    cron: str | None = None,
    institution_id: int | None = None,
) -> Source:
    if not _NAME.fullmatch(name):
        raise SourceError(f"{name!r} is not a source name (letters, digits, '_', '.', '-')")
    _check_base_url(base_url)
    if every_seconds and cron:
        raise SourceError("a source has an interval or a cron schedule, not both")
    if cron is not None:
        try:
            CronTrigger.from_crontab(cron)
        except ValueError as error:
            raise SourceError(f"{cron!r} is not a cron expression: {error}") from None
    if session.scalar(select(Source.id).where(Source.name == name)) is not None:
        raise SourceError(f"a source named {name!r} exists already")
    if institution_id is not None and session.get(Institution, institution_id) is None:
        raise SourceError(f"no institution has the id {institution_id}")
    source = Source(
        name=name,
        base_url=base_url,
        prefix=prefix,
        sets=sets or [],
        every_seconds=every_seconds,
        cron=cron,
        enabled=True,
        institution_id=institution_id,
        intake_version=INTAKE_VERSION,  # nothing stored yet that older rules let in
    )
    session.add(source)
    session.flush()
    return source


def move_source(session: Session, name: str, base_url: str) -> None:
    """Harvest `name` from `base_url` from now on: an operator's answer to a provider that
    redirected us to another host, which the harvester never follows by itself. The
    source keeps its records, its state and its schedule."""
    _check_base_url(base_url)
    source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if source is None:
        raise SourceError(f"no source is named {name!r}")
    source.base_url, source.parked_until = base_url, None


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
        raise SourceError(f"no source is named {name!r}")


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


def base_urls(session: Session) -> list[str]:
    """The base URLs of the sources whose last finished run went through the whole list,
    for the friends description of Identify: harvesters follow these addresses, and a
    source that fails, redirects elsewhere or was never harvested is no friend to offer."""
    finished = (
        select(func.max(Run.id))
        .where(Run.status != "running")
        .group_by(Run.source_id)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            select(Source.base_url)
            .join(Run, Run.source_id == Source.id)
            .where(Run.id.in_(finished), Run.status == "succeeded")
            .distinct()
            .order_by(Source.base_url)
        )
    )


def records_held(session: Session, names: list[str]) -> dict[str, int]:
    """Live (not deleted) records harvested from each named source, by its `source:<name>`
    set: one grouped read of the set-membership index, cheap enough for a list page."""
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
    """Source name -> next scheduled run (naive UTC), as the scheduler last stored it.

    Only sources the scheduler has a job for appear: none while no scheduler has run.
    """
    rows = session.execute(
        select(ScheduledJob.id, ScheduledJob.next_run_time).where(
            ScheduledJob.id.like("source:%"), ScheduledJob.next_run_time.is_not(None)
        )
    ).all()
    return {
        job_id.removeprefix("source:"): datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
        for job_id, stamp in rows
    }


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
