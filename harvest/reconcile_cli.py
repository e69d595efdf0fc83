"""`libfed harvest-reconcile NAME`: a source's ghost records found now (harvest.reconcile).

Apart from `libfed harvest NAMES...`, whose arguments are source names (a source may be
named `reconcile`), and importing what it uses when it runs, as harvest.cli does.
"""

from __future__ import annotations

import sys

import click

from libfed.kernel.cli import Context, pass_context


@click.command("harvest-reconcile")
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Delete even when the source lists nothing, or more than "
    "[harvest] reconcile_max_delete_percent of its records would go.",
)
@pass_context
def reconcile_command(context: Context, name: str, force: bool) -> None:
    """Compare the source NAME's identifiers with the records harvested from it: those it
    no longer lists become deletions (tombstones) here.

    Exits non-zero when the reconciliation did not complete (nothing is deleted then).
    """
    from .reconcile import reconcile_one_per_host
    from .run import SourceBusy
    from .states import RunStatus

    try:
        run = reconcile_one_per_host(context.migrated_db(), context.config, name, force=force)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    except SourceBusy as busy:
        raise click.ClickException(f"not reconciled now: {busy}") from None
    click.echo(f"{name}: {run.status}, {run.pages} pages, {run.requests} requests")
    for entry in run.errors:
        where = "" if not entry["url"] or entry["url"] in entry["message"] else f" ({entry['url']})"
        click.echo(f"  {entry['message']}{where}")
    if run.status != RunStatus.SUCCEEDED:
        sys.exit(1)
