"""The `libfed` command: the same services as the web application, from a shell."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import click
from sqlalchemy import func, select

from libfed.accounts.institutions import (
    KINDS,
    InstitutionQuery,
    create_institution,
    list_institutions,
)
from libfed.accounts.users import (
    add_user,
    find_user,
    issue_token,
    list_users,
    set_password,
    update_user,
)
from libfed.exchange.demo import load_exchange_demo
from libfed.harvest.models import Run, Source
from libfed.harvest.recheck import recheck_source, sources_to_recheck
from libfed.harvest.run import SourceBusy, harvest_concurrently
from libfed.harvest.scheduler import Schedule
from libfed.harvest.sources import (
    SourceError,
    add_source,
    holders,
    interval_seconds,
    interval_text,
    list_sources,
    move_source,
    remove_source,
)
from libfed.harvest.web import records_per_second
from libfed.kernel.callers import ROLES, SYSTEM
from libfed.kernel.config import Config, ConfigError, load_config
from libfed.kernel.db import Database, DatabaseUnavailable, masked_url
from libfed.kernel.errors import Invalid, ServiceError
from libfed.records import search_index
from libfed.records.identifiers import is_set_spec
from libfed.records.importer import ImportSummary, import_files
from libfed.records.marc_reader import NotMarc, is_known_encoding, require_marc
from libfed.records.models import Record
from libfed.records.repository import describe_set, tombstone
from libfed.search.api import rendered, run_search
from libfed.search.query import LOCAL, RANKED, SearchQuery

from .migrate import is_current, upgrade


class DatabaseRefused(click.ClickException):
    """The configured database cannot be used: exit status 2, as for other unusable
    settings, so that scripts tell it from a command that ran and failed (status 1)."""

    exit_code = 2


class Context:
    """What every command needs, built lazily so that `--help` works without a config."""

    def __init__(self, config_path: str | None) -> None:
        self._config_path = config_path
        self._config: Config | None = None
        self._db: Database | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self._config_path)
            except ConfigError as error:
                raise click.ClickException(f"configuration error: {error}") from None
        return self._config

    @property
    def db(self) -> Database:
        if self._db is None:
            try:
                database = Database(self.config.database.url)
                database.check()
            except DatabaseUnavailable as error:
                raise DatabaseRefused(str(error)) from None
            self._db = database
        return self._db

    def migrated_db(self) -> Database:
        if not is_current(self.db):
            raise click.ClickException(
                "the database is not at the current schema: run `libfed db upgrade` first"
            )
        return self.db


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="LIBFED_CONFIG",
    help="TOML configuration file (default: $LIBFED_CONFIG, else ./config.toml).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """libfed: OAI-PMH federation and book exchange server."""
    ctx.obj = Context(config_path)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Bring the database to the newest schema (safe to run at every start)."""
    upgrade(context.db)
    click.echo(f"database is at the current schema ({masked_url(context.config.database.url)})")
    if search_index.is_missing(context.db):
        click.echo("building the search index of the records already stored ...")
        _reindex(context.db)
    if outdated := sources_to_recheck(context.db):
        click.echo("checking the harvested records stored before the current intake rules ...")
        _recheck(context, outdated)


@db.command("recheck")
@pass_context
def db_recheck(context: Context) -> None:
    """Check every harvested record stored here against the intake rules of today:
    repair what can be (stored again, provenance altered), withdraw what cannot."""
    database = context.migrated_db()
    with database.session() as session:
        every = list(session.scalars(select(Source).order_by(Source.name)))
    _recheck(context, every)


def _recheck(context: Context, chosen: list[Source]) -> None:
    for source in chosen:
        progress = _progress(lambda checked, name=source.name: f"  {name}: {checked:,} checked")
        done = recheck_source(context.db, context.config, source, progress)
        click.echo(
            f"{source.name}: {done.checked:,} records checked, {done.repaired:,} repaired, "
            f"{done.renamed:,} renamed, {len(done.withdrawn):,} withdrawn"
        )
        for identifier, reason in done.withdrawn:
            click.echo(f"  withdrawn {identifier}: {reason}")


@db.command("reindex")
@pass_context
def db_reindex(context: Context) -> None:
    """Make every record's search entry again (after the search rules change)."""
    _reindex(context.migrated_db())


