"""The bulk paths' commands: `libfed export` (libfed.records.export) and `libfed dumps
make/list` (libfed.oai.dumps).

Here in the root rather than in the packages they call, because `libfed --help` reads
every top-level command's help and so imports the module that defines it: this one
imports click and the kernel's CLI context only, and each command imports what it uses
when it runs (tests/test_cli.py).
"""

from __future__ import annotations

import signal
import sys
from datetime import datetime
from pathlib import Path

import click

from libfed.kernel.cli import Context, pass_context

# Known without importing the engine, so that `libfed --help` stays light.
FORMAT_NAMES = ("marcxml", "mods", "oai_dc", "jsonl")


def _stop_on_terminate(_signal: int, _frame: object) -> None:
    """SIGTERM (a service manager, `kill`) ends the export as Ctrl-C does: the partial
    file is removed on the way out, not left beside the final one."""
    raise SystemExit(128 + signal.SIGTERM)


@click.command("export")
@click.option("--format", "name", type=click.Choice(FORMAT_NAMES), required=True)
@click.option("--set", "set_spec", metavar="SPEC", help="Only the members of this set.")
@click.option(
    "--from",
    "since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"]),
    help="Only records written since then (UTC, YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ).",
)
@click.option(
    "--include-deleted",
    is_flag=True,
    help="Deleted records too, marked as deleted (oai_dc and jsonl only).",
)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, writable=True))
@pass_context
def export_command(
    context: Context,
    name: str,
    set_spec: str | None,
    since: datetime | None,
    include_deleted: bool,
    file: str,
) -> None:
    """Write every record (or a set's) in one format to FILE ('-': standard output; a
    name ending in .gz is gzip-compressed), from the renderings /oai serves. The file
    appears under its name only once complete (docs/dumps.md)."""
    from libfed.records.export import ExportRefused, Selection, count, export, export_file
    from libfed.records.models import OAISet

    selection = Selection(set_spec, since, include_deleted)
    database = context.migrated_db()
    if set_spec is not None:
        with database.session() as session:
            if session.get(OAISet, set_spec) is None:
                raise click.BadParameter(f"no set {set_spec!r} here", param_hint="--set")
    try:
        total = count(database, name, selection)
    except ExportRefused as error:
        raise click.UsageError(str(error)) from None
    base_url = context.config.oai.base_url
    signal.signal(signal.SIGTERM, _stop_on_terminate)
    with click.progressbar(length=total, label=f"exporting {name}", file=sys.stderr) as bar:
        if file == "-":
            out = sys.stdout.buffer
            written = export(database, name, out, selection, base_url=base_url, progress=bar.update)
            out.flush()
            summary = f"{written:,} records written"
        else:
            try:
                done = export_file(
                    database, name, Path(file), selection, base_url=base_url, progress=bar.update
                )
            except OSError as error:  # no such folder, a full disk: nothing was left behind
                raise click.ClickException(f"cannot write {file}: {error.strerror}") from None
            summary = (
                f"{done.records:,} records written to {file} "
                f"({done.size:,} bytes, SHA-256 {done.sha256})"
            )
    click.echo(summary, err=True)


@click.group()
def dumps() -> None:
    """Whole-repository files served at /dumps/ (docs/dumps.md)."""


@dumps.command("make")
@pass_context
def make_command(context: Context) -> None:
    """Make a dump of every format of [dumps] formats now, whatever the schedule; exit
    status 1 when another process is making one."""
    from libfed.oai.dumps import DumpBusy, make_dump

    if context.config.dumps.directory is None:
        raise click.ClickException("no [dumps] directory is configured (config.example.toml)")
    try:
        dump = make_dump(context.config, context.migrated_db())
    except DumpBusy as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:  # the partial dump is removed by the next one
        raise click.ClickException(
            f"cannot write the dump in {context.config.dumps.directory}: {error.strerror}"
        ) from None
    click.echo(f"dump {dump.stamp} in {context.config.dumps.directory}:")
    for entry in dump.files:
        click.echo(f"  {entry.name}: {entry.records:,} records, {entry.size:,} bytes")


@dumps.command("list")
@pass_context
def list_command(context: Context) -> None:
    """The dumps kept, newest first, with their files' sizes and SHA-256."""
    from libfed.oai.dumps import dumps as listed

    for dump in listed(context.config):
        click.echo(f"{dump.stamp} (finished {dump.finished:%Y-%m-%d %H:%M:%S} UTC)")
        for entry in dump.files:
            click.echo(f"  {entry.name}: {entry.records:,} records, {entry.size:,} bytes")
            click.echo(f"    sha256 {entry.sha256}")
