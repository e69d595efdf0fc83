"""The database each test runs on: SQLite (the default) or PostgreSQL.

`LIBFED_TEST_BACKEND=postgresql` runs the suite on the PostgreSQL server of
`LIBFED_TEST_POSTGRES_URL` (default: the local one, database `test`); `make test`
runs it once per backend. Every test gets a database of its own, copied from a
template migrated once per test process: on SQLite a file copy, on PostgreSQL
`CREATE DATABASE ... TEMPLATE` (a copy made by the server).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from libfed.kernel.db import Database, normalised_url

BACKEND = os.environ.get("LIBFED_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get(
    "LIBFED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"LIBFED_TEST_BACKEND={BACKEND!r}: 'sqlite' or 'postgresql'")


_OWNER = re.compile(r"libfed_[a-z0-9]+_(\d+)_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Databases:
    """Makes and drops the tests' databases on the backend under test."""

    def __init__(self, folder: Path, worker: str) -> None:
        self.folder = folder
        self.prefix = f"libfed_{worker}_{os.getpid()}"
        self._numbers = itertools.count()
        self._made: list[str] = []
        if BACKEND == "postgresql":
            self._server = create_engine(
                normalised_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", pool_size=1
            )
            self._drop_orphans()

    @property
    def postgresql(self) -> bool:
        return BACKEND == "postgresql"

    def _name(self, label: str) -> str:
        return f"{self.prefix}_{label}_{next(self._numbers)}"

    def _url(self, name: str) -> str:
        if self.postgresql:
            return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        return f"sqlite:///{self.folder / name}.sqlite3"

    def empty(self, label: str = "db") -> str:
        """A database with no tables yet."""
        name = self._name(label)
        if self.postgresql:
            with self._server.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            self._made.append(name)
        return self._url(name)

    def copy(self, template: str, label: str = "db") -> str:
        """A new database holding what `template` (a URL this made) holds."""
        name = self._name(label)
        if self.postgresql:
            source = make_url(template).database
            with self._server.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
            self._made.append(name)
        else:
            shutil.copyfile(make_url(template).database or "", self.folder / f"{name}.sqlite3")
        return self._url(name)

    def migrated(self, label: str = "template") -> str:
        """An empty database brought to the current schema."""
        from libfed.root.migrate import upgrade

        url = self.empty(label)
        database = Database(url)
        upgrade(database)
        # SQLite: the last connection to close checkpoints and removes the WAL.
        # PostgreSQL: a template must have no connection when it is copied.
        database.dispose()
        return url

    def _drop_orphans(self) -> None:
        """Databases left by a test process that was killed (its pid is in their names)."""
        with self._server.connect() as connection:
            names = connection.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'libfed\\_%'")
            ).all()
            for name in names:
                found = _OWNER.match(name)
                if found and not _alive(int(found.group(1))):
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop(self, url: str) -> None:
        if self.postgresql:
            name = make_url(url).database
            with self._server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._made.remove(name)

    def close(self) -> None:
        if self.postgresql:
            with self._server.connect() as connection:
                for name in self._made:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._server.dispose()
