"""The harvester's commands: `libfed sources ...`, `libfed harvest`, `libfed scheduler`
and `libfed db recheck`, which the root CLI registers (`libfed.root.cli`).

Each command imports what it uses when it runs: `libfed --help` reads this module for
the commands' help alone.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from libfed.kernel.cli import Context, pass_context, progress, refusal

if TYPE_CHECKING:
    from libfed.kernel.errors import ServiceError

    from .models import Source

ADD_ONE = "add one with `libfed sources add NAME BASE_URL`"
# What a provider needs of us (docs/harvesting.md): option -> the source's field. The
# values go to the service as typed, which checks them as it checks the pages' (a
# refusal exits 1); `none` clears a setting.
SETTINGS = {
    "delay": "request_delay_seconds",
    "mode": "mode",
    "window_days": "window_days",
    "timeout": "timeout_seconds",
    "contact": "contact_email",
    "reconcile_cron": "reconcile_cron",
}
_OPTIONS = {field: "--" + option.replace("_", "-") for option, field in SETTINGS.items()}
_OPTIONS |= {"headers": "--header", "removed_headers": "--remove-header"}
NONE = "none"


def _settings(function: Callable[..., Any]) -> Callable[..., Any]:
    """The per-source settings' options, alike on `sources add` and `sources edit`."""
    options = [
        click.option(
            "--delay",
            metavar="SECONDS",
            help="Wait this long between two requests (0 to 60, decimals allowed).",
        ),
        click.option(
            "--header",
            "headers",
            multiple=True,
            metavar="'NAME: VALUE'",
            help="Send this header with every request, e.g. an API key (repeatable, at most 10).",
        ),
        click.option(
            "--mode",
            type=click.Choice(["records", "identifiers"]),
            help="ListRecords, or ListIdentifiers and GetRecord per record (a broken ListRecords).",
        ),
        click.option(
            "--window-days",
            metavar="DAYS",
            help="Ask for this many days at a time (1 to 3650), for providers refusing long windows.",
        ),
        click.option(
            "--timeout",
            metavar="SECONDS",
            help="Connect and read timeout of its requests (1 to 600) instead of [harvest]'s.",
        ),
        click.option("--contact", metavar="EMAIL", help="Also told when the source fails."),
        click.option(
            "--reconcile-cron",
            metavar="EXPR",
            help="When its identifiers are compared with ours, as a cron expression.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _typed_settings(given: dict[str, str | None]) -> dict[str, object]:
    """The settings given on the command line, as the service takes them: a setting not
    given is left out (kept, on an edit), `none` is no value."""
    return {
        SETTINGS[option]: None if value.strip().lower() == NONE else value
        for option, value in given.items()
        if value is not None
    }


def _refused(error: ServiceError) -> click.ClickException:
    """A refusal as `refusal` words it, a setting's named by its option: "must be at least
    0" alone would not say which number was wrong."""
    from libfed.kernel.errors import Invalid

    if isinstance(error, Invalid):
        error = Invalid(
            {
                field: f"{_OPTIONS[field]}: {message}" if field in _OPTIONS else message
                for field, message in error.fields.items()
            }
        )
    return refusal(error, named=False)


def schedule_words(source: Source) -> str:
    """The source's schedule as the command line lists it: its cron, its interval as
    typed (6h), or manual."""
    from .sources import interval_text

    if source.cron:
        return source.cron
    return f"every {interval_text(source.every_seconds)}" if source.every_seconds else "manual"


@click.group()
def sources() -> None:
    """Partner catalogues harvested over OAI-PMH."""


@sources.command("add")
@click.argument("name")
@click.argument("base_url")
@click.option("--prefix", default="oai_dc", show_default=True, help="metadataPrefix to harvest.")
@click.option(
    "--set", "sets", multiple=True, metavar="SPEC", help="Harvest only this set (repeatable)."
)
@click.option("--every", metavar="INTERVAL", help="Harvest every INTERVAL (30m, 6h, 1d).")
@click.option("--cron", metavar="EXPR", help="Harvest on a cron schedule ('0 3 * * *').")
@click.option(
    "--institution", type=int, metavar="ID", help="The partner institution it belongs to."
)
@_settings
@pass_context
def sources_add(
    context: Context,
    name: str,
    base_url: str,
    prefix: str,
    sets: tuple[str, ...],
    every: str | None,
    cron: str | None,
    institution: int | None,
    headers: tuple[str, ...],
    **settings: str | None,
) -> None:
    """Add a source: NAME (letters, digits, _ . -) and its OAI-PMH BASE_URL."""
    from libfed.kernel.errors import ServiceError

    from .sources import add_source

    try:
        with context.migrated_db().write() as session:
            add_source(
                session,
                name,
                base_url,
                prefix=prefix,
                sets=list(sets),
                every_seconds=every,
                cron=cron,
                institution_id=institution,
                headers=list(headers),
                **_typed_settings(settings),
            )
    except ServiceError as error:
        raise _refused(error) from None
    click.echo(f"source {name} added")


@sources.command("edit")
@click.argument("name")
@click.option("--every", metavar="INTERVAL", help="Harvest every INTERVAL (30m, 6h, 1d; none).")
@click.option("--cron", metavar="EXPR", help="Harvest on a cron schedule ('0 3 * * *'; none).")
@click.option("--enable/--disable", "enabled", default=None, help="Harvest it, or not.")
@_settings
@click.option(
    "--remove-header", "removed", multiple=True, metavar="NAME", help="Stop sending this header."
)
@pass_context
def sources_edit(
    context: Context,
    name: str,
    every: str | None,
    cron: str | None,
    enabled: bool | None,
    headers: tuple[str, ...],
    removed: tuple[str, ...],
    **settings: str | None,
) -> None:
    """Change what is given of the source NAME; the rest stays. A setting given as `none`
    is cleared; a --header replaces the one of its name."""
    from libfed.kernel.errors import ServiceError

    from .sources import edit_source, headers_changed, source_named

    fields = _typed_settings(settings)
    for field, value in (("every_seconds", every), ("cron", cron)):
        if value is not None:
            fields[field] = None if value.strip().lower() == NONE else value
    if enabled is not None:
        fields["enabled"] = enabled
    try:
        with context.migrated_db().write() as session:
            if headers or removed:
                stored = source_named(session, name).headers
                fields["headers"] = headers_changed(stored, headers, removed)
            edit_source(session, name, **fields)
    except ServiceError as error:
        raise _refused(error) from None
    click.echo(f"source {name} saved")


@sources.command("show")
@click.argument("name")
@pass_context
def sources_show(context: Context, name: str) -> None:
    """A source's settings (header values masked: they are often keys)."""
    from libfed.kernel.errors import ServiceError

    from .sources import masked_headers, source_named

    try:
        with context.migrated_db().session() as session:
            source = source_named(session, name)
    except ServiceError as error:
        raise _refused(error) from None
    global_timeout = context.config.harvest.timeout_seconds
    rows = [
        ("name", source.name),
        ("base URL", source.base_url),
        ("format", source.prefix),
        ("sets", ", ".join(source.sets) if source.sets else "the whole repository"),
        ("schedule", schedule_words(source)),
        ("enabled", "yes" if source.enabled else "no"),
        ("institution", str(source.institution_id or NONE)),
        (
            "delay",
            f"{source.request_delay_seconds:g} s" if source.request_delay_seconds else NONE,
        ),
        ("headers", "; ".join(masked_headers(source.headers)) or NONE),
        ("mode", source.mode),
        ("window", f"{source.window_days} days" if source.window_days else NONE),
        (
            "timeout",
            f"{source.timeout_seconds} s"
            if source.timeout_seconds
            else f"{global_timeout:g} s ([harvest] timeout_seconds)",
        ),
        ("contact", source.contact_email or NONE),
        ("reconcile", source.reconcile_cron or NONE),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<13}{value}")


@sources.command("list")
@pass_context
def sources_list(context: Context) -> None:
    """Sources with their schedule and last run."""
    from .sources import list_sources

    with context.migrated_db().session() as session:
        summaries = list_sources(session)
    if not summaries:
        click.echo(f"no sources: {ADD_ONE}")
    for item in summaries:
        source, run = item.source, item.last_run
        schedule = schedule_words(source)
        last = (
            "never harvested"
            if run is None
            else f"last run {run.started_at:%Y-%m-%d %H:%M} {run.status}"
        )
        click.echo(f"{source.name}\t{source.base_url}\t{source.prefix}\t{schedule}\t{last}")


@sources.command("remove")
@click.argument("name")
@pass_context
def sources_remove(context: Context, name: str) -> None:
    """Remove a source (its harvested records stay served)."""
    from libfed.kernel.errors import ServiceError

    from .sources import remove_source

    try:
        with context.migrated_db().write() as session:
            remove_source(session, name)
    except ServiceError as error:
        raise refusal(error, named=False) from None
    click.echo(f"source {name} removed")


@sources.command("move")
@click.argument("name")
@click.argument("base_url")
@pass_context
def sources_move(context: Context, name: str, base_url: str) -> None:
    """Harvest NAME from BASE_URL from now on: confirm where its provider moved (a
    redirect to another host stops a run until an operator confirms it)."""
    from libfed.kernel.errors import ServiceError

    from .sources import move_source

    try:
        with context.migrated_db().write() as session:
            move_source(session, name, base_url)
    except ServiceError as error:
        raise refusal(error, named=False) from None
    click.echo(f"source {name} is harvested from {base_url} from now on")


@click.command("harvest")
@click.argument("names", nargs=-1)
@click.option("--full", is_flag=True, help="Harvest everything again, not only what changed.")
@pass_context
def harvest_command(context: Context, names: tuple[str, ...], full: bool) -> None:
    """Harvest the named sources now (all enabled ones when none is named).

    Exits non-zero when any source did not complete (failed, partial or parked).
    """
    from .models import Run
    from .run import SourceBusy, harvest_concurrently, records_per_second
    from .sources import list_sources
    from .states import RunStatus

    database = context.migrated_db()
    with database.session() as session:
        known = {s.source.name: s.source.enabled for s in list_sources(session)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.ClickException(f"no source named {', '.join(map(repr, unknown))}")

    def on_page(name: str, pages: int, records: int) -> None:
        click.echo(f"{name}: {pages} pages, {records} records", err=True)

    def report(name: str, run: Run) -> None:
        rate = records_per_second(run)
        click.echo(
            f"{name}: {run.status}, {run.pages} pages, {run.requests} requests, "
            f"added {run.added}, updated {run.updated}, deleted {run.deleted}, "
            f"quarantined {run.quarantined}" + ("" if rate is None else f", {rate:.0f} records/s")
        )
        for error in run.errors:
            where = "" if error["url"] in error["message"] else f" ({error['url']})"
            click.echo(f"  {error['message']}{where}")

    chosen = list(names) or [n for n, enabled in known.items() if enabled]
    if not chosen:
        click.echo(f"no enabled sources to harvest: {ADD_ONE}")
        return

    def busy(held: SourceBusy) -> None:
        click.echo(f"{held.name}: not harvested here: {held}")

    runs = harvest_concurrently(
        database,
        context.config,
        chosen,
        full=full,
        on_done=report,
        on_page=on_page,
        on_busy=busy,
    )
    # A source left to the process harvesting it did not complete here either.
    if any(name not in runs or runs[name].status != RunStatus.SUCCEEDED for name in chosen):
        sys.exit(1)


@click.command("scheduler")
@pass_context
def scheduler_command(context: Context) -> None:
    """Run the harvest schedule in the foreground (Ctrl-C or SIGTERM stops it).

    Only one scheduler runs jobs at a time per database: a second one waits.
    """
    import signal
    import threading

    from .scheduler import Schedule

    schedule = Schedule(context.config, context.migrated_db())
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    schedule.start()
    click.echo(f"harvest scheduler running as {schedule.holder}; Ctrl-C stops it")
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        schedule.stop()
        click.echo("harvest scheduler stopped")


@click.command("recheck")
@pass_context
def db_recheck(context: Context) -> None:
    """Check every harvested record stored here against the intake rules of today:
    repair what can be (stored again, provenance altered), withdraw what cannot."""
    from sqlalchemy import select

    from .models import Source

    database = context.migrated_db()
    with database.session() as session:
        every = list(session.scalars(select(Source).order_by(Source.name)))
    _recheck(context, every)


def recheck_outdated(context: Context) -> None:
    """After an upgrade: re-check the sources whose records predate the intake rules."""
    from .recheck import sources_to_recheck

    if outdated := sources_to_recheck(context.db):
        click.echo("checking the harvested records stored before the current intake rules ...")
        _recheck(context, outdated)


def _recheck(context: Context, chosen: list[Source]) -> None:
    from .recheck import recheck_source

    for source in chosen:
        counted = progress(lambda checked, name=source.name: f"  {name}: {checked:,} checked")
        done = recheck_source(context.db, context.config, source, counted)
        click.echo(
            f"{source.name}: {done.checked:,} records checked, {done.repaired:,} repaired, "
            f"{done.renamed:,} renamed, {len(done.withdrawn):,} withdrawn"
        )
        for identifier, reason in done.withdrawn:
            click.echo(f"  withdrawn {identifier}: {reason}")
