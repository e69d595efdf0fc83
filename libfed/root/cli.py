"""The `libfed` command: the same services as the web application, from a shell.

The root's own commands are here; a domain's come from its package (`libfed.harvest.cli`),
registered by where they live and imported only when asked for. Every command imports
what it uses when it runs, so that `libfed --help` costs Python and click, and a
command no more than what it does.
"""

from __future__ import annotations

import importlib
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from libfed.kernel.callers import ROLES
from libfed.kernel.cli import Context, pass_context, progress, refusal

if TYPE_CHECKING:
    from flask import Flask

    from libfed.kernel.config import Config
    from libfed.kernel.db import Database
    from libfed.records.formats import MetadataFormat
    from libfed.records.importer import ImportSummary
    from libfed.records.site import Site


def _imported(where: str) -> Any:
    """The object named 'package.module:attribute'."""
    module, _, attribute = where.partition(":")
    return getattr(importlib.import_module(module), attribute)


class LazyGroup(click.Group):
    """A group some of whose commands are named by where they live ('module:attribute')
    and imported when first asked for (click's documented LazyGroup pattern): the root
    registers a domain's commands without importing the domain."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(_imported(self.lazy_commands[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


class LazyChoice(click.Choice):
    """A Choice whose values are named by where they live ('module:attribute') and
    imported when the option is used or its command's help shown, not when the
    command is declared."""

    def __init__(self, where: str) -> None:
        # Not Choice.__init__, which would read the choices now.
        self.where = where
        self.case_sensitive = True

    @cached_property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(_imported(self.where))


def _is_current(db: Database) -> bool:
    from .migrate import is_current

    return is_current(db)


def _create_app(config: Config, db: Database) -> Flask:
    from .app import create_app

    return create_app(config, db)


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "sources": "libfed.harvest.cli:sources",
        "harvest": "libfed.harvest.cli:harvest_command",
        "scheduler": "libfed.harvest.cli:scheduler_command",
        "harvest-digest": "libfed.harvest.digest_cli:digest_command",
        "harvest-changes": "libfed.harvest.history_cli:changes_command",
        "harvest-stats": "libfed.harvest.history_cli:stats_command",
        "harvest-worker": "libfed.harvest.worker:worker_command",
        "harvest-reconcile": "libfed.harvest.reconcile_cli:reconcile_command",
        "export": "libfed.root.bulk:export_command",
        "dumps": "libfed.root.bulk:dumps",
    },
)
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
    ctx.obj = Context(config_path, _is_current, _create_app)


@main.group(
    cls=LazyGroup,
    lazy_commands={
        name: f"libfed.exchange.federation.cli:{name}_command"
        for name in ("add", "list", "remove", "sync")
    },
)
def peers() -> None:
    """Partners' libfed servers: the federated exchange (docs/exchange-protocol.md)."""


@main.group(cls=LazyGroup, lazy_commands={"digest": "libfed.exchange.cli:digest_command"})
def exchange() -> None:
    """The exchange ledger: reminders mailed to coordinators."""


@main.group(cls=LazyGroup, lazy_commands={"recheck": "libfed.harvest.cli:db_recheck"})
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Bring the database to the newest schema (safe to run at every start)."""
    from libfed.harvest.cli import recheck_outdated
    from libfed.kernel.db import masked_url
    from libfed.records import search_index

    from .migrate import upgrade

    upgrade(context.db)
    click.echo(f"database is at the current schema ({masked_url(context.config.database.url)})")
    if search_index.is_missing(context.db):
        click.echo("building the search index of the records already stored ...")
        _reindex(context.db)
    recheck_outdated(context)
    _render_lacking(context.db, context.config)
    _render_outdated(context.db, context.config)


@db.command("reindex")
@pass_context
def db_reindex(context: Context) -> None:
    """Make every record's search entry again (after the search rules change)."""
    _reindex(context.migrated_db())


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
    from libfed.records.rerender import UnknownFormat, format_named, mark_rendered
    from libfed.records.site import Site

    try:
        formats = None if prefix is None else [format_named(prefix)]
    except UnknownFormat as error:
        raise click.BadParameter(str(error), param_hint="--format") from None
    database = context.migrated_db()
    site = Site.of(context.config)
    _rerender_all(database, site, formats)
    if formats is None:
        mark_rendered(database, site)


def _rerender_all(
    database: Database, site: Site, formats: list[MetadataFormat] | None = None
) -> None:
    from libfed.records.rerender import count_with_marc, rerender

    total = count_with_marc(database)
    with click.progressbar(length=total, label="rendering", file=sys.stderr) as bar:
        done = rerender(database, formats, bar.update, site=site)
    click.echo(
        f"{done.read:,} records with MARC read, {done.changed:,} stored again, "
        f"{len(done.refused):,} left as they are (their MARC is refused today)"
    )
    for identifier, reason in done.refused:
        click.echo(f"  left as it is {identifier}: {reason}")