REPORT_EVERY = 50_000  # records: a line every half minute or so


def _progress(describe: Callable[[int], str]) -> Callable[[int], None]:
    """A progress callback that prints `describe(done)` every REPORT_EVERY records."""
    shown = [0]

    def progress(done: int) -> None:
        if done - shown[0] >= REPORT_EVERY:
            shown[0] = done
            click.echo(describe(done))

    return progress


@db.command("rerender")
@click.option(
    "--format",
    "prefix",
    metavar="PREFIX",
    help="Render only this format (default: every format of the registry).",
)
@pass_context
def db_rerender(context: Context, prefix: str | None) -> None:
    """Render the stored records again from their stored MARC, after a format is added
    or a renderer changes: a record that comes out different gets a new datestamp, so
    that incremental harvests fetch it. Records without MARC are left as they are."""
    from libfed.records.rerender import UnknownFormat, count_with_marc, format_named, rerender

    try:
        formats = None if prefix is None else [format_named(prefix)]
    except UnknownFormat as error:
        raise click.BadParameter(str(error), param_hint="--format") from None
    database = context.migrated_db()
    total = count_with_marc(database)
    with click.progressbar(length=total, label="rendering", file=sys.stderr) as bar:
        done = rerender(database, formats, bar.update)
    click.echo(
        f"{done.read:,} records with MARC read, {done.changed:,} stored again, "
        f"{len(done.refused):,} left as they are (their MARC is refused today)"
    )
    for identifier, reason in done.refused:
        click.echo(f"  left as it is {identifier}: {reason}")


def _reindex(database: Database) -> None:
    with database.session() as session:
        total = session.scalar(select(func.count()).where(Record.deleted.is_(False))) or 0
    progress = _progress(lambda read: f"  {read:,} of {total:,} records")
    click.echo(f"search index: {search_index.rebuild(database, progress):,} records")


def _check_set_spec(spec: str) -> None:
    if not is_set_spec(spec):
        raise click.BadParameter(
            f"{spec!r} is not a setSpec (letters, digits, -_.!~*'() and ':' between levels)"
        )


