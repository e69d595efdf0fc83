"""`libfed dumps make` / `libfed dumps list`: the dumps of `[dumps]` by hand (libfed.oai.dumps)."""

from __future__ import annotations

import click

from libfed.kernel.cli import Context, pass_context


@click.group()
def dumps() -> None:
    """Whole-repository files served at /dumps/ (docs/dumps.md)."""


@dumps.command("make")
@pass_context
def make_command(context: Context) -> None:
    """Make a dump of every format of [dumps] formats now, whatever the schedule; exit
    status 1 when another process is making one."""
    from .dumps import DumpBusy, make_dump

    if context.config.dumps.directory is None:
        raise click.ClickException("no [dumps] directory is configured (config.example.toml)")
    try:
        dump = make_dump(context.config, context.migrated_db())
    except DumpBusy as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"dump {dump.stamp} in {context.config.dumps.directory}:")
    for entry in dump.files:
        click.echo(f"  {entry.name}: {entry.records:,} records, {entry.size:,} bytes")


@dumps.command("list")
@pass_context
def list_command(context: Context) -> None:
    """The dumps kept, newest first, with their files' sizes and SHA-256."""
    from .dumps import dumps as listed

    for dump in listed(context.config):
        click.echo(f"{dump.stamp} (finished {dump.finished:%Y-%m-%d %H:%M:%S} UTC)")
        for entry in dump.files:
            click.echo(f"  {entry.name}: {entry.records:,} records, {entry.size:,} bytes")
            click.echo(f"    sha256 {entry.sha256}")
