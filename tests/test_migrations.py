"""Schema migrations: `libfed db upgrade` is safe to repeat and matches the models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DatabaseError

from libfed.kernel.db import Database
from libfed.kernel.models import Setting
from libfed.records.models import Record
from libfed.records.search_index import engine_specific
from libfed.records.stored_xml import record_element
from libfed.root.migrate import _alembic_config, is_current, upgrade
from libfed.root.tables import METADATA
from tests.backends import Databases


@pytest.fixture
def fresh(databases: Databases) -> Iterator[Database]:
    """A database no migration has touched yet, on the backend under test."""
    url = databases.empty("fresh")
    database = Database(url)
    yield database
    database.dispose()
    databases.drop(url)


def schema(db: Database) -> list[tuple]:
    """Every table with its columns, indexes and foreign keys, as the database says."""
    found = []
    inspector = inspect(db.engine)
    for table in sorted(inspector.get_table_names()):
        columns = [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)]
        indexes = sorted(
            (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)
        )
        keys = sorted(
            (tuple(k["constrained_columns"]), k["referred_table"])
            for k in inspector.get_foreign_keys(table)
        )
        found.append((table, columns, indexes, keys))
    return found


def revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_is_current_is_false_before_and_true_after_upgrade(fresh: Database) -> None:
    assert is_current(fresh) is False
    upgrade(fresh)
    assert is_current(fresh) is True


def test_upgrade_reaches_the_single_head(fresh: Database) -> None:
    scripts = ScriptDirectory.from_config(_alembic_config())
    heads = scripts.get_heads()
    assert len(heads) == 1, f"migrations have diverged: {heads}"
    upgrade(fresh)
    assert revision(fresh) == heads[0]


def test_upgrade_twice_is_a_no_op(fresh: Database) -> None:
    upgrade(fresh)
    before = schema(fresh)
    at = revision(fresh)
    with fresh.write() as session:
        session.add(Setting(key="probe", value="kept"))
        session.add(
            Record(
                identifier="oai:test.libfed.org:1",
                datestamp=datetime(2030, 1, 1),
                deleted=False,
                content_hash="x",
                header_xml=b"<header/>",
            )
        )

    upgrade(fresh)

    assert schema(fresh) == before
    assert revision(fresh) == at
    assert is_current(fresh) is True
    with fresh.session() as session:
        assert session.scalar(select(Setting.value).where(Setting.key == "probe")) == "kept"
        assert session.scalars(select(Record.identifier)).all() == ["oai:test.libfed.org:1"]


def test_upgrade_creates_every_table_of_the_models(fresh: Database) -> None:
    upgrade(fresh)
    tables = set(inspect(fresh.engine).get_table_names())
    assert set(METADATA.tables) <= tables
    assert "alembic_version" in tables


def test_migrations_match_the_models(fresh: Database) -> None:
    """What autogenerate would write for the models, given the migrated database: nothing
    (but for the full-text index each engine has its own way to make)."""
    upgrade(fresh)
    with fresh.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": engine_specific,
            },
        )
        differences = compare_metadata(context, METADATA)
    assert differences == []


def test_migrations_match_the_models_from_an_empty_database_too(fresh: Database) -> None:
    # The comparison itself must see the models: against an empty database it has work to do.
    with fresh.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), METADATA)
    added = {diff[1].name for diff in differences if diff[0] == "add_table"}
    assert added == set(METADATA.tables)


def test_the_keyset_index_serves_the_list_counts(fresh: Database) -> None:
    """On PostgreSQL the index carries records.id (a count reads the index alone, not the
    table); SQLite's indexes end with the rowid, which is the id."""
    upgrade(fresh)
    with fresh.engine.connect() as connection:
        if fresh.is_sqlite:
            columns = (
                connection.execute(
                    text("SELECT name FROM pragma_index_info('ix_records_datestamp_identifier')")
                )
                .scalars()
                .all()
            )
            assert columns == ["datestamp", "identifier"]
        else:
            definition = connection.scalar(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_records_datestamp_identifier'"
                )
            )
            assert definition.endswith("(datestamp, identifier) INCLUDE (id)")


_OLD_RECORD = (
    b"<record><header><identifier>oai:x:1</identifier><datestamp>2026-01-02T03:04:05Z"
    b"</datestamp><setSpec>s</setSpec></header><metadata><dc>\xd0\x9a\xd0\xb8\xd1\x82\xd0\xbe"
    b"\xd0\xb1</dc></metadata><about><provenance/></about></record>"
)
_OLD_DELETED = (
    b'<record><header status="deleted"><identifier>oai:x:2</identifier>'
    b"<datestamp>2026-01-02T03:04:05Z</datestamp></header></record>"
)