def _parse_set(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict:
    sets: dict[str, str | None] = {}
    for value in values:
        spec, _, name = value.partition("=")
        _check_set_spec(spec)
        sets[spec] = name.strip() or None
    return sets


def _print_summary(summary: ImportSummary) -> None:
    click.echo(
        f"added {summary.added}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, rejected {len(summary.rejected)}"
    )
    for rejection in summary.rejected:
        click.echo(f"  rejected: {rejection}")


@main.command("import")
@click.option(
    "--set",
    "sets",
    multiple=True,
    callback=_parse_set,
    metavar="SPEC[=NAME]",
    help="Put the records in this set (repeatable); 'a:b' is a subset of 'a'.",
)
@click.option(
    "--encoding",
    help="Override the file's own character encoding (e.g. cp1251, utf-8, marc-8).",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@pass_context
def import_command(
    context: Context, sets: dict[str, str | None], encoding: str | None, files: tuple[str, ...]
) -> None:
    """Import MARC 21 (ISO 2709) and MARCXML files; the format is detected from the content."""
    if encoding and not is_known_encoding(encoding):
        raise click.BadParameter(f"unknown encoding {encoding!r}", param_hint="--encoding")
    paths = [Path(f) for f in files]
    try:
        for path in paths:  # before the progress bar starts, so the refusal is one line
            require_marc(path)
    except NotMarc as error:
        raise click.ClickException(str(error)) from None
    database = context.migrated_db()
    total = sum(p.stat().st_size for p in paths)
    with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
        summary = import_files(
            database,
            context.config.oai.repository_identifier,
            paths,
            sets=sets,
            encoding=encoding,
            progress=bar.update,
        )
    _print_summary(summary)
    if summary.rejected:
        sys.exit(1)


@main.group()
def records() -> None:
    """Records of this repository."""


@records.command("delete")
@click.argument("identifier")
@pass_context
def records_delete(context: Context, identifier: str) -> None:
    """Delete a record; it stays visible to harvesters as a deletion (tombstone)."""
    with context.migrated_db().write() as session:
        done = tombstone(session, identifier)
    if not done:
        raise click.ClickException(f"no live record has the identifier {identifier!r}")
    click.echo(f"deleted {identifier}")


@main.group()
def sets() -> None:
    """OAI sets."""


@sets.command("add")
@click.argument("spec")
@click.argument("name")
@click.option("--description", help="Free text shown to harvesters in ListSets.")
@pass_context
def sets_add(context: Context, spec: str, name: str, description: str | None) -> None:
    """Create or rename a set (and its missing parents), with an optional description."""
    # SPEC is a bare setSpec here (the name is its own argument): no SPEC=NAME parsing,
    # or "a=b" would pass as "a" and be stored as an invalid spec.
    _check_set_spec(spec)
    with context.migrated_db().write() as session:
        describe_set(session, spec, name, description)
    click.echo(f"set {spec} saved")


# file -> (setSpec, name, description) of the set its records are put in.
DEMO_SETS = {
    "libfed_demo.xml": (
        "demo:local",
        "Demo: Azerbaijani, Russian, Uzbek and Karakalpak books",
        "24 catalogue records written for libfed's demonstration: Azerbaijani (Latin), "
        "Russian, Uzbek (Cyrillic and Latin) and Karakalpak, some with paired 880 fields.",
    ),
    "marc2bibframe2_gwu.xml": (
        "demo:gwu",
        "Demo: George Washington University (LC test data, CC0)",
        "99 real records from the Library of Congress marc2bibframe2 test data set: "
        "recordings and books with CJK, Hangul, Hebrew and Arabic-script 880 fields.",
    ),
    "marc2bibframe2_princeton.xml": (
        "demo:princeton",
        "Demo: Princeton University (LC test data, CC0)",
        "99 real records from the Library of Congress marc2bibframe2 test data set, "
        "mostly Arabic and Persian manuscripts and books (two repeat an earlier record).",
    ),
}


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Load the catalogue only into an empty repository.")
@pass_context
def demo(context: Context, if_empty: bool) -> None:
    """Load the demo catalogue (multi-script records) and exchange programme.

    The exchange programme loads only into a ledger without shipments.
    """
    database = context.migrated_db()
    with database.session() as session:
        has_records = session.scalar(select(Record.id).limit(1)) is not None
    if if_empty and has_records:
        click.echo("repository already has records: demo catalogue not loaded")
    else:
        _load_demo_catalogue(context, database)
    summary = load_exchange_demo(database, context.config.exchange.home_country)
    if summary is None:
        click.echo("exchange ledger already has shipments: demo programme not loaded")
    else:
        click.echo(f"exchange programme: {summary}")


def _load_demo_catalogue(context: Context, database: Database) -> None:
    with database.write() as session:
        describe_set(session, "demo", "Demonstration records", "Records loaded by `libfed demo`.")
        for spec, set_name, description in DEMO_SETS.values():
            describe_set(session, spec, set_name, description)
    data = resources.files("libfed.root.demo") / "data"
    for name, (spec, _name, _description) in DEMO_SETS.items():
        with resources.as_file(data / name) as path:
            summary = import_files(
                database, context.config.oai.repository_identifier, [path], sets={spec: None}
            )
        click.echo(f"{name}: ", nl=False)
        _print_summary(summary)


@main.group()
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
) -> None:
    """Add a source: NAME (letters, digits, _ . -) and its OAI-PMH BASE_URL."""
    try:
        with context.migrated_db().write() as session:
            add_source(
                session,
                name,
                base_url,
                prefix=prefix,
                sets=list(sets),
                every_seconds=interval_seconds(every) if every else None,
                cron=cron,
                institution_id=institution,
            )
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"source {name} added")


@sources.command("list")
@pass_context
def sources_list(context: Context) -> None:
    """Sources with their schedule and last run."""
    with context.migrated_db().session() as session:
        summaries = list_sources(session)
    if not summaries:
        click.echo("no sources: add one with `libfed sources add NAME BASE_URL`")
    for item in summaries:
        source, run = item.source, item.last_run
        schedule = source.cron or (
            f"every {interval_text(source.every_seconds)}" if source.every_seconds else "manual"
        )
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
    try:
        with context.migrated_db().write() as session:
            remove_source(session, name)
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"source {name} removed")


