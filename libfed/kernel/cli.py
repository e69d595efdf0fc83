"""What every `libfed` command needs, whichever package defines it: the configuration and
the database, opened on first use, and refusals in the form an operator reads.

The root CLI makes the Context and hands it down; a domain's command group asks for it
with `pass_context` and never imports the root. Nothing here is imported before a
command uses it, so that `libfed --help` starts in the time Python and click take.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask

    from .config import Config
    from .db import Database
    from .errors import ServiceError

REPORT_EVERY = 50_000  # records: a progress line every half minute or so


class DatabaseRefused(click.ClickException):
    """The configured database cannot be used: exit status 2, as for other unusable
    settings, so that scripts tell it from a command that ran and failed (status 1)."""

    exit_code = 2


class Context:
    """The configuration and the database, built lazily so that `--help` works without a
    config; `is_current` says whether a database has the schema this code expects (the
    migrations are the root's); `make_app` builds the whole application, for a command
    that renders what the pages render (a mail in a user's language), which only the
    root can put together."""

    def __init__(
        self,
        config_path: str | None,
        is_current: Callable[[Database], bool],
        make_app: Callable[[Config, Database], Flask] | None = None,
    ) -> None:
        self._config_path = config_path
        self._is_current = is_current
        self._make_app = make_app
        self._config: Config | None = None
        self._db: Database | None = None

    @property
    def config(self) -> Config:
        from .config import ConfigError, load_config

        if self._config is None:
            try:
                self._config = load_config(self._config_path)
            except ConfigError as error:
                raise click.ClickException(f"configuration error: {error}") from None
        return self._config

    @property
    def db(self) -> Database:
        from .db import Database, DatabaseUnavailable

        if self._db is None:
            try:
                database = Database(self.config.database.url)
                database.check()
            except DatabaseUnavailable as error:
                raise DatabaseRefused(str(error)) from None
            self._db = database
        return self._db

    def migrated_db(self) -> Database:
        if not self._is_current(self.db):
            raise click.ClickException(
                "the database is not at the current schema: run `libfed db upgrade` first"
            )
        return self.db

    def app(self) -> Flask:
        """The application, on the migrated database."""
        if self._make_app is None:
            raise click.ClickException("this command needs the application, which was not given")
        return self._make_app(self.config, self.migrated_db())


pass_context = click.make_pass_decorator(Context)


def progress(describe: Callable[[int], str]) -> Callable[[int], None]:
    """A progress callback that prints `describe(done)` every REPORT_EVERY records."""
    shown = [0]

    def report(done: int) -> None:
        if done - shown[0] >= REPORT_EVERY:
            shown[0] = done
            click.echo(describe(done))

    return report


def refusal(error: ServiceError, *, named: bool = True) -> click.ClickException:
    """A service's refusal as the command's error line: an Invalid's messages joined,
    each after the field it is about unless `named` is false (where the command's
    arguments make the field plain)."""
    from .errors import Invalid

    if isinstance(error, Invalid):
        return click.ClickException(
            "; ".join(
                f"{field}: {message}" if named else message
                for field, message in error.fields.items()
            )
        )
    return click.ClickException(str(error))
