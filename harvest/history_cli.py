"""`libfed harvest-changes RUN` and `libfed harvest-stats [SOURCE]`: what a run changed and
what is harvested, for an operator's terminal or a script (--json: as the API gives them).

Apart from `libfed harvest NAMES...`, whose arguments are source names, and importing
what it uses when it runs, as harvest.cli does.
"""

from __future__ import annotations

import json

import click

from libfed.kernel.cli import Context, pass_context


@click.command("harvest-changes")
@click.argument("run_id", type=click.IntRange(1, 2**31 - 1))
@click.option(
    "--change",
    metavar="KIND",
    help="Only changes of this kind: added, changed, deleted, quarantined.",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def changes_command(
    context: Context, run_id: int, change: str | None, limit: int, as_json: bool
) -> None:
    """List what run RUN_ID changed, record by record, a changed record with its Dublin
    Core fields before and after."""
    from .changes import KINDS, changes_of, listed_counts, run_totals, unlisted
    from .models import Run

    if change is not None and change not in KINDS:
        raise click.BadParameter(f"one of {', '.join(KINDS)}", param_hint="--change")
    with context.migrated_db().session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise click.ClickException(f"no harvest run {run_id}")
        items, total = changes_of(session, run_id, change, 0, limit)
        totals = {str(k): n for k, n in run_totals(run).items()}
        left_out = unlisted(totals, listed_counts(session, run_id))
    for item in items:
        if as_json:
            record = {"identifier": item.identifier, "change": item.change, "fields": item.fields}
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        click.echo(f"{item.change}\t{item.identifier}")
        for field in item.fields:
            click.echo(f"\t{field['field']}: {field['before']!r} -> {field['after']!r}")
    if not as_json:
        counts = ", ".join(f"{kind} {n}" for kind, n in totals.items())
        click.echo(f"run {run_id}: {counts}; {min(total, limit)} of {total} listed here", err=True)
        if left_out:
            click.echo(f"{left_out} change(s) not kept (bounds of harvest.changes)", err=True)


@click.command("harvest-stats")
@click.argument("source", required=False)
@pass_context
def stats_command(context: Context, source: str | None) -> None:
    """Print the statistics of harvested records as JSON: of SOURCE, or in all and per
    source (as GET /api/v1/harvest/statistics)."""
    from sqlalchemy import select

    from .models import Source
    from .statistics import all_counts, source_counts

    with context.migrated_db().session() as session:
        if source is not None:
            if session.scalar(select(Source.id).where(Source.name == source)) is None:
                raise click.ClickException(f"no harvest source named {source!r}")
            document = source_counts(session, source).as_json()
        else:
            per_source, total = all_counts(session)
            document = {
                "total": total.as_json(),
                "sources": [{"name": n} | c.as_json() for n, c in per_source.items()],
            }
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
