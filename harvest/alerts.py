"""What the operators are told of a finished run: its alerts, kept on the run
(`Run.alerts`) for its page and for the digest that mails them (`harvest.digest`).

A run is judged once, when it ends (`note_alerts`, called by `harvest.run` and by
whoever else ends a run); the digest judges the runs nobody judged (a process that died
left its run failed, a reconciliation ended elsewhere). An empty list means judged and
nothing to tell; None, not judged yet.

The alerts, each a `{kind, message}` with the figures it was made from:
- failed, partial, parked: the run did not complete, with its last error as the reason;
  reconcile_failed: the same for a reconciliation (`Run.kind == 'reconcile'`). A run
  parked after a parked run is not news (while parked, a run asks nothing);
- dropped: the source holds more than `[harvest] alert_drop_percent` fewer live records
  than after its last complete run. Measured on what is held here (records added and
  deleted by the runs since, against the live count now), not on the provider's
  completeListSize: an incremental run lists only what changed, and a provider that
  silently drops records shows as the tombstones its reconciliation makes. Raised by the
  run that deleted, not again by a later run that deleted nothing more;
- slow: the complete run took more than `alert_slow_factor` times the median of the last ten
  complete runs of its kind (with three at least), and a minute more than that median:
  a run of two seconds that takes seven is noise, not news;
- quarantine: the run quarantined records, more than the previous run of its kind did.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.errors import N_

from .models import Run, Source
from .sources import records_held
from .states import RunStatus

log = logging.getLogger(__name__)

# The complete runs a run's length is compared with, and how many are needed at least.
SLOW_HISTORY = 10
SLOW_MIN_HISTORY = 3
# Below this much more than usual, a slower run is not worth a mail.
SLOW_MIN_EXTRA_SECONDS = 60
# The digest judges the unjudged runs that ended this recently (older ones, from before
# alerts existed, are history, not news).
UNJUDGED_WINDOW = timedelta(days=1)

RECONCILE = "reconcile"
NOT_COMPLETED = (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.PARKED)

# Each kind of alert as people read it (msgids, translated where shown); the English
# `message` stored with an alert is the same text with its figures.
TEXTS = {
    "failed": N_("The harvest failed: %(reason)s"),
    "partial": N_("The harvest stopped before the end of the list: %(reason)s"),
    "parked": N_("The provider asked to come back later: %(reason)s"),
    "reconcile_failed": N_("The reconciliation did not complete: %(reason)s"),
    "dropped": N_(
        "The source's records fell from %(before)s to %(now)s (%(percent)s fewer) "
        "since its last complete run"
    ),
    "slow": N_("The run took %(duration)s, usually %(usual)s"),
    "quarantine": N_("Records quarantined: %(num)s (the run before: %(previous)s)"),
}


@dataclass(frozen=True)
class Words:
    """How one language writes an alert: its catalogue and its numbers, percentages and
    durations (the page's from Flask-Babel, a mail's from its language's catalogue)."""

    gettext: Callable[[str], str]
    number: Callable[[int], str]
    percent: Callable[[float], str]
    duration: Callable[[timedelta], str]


def describe(alert: dict[str, object], words: Words) -> str:
    """An alert in the language of `words`; one of an unknown kind as it was stored."""
    kind = str(alert.get("kind"))
    if kind not in TEXTS:
        return str(alert.get("message", kind))
    return words.gettext(TEXTS[kind]) % _figures(alert, words)


def _figures(alert: dict[str, object], words: Words) -> dict[str, str]:
    def count(key: str) -> str:
        return words.number(int(alert.get(key, 0)))  # type: ignore[call-overload]

    def seconds(key: str) -> str:
        return words.duration(timedelta(seconds=float(alert.get(key, 0))))  # type: ignore[arg-type]

    return {
        "reason": str(alert.get("reason", "")),
        "before": count("before"),
        "now": count("now"),
        "percent": words.percent(float(alert.get("percent", 0)) / 100),  # type: ignore[arg-type]
        "duration": seconds("seconds"),
        "usual": seconds("usual_seconds"),
        "num": count("quarantined"),
        "previous": count("previous"),
    }


ENGLISH = Words(
    gettext=lambda text: text,
    number=lambda value: f"{value:,}",
    percent=lambda share: f"{share:.0%}",
    duration=lambda span: f"{span.total_seconds():,.0f} s",
)


def _alert(kind: str, **figures: object) -> dict[str, object]:
    alert: dict[str, object] = {"kind": kind, **figures}
    alert["message"] = describe(alert, ENGLISH)
    return alert


def _earlier(run: Run, *conditions: ColumnElement[bool]) -> Select[tuple[Run]]:
    """The source's finished runs before `run` meeting `conditions`, newest first."""
    return (
        select(Run)
        .where(
            Run.source_id == run.source_id,
            Run.id < run.id,
            Run.finished_at.is_not(None),
            *conditions,
        )
        .order_by(Run.id.desc())
    )


def alerts_of(session: Session, config: Config, run: Run) -> list[dict[str, object]]:
    """The alerts of the finished `run`, judged against the source's earlier runs."""
    from .run import run_seconds  # here: a run imports this module to judge itself

    found: list[dict[str, object]] = []
    kind = run.kind or "harvest"
    previous = session.scalars(_earlier(run, Run.kind == kind).limit(1)).first()
    # A source parked for hours is told once: the runs due meanwhile ask nothing.
    again_parked = run.status == RunStatus.PARKED and previous and previous.status == run.status
    if run.status in NOT_COMPLETED and not again_parked:
        reason = run.errors[-1]["message"] if run.errors else ""
        found.append(_alert("reconcile_failed" if kind == RECONCILE else run.status, reason=reason))
    dropped = _dropped(session, config, run)
    if dropped:
        found.append(dropped)
    if run.status == RunStatus.SUCCEEDED:
        usual = [
            run_seconds(r) or 0.0
            for r in session.scalars(
                _earlier(run, Run.status == RunStatus.SUCCEEDED, Run.kind == kind).limit(
                    SLOW_HISTORY
                )
            )
        ]
        took = run_seconds(run) or 0.0
        if len(usual) >= SLOW_MIN_HISTORY:
            median = statistics.median(usual)
            if took > config.harvest.alert_slow_factor * median and (
                took - median >= SLOW_MIN_EXTRA_SECONDS
            ):
                found.append(_alert("slow", seconds=round(took, 1), usual_seconds=median))
    if kind != RECONCILE and run.quarantined > (previous.quarantined if previous else 0):
        found.append(
            _alert(
                "quarantine",
                quarantined=run.quarantined,
                previous=previous.quarantined if previous else 0,
            )
        )
    return found


def _dropped(session: Session, config: Config, run: Run) -> dict[str, object] | None:
    """The `dropped` alert, if this run deleted records and the source now holds more
    than the threshold fewer than after its last complete run."""
    if run.deleted <= run.added:
        return None
    complete = session.scalar(
        select(func.max(Run.id)).where(
            Run.source_id == run.source_id, Run.id < run.id, Run.status == RunStatus.SUCCEEDED
        )
    )
    if complete is None:
        return None
    added, deleted = session.execute(
        select(
            func.coalesce(func.sum(Run.added), 0), func.coalesce(func.sum(Run.deleted), 0)
        ).where(Run.source_id == run.source_id, Run.id > complete, Run.id <= run.id)
    ).one()
    name = session.get_one(Source, run.source_id).name
    now = records_held(session, [name]).get(name, 0)
    before = now + deleted - added
    lost = before - now
    if before <= 0 or lost * 100 <= config.harvest.alert_drop_percent * before:
        return None
    return _alert("dropped", before=before, now=now, percent=round(lost * 100 / before, 1))


def note_alerts(db: Database, config: Config, run_id: int) -> None:
    """Judge the finished run `run_id` and keep its alerts on it. Never raises: a run
    that ended must end whatever its judging meets (it is logged, and the digest
    judges the run again)."""
    try:
        with db.write() as session:
            run = session.get(Run, run_id)
            if run is not None and run.status != RunStatus.RUNNING:
                run.alerts = alerts_of(session, config, run)
    except Exception:
        log.exception("the alerts of harvest run %s could not be judged", run_id)


def note_unjudged(db: Database, config: Config) -> int:
    """Judge the runs that ended lately without being judged; how many there were."""
    since = clock.utc_now() - UNJUDGED_WINDOW
    with db.session() as session:
        ids = list(
            session.scalars(
                select(Run.id)
                .where(
                    Run.alerts.is_(None),
                    Run.status != RunStatus.RUNNING,
                    Run.finished_at >= since,
                )
                .order_by(Run.id)
            )
        )
    for run_id in ids:
        note_alerts(db, config, run_id)
    return len(ids)


def alert_text(alert: dict[str, object]) -> str:
    """An alert in the page's language: the pages' global (harvest.install)."""
    from flask_babel import format_decimal, format_percent, format_timedelta, gettext

    return describe(
        alert,
        Words(
            gettext=gettext,
            number=format_decimal,
            percent=format_percent,
            duration=format_timedelta,
        ),
    )
