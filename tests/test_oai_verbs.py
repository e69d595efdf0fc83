"""Every kind of successful OAI-PMH response, validated offline against the official XSDs.

What is checked is what a harvester relies on: the document validates, and its
content is the repository's (the right records, formats, sets and tombstones).
Error responses are validated in test_oai_errors.py, paging in test_oai_paging.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import OAI_NS, REPOSITORY_ID, load, parse_valid
from lxml import etree
from sqlalchemy import select

from libfed.records.models import OAISet, Record
from libfed.records.repository import NewRecord, ensure_sets, store, tombstone

DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
MARC_NS = "http://www.loc.gov/MARC21/slim"
NS = {**OAI_NS, "dc": DC_NS, "oai_dc": OAI_DC_NS, "marc": MARC_NS}
GWU_RECORDS = 99
OAI_DC_ONLY = (
    f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}">'
    "<dc:title>Only in Dublin Core</dc:title></oai_dc:dc>"
)


def oai(client, schema, **arguments: str) -> etree._Element:  # type: ignore[no-untyped-def]
    """One request; asserts HTTP 200 and a valid document, returns its root."""
    response = client.get("/oai", query_string=arguments)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    return parse_valid(schema, response.data)


def no_error(root: etree._Element) -> None:
    errors = root.findall("oai:error", NS)
    assert not errors, [(e.get("code"), e.text) for e in errors]


def identifiers_of(root: etree._Element) -> list[str]:
    return [e.text for e in root.iterfind(".//oai:header/oai:identifier", NS)]


@pytest.fixture
def repository(db):  # type: ignore[no-untyped-def]
    """99 real MARC records in sets gwu and lib:gwu, plus a set with a description."""
    summary = load(
        db,
        "marcxml/marc2bibframe2_gwu.xml",
        sets={"gwu": "George Washington University", "lib:gwu": "GWU (library)"},
    )
    assert summary.added == GWU_RECORDS and not summary.rejected
    with db.write() as session:
        ensure_sets(session, {"special": "Special & <rare> collections"})
        session.get(OAISet, "special").description = 'Rare books & "manuscripts" <1800'
    return db


def all_identifiers(db) -> list[str]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return list(session.scalars(select(Record.identifier).order_by(Record.id)))


# --- Identify ---------------------------------------------------------------------------


def test_identify_of_an_empty_repository_validates(client, oai_schema) -> None:
    root = oai(client, oai_schema, verb="Identify")
    no_error(root)
    assert root.find("oai:request", NS).attrib == {"verb": "Identify"}
    assert root.findtext("oai:Identify/oai:protocolVersion", namespaces=NS) == "2.0"


def test_identify_validates_and_describes_the_repository(repository, client, oai_schema) -> None:
    root = oai(client, oai_schema, verb="Identify")
    no_error(root)
    identify = root.find("oai:Identify", NS)
    assert identify.findtext("oai:repositoryName", namespaces=NS) == "libfed test repository"
    assert identify.findtext("oai:baseURL", namespaces=NS) == "http://127.0.0.1/oai"
    assert identify.findtext("oai:adminEmail", namespaces=NS) == "admin@test.libfed.org"
    repo_id = identify.findtext(
        "oai:description/{http://www.openarchives.org/OAI/2.0/oai-identifier}oai-identifier/"
        "{http://www.openarchives.org/OAI/2.0/oai-identifier}repositoryIdentifier",
        namespaces=NS,
    )
    assert repo_id == REPOSITORY_ID


# --- ListMetadataFormats ----------------------------------------------------------------


def _formats(root: etree._Element) -> dict[str, tuple[str, str]]:
    return {
        f.findtext("oai:metadataPrefix", namespaces=NS): (
            f.findtext("oai:schema", namespaces=NS),
            f.findtext("oai:metadataNamespace", namespaces=NS),
        )
        for f in root.iterfind("oai:ListMetadataFormats/oai:metadataFormat", NS)
    }


def test_list_metadata_formats_of_the_repository(client, oai_schema) -> None:
    root = oai(client, oai_schema, verb="ListMetadataFormats")
    no_error(root)
    assert _formats(root) == {
        "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS),
        "marc21": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC_NS),
        "marcxml": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC_NS),
        "mods": ("http://www.loc.gov/standards/mods/v3/mods-3-8.xsd", "http://www.loc.gov/mods/v3"),
        # Kept for the records that came as UNIMARC or RUSMARC only (tests/test_unimarc.py).
        "unimarc": (
            "http://www.bncf.firenze.sbn.it/progetti/unimarc/slim/documentation/unimarcslim.xsd",
            "http://www.bncf.firenze.sbn.it/unimarc/slim",
        ),
    }


def test_list_metadata_formats_of_one_item(repository, client, oai_schema) -> None:
    identifier = all_identifiers(repository)[0]
    root = oai(client, oai_schema, verb="ListMetadataFormats", identifier=identifier)
    no_error(root)
    assert set(_formats(root)) == {"oai_dc", "marc21", "marcxml", "mods"}
    assert root.find("oai:request", NS).attrib == {
        "verb": "ListMetadataFormats",
        "identifier": identifier,
    }


def test_list_metadata_formats_of_an_item_in_one_format_only(db, client, oai_schema) -> None:
    identifier = f"oai:{REPOSITORY_ID}:dc-only"
    with db.write() as session:
        store(session, [NewRecord.of(identifier, {"oai_dc": OAI_DC_ONLY})])
    root = oai(client, oai_schema, verb="ListMetadataFormats", identifier=identifier)
    no_error(root)
    assert set(_formats(root)) == {"oai_dc"}


# --- ListSets ---------------------------------------------------------------------------


def test_list_sets_with_hierarchy_and_description(repository, client, oai_schema) -> None:
    root = oai(client, oai_schema, verb="ListSets")
    no_error(root)
    sets = {
        s.findtext("oai:setSpec", namespaces=NS): s
        for s in root.iterfind("oai:ListSets/oai:set", NS)
    }
    # lib:gwu implies its parent lib.
    assert set(sets) == {"gwu", "lib", "lib:gwu", "special"}
    assert sets["gwu"].findtext("oai:setName", namespaces=NS) == "George Washington University"
    special = sets["special"]
    assert special.findtext("oai:setName", namespaces=NS) == "Special & <rare> collections"
    description = special.find("oai:setDescription/oai_dc:dc/dc:description", NS)
    assert description is not None
    assert description.text == 'Rare books & "manuscripts" <1800'
    assert sets["gwu"].find("oai:setDescription", NS) is None


# --- GetRecord --------------------------------------------------------------------------


def test_get_record_in_oai_dc(repository, client, oai_schema) -> None:
    identifier = all_identifiers(repository)[3]
    root = oai(client, oai_schema, verb="GetRecord", identifier=identifier, metadataPrefix="oai_dc")
    no_error(root)
    record = root.find("oai:GetRecord/oai:record", NS)
    assert record.findtext("oai:header/oai:identifier", namespaces=NS) == identifier
    assert record.find("oai:header", NS).get("status") is None
    assert sorted(e.text for e in record.iterfind("oai:header/oai:setSpec", NS)) == [
        "gwu",
        "lib",
        "lib:gwu",
    ]
    dc = record.find("oai:metadata/oai_dc:dc", NS)
    assert dc is not None
    assert dc.findtext("dc:title", namespaces=NS)


def test_get_record_in_marc21(repository, client, oai_schema) -> None:
    identifier = all_identifiers(repository)[3]
    root = oai(client, oai_schema, verb="GetRecord", identifier=identifier, metadataPrefix="marc21")
    no_error(root)
    marc = root.find("oai:GetRecord/oai:record/oai:metadata/marc:record", NS)
    assert marc is not None
    assert len(marc.findtext("marc:leader", namespaces=NS)) == 24
    local = identifier.rsplit(":", 1)[1]
    assert marc.findtext("marc:controlfield[@tag='001']", namespaces=NS).strip() == local


@pytest.mark.parametrize("prefix", ["oai_dc", "marc21", "marcxml"])
def test_get_record_of_a_deleted_record(repository, client, oai_schema, prefix: str) -> None:
    identifier = all_identifiers(repository)[5]
    before = oai(client, oai_schema, verb="GetRecord", identifier=identifier, metadataPrefix=prefix)
    with repository.write() as session:
        assert tombstone(session, identifier)
    root = oai(client, oai_schema, verb="GetRecord", identifier=identifier, metadataPrefix=prefix)
    no_error(root)
    record = root.find("oai:GetRecord/oai:record", NS)
    header = record.find("oai:header", NS)
    assert header.get("status") == "deleted"
    assert header.findtext("oai:identifier", namespaces=NS) == identifier
    assert record.find("oai:metadata", NS) is None
    assert sorted(e.text for e in header.iterfind("oai:setSpec", NS)) == ["gwu", "lib", "lib:gwu"]
    old_stamp = before.findtext(".//oai:header/oai:datestamp", namespaces=NS)
    assert header.findtext("oai:datestamp", namespaces=NS) >= old_stamp


# --- ListIdentifiers / ListRecords ------------------------------------------------------


def pages(client, schema, verb: str, **arguments: str) -> Iterator[etree._Element]:  # type: ignore[no-untyped-def]
    root = oai(client, schema, verb=verb, **arguments)
    while True:
        no_error(root)
        yield root
        token = root.find(f"oai:{verb}/oai:resumptionToken", NS)
        if token is None or not token.text:
            return
        root = oai(client, schema, verb=verb, resumptionToken=token.text)


@pytest.mark.parametrize(
    ("verb", "prefix"),
    [("ListIdentifiers", "oai_dc"), ("ListRecords", "oai_dc"), ("ListRecords", "marc21")],
)
def test_every_page_of_a_list_validates(repository, client, oai_schema, verb, prefix) -> None:
    seen: list[str] = []
    roots = list(pages(client, oai_schema, verb, metadataPrefix=prefix))
    assert len(roots) == 10  # 99 records, 10 per page
    for number, root in enumerate(roots):
        found = identifiers_of(root)
        assert len(found) == (10 if number < 9 else 9)
        seen.extend(found)
        token = root.find(f"oai:{verb}/oai:resumptionToken", NS)
        assert token is not None
        assert token.get("cursor") == str(10 * number)
        assert token.get("completeListSize") == str(GWU_RECORDS)
        if number < 9:  # first and middle pages: a live token
            assert token.text
            assert token.get("expirationDate")
        else:  # last page: the empty token that ends the list
            assert not token.text
            assert token.get("expirationDate") is None
        if verb == "ListRecords":
            namespace = OAI_DC_NS if prefix == "oai_dc" else MARC_NS
            metadata = root.findall("oai:ListRecords/oai:record/oai:metadata", NS)
            assert len(metadata) == len(found)
            assert all(etree.QName(m[0]).namespace == namespace for m in metadata)
    assert sorted(seen) == sorted(all_identifiers(repository))
    assert roots[0].find("oai:request", NS).attrib == {"verb": verb, "metadataPrefix": prefix}
    assert set(roots[4].find("oai:request", NS).attrib) == {"verb", "resumptionToken"}


@pytest.mark.parametrize("verb", ["ListIdentifiers", "ListRecords"])
def test_list_shows_a_deleted_record_as_a_tombstone(repository, client, oai_schema, verb) -> None:
    identifier = all_identifiers(repository)[0]
    with repository.write() as session:
        assert tombstone(session, identifier)
    roots = list(pages(client, oai_schema, verb, metadataPrefix="marc21"))
    headers = {
        h.findtext("oai:identifier", namespaces=NS): h
        for root in roots
        for h in root.iterfind(f"oai:{verb}//oai:header", NS)
    }
    assert len(headers) == GWU_RECORDS
    header = headers[identifier]
    assert header.get("status") == "deleted"
    assert sorted(e.text for e in header.iterfind("oai:setSpec", NS)) == ["gwu", "lib", "lib:gwu"]
    if verb == "ListRecords":
        record = header.getparent()
        assert record.find("oai:metadata", NS) is None
    live = [h for i, h in headers.items() if i != identifier]
    assert all(h.get("status") is None for h in live)
