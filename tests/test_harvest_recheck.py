"""Records that earlier versions stored as partners sent them, put through today's intake.

The records are written straight into the database, as the harvester stored them
before it validated anything; `libfed db upgrade` (or `libfed db recheck`) must leave
/oai serving only what validates, and say what it repaired and withdrew.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AGGREGATOR, Clock, parse_valid, write_config
from lxml import etree
from sqlalchemy import select

from libfed.harvest.aggregate import provenance, source_sets
from libfed.harvest.listing import HarvestedRecord
from libfed.harvest.models import Source
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.repository import NewRecord, store
from libfed.root.app import create_app
from libfed.root.cli import main

DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">{}</oai_dc:dc>'
)
MARC = (
    '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
    '<controlfield tag="001">m1</controlfield><datafield tag="245" ind1="0" ind2="0">'
    '<subfield code="a">Xəmsə</subfield></datafield><foreign xmlns="urn:x">x</foreign></record>'
)
HARVESTED = datetime(2026, 1, 5, 10, 0, 0)
LEGACY = {
    # original identifier: (format received, metadata as an old version stored it)
    "oai:x:script": (
        "oai_dc",
        DC.format(
            '<dc:title>Xəmsə</dc:title><h:script xmlns:h="http://www.w3.org/1999/xhtml">'
            "alert(1)</h:script>"
        ),
    ),
    "oai:x:stray": ("oai_dc", DC.format("stray<dc:title>Leyli və Məcnun</dc:title>")),
    "oai:x:entity": ("oai_dc", DC.format("<dc:title>Sirr &secret;</dc:title>")),
    # Pretty-printed, as many providers send it: sound all the same.
    "oai:x:sound": ("oai_dc", DC.format("\n  <dc:title>Kitabi-Dədə Qorqud</dc:title>\n")),
    "oai:x:marc": ("marc21", MARC),
    "oai:x:a b": ("oai_dc", DC.format("<dc:title>Boşluq</dc:title>")),
    # Not even well-formed: no parser reads it, alone or in a page.
    "oai:x:broken": ("oai_dc", DC.format("<dc:title>Yarım</dc:titl>")),
    "oai:x:wrong": (
        "oai_dc",
        '<oai_dc:other xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"/>',
    ),
}
NAMESPACES = {
    "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
    "marc21": "http://www.loc.gov/MARC21/slim",
}


def store_as_an_old_version_did(db: Database) -> None:
    entries = []
    for original, (prefix, metadata) in LEGACY.items():
        record = HarvestedRecord(
            original, "2026-01-01", False, (), metadata.encode(), NAMESPACES[prefix]
        )
        base = "http://partner.example.org/oai"
        formats = {prefix: metadata}
        about = {prefix: provenance(record, base, HARVESTED, altered=False)}
        if prefix == "marc21":
            formats["oai_dc"] = DC.format("<dc:title>Xəmsə</dc:title>")
            about["oai_dc"] = provenance(record, base, HARVESTED, altered=True)
        # Identifiers were the source's own, whatever they held.
        entries.append(
            NewRecord.of(f"oai:{AGGREGATOR}:p:{original}", formats, source_sets("p"), about)
        )
    with db.write() as session:
        session.add(
            Source(name="p", base_url="http://partner.example.org/oai", sets=[], intake_version=0)
        )
        store(session, entries)


@pytest.fixture
def legacy(aggregator: tuple[Config, Database], tmp_path: Path, clock: Clock):  # type: ignore[no-untyped-def]
    config, db = aggregator
    store_as_an_old_version_did(db)
    clock.advance(60)  # what the re-check writes has a later datestamp
    settings = write_config(tmp_path / "aggregator.toml", config)
    return config, db, lambda *args: CliRunner().invoke(main, ["--config", str(settings), *args])


def served(config: Config, db: Database, oai_schema: etree.XMLSchema) -> dict[str, bytes]:
    client = create_app(config, db).test_client()
    bodies = {}
    for prefix in ("oai_dc", "marc21"):
        url, parts = f"/oai?verb=ListRecords&metadataPrefix={prefix}", []
        while url:
            body = client.get(url).data
            parse_valid(oai_schema, body)
            parts.append(body)
            token = etree.fromstring(body).findtext(".//{*}resumptionToken")
            url = f"/oai?verb=ListRecords&resumptionToken={token}" if token else ""
        bodies[prefix] = b"".join(parts)
    return bodies


def datestamps(config: Config, db: Database) -> dict[str, str]:
    """Source identifier -> datestamp of every record (deleted too) served."""
    client = create_app(config, db).test_client()
    root = etree.fromstring(client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").data)
    return {
        h.findtext("{*}identifier").removeprefix(f"oai:{AGGREGATOR}:p:"): h.findtext("{*}datestamp")
        for h in root.iter("{*}header")
    }


def test_db_upgrade_rechecks_what_older_versions_stored(legacy, oai_schema) -> None:  # type: ignore[no-untyped-def]
    config, db, cli = legacy
    before = datestamps(config, db)
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "checking the harvested records stored before the current intake rules" in result.output
    assert "p: 8 records checked, 4 repaired, 1 renamed, 2 withdrawn" in result.output, (
        result.output[-400:]
    )
    assert "withdrawn oai:aggregator.libfed.org:p:oai:x:wrong: not oai_dc" in result.output

    body = served(config, db, oai_schema)
    oai_dc = body["oai_dc"].decode()
    for gone in ("<h:script", "alert(1)", "stray<dc:", "&secret;", "oai_dc:other"):
        assert gone not in oai_dc
    for kept in (
        "Xəmsə",
        "Leyli və Məcnun",
        "Kitabi-Dədə Qorqud",
        "Boşluq",
        "p:oai:x:a%20b",
        "Sirr &amp;secret;",
    ):
        assert kept in oai_dc
    # Downstream harvesters are told that the identifier the syntax forbids is gone.
    client = create_app(config, db).test_client()
    listed = etree.fromstring(client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").data)
    gone = {h.findtext("{*}identifier") for h in listed.iter("{*}header") if h.get("status")}
    assert gone == {f"oai:{AGGREGATOR}:p:oai:x:{i}" for i in ("a b", "wrong", "broken")}
    assert b"urn:x" not in body["marc21"] and "Xəmsə" in body["marc21"].decode()
    assert datestamps(config, db) | {"oai:x:sound": before["oai:x:sound"]} == datestamps(config, db)
    changed = {k for k, v in datestamps(config, db).items() if before.get(k) != v}
    assert changed == {
        "oai:x:script",
        "oai:x:stray",
        "oai:x:entity",
        "oai:x:marc",
        "oai:x:a%20b",
        "oai:x:a b",
        "oai:x:wrong",
        "oai:x:broken",
    }  # repaired, renamed (both ids), withdrawn
    # Once checked, an upgrade has nothing more to do.
    again = cli("db", "upgrade")
    assert again.exit_code == 0 and "intake rules" not in again.output
    with db.session() as session:
        assert session.scalars(select(Source.intake_version)).one() >= 1


def test_db_recheck_changes_nothing_in_records_that_were_sound(legacy, oai_schema) -> None:  # type: ignore[no-untyped-def]
    config, db, cli = legacy
    assert cli("db", "recheck").exit_code == 0
    before = served(config, db, oai_schema)
    result = cli("db", "recheck")
    assert result.exit_code == 0, result.output
    assert "p: 6 records checked, 0 repaired, 0 renamed, 0 withdrawn" in result.output
    assert served(config, db, oai_schema) == before
