"""UNIMARC import (libfed.records.unimarc, unimarc_reader): real UNIMARC records stored
as MARC 21 with their titles, ISSNs and languages where every format shows them, the
original kept and served as `unimarc` for those records alone and through a rerender,
MARC 21 files never taken for UNIMARC, --flavour, a damaged record rejected alone, and
harvests of `unimarc` by Sickle and pyoai valid record by record."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, REPOSITORY_ID, load, parse_valid, write_config
from lxml import etree
from pymarc import Record as MarcRecord

from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.formats import FORMATS, MARC21, OAI_DC, UNIMARC
from libfed.records.formats.mods import FORMAT as MODS
from libfed.records.marc_reader import read_raw
from libfed.records.marcxml import record_from_element
from libfed.records.repository import stored_metadata
from libfed.records.unimarc_reader import read_entry
from libfed.records.xml_schemas import schema_problem
from libfed.root.cli import main

PERIOUNI = "unimarc/periouni_60.mrc"
NS = {
    "m": MODS.namespace,
    "dc": "http://purl.org/dc/elements/1.1/",
    "u": UNIMARC.namespace,
    "oai": "http://www.openarchives.org/OAI/2.0/",
}
# The first record of the sample: a British serial catalogued in French.
HISTORY = f"oai:{REPOSITORY_ID}:040085864"


def marc_of(db: Database, identifier: str) -> MarcRecord:
    xml = stored_metadata_of(db, identifier)[MARC21.prefix]
    return record_from_element(etree.fromstring(xml.encode()))[0]


def stored_metadata_of(db: Database, identifier: str) -> dict[str, str]:
    with db.session() as session:
        found = stored_metadata(session, identifier)
    return {prefix: xml for prefix, xml in found.items() if xml is not None}


@pytest.fixture
def periouni(db: Database) -> Database:
    summary = load(db, PERIOUNI)
    assert (summary.added, summary.rejected) == (60, [])
    return db


def test_every_record_is_stored_valid_in_every_format_and_kept(periouni: Database) -> None:
    from libfed.records.models import Record, RecordFormat

    with periouni.session() as session:
        identifiers = session.scalars(
            Record.__table__.select().with_only_columns(Record.identifier)
        ).all()
        kept = session.query(RecordFormat).filter(RecordFormat.prefix == UNIMARC.prefix).count()
    assert len(identifiers) == kept == 60
    problems = []
    for identifier in identifiers:
        stored = stored_metadata_of(periouni, identifier)
        assert set(stored) >= {OAI_DC.prefix, MARC21.prefix, MODS.prefix, UNIMARC.prefix}
        for prefix, xml in stored.items():
            if problem := schema_problem(FORMATS[prefix], etree.fromstring(xml.encode())):
                problems.append(f"{identifier} {prefix}: {problem}")
    assert problems == []


def test_title_issn_and_language_in_marc21_dublin_core_and_mods(periouni: Database) -> None:
    marc = marc_of(periouni, HISTORY)
    assert marc["245"]["a"] == "20 century British history"
    assert marc["022"]["a"] == "0955-2359"
    assert marc["008"].data[35:38] == "eng"
    assert marc["008"].data[15:18] == "xxk"  # 102 GB
    assert marc["260"]["b"] == "Oxford University Press"
    assert marc["110"]["a"] == "Institute of Contemporary British History (Londres)"
    assert [f["a"] for f in marc.get_fields("246")] == ["Twentieth century British history"]
    stored = stored_metadata_of(periouni, HISTORY)
    dc = etree.fromstring(stored[OAI_DC.prefix].encode())
    assert dc.findtext("dc:title", None, NS).startswith("20 century British history")
    assert "eng" in [e.text for e in dc.findall("dc:language", NS)]
    assert any("0955-2359" in (e.text or "") for e in dc.findall("dc:identifier", NS))
    mods = etree.fromstring(stored[MODS.prefix].encode())
    assert mods.findtext("m:titleInfo/m:title", None, NS) == "20 century British history"
    assert mods.findtext("m:identifier[@type='issn']", None, NS) == "0955-2359"
    assert mods.findtext("m:language/m:languageTerm", None, NS) == "eng"


def test_the_original_is_kept_field_for_field(periouni: Database) -> None:
    original = etree.fromstring(stored_metadata_of(periouni, HISTORY)[UNIMARC.prefix].encode())
    assert original.findtext("u:lab", None, NS)[20:24] == "450 "
    assert original.findtext("u:df[@t='200']/u:sf[@c='a']", None, NS) == (
        "20 century British history"
    )
    # What MARC 21 has no place for (a local 9XX) is still there.
    assert original.findtext("u:df[@t='972']/u:sf[@c='a']", None, NS) == "ZCAD"


def test_it_is_served_for_the_records_that_came_as_unimarc_only(
    db: Database,
    client,  # type: ignore[no-untyped-def]
    oai_schema: etree.XMLSchema,
) -> None:
    load(db, PERIOUNI, "marcxml/pymarc_batch.xml")
    formats = parse_valid(oai_schema, client.get("/oai?verb=ListMetadataFormats").data)
    assert "unimarc" in [e.text for e in formats.iterfind(".//oai:metadataPrefix", NS)]

    def offered(identifier: str) -> list[str]:
        answer = client.get(f"/oai?verb=ListMetadataFormats&identifier={identifier}")
        document = parse_valid(oai_schema, answer.data)
        return [e.text for e in document.iterfind(".//oai:metadataPrefix", NS)]

    assert "unimarc" in offered(HISTORY)
    batch = f"oai:{REPOSITORY_ID}:" + marc_identifier(FIXTURES / "marcxml" / "pymarc_batch.xml")
    assert "unimarc" not in offered(batch) and "marc21" in offered(batch)
    answer = client.get(f"/oai?verb=GetRecord&metadataPrefix=unimarc&identifier={batch}")
    assert b"cannotDisseminateFormat" in answer.data
    page = parse_valid(
        oai_schema, client.get("/oai?verb=ListIdentifiers&metadataPrefix=unimarc").data
    )
    listed = {e.text for e in page.iterfind(".//oai:header/oai:identifier", NS)}
    token = page.find(".//oai:resumptionToken", NS)
    total = int(token.get("completeListSize")) if token is not None else len(listed)
    assert total == 60 and batch not in listed
    record = parse_valid(
        oai_schema,
        client.get(f"/oai?verb=GetRecord&metadataPrefix=unimarc&identifier={HISTORY}").data,
    )
    assert record.find(".//oai:metadata/u:rec", NS) is not None


def marc_identifier(path: Path) -> str:
    """The 001 of a file's first record."""
    record = record_from_element(etree.parse(str(path)).getroot()[0])[0]
    return record["001"].data


