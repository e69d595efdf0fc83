"""Pages of what harvesting did and holds: a run's changes (a section of the run's page),
a source's history drawn as charts of its runs, and the statistics of harvested records.

The charts are SVG made here, inline in the page (no script, no library): each has a
title and a description for screen readers, and the table under it holds every figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from libfed.kernel.api import serve
from libfed.kernel.services import services
from libfed.web.auth import page

from .api import api, source_named
from .models import Run, Source
from .run import run_seconds
from .statistics import TOP, Counts, all_counts, source_counts
from .web import duration, status_label

blueprint = Blueprint("harvest_history", __name__, template_folder="templates")

HISTORY_RUNS = 100  # the newest, drawn; older runs are in the source's list of runs


# ------------------------------------------------------------------ a source's history

WIDTH, HEIGHT = 600, 160
LEFT, RIGHT, TOP_GAP, BOTTOM = 8, 8, 12, 12


@dataclass(frozen=True)
class Chart:
    """One series of a source's runs, in SVG coordinates (viewBox WIDTH x HEIGHT)."""

    key: str
    title: str
    description: str
    points: list[tuple[float, float]]
    line: str  # the polyline's points
    maximum: float


def _x_positions(times: Sequence[datetime]) -> list[float]:
    """Each run placed by when it started; one run alone in the middle."""
    span = (times[-1] - times[0]).total_seconds() if times else 0
    inner = WIDTH - LEFT - RIGHT
    if span <= 0:
        return [LEFT + inner / 2 for _ in times]
    return [LEFT + inner * (t - times[0]).total_seconds() / span for t in times]


def chart(key: str, title: str, description: str, xs: list[float], values: list[float]) -> Chart:
    """A line through one point per run, the largest value at the top."""
    maximum = max(values, default=0) or 1
    inner = HEIGHT - TOP_GAP - BOTTOM
    points = [
        (round(x, 1), round(HEIGHT - BOTTOM - inner * v / maximum, 1))
        for x, v in zip(xs, values, strict=True)
    ]
    return Chart(key, title, description, points, " ".join(f"{x},{y}" for x, y in points), maximum)


def faults(run: Run) -> int:
    """What went wrong in a run: faults in its log and records quarantined."""
    return len(run.errors or []) + run.quarantined


@blueprint.get("/harvesting/<name>/history")
@page("viewer")
def history(name: str, caller) -> str:  # type: ignore[no-untyped-def]
    with services().db.session() as session:
        found = source_named(session, name)
        runs = list(
            reversed(
                session.scalars(
                    select(Run)
                    .where(Run.source_id == found.id, Run.finished_at.is_not(None))
                    .order_by(Run.id.desc())
                    .limit(HISTORY_RUNS)
                ).all()
            )
        )
    xs = _x_positions([r.started_at for r in runs])
    described = _(
        "One point per run, from the oldest on the left to the newest on the right; "
        "the table below holds every figure."
    )
    charts = [
        chart(
            "records",
            _("Records added, changed or deleted per run"),
            described,
            xs,
            [float(r.added + r.updated + r.deleted) for r in runs],
        ),
        chart(
            "duration",
            _("Duration of each run, in seconds"),
            described,
            xs,
            [run_seconds(r) or 0.0 for r in runs],
        ),
        chart(
            "faults",
            _("Faults and quarantined records per run"),
            described,
            xs,
            [float(faults(r)) for r in runs],
        ),
    ]
    return render_template(
        "harvest/history.html",
        source=found,
        runs=runs,
        charts=charts,
        faults=faults,
        duration=duration,
        status_label=status_label,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=RIGHT,
        bottom=BOTTOM,
        top_gap=TOP_GAP,
        most=HISTORY_RUNS,
    )


# ------------------------------------------------------------------ statistics


DIMENSIONS: dict[str, Callable[[], str]] = {
    "formats": lambda: _("Metadata formats"),
    "languages": lambda: _("Languages"),
    "years": lambda: _("Years"),
    "types": lambda: _("Types"),
}


def _statistics_page(
    counts: Counts, per_source: dict[str, Counts] | None, source: Source | None
) -> str:
    return render_template(
        "harvest/statistics.html",
        counts=counts,
        breakdowns=counts.breakdowns(TOP),
        dimensions={key: label() for key, label in DIMENSIONS.items()},
        per_source=per_source,
        source=source,
    )


@blueprint.get("/harvest-statistics")
@page("viewer")
def statistics(caller) -> str:  # type: ignore[no-untyped-def]
    with services().db.session() as session:
        per_source, total = all_counts(session)
    return _statistics_page(total, per_source, None)


@blueprint.get("/harvest-statistics/<name>")
@page("viewer")
def source_statistics(name: str, caller) -> str:  # type: ignore[no-untyped-def]
    with services().db.session() as session:
        found = source_named(session, name)
        counts = source_counts(session, name)
    return _statistics_page(counts, None, found)


def install_history(app: Flask) -> None:
    """The pages (reached from the harvesting pages, whose menu entry they share: the
    main menu must fit a phone) and the API's operations."""
    app.register_blueprint(blueprint)
    serve(app, api)
