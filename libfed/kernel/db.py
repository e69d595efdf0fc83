"""Engine and sessions.

SQLite is the embedded default and must behave under several gunicorn workers and
an import running beside the server: WAL lets readers work while one writer
writes, and write transactions take the write lock up front (BEGIN IMMEDIATE) so
two writers queue on busy_timeout instead of failing with a lock upgrade error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

_IMMEDIATE = "libfed_immediate"


# user:password@ in the authority (a password may hold '@' or '/' written raw: everything
# up to the last '@' goes), and password=... among the query's parameters (libpq's form).
_USER_PASSWORD = re.compile(r"^([^:/?#]*://[^:/?#@]*:).*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


class Base(DeclarativeBase):
    """Declarative base of every table of the project (core and domain packages)."""


class DatabaseUnavailable(Exception):
    """The database cannot be used: its URL is malformed or names a database or driver
    this installation lacks, or the database does not answer. One sentence naming the
    URL with its password masked, since it ends up in terminals, cron mail and logs."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot use the database {masked_url(url)!r}: {reason}")


def masked_url(url: str) -> str:
    """`url` as it was written, with any password replaced by ***. Done on the text, not
    through SQLAlchemy's parser, so that a URL it cannot parse is shown masked too."""
    return _QUERY_PASSWORD.sub(r"\1***", _USER_PASSWORD.sub(r"\1***@", url))


def _reason(error: DBAPIError) -> str:
    """The driver's own words on one line (psycopg's span several)."""
    return " ".join(str(error.orig or error).split())


def normalised_url(url: str) -> str:
    """The URL as people write it, with the driver this project ships: a plain
    `postgresql://` (or Heroku's `postgres://`) means psycopg 3, not SQLAlchemy's
    default psycopg2, which is not installed."""
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and WAL turned on."""
    url = normalised_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A server that never answers is reported in seconds, not after TCP's minutes;
        # a connect_timeout written in the URL wins.
        waiting = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
        return create_engine(url, pool_pre_ping=True, connect_args=waiting)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Take over transaction control from the sqlite3 module, which otherwise
        # runs SELECTs outside any transaction (two reads of one page could see
        # two different states of the database).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Takes effect only when the file is new (before WAL mode and the first
        # table). A list page reads ~650 KB that no earlier request read: with
        # 32 KB pages that is 4x fewer reads than SQLite's default 4 KB
        # (measured: 2.5 ms instead of 6.5 ms per 500-record page).
        cursor.execute("PRAGMA page_size=32768")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        immediate = connection.get_execution_options().get(_IMMEDIATE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def insert_or_ignore(
    executor: Session | Connection, table: Table, rows: list[dict], key: list[str]
) -> int:
    """Insert the rows whose `key` is not taken yet, atomically: a row another process
    has just inserted is simply there (INSERT ... ON CONFLICT DO NOTHING, which SQLite
    and PostgreSQL both know). Returns how many rows were inserted."""
    if not rows:
        return 0
    dialect = (
        executor.get_bind().dialect.name
        if isinstance(executor, Session)
        else (executor.dialect.name)
    )
    adding = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    # Counted from RETURNING: the drivers' rowcount of a multi-row insert is not reliable.
    statement = adding.on_conflict_do_nothing(index_elements=key).returning(table.c[key[0]])
    return len(executor.execute(statement, rows).all())


class Database:
    """The engine of one application plus the two kinds of session it hands out."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
        except NoSuchModuleError:
            raise DatabaseUnavailable(
                url,
                f"unknown database {make_url(url).drivername!r} (libfed works with "
                "sqlite:///PATH and postgresql://USER:PASSWORD@HOST/NAME)",
            ) from None
        except ArgumentError:
            raise DatabaseUnavailable(
                url,
                "not a database URL (e.g. sqlite:///var/libfed.sqlite3 or "
                "postgresql://USER:PASSWORD@HOST/NAME)",
            ) from None
        except ImportError as error:
            raise DatabaseUnavailable(url, f"its driver is not installed ({error})") from None
        except OSError as error:
            raise DatabaseUnavailable(
                url, f"cannot create the folder of the file: {error.strerror}"
            ) from None
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False
        )

    def check(self) -> None:
        """Connect once, so that a database that is down, refuses the credentials or is
        a file that cannot be opened is reported before a command starts its work,
        rather than as a traceback from its first query."""
        try:
            with self.engine.connect():
                pass
        except DBAPIError as error:
            raise DatabaseUnavailable(self.url, _reason(error)) from None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        """A session for reading (or for callers that manage their own transaction)."""
        return self._reader()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed at the end of the block, rolled back on error."""
        with self._writer.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