@sources.command("move")
@click.argument("name")
@click.argument("base_url")
@pass_context
def sources_move(context: Context, name: str, base_url: str) -> None:
    """Harvest NAME from BASE_URL from now on: confirm where its provider moved (a
    redirect to another host stops a run until an operator confirms it)."""
    try:
        with context.migrated_db().write() as session:
            move_source(session, name, base_url)
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"source {name} is harvested from {base_url} from now on")


@main.command("harvest")
@click.argument("names", nargs=-1)
@click.option("--full", is_flag=True, help="Harvest everything again, not only what changed.")
@pass_context
def harvest_command(context: Context, names: tuple[str, ...], full: bool) -> None:
    """Harvest the named sources now (all enabled ones when none is named).

    Exits non-zero when any source did not complete (failed, partial or parked).
    """
    database = context.migrated_db()
    with database.session() as session:
        known = {s.source.name: s.source.enabled for s in list_sources(session)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.ClickException(f"no source named {', '.join(map(repr, unknown))}")

    def progress(name: str, pages: int, records: int) -> None:
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
        click.echo("no enabled sources to harvest: add one with `libfed sources add NAME BASE_URL`")
        return

    def busy(refusal: SourceBusy) -> None:
        click.echo(f"{refusal.name}: not harvested here: {refusal}")

    runs = harvest_concurrently(
        database,
        context.config,
        chosen,
        full=full,
        on_done=report,
        on_page=progress,
        on_busy=busy,
    )
    # A source left to the process harvesting it did not complete here either.
    if any(name not in runs or runs[name].status != "succeeded" for name in chosen):
        sys.exit(1)


@main.command("scheduler")
@pass_context
def scheduler_command(context: Context) -> None:
    """Run the harvest schedule in the foreground (Ctrl-C or SIGTERM stops it).

    Only one scheduler runs jobs at a time per database: a second one waits.
    """
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


def _refusal(error: ServiceError) -> click.ClickException:
    if isinstance(error, Invalid):
        details = "; ".join(f"{field}: {message}" for field, message in error.fields.items())
        return click.ClickException(details)
    return click.ClickException(str(error))


@main.group()
def users() -> None:
    """People who use the API: viewers read, coordinators write, admins manage users."""


def _prompt_password() -> str:
    return click.prompt(
        "Password (for the web pages)", hide_input=True, confirmation_prompt=True, err=True
    )


def _ask_password(_ctx: click.Context, _param: click.Parameter, wanted: bool) -> str | None:
    return _prompt_password() if wanted else None


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--password",
    is_flag=True,
    callback=_ask_password,
    help="Also set a password for signing in to the web pages (asked, not echoed).",
)
@pass_context
def users_add(context: Context, name: str, role: str, password: str | None) -> None:
    """Add a user and print their API token (shown this once only)."""
    try:
        with context.migrated_db().write() as session:
            user, token = add_user(session, name, role)
            if password is not None:
                set_password(session, user, password)
    except ServiceError as error:
        raise _refusal(error) from None
    click.echo(f"user {name} added as {role}; API token (shown once, keep it safe):")
    click.echo(token)


@users.command("token")
@click.argument("name")
@pass_context
def users_token(context: Context, name: str) -> None:
    """Issue another API token for a user (their other tokens stay valid)."""
    try:
        with context.migrated_db().write() as session:
            token = issue_token(session, find_user(session, name))
    except ServiceError as error:
        raise _refusal(error) from None
    click.echo(token)


@users.command("password")
@click.argument("name")
@pass_context
def users_password(context: Context, name: str) -> None:
    """Set or change a user's password for the web pages (asked, not echoed)."""
    password = _prompt_password()
    try:
        with context.migrated_db().write() as session:
            set_password(session, find_user(session, name), password)
    except ServiceError as error:
        raise _refusal(error) from None
    click.echo(f"password of {name} set")


@users.command("disable")
@click.argument("name")
@pass_context
def users_disable(context: Context, name: str) -> None:
    """Switch a user off and revoke every token they hold."""
    try:
        with context.migrated_db().write() as session:
            update_user(session, find_user(session, name), active=False)
    except ServiceError as error:
        raise _refusal(error) from None
    click.echo(f"user {name} disabled; their tokens are revoked")


