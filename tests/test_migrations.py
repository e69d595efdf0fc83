"""Schema migrations: `libfed db upgrade` is safe to repeat, matches the models, and
brings a database made by the previous release to this one losing nothing."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from conftest import (
    FIXTURES,
    OAI_NS,
    ApiCaller,
    WebClient,
    config_dict,
    downgrade,
    signed_in_as,
    write_config,
)
from flask import Flask
from lxml import etree
from markupsafe import escape
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import DatabaseError

from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.kernel.models import Setting
from libfed.records.models import Record
from libfed.records.search_index import engine_specific
from libfed.records.site import landing_url
from libfed.records.stored_xml import record_element
from libfed.root.app import create_app
from libfed.root.cli import main
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

    downgrade(fresh, "0011")
    assert _audit_rows(fresh, "shipment_id") == before
    assert _index_columns(fresh, "ix_audit_events_shipment") == ["shipment_id", "id"]
    assert _index_columns(fresh, "ix_audit_events_group") is None
    _refuses_rewrites(fresh)


# ---------------------------------------------- a database made by the previous release

# Made by release 0.1 (commit 3df5676) as tests/fixtures/README.md says; what that release
# served for it is kept beside it. The token is the one `libfed users add ayla` printed.
RELEASE = FIXTURES / "release-0.1-3df5676.sqlite3"
RELEASE_SERVED = FIXTURES / "release-0.1-3df5676"
RELEASE_TOKEN = "lf_jjn9htb5pVJDexAYolWZdyiyoR4qwtqCkXI2D-_-G5c"
RELEASE_SHIPMENT = 7
_RESPONSE_DATE = re.compile(rb"<responseDate>[^<]*</responseDate>")
_DATESTAMP = re.compile(rb"<datestamp>([^<]*)</datestamp>")  # the first is the header's
# FTS5's own b-tree segments, which writing a record's search entry again reshapes.
_SEARCH_SEGMENTS = {"search_fts_data", "search_fts_idx"}


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.scalar(text(f'SELECT count(*) FROM "{table}"'))
                for table in inspect(connection).get_table_names()
            }
    finally:
        engine.dispose()


def _audit_trail(url: str, group: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    f"SELECT id, at, actor, entity, entity_id, {group}, action, from_status, "
                    "to_status, note, changes FROM audit_events ORDER BY id"
                )
            ).all()
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Upgraded:
    config: Config
    counts: dict[str, int]  # before the upgrade
    trail: list[tuple]  # the audit trail before the upgrade


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Upgraded:
    """A copy of the release's database, brought to this version by `libfed db upgrade`."""
    folder = tmp_path_factory.mktemp("release")
    copy = folder / RELEASE.name
    shutil.copyfile(RELEASE, copy)
    url = f"sqlite:///{copy}"
    before = Upgraded(
        parse_config(config_dict(url)), _row_counts(url), _audit_trail(url, "shipment_id")
    )
    result = CliRunner().invoke(
        main,
        ["--config", str(write_config(folder / "config.toml", before.config)), "db", "upgrade"],
    )
    assert result.exit_code == 0, result.output
    return before


@pytest.fixture
def release_app(upgraded: Upgraded) -> Iterator[Flask]:
    database = Database(upgraded.config.database.url)
    yield create_app(upgraded.config, database)
    database.dispose()


