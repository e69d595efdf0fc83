"""Schema migrations through Alembic, driven from the `libfed db upgrade` command."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from libfed.kernel.db import Database

_SCRIPTS = Path(__file__).with_name("migrations")


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to `revision` (head by default); a no-op when it is there."""
    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def is_current(db: Database) -> bool:
    """Whether the database is at the newest revision this code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