@users.command("list")
@pass_context
def users_list(context: Context) -> None:
    """Users with their role and whether they are active."""
    with context.migrated_db().session() as session:
        for user in list_users(session):
            click.echo(f"{user.name}\t{user.role}\t{'active' if user.active else 'disabled'}")


@main.group()
def institutions() -> None:
    """Partner institutions (exchange partners, owners of harvest sources)."""


@institutions.command("add")
@click.argument("name")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. TR.")
@click.option("--kind", type=click.Choice(KINDS), default="other", show_default=True)
@click.option("--city")
@click.option("--isil", help="ISO 15511 identifier, e.g. DE-1.")
@click.option("--email")
@click.option("--oai-base-url", help="The partner's OAI-PMH endpoint, if it has one.")
@pass_context
def institutions_add(context: Context, name: str, **fields: str | None) -> None:
    """Add an institution; prints its id (for `sources add --institution ID`)."""
    data = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
    try:
        with context.migrated_db().write() as session:
            institution = create_institution(
                session, data, actor=SYSTEM, home_country=context.config.exchange.home_country
            )
            ident = institution.id
    except ServiceError as error:
        raise _refusal(error) from None
    click.echo(f"institution {ident} added: {name}")


@institutions.command("list")
@pass_context
def institutions_list(context: Context) -> None:
    """Institutions with their id, country and kind."""
    with context.migrated_db().session() as session:
        page = 1
        while True:
            rows, total = list_institutions(session, InstitutionQuery(page=page, per_page=100))
            for row in rows:
                click.echo(f"{row.id}\t{row.country}\t{row.kind}\t{row.name}")
            if page * 100 >= total:
                break
            page += 1


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(context: Context, host: str, port: int, workers: int) -> None:
    """Serve the application with gunicorn (the production server)."""
    from .server import run

    context.migrated_db()
    run(context.config, host, port, workers)


@main.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--source", help=f"Only this harvest source's records ('{LOCAL}': this library's).")
@click.option("--language", help="Only records in this language, as catalogued (uzb, rus).")
@click.option("--from-year", "year_from", type=click.IntRange(0, 9999))
@click.option("--to-year", "year_to", type=click.IntRange(0, 9999))
@click.option("--set", "set_spec", help="Only members of this OAI set.")
@click.option("--page", type=click.IntRange(1, 1_000_000), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The API's JSON instead of lines.")
@pass_context
def search_command(
    context: Context,
    words: tuple[str, ...],
    source: str | None,
    language: str | None,
    year_from: int | None,
    year_to: int | None,
    set_spec: str | None,
    page: int,
    per_page: int,
    as_json: bool,
) -> None:
    """Search the union catalogue (local and harvested records) in any script."""
    db = context.migrated_db()
    oai = context.config.oai
    query = SearchQuery(
        " ".join(words), source, language, year_from, year_to, set_spec, page, per_page
    )
    with db.session() as session:
        try:
            results = rendered(
                session, run_search(session, query), holders, oai.repository_name, oai.base_url
            )
        except Invalid as error:
            raise click.ClickException(" ".join(error.fields.values())) from None
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
        return
    shown = len(results["editions"])
    first = (page - 1) * per_page
    click.echo(
        f"{results['total']} editions" + (f", {first + 1}-{first + shown} shown" if shown else "")
    )
    if results["more"]:
        click.echo(
            f"(more records match: ranked among the {RANKED:,} newest; add a word to narrow)"
        )
    for edition in results["editions"]:
        line = " / ".join(filter(None, [edition["title"], edition["author"]]))
        details = ", ".join(
            str(v) for v in (edition["year"], edition["language"], edition["isbn"]) if v
        )
        click.echo(f"\n{line}" + (f" ({details})" if details else ""))
        for holding in edition["holdings"]:
            click.echo(f"  {holding['holder']}: {holding['identifier']}")
        if edition["holdings_total"] > len(edition["holdings"]):
            click.echo(f"  ... {edition['holdings_total'] - len(edition['holdings'])} more")
