"""A record's public page named in its formats (issue 17): BASE and CORE link to the first
http `dc:identifier` of oai_dc, MODS has it as `location/url` (primary display, object in
context). Over real HTTP on loopback, the address a harvester reads answers 200 with the
record's page, which names itself by it, as the sitemap does; a harvested MARC record is
named by its page here, one harvested as oai_dc only is stored as received; `libfed db
rerender` gives records stored before the address, with new datestamps, and a new one when
the public address changes."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from conftest import (
    FIXTURES,
    OAI_NS,
    REPOSITORY_ID,
    Clock,
    config_dict,
    parse_valid,
    write_config,
)
from lxml import etree, html
from sqlalchemy import select
from werkzeug.serving import make_server

from libfed.harvest.aggregate import aggregated
from libfed.harvest.listing import HarvestedRecord
from libfed.harvest.models import Source
from libfed.harvest.run import harvest
from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.records.formats import MARC21, OAI_DC
from libfed.records.importer import import_files
from libfed.records.models import Record
from libfed.records.repository import store
from libfed.records.rerender import rerender
from libfed.records.site import Site
from libfed.root.app import create_app
from libfed.root.cli import main
from tests.test_holdings import KOHA

DC_NS = {"dc": "http://purl.org/dc/elements/1.1/"}
MODS_NS = {"mods": "http://www.loc.gov/mods/v3"}
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
MARC_NS = {"marc": MARC21.namespace}
BATCH = "marcxml/pymarc_batch.xml"


@dataclass(frozen=True)
class Served:
    """The server on loopback, with settings naming the address it answers at."""

    root: str
    config: Config
    db: Database

    def get(self, path: str) -> tuple[int, bytes]:
        return fetch(self.root + path)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    holder: dict = {}
    server = make_server(
        "127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True
    )
    root = f"http://127.0.0.1:{server.server_port}"
    config = parse_config(config_dict(database_url, base_url=root + "/oai"))
    db = Database(config.database.url)
    holder["app"] = create_app(config, db)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(root, config, db)
    server.shutdown()
    thread.join()
    db.dispose()


def metadata(served: Served, identifier: str, prefix: str, schema: etree.XMLSchema):  # type: ignore[no-untyped-def]
    status, body = served.get(
        f"/oai?verb=GetRecord&metadataPrefix={prefix}&identifier={quote(identifier)}"
    )
    assert status == 200
    return parse_valid(schema, body).find(".//oai:metadata/*", OAI_NS)


def identifiers(dc: etree._Element) -> list[str]:
    return [e.text for e in dc.iterfind("dc:identifier", DC_NS)]


def local_identifiers(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Record.identifier).order_by(Record.id)))


def test_an_imported_records_dc_identifier_is_its_page_over_http(
    served: Served, oai_schema: etree.XMLSchema
) -> None:
    import_files(served.db, REPOSITORY_ID, [FIXTURES / BATCH], site=Site.of(served.config))
    for identifier in local_identifiers(served.db):
        dc = metadata(served, identifier, OAI_DC.prefix, oai_schema)
        url = identifiers(dc)[0]  # the first: what BASE and CORE link to
        assert url == served.root + "/records/" + quote(identifier, safe=":")

        status, body = fetch(url)
        assert status == 200
        page = html.fromstring(body)
        assert page.findtext(".//h1") == dc.findtext("dc:title", namespaces=DC_NS)
        assert page.xpath("//link[@rel='canonical']/@href") == [url]  # the page names itself so

        mods = metadata(served, identifier, "mods", oai_schema)
        (primary,) = mods.xpath(
            "mods:location/mods:url[@usage='primary display']", namespaces=MODS_NS
        )
        assert (primary.text, primary.get("access")) == (url, "object in context")

    # The sitemap lists the same addresses: one function builds them.
    status, body = served.get("/sitemap.xml")
    listed = [loc.text for loc in etree.fromstring(body).iter(f"{SITEMAP}loc")]
    assert listed == [
        identifiers(metadata(served, i, OAI_DC.prefix, oai_schema))[0]
        for i in local_identifiers(served.db)
    ]


def harvested(identifier: str, body: bytes, namespace: str) -> HarvestedRecord:
    return HarvestedRecord(identifier, "2024-03-01", False, (), body, namespace)


def test_a_harvested_marc_record_is_named_by_its_page_here_an_oai_dc_one_is_not(
    served: Served, oai_schema: etree.XMLSchema
) -> None:
    marc = (FIXTURES / BATCH).read_bytes()
    record = etree.fromstring(marc).find(f"{{{MARC21.namespace}}}record")
    dc_only = (
        b'<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Only Dublin Core</dc:title>'
        b"<dc:identifier>http://partner.example/item/7</dc:identifier></oai_dc:dc>"
    )
    entries = [
        aggregated(
            source_record,
            REPOSITORY_ID,
            "partner",
            "http://partner.example/oai",
            datetime(2024, 4, 1),
            Site.of(served.config),
        ).entry
        for source_record in (
            harvested("m/1", etree.tostring(record), MARC21.namespace),
            harvested("d/1", dc_only, OAI_DC.namespace),
        )
    ]
    with served.db.write() as session:
        store(session, entries)
    from_marc, from_dc = (entry.identifier for entry in entries)

    url = identifiers(metadata(served, from_marc, OAI_DC.prefix, oai_schema))[0]
    assert url.startswith(served.root + "/records/")
    status, body = fetch(url)
    assert status == 200 and b'id="provenance"' in body  # where it comes from, on the page

    # Stored as received: the partner's own identifiers, none of ours.
    assert identifiers(metadata(served, from_dc, OAI_DC.prefix, oai_schema)) == [
        "http://partner.example/item/7"
    ]


def test_a_harvest_over_http_names_the_aggregators_pages_and_keeps_the_holders_852(
    served: Served,
    aggregator: tuple[Config, Database],
    oai_schema: etree.XMLSchema,
    tmp_path: Path,
) -> None:
    koha = tmp_path / "koha.mrc"
    koha.write_bytes(b"".join(record.as_marc() for record in KOHA))  # with copies (952)
    import_files(served.db, REPOSITORY_ID, [FIXTURES / BATCH, koha], site=Site.of(served.config))
    config, aggregator_db = aggregator
    with aggregator_db.write() as session:
        session.add(
            Source(name="az", base_url=served.root + "/oai", prefix="marc21", sets=[], enabled=True)
        )
    assert harvest(aggregator_db, config, "az").status == "succeeded"
    client = create_app(config, aggregator_db).test_client()
    page = parse_valid(oai_schema, client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc").data)
    records = page.findall(".//oai:record", OAI_NS)
    assert len(records) == 4
    for record in records:
        ours = record.findtext(".//oai:header/oai:identifier", namespaces=OAI_NS)
        url = identifiers(record.find(".//oai:metadata/*", OAI_NS))[0]
        assert url == Site.of(config).landing_url(ours)
        path = url.removeprefix(config.public_base_url)
        assert client.get(path).status_code == 200
    marc = parse_valid(oai_schema, client.get("/oai?verb=ListRecords&metadataPrefix=marc21").data)
    # The holder's library in the 852s, as it sent them: none of the aggregator's.
    held = {
        s.text
        for s in marc.iterfind(".//marc:datafield[@tag='852']/marc:subfield[@code='a']", MARC_NS)
    }
    assert held == {"libfed test repository"}


def datestamps(db: Database) -> dict[str, datetime]:
    with db.session() as session:
        return dict(session.execute(select(Record.identifier, Record.datestamp)).all())


def test_rerender_names_the_page_of_records_stored_before_and_again_when_it_moves(
    served: Served, oai_schema: etree.XMLSchema, clock: Clock
) -> None:
    import_files(served.db, REPOSITORY_ID, [FIXTURES / BATCH])  # as an earlier version did
    (first, second) = local_identifiers(served.db)
    assert not any(
        i.startswith("http://127.0.0.1")
        for i in identifiers(metadata(served, first, OAI_DC.prefix, oai_schema))
    )
    before = datestamps(served.db)
    clock.advance(60)

    done = rerender(served.db, site=Site.of(served.config))
    assert (done.read, done.changed) == (2, 2)
    after = datestamps(served.db)
    assert all(after[i] > before[i] for i in after)
    # An incremental harvest from the moment of the change fetches them again.
    since = f"{clock.now:%Y-%m-%dT%H:%M:%SZ}"
    status, body = served.get(f"/oai?verb=ListRecords&metadataPrefix=oai_dc&from={since}")
    page = parse_valid(oai_schema, body)
    assert status == 200
    listed = {h.text for h in page.iterfind(".//oai:header/oai:identifier", OAI_NS)}
    assert listed == {first, second}
    urls = [
        identifiers(dc)[0] for dc in page.iterfind(".//oai_dc:dc", {"oai_dc": OAI_DC.namespace})
    ]
    assert all(fetch(url)[0] == 200 for url in urls)

    # Moved behind a proxy at another address: a rerender names the new one, once.
    moved = parse_config(
        {
            **config_dict(served.config.database.url, base_url=served.root + "/oai"),
            "federation": {"base_url": "https://catalogue.example.az/libfed"},
        }
    )
    clock.advance(60)
    assert rerender(served.db, site=Site.of(moved)).changed == 2
    assert identifiers(metadata(served, first, OAI_DC.prefix, oai_schema))[0] == (
        "https://catalogue.example.az/libfed/records/" + quote(first, safe=":")
    )
    assert rerender(served.db, site=Site.of(moved)).changed == 0


def test_db_upgrade_renders_again_records_stored_by_older_renderers_or_another_address(
    served: Served, oai_schema: etree.XMLSchema, clock: Clock, tmp_path: Path
) -> None:
    """An operator who upgrades, or moves the server, runs `libfed db upgrade` (as `make
    serve` does at every start) and never serves a stale or missing page address."""
    import_files(served.db, REPOSITORY_ID, [FIXTURES / BATCH])  # as an earlier version did
    (first, _second) = local_identifiers(served.db)
    clock.advance(60)

    def upgrade(config: Config) -> str:
        settings = write_config(tmp_path / "libfed.toml", config)
        result = CliRunner().invoke(main, ["--config", str(settings), "db", "upgrade"])
        assert result.exit_code == 0, result.output
        return result.output

    assert "rendering every record again" in upgrade(served.config)
    page = identifiers(metadata(served, first, OAI_DC.prefix, oai_schema))[0]
    assert fetch(page)[0] == 200
    before = datestamps(served.db)

    clock.advance(60)
    assert "rendering every record again" not in upgrade(served.config)
    assert datestamps(served.db) == before  # nothing to fetch again for harvesters

    moved = parse_config(
        config_dict(served.config.database.url, base_url="https://lib.example.uz/oai")
    )
    clock.advance(60)
    assert "rendering every record again" in upgrade(moved)
    assert identifiers(metadata(served, first, OAI_DC.prefix, oai_schema))[0] == (
        "https://lib.example.uz/records/" + quote(first, safe=":")
    )
    assert all(after > before[i] for i, after in datestamps(served.db).items())