def _stored_formats(db: Database, column: str) -> dict[int, bytes]:
    with db.engine.connect() as connection:
        return dict(
            connection.execute(text(f"SELECT record_id, {column} FROM record_formats")).all()
        )


def test_0008_keeps_each_format_body_and_serves_the_same_record(fresh: Database) -> None:
    """Formats stored with their own copy of the header (before 0008) keep what follows it;
    joined with the record's header they are the <record> served before, and downgrading
    restores the old rows byte for byte."""
    upgrade(fresh, "0007")
    with fresh.engine.begin() as connection:
        for record_id, xml in ((1, _OLD_RECORD), (2, _OLD_DELETED)):
            header = xml[len(b"<record>") : xml.index(b"</header>") + len(b"</header>")]
            connection.execute(
                text(
                    "INSERT INTO records (id, identifier, datestamp, deleted, content_hash, "
                    "header_xml) VALUES (:id, :identifier, :datestamp, :deleted, 'h', :header)"
                ),
                {
                    "id": record_id,
                    "identifier": f"oai:x:{record_id}",
                    "header": header,
                    "datestamp": datetime(2026, 1, 2, 3, 4, 5),
                    "deleted": record_id == 2,
                },
            )
            connection.execute(
                text(
                    "INSERT INTO record_formats (record_id, prefix, record_xml) "
                    "VALUES (:id, 'oai_dc', :xml)"
                ),
                {"id": record_id, "xml": xml},
            )
    upgrade(fresh)
    bodies = _stored_formats(fresh, "body_xml")
    assert bodies == {
        1: "<metadata><dc>Китоб</dc></metadata><about><provenance/></about>".encode(),
        2: b"",
    }
    with fresh.session() as session:
        headers = dict(session.execute(select(Record.id, Record.header_xml)).all())
    assert record_element(headers[1], bodies[1]) == _OLD_RECORD
    assert record_element(headers[2], bodies[2]) == _OLD_DELETED

    config = _alembic_config()
    with fresh.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    assert _stored_formats(fresh, "record_xml") == {1: _OLD_RECORD, 2: _OLD_DELETED}


def _downgrade(db: Database, revision: str) -> None:
    config = _alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _audit_rows(db: Database, group: str) -> list[tuple]:
    with db.engine.connect() as connection:
        return connection.execute(
            text(f"SELECT id, entity, entity_id, {group}, action FROM audit_events ORDER BY id")
        ).all()


def _refuses_rewrites(db: Database) -> None:
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as connection:
            connection.execute(text(statement))


def _index_columns(db: Database, name: str) -> list[str] | None:
    found = {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("audit_events")}
    return found.get(name)


def test_0012_renames_the_audit_group_keeping_every_event_and_the_append_only_rule(
    fresh: Database,
) -> None:
    """`shipment_id` becomes `group_id` and back, every row kept, and on both engines the
    trail still refuses UPDATE and DELETE after either step (SQLite copies the table)."""
    upgrade(fresh, "0011")
    with fresh.engine.begin() as connection:
        for ident, entity, entity_id, group in (
            (1, "shipment", 7, 7),
            (2, "item", 31, 7),
            (3, "institution", 2, None),
        ):
            connection.execute(
                text(
                    "INSERT INTO audit_events (id, at, actor, entity, entity_id, shipment_id, "
                    "action, changes) VALUES (:id, :at, 'ayla', :entity, :entity_id, :group, "
                    "'create', '{}')"
                ),
                {
                    "id": ident,
                    "at": datetime(2026, 1, 2),
                    "entity": entity,
                    "entity_id": entity_id,
                    "group": group,
                },
            )
    before = _audit_rows(fresh, "shipment_id")
    assert len(before) == 3

    upgrade(fresh)
    assert _audit_rows(fresh, "group_id") == before
    assert _index_columns(fresh, "ix_audit_events_group") == ["group_id", "id"]
    assert _index_columns(fresh, "ix_audit_events_shipment") is None
    assert _index_columns(fresh, "ix_audit_events_entity") == ["entity", "entity_id", "id"]
    _refuses_rewrites(fresh)

    _downgrade(fresh, "0011")
    assert _audit_rows(fresh, "shipment_id") == before
    assert _index_columns(fresh, "ix_audit_events_shipment") == ["shipment_id", "id"]
    assert _index_columns(fresh, "ix_audit_events_group") is None
    _refuses_rewrites(fresh)