def test_rerender_renders_the_rest_again_and_keeps_the_original(
    db: Database, config: Config, tmp_path: Path
) -> None:
    load(db, PERIOUNI)
    before = stored_metadata_of(db, HISTORY)[UNIMARC.prefix]
    settings = write_config(tmp_path / "config.toml", config)
    for args in (["db", "rerender"], ["db", "rerender", "--format", "unimarc"]):
        result = CliRunner().invoke(main, ["--config", str(settings), *args])
        assert result.exit_code == 0, result.output
        assert "0 left as they are" in result.output
    assert stored_metadata_of(db, HISTORY)[UNIMARC.prefix] == before


def test_no_marc21_record_of_the_fixtures_is_taken_for_unimarc() -> None:
    files = [*(FIXTURES / "marc").glob("*.mrc"), *(FIXTURES / "marcxml").glob("*.xml")]
    seen = 0
    for path in files:
        encoding = "cp1251" if "cp1251" in path.name else None
        for raw in read_raw(path, encoding):
            if raw.error is None:
                seen += 1
                try:
                    assert read_entry(raw, encoding) is None, f"{path.name} {raw.position}"
                except ValueError:  # a damaged record: it is rejected, not converted
                    continue
    assert seen > 200


def test_a_damaged_record_is_rejected_with_its_position_the_others_imported(
    db: Database,
) -> None:
    summary = load(db, "handwritten/unimarc_corrupt.mrc")
    assert summary.added == 2
    assert [(r.position, r.where) for r in summary.rejected] == [(2, "byte 192"), (4, "byte 590")]
    assert "not valid utf-8" in summary.rejected[0].reason
    assert "'03' (ISO 5426)" in summary.rejected[1].reason
    assert "--encoding" in summary.rejected[1].reason
    assert marc_of(db, f"oai:{REPOSITORY_ID}:UNI-0003")["245"]["a"] == "Le troisième livre"