def _render_lacking(database: Database, config: Config) -> None:
    """A format added to the registry since records were stored is rendered for them,
    so that an upgraded server serves it for every record (docs/formats.md)."""
    from libfed.records.rerender import lacking_formats, rerender
    from libfed.records.site import Site

    formats = lacking_formats(database)
    if formats:
        names = ", ".join(entry.prefix for entry in formats)
        click.echo(f"rendering the records stored without {names} ...")
        done = rerender(database, formats, lacking_only=True, site=Site.of(config))
        click.echo(f"  {done.changed:,} records stored in {names}")
        for identifier, reason in done.refused:
            click.echo(f"  left as it is {identifier}: {reason}")


def _render_outdated(database: Database, config: Config) -> None:
    """Every record rendered again when the renderers changed since it was stored, or the
    settings they write into it (public address, ISIL): a harvester must never be served
    a page's address that no longer answers (docs/deploy.md)."""
    from libfed.records.rerender import count_with_marc, mark_rendered, renderings_outdated
    from libfed.records.site import Site

    site = Site.of(config)
    if not renderings_outdated(database, site):
        return
    if count_with_marc(database):
        click.echo("rendering every record again (new renderers, or a new address or ISIL) ...")
        _rerender_all(database, site)
    mark_rendered(database, site)


def _reindex(database: Database) -> None:
    from sqlalchemy import func, select

    from libfed.records import search_index
    from libfed.records.models import Record

    with database.session() as session:
        total = session.scalar(select(func.count()).where(Record.deleted.is_(False))) or 0
    counted = progress(lambda read: f"  {read:,} of {total:,} records")
    click.echo(f"search index: {search_index.rebuild(database, counted):,} records")