def test_the_release_database_upgrades_to_this_schema_losing_no_row(
    upgraded: Upgraded, tmp_path: Path
) -> None:
    url = upgraded.config.database.url
    after = _row_counts(url)
    # The records with MARC gain the formats added since (MODS), rendered by the upgrade.
    database = Database(url)
    try:
        with database.session() as session:
            added = session.scalar(
                text("SELECT count(*) FROM record_formats WHERE prefix = 'mods'")
            )
    finally:
        database.dispose()
    assert added == 23
    expected = upgraded.counts | {
        "record_formats": upgraded.counts["record_formats"] + added,
        # What the renderings are now made with, so that the next upgrade knows.
        "settings": upgraded.counts["settings"] + 1,
    }
    assert {t: after[t] for t in upgraded.counts if t not in _SEARCH_SEGMENTS} == {
        t: n for t, n in expected.items() if t not in _SEARCH_SEGMENTS
    }
    assert {
        table: after[table] for table in after.keys() - upgraded.counts.keys()
    } == dict.fromkeys(after.keys() - upgraded.counts.keys(), 0), (
        "tables added since the release start empty"
    )
    assert all(upgraded.counts.values()), "every table of the release holds rows"
    assert _audit_trail(url, "group_id") == upgraded.trail
    database, fresh = Database(url), Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        upgrade(fresh)
        assert is_current(database) is True
        assert schema(database) == schema(fresh)
    finally:
        database.dispose()
        fresh.dispose()


def test_a_shipment_of_the_release_keeps_its_history_in_the_api_and_on_its_page(
    release_app: Flask,
) -> None:
    path = f"/shipments/{RELEASE_SHIPMENT}"
    api = ApiCaller(release_app.test_client(), RELEASE_TOKEN)
    response = api.get(f"{path}/history")
    assert response.status_code == 200
    served = json.loads((RELEASE_SERVED / f"shipment-{RELEASE_SHIPMENT}-history.json").read_bytes())
    assert response.get_json() == served
    events = served["events"]
    assert {e["entity"] for e in events} == {"shipment", "item"}

    page = signed_in_as(release_app, "ayla").text(path)
    history = page.split('id="history-heading"', 1)[1].split("</table>", 1)[0]
    assert history.count("<tr>") == 1 + len(events)  # the heading's row and one per event
    for event in events:
        if event["entity"] == "item":
            assert escape(event["changes"]["title"][1]) in history


@pytest.mark.parametrize("served", ["oai_dc", "marc21", "deleted", "harvested"])
def test_records_of_the_release_are_served_as_the_release_served_them(
    release_app: Flask, upgraded: Upgraded, served: str
) -> None:
    expected = (RELEASE_SERVED / f"GetRecord-{served}.xml").read_bytes()
    request = etree.fromstring(expected).find("oai:request", OAI_NS)
    response = release_app.test_client().get("/oai", query_string=dict(request.attrib))
    assert response.status_code == 200
    body, datestamp = _without_datestamp(_RESPONSE_DATE.sub(b"", response.data))
    release_body, release_datestamp = _without_datestamp(_RESPONSE_DATE.sub(b"", expected))
    if served == "oai_dc":
        # The one change: a record with MARC names its page here first (BASE, CORE).
        page = landing_url(upgraded.config.public_base_url, request.attrib["identifier"])
        named = f"<dc:identifier>{page}</dc:identifier>".encode()
        first = body.index(b"<dc:identifier>")
        assert body[first:].startswith(named)
        body = body.replace(named, b"", 1)
    assert body == release_body
    # A record with MARC is served in the formats added since (MODS) and names its page:
    # a new datestamp, as OAI-PMH 2.7.1 asks, so that incremental harvests see it. The
    # others keep theirs.
    if served in ("oai_dc", "marc21"):
        assert datestamp > release_datestamp
    else:
        assert datestamp == release_datestamp


def _without_datestamp(response: bytes) -> tuple[bytes, bytes]:
    """The response without its record's datestamp, and that datestamp."""
    found = _DATESTAMP.search(response)
    assert found is not None
    return response[: found.start(1)] + response[found.end(1) :], found.group(1)


def test_users_of_the_release_sign_in_with_their_password_and_token(release_app: Flask) -> None:
    assert WebClient(release_app.test_client()).sign_in("ayla").status_code == 302
    assert WebClient(release_app.test_client()).sign_in("ayla", "wrong").status_code != 302
    api = ApiCaller(release_app.test_client(), RELEASE_TOKEN)
    assert api.get("/shipments").status_code == 200
    assert (
        ApiCaller(release_app.test_client(), "lf_not-issued").get("/shipments").status_code == 401
    )