def run_import(config: Config, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    settings = write_config(tmp_path / "config.toml", config)
    return CliRunner().invoke(main, ["--config", str(settings), "import", *args])


def test_the_command_line_detects_unimarc_and_says_what_it_did(
    db: Database, config: Config, tmp_path: Path
) -> None:
    result = run_import(config, tmp_path, str(FIXTURES / PERIOUNI))
    assert result.exit_code == 0, result.output
    assert "added 60, updated 0, unchanged 0, rejected 0" in result.output


def test_flavour_marc21_turns_detection_off(db: Database, config: Config, tmp_path: Path) -> None:
    result = run_import(config, tmp_path, "--flavour", "marc21", str(FIXTURES / PERIOUNI))
    stored = stored_metadata_of(db, HISTORY)
    # Read as MARC 21, the record has no 245: whatever is stored, nothing is converted.
    assert UNIMARC.prefix not in stored, result.output
    assert "245" not in stored.get(MARC21.prefix, "")


def test_flavour_unimarc_leaves_rusmarc_s_own_fields_out(
    db: Database, config: Config, tmp_path: Path
) -> None:
    """Detected, the hand-written Russian record is RUSMARC (801 RU, 899): its location
    899 becomes an 852. Forced to UNIMARC, 899 is a local field like any 9XX."""
    path = str(FIXTURES / "handwritten" / "rusmarc_utf8.mrc")
    identifier = f"oai:{REPOSITORY_ID}:RUSM-0001"
    assert run_import(config, tmp_path, path).exit_code == 0
    assert marc_of(db, identifier)["852"]["h"] == "84(2)1 Т53"  # noqa: RUF001
    result = run_import(config, tmp_path, "--flavour", "unimarc", path)
    assert "updated 1" in result.output, result.output
    assert marc_of(db, identifier).get("852") is None
    assert "--flavour" in CliRunner().invoke(main, ["import", "--help"]).output


def test_sickle_and_pyoai_harvest_it_valid_record_by_record(db: Database, live_server: str) -> None:
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataRegistry
    from sickle import Sickle

    load(db, PERIOUNI, "handwritten/rusmarc_utf8.mrc", "marcxml/pymarc_batch.xml")
    sickle = Sickle(live_server, max_retries=0, timeout=10)
    harvested = list(sickle.ListRecords(metadataPrefix="unimarc"))
    assert len(harvested) == 62  # the MARC 21 batch is not offered in it
    problems = []
    for record in harvested:
        element = etree.fromstring(record.raw.encode()).find(".//oai:metadata/u:rec", NS)
        problems.append(schema_problem(UNIMARC, element) if element is not None else "none")
    assert set(problems) == {None}

    registry = MetadataRegistry()
    registry.registerReader("unimarc", lambda metadata: metadata[0])
    client = Client(live_server, registry, force_http_get=True)
    records = list(client.listRecords(metadataPrefix="unimarc"))
    assert len(records) == 62
    assert {schema_problem(UNIMARC, metadata) for _header, metadata, _about in records} == {None}


def test_its_kept_originals_import_again_as_the_same_records(db: Database, tmp_path: Path) -> None:
    """A UNIMARC slim file (what this server serves as unimarc) is imported like ISO 2709,
    and the originals it kept make the very records they were kept with."""
    load(db, PERIOUNI, "handwritten/rusmarc_utf8.mrc")
    from libfed.records.models import Record

    with db.session() as session:
        identifiers = session.scalars(
            Record.__table__.select().with_only_columns(Record.identifier)
        ).all()
    kept = [stored_metadata_of(db, i)[UNIMARC.prefix] for i in identifiers]
    collection = tmp_path / "kept.xml"
    collection.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><collection xmlns="{UNIMARC.namespace}">'
        + "".join(kept)
        + "</collection>",
        encoding="utf-8",
    )
    again = load(db, str(collection))
    # RUSMARC's among them: told apart again by its fields (its 899 stays an 852).
    assert (again.added, again.updated, again.unchanged, again.rejected) == (0, 0, 62, [])


def test_the_mapping_of_what_the_samples_lack() -> None:
    """Non-sorting marks, 214, embedded fields in a link, a meeting, relators, a note of
    access, a family name: converted as docs/formats.md says."""
    from pymarc import Field, Indicators, Subfield

    from libfed.records.unimarc import to_marc21

    def field(tag: str, ind: str, *pairs: str) -> Field:
        codes = [Subfield(p[0], p[1:]) for p in pairs]
        return Field(tag, Indicators(ind[0], ind[1]), codes)

    source = MarcRecord(leader="00000nam  2200000 i 450 ")
    source.add_field(
        Field("001", data="X-1"),
        field("200", "1 ", "a\x88The \x89silent sea", "eA novel", "fJ. Doe"),
        field("214", " 1", "aParis", "cSeuil", "d2020"),
        field("371", "1 ", "aReproduction forbidden"),
        field("461", " 1", "12001 ", "aCollected works", "1011  ", "a1234-5678"),
        field("700", " 1", "aDoe", "bJ.", "gJohn", "4070"),
        field("711", "1 ", "aCongress of Librarians", "d5", "eBaku", "f2019", "4557"),
        field("720", "  ", "aRomanov"),
        field("995", "  ", "bLIB", "cMain", "kQ 123", "f000111"),
    )
    marc = to_marc21(source, str(source.leader))
    title = marc["245"]
    assert (title.indicator1, title.indicator2) == ("1", "4")
    assert (title["a"], title["b"], title["c"]) == ("The silent sea", "A novel", "J. Doe")
    assert marc["264"].indicator2 == "1" and marc["264"]["b"] == "Seuil"
    assert marc["540"]["a"] == "Reproduction forbidden"
    assert (marc["773"]["t"], marc["773"]["x"]) == ("Collected works", "1234-5678")
    assert (marc["100"]["a"], marc["100"]["q"], marc["100"]["4"]) == ("Doe, J.", "(John)", "aut")
    meeting = marc["711"]
    assert (meeting["a"], meeting["n"], meeting["c"], meeting["d"]) == (
        "Congress of Librarians",
        "5",
        "Baku",
        "2019",
    )
    assert marc["700"].indicator1 == "3" and marc["700"]["a"] == "Romanov"
    holding = marc["852"]
    assert [(s.code, s.value) for s in holding.subfields] == [
        ("a", "LIB"),
        ("b", "Main"),
        ("h", "Q 123"),
        ("p", "000111"),
    ]
    assert str(marc.leader)[18] == "c"