def _check_set_spec(spec: str) -> None:
    from libfed.records.identifiers import is_set_spec

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
@click.option(
    "--flavour",
    # libfed.records.unimarc_reader.CHOICES, named here so that --help imports nothing.
    type=click.Choice(["auto", "marc21", "unimarc", "rusmarc"]),
    default="auto",
    show_default=True,
    help="MARC 21, or UNIMARC / RUSMARC (converted to MARC 21, the original kept); "
    "auto tells each record apart.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@pass_context
def import_command(
    context: Context,
    sets: dict[str, str | None],
    encoding: str | None,
    flavour: str,
    files: tuple[str, ...],
) -> None:
    """Import MARC 21, UNIMARC and RUSMARC (ISO 2709), MARCXML and UNIMARC XML files; the
    format is detected from the content."""
    from pathlib import Path

    from libfed.records.importer import import_files
    from libfed.records.marc_reader import NotMarc, is_known_encoding, require_marc
    from libfed.records.site import Site

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
            flavour=flavour,
            progress=bar.update,
            site=Site.of(context.config),
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
    from libfed.records.repository import tombstone

    with context.migrated_db().write() as session:
        done = tombstone(session, identifier)
    if not done:
        raise click.ClickException(f"no live record has the identifier {identifier!r}")
    click.echo(f"deleted {identifier}")


@main.group(
    cls=LazyGroup,
    lazy_commands={
        name: f"libfed.oai.cli:sets_{name.replace('-', '_')}"
        for name in ("rule", "remove-rule", "show", "list")
    },
)
def sets() -> None:
    """OAI sets: made by hand (add, import --set) or defined by a rule (docs/sets.md)."""


@sets.command("add")
@click.argument("spec")
@click.argument("name")
@click.option("--description", help="Free text shown to harvesters in ListSets.")
@pass_context
def sets_add(context: Context, spec: str, name: str, description: str | None) -> None:
    """Create or rename a set (and its missing parents), with an optional description."""
    from libfed.records.repository import describe_set

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
    from sqlalchemy import select

    from libfed.exchange.demo import load_exchange_demo
    from libfed.records.models import Record

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
    from importlib import resources

    from libfed.records.importer import import_files
    from libfed.records.repository import describe_set
    from libfed.records.site import Site

    with database.write() as session:
        describe_set(session, "demo", "Demonstration records", "Records loaded by `libfed demo`.")
        for spec, set_name, description in DEMO_SETS.values():
            describe_set(session, spec, set_name, description)
    data = resources.files("libfed.root.demo") / "data"
    for name, (spec, _name, _description) in DEMO_SETS.items():
        with resources.as_file(data / name) as path:
            summary = import_files(
                database,
                context.config.oai.repository_identifier,
                [path],
                sets={spec: None},
                site=Site.of(context.config),
            )
        click.echo(f"{name}: ", nl=False)
        _print_summary(summary)


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
@click.option("--email", metavar="ADDRESS", help="Where their weekly reminder digest goes.")
@pass_context
def users_add(
    context: Context, name: str, role: str, password: str | None, email: str | None
) -> None:
    """Add a user and print their API token (shown this once only)."""
    from libfed.accounts.users import add_user, set_password
    from libfed.kernel.errors import ServiceError

    try:
        with context.migrated_db().write() as session:
            user, token = add_user(session, name, role, email=email)
            if password is not None:
                set_password(session, user, password)
    except ServiceError as error:
        raise refusal(error) from None
    click.echo(f"user {name} added as {role}; API token (shown once, keep it safe):")
    click.echo(token)


@users.command("token")
@click.argument("name")
@pass_context
def users_token(context: Context, name: str) -> None:
    """Issue another API token for a user (their other tokens stay valid)."""
    from libfed.accounts.users import find_user, issue_token
    from libfed.kernel.errors import ServiceError

    try:
        with context.migrated_db().write() as session:
            token = issue_token(session, find_user(session, name))
    except ServiceError as error:
        raise refusal(error) from None
    click.echo(token)


@users.command("password")
@click.argument("name")
@pass_context
def users_password(context: Context, name: str) -> None:
    """Set or change a user's password for the web pages (asked, not echoed)."""
    from libfed.accounts.users import find_user, set_password
    from libfed.kernel.errors import ServiceError

    password = _prompt_password()
    try:
        with context.migrated_db().write() as session:
            set_password(session, find_user(session, name), password)
    except ServiceError as error:
        raise refusal(error) from None
    click.echo(f"password of {name} set")


@users.command("set")
@click.argument("name")
@click.option(
    "--email",
    metavar="ADDRESS",
    required=True,
    help="Where their weekly reminder digest goes; '' removes it (no digest).",
)
@pass_context
def users_set(context: Context, name: str, email: str) -> None:
    """Change a user's e-mail address."""
    from libfed.accounts.users import find_user, update_user
    from libfed.kernel.errors import ServiceError

    try:
        with context.migrated_db().write() as session:
            user = update_user(session, find_user(session, name), email=email)
            address = user.email
    except ServiceError as error:
        raise refusal(error) from None
    click.echo(f"e-mail of {name}: {address}" if address else f"e-mail of {name} removed")


@users.command("disable")
@click.argument("name")
@pass_context
def users_disable(context: Context, name: str) -> None:
    """Switch a user off and revoke every token they hold."""
    from libfed.accounts.users import find_user, update_user
    from libfed.kernel.errors import ServiceError

    try:
        with context.migrated_db().write() as session:
            update_user(session, find_user(session, name), active=False)
    except ServiceError as error:
        raise refusal(error) from None
    click.echo(f"user {name} disabled; their tokens are revoked")


@users.command("list")
@pass_context
def users_list(context: Context) -> None:
    """Users with their role, whether they are active, and their e-mail address."""
    from libfed.accounts.users import list_users

    with context.migrated_db().session() as session:
        for user in list_users(session):
            state = "active" if user.active else "disabled"
            click.echo(f"{user.name}\t{user.role}\t{state}\t{user.email or ''}")


@main.group()
def institutions() -> None:
    """Partner institutions (exchange partners, owners of harvest sources)."""


@institutions.command("add")
@click.argument("name")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. TR.")
@click.option(
    "--kind",
    type=LazyChoice("libfed.accounts.schemas:KINDS"),
    default="other",
    show_default=True,
)
@click.option("--city")
@click.option("--isil", help="ISO 15511 identifier, e.g. DE-1.")
@click.option("--email")
@click.option("--oai-base-url", help="The partner's OAI-PMH endpoint, if it has one.")
@pass_context
def institutions_add(context: Context, name: str, **fields: str | None) -> None:
    """Add an institution; prints its id (for `sources add --institution ID`)."""
    from libfed.accounts.institutions import create_institution
    from libfed.kernel.callers import SYSTEM
    from libfed.kernel.errors import ServiceError

    data = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
    try:
        with context.migrated_db().write() as session:
            institution = create_institution(
                session, data, actor=SYSTEM, home_country=context.config.exchange.home_country
            )
            ident = institution.id
    except ServiceError as error:
        raise refusal(error) from None
    click.echo(f"institution {ident} added: {name}")


@institutions.command("list")
@pass_context
def institutions_list(context: Context) -> None:
    """Institutions with their id, country and kind."""
    from libfed.accounts.institutions import list_institutions
    from libfed.accounts.schemas import InstitutionQuery

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
# 'local' is libfed.search.query.LOCAL, named here without importing the search
# (tests/test_cli.py holds the two together).
@click.option("--source", help="Only this harvest source's records ('local': this library's).")
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
    import json

    from libfed.harvest.sources import holders
    from libfed.kernel.errors import Invalid
    from libfed.search.api import rendered, run_search
    from libfed.search.query import RANKED, SearchQuery

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
