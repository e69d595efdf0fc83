"""`marcxml`, the prefix harvesters are most often configured with for MARC21slim (issue 17).

It is `marc21` under a second name: announced, served by every verb for every record
with MARC (stored before it was registered too), valid against MARC21slim as harvested
by Sickle and by pyoai's `oaipmh`, refused for a record harvested as oai_dc only, and
accepted as a harvest source's prefix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from copy import deepcopy

import pytest
from click.testing import Result
from conftest import OAI_NS, REPOSITORY_ID, Clock, load, parse_valid
from lxml import etree
from oaipmh.client import Client
from oaipmh.metadata import MetadataRegistry
from sickle import Sickle
from sqlalchemy import select

from libfed.harvest.aggregate import aggregated
from libfed.harvest.listing import HarvestedRecord
from libfed.harvest.models import Source
from libfed.harvest.run import harvest
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.formats import FORMATS, MARC21, OAI_DC
from libfed.records.models import Record, RecordFormat
from libfed.records.repository import store
from libfed.records.xml_schemas import schema_problem
from libfed.root.app import create_app

MARCXML = FORMATS["marcxml"]
DC_ONLY = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Only Dublin Core</dc:title>'
    "</oai_dc:dc>"
)


def store_dc_only(db: Database, clock: Clock) -> str:
    """A record harvested as oai_dc only (no MARC); its identifier."""
    dc = HarvestedRecord("dc", "2024-03-01", False, (), DC_ONLY.encode(), OAI_DC.namespace)
    entry = aggregated(dc, REPOSITORY_ID, "p", "http://partner.example.org/oai", clock.now)
    with db.write() as session:
        store(session, [entry.entry])
    return entry.entry.identifier


@pytest.fixture
def catalogue(db: Database, clock: Clock) -> set[str]:
    """198 records with MARC (two repeat an earlier one) and one harvested as oai_dc only."""
    load(db, "marcxml/marc2bibframe2_gwu.xml", "marcxml/marc2bibframe2_princeton.xml")
    store_dc_only(db, clock)
    clock.advance(5)
    with db.session() as session:
        return set(
            session.scalars(
                select(Record.identifier)
                .join(RecordFormat, RecordFormat.record_id == Record.id)
                .where(RecordFormat.prefix == MARC21.prefix)
            )
        )


def invalid(records: list[tuple[str, etree._Element]]) -> list[str]:
    """Why each MARC record is not valid against MARC21slim, by identifier."""
    return [
        f"{identifier}: {problem}"
        for identifier, element in records
        if (problem := schema_problem(MARCXML, element))
    ]


def test_it_is_announced_as_marc21slim(client) -> None:  # type: ignore[no-untyped-def]
    assert (MARCXML.schema, MARCXML.namespace) == (MARC21.schema, MARC21.namespace)
    assert MARCXML.schema == "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
    root = etree.fromstring(client.get("/oai?verb=ListMetadataFormats").data)
    listed = {
        f.findtext("oai:metadataPrefix", namespaces=OAI_NS): (
            f.findtext("oai:schema", namespaces=OAI_NS),
            f.findtext("oai:metadataNamespace", namespaces=OAI_NS),
        )
        for f in root.iterfind(".//oai:metadataFormat", OAI_NS)
    }
    assert listed["marcxml"] == (MARCXML.schema, MARCXML.namespace)


def test_sickle_harvests_every_marc_record_valid(live_server: str, catalogue: set[str]) -> None:
    sickle = Sickle(live_server, max_retries=0, timeout=10)
    records = [
        (r.header.identifier, r.xml.find(".//oai:metadata", OAI_NS)[0])
        for r in sickle.ListRecords(metadataPrefix="marcxml")
    ]
    seen = Counter(identifier for identifier, _ in records)
    assert set(seen) == catalogue and max(seen.values()) == 1
    assert invalid(records) == []
    assert all(e.tag == f"{{{MARC21.namespace}}}record" for _, e in records)
    headers = Counter(h.identifier for h in sickle.ListIdentifiers(metadataPrefix="marcxml"))
    assert headers == seen
    one = sorted(catalogue)[7]
    as_marcxml = sickle.GetRecord(identifier=one, metadataPrefix="marcxml")
    as_marc21 = sickle.GetRecord(identifier=one, metadataPrefix="marc21")
    assert as_marcxml.metadata == as_marc21.metadata and as_marcxml.metadata


def test_the_oaipmh_client_harvests_every_marc_record_valid(
    live_server: str, catalogue: set[str]
) -> None:
    registry = MetadataRegistry()
    registry.registerReader("marcxml", lambda metadata: deepcopy(metadata[0]))
    client = Client(live_server, registry, force_http_get=True)
    records = [
        (header.identifier(), marc)
        for header, marc, _about in client.listRecords(metadataPrefix="marcxml")
    ]
    seen = Counter(identifier for identifier, _ in records)
    assert set(seen) == catalogue and max(seen.values()) == 1
    assert invalid(records) == []
    formats = [f[0] for f in client.listMetadataFormats(identifier=sorted(catalogue)[0])]
    assert "marcxml" in formats


def test_a_record_harvested_as_oai_dc_only_is_not_offered(
    db: Database,
    client,  # type: ignore[no-untyped-def]
    oai_schema: etree.XMLSchema,
    clock: Clock,
) -> None:
    identifier = store_dc_only(db, clock)

    def errors(**args: str) -> list[str]:
        query = "&".join(f"{k}={v}" for k, v in args.items())
        root = parse_valid(oai_schema, client.get(f"/oai?{query}").data)
        return [e.get("code") for e in root.iterfind("oai:error", OAI_NS)]

    assert errors(verb="GetRecord", identifier=identifier, metadataPrefix="marcxml") == [
        "cannotDisseminateFormat"
    ]
    assert errors(verb="ListRecords", metadataPrefix="marcxml") == ["noRecordsMatch"]
    assert errors(verb="ListIdentifiers", metadataPrefix="marcxml") == ["noRecordsMatch"]
    root = parse_valid(
        oai_schema,
        client.get(f"/oai?verb=ListMetadataFormats&identifier={identifier}").data,
    )
    prefixes = [p.text for p in root.iterfind(".//oai:metadataPrefix", OAI_NS)]
    assert prefixes == [OAI_DC.prefix]


def test_a_record_stored_before_it_was_registered_is_served_in_it(
    db: Database,
    client,  # type: ignore[no-untyped-def]
    oai_schema: etree.XMLSchema,
) -> None:
    """Nothing is stored under marcxml: what marc21 holds is served, with no rerender."""
    load(db, "marcxml/pymarc_batch.xml")
    with db.session() as session:
        assert not session.scalars(
            select(RecordFormat).where(RecordFormat.prefix == MARCXML.prefix)
        ).all()
        identifier = session.scalars(select(Record.identifier)).first()
    page = parse_valid(
        oai_schema,
        client.get(f"/oai?verb=GetRecord&identifier={identifier}&metadataPrefix=marcxml").data,
    )
    marc = page.find(".//oai:metadata", OAI_NS)[0]
    assert schema_problem(MARCXML, marc) is None


def test_rerender_of_it_renders_the_marc21_it_is_served_from(
    db_command: Callable[..., Result],
) -> None:
    result = db_command("rerender", "--format", "marcxml")
    assert result.exit_code == 0, result.output
    assert "2 records with MARC read, 0 stored again, 0 left as they are" in result.output


def test_a_source_configured_with_it_is_harvested(
    db: Database,
    live_server: str,
    aggregator: tuple[Config, Database],
    oai_schema: etree.XMLSchema,
) -> None:
    load(db, "marcxml/pymarc_batch.xml")
    config, aggregator_db = aggregator
    with aggregator_db.write() as session:
        session.add(
            Source(name="az-nl", base_url=live_server, prefix="marcxml", sets=[], enabled=True)
        )
    assert harvest(aggregator_db, config, "az-nl").status == "succeeded"
    served = create_app(config, aggregator_db).test_client()
    again = parse_valid(oai_schema, served.get("/oai?verb=ListRecords&metadataPrefix=marcxml").data)
    records = [
        (h.text, m[0])
        for h, m in zip(
            again.iterfind(".//oai:header/oai:identifier", OAI_NS),
            again.iterfind(".//oai:metadata", OAI_NS),
            strict=True,
        )
    ]
    assert len(records) == 2 and invalid(records) == []
    dc = parse_valid(oai_schema, served.get("/oai?verb=ListRecords&metadataPrefix=oai_dc").data)
    assert len(dc.findall(".//oai:record", OAI_NS)) == 2
