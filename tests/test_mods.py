"""MODS (libfed.records.formats.mods): valid for every record the fixtures and the demo
hold, the Library of Congress mapping's main elements where a cataloguer looks for them,
valid in a harvest by Sickle and by pyoai's `oaipmh`, and served for records stored
before the format existed once the database is upgraded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPOSITORY_ID, ROOT, load, write_config
from lxml import etree
from oaipmh.client import Client
from oaipmh.metadata import MetadataRegistry
from pymarc import Record as MarcRecord
from sickle import Sickle
from sqlalchemy import select

from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.formats import FORMATS
from libfed.records.formats.mods import FORMAT as MODS
from libfed.records.importer import import_files
from libfed.records.marc_checks import RecordRejected, checked
from libfed.records.marc_reader import read_marc
from libfed.records.models import Record, RecordFormat
from libfed.records.xml_schemas import schema_problem
from libfed.root.cli import main

NS = {"m": MODS.namespace}
DEMO = ROOT / "libfed" / "root" / "demo" / "data"
FIXTURES = ROOT / "tests" / "fixtures"
# Every file of MARC records the project carries: local MARC (ISO 2709, MARC-8, cp1251,
# broken ones), MARCXML, and the multi-script demo catalogue.
SOURCES = sorted(
    [*(FIXTURES / "marc").glob("*.mrc"), *(FIXTURES / "marcxml").glob("*.xml"), *DEMO.glob("*.xml")]
)


def records_of(path: Path) -> Iterator[MarcRecord]:
    """The records of `path` that import accepts, as it stores them."""
    encoding = "cp1251" if "cp1251" in path.name else None
    for entry in read_marc(path, encoding):
        if entry.record is not None:
            try:
                yield checked(entry.record, entry.raw_leader)
            except RecordRejected:
                continue


def mods_of(path: Path, index: int) -> etree._Element:
    for n, record in enumerate(records_of(path)):
        if n == index:
            return etree.fromstring(MODS.render(record).encode())
    raise LookupError(index)


def texts(element: etree._Element, path: str) -> list[str]:
    return [e.text for e in element.xpath(path, namespaces=NS)]


def test_every_record_renders_valid_mods() -> None:
    rendered = {
        f"{path.relative_to(ROOT)} {n}": etree.fromstring(MODS.render(record).encode())
        for path in SOURCES
        for n, record in enumerate(records_of(path))
    }
    assert len(rendered) > 400
    problems = [
        f"{at}: {p}" for at, element in rendered.items() if (p := schema_problem(MODS, element))
    ]
    assert problems == []


def test_title_with_its_article_apart_names_with_roles_and_the_record_source() -> None:
    mods = mods_of(FIXTURES / "marcxml" / "marc2bibframe2_gwu.xml", 0)
    titles = mods.findall("m:titleInfo", NS)
    assert [(t.findtext("m:nonSort", None, NS), t.findtext("m:title", None, NS)) for t in titles][
        -1
    ] == ("The ", "eight symphonies")
    conductor = mods.find("m:name[m:namePart='Thomas, Ronald']", NS)
    assert conductor.get("type") == "personal"
    assert texts(conductor, "m:role/m:roleTerm[@authority='marcrelator']") == ["cnd"]
    author = mods.find("m:name[@usage='primary']", NS)
    assert texts(author, "m:namePart") == ["Boyce, William", "1711-1779"]
    assert texts(mods, "m:typeOfResource") == ["sound recording-musical"]
    assert texts(mods, "m:recordInfo/m:recordContentSource") == ["VDB"]
    assert texts(mods, "m:recordInfo/m:recordIdentifier") == ["7704213"]


def test_an_azerbaijani_book_as_an_aggregator_reads_it() -> None:
    mods = mods_of(DEMO / "libfed_demo.xml", 0)
    assert texts(mods, "m:titleInfo[not(@type)]/m:title") == ["Yeddi gözəl"]
    assert texts(mods, "m:titleInfo[@type='uniform']/m:title") == ["Həft peykər"]
    author = mods.find("m:name[@usage='primary']", NS)
    assert texts(author, "m:namePart") == ["Nizami Gəncəvi", "1141-1209"]
    assert texts(author, "m:role/m:roleTerm[@type='code']") == ["aut"]
    assert texts(author, "m:role/m:roleTerm[@type='text']") == ["müəllif"]
    assert texts(mods, "m:originInfo/m:dateIssued[@encoding='marc'][@keyDate='yes']") == ["2014"]
    assert texts(mods, "m:originInfo/m:publisher") == ["Şərq-Qərb"]
    assert texts(mods, "m:originInfo/m:issuance") == ["monographic"]
    assert texts(mods, "m:identifier[@type='isbn']") == ["9789952205312"]
    assert texts(mods, "m:language/m:languageTerm[@authority='iso639-2b']") == ["aze"]
    assert texts(mods, "m:subject/m:topic") == ["Farsdilli poeziya", "Azərbaycan ədəbiyyatı"]
    assert texts(mods, "m:relatedItem[@type='series']/m:titleInfo/m:title") == ["Klassik irs"]
    assert texts(mods, "m:recordInfo/m:languageOfCataloging/m:languageTerm") == ["aze"]


def test_subject_kinds_and_their_authority() -> None:
    mods = mods_of(FIXTURES / "marcxml" / "marc2bibframe2_gwu.xml", 97)
    assert texts(mods, "m:identifier[@type='isbn']")
    subjects = mods.findall("m:subject", NS)
    assert {s.get("authority") for s in subjects} == {"lcsh"}
    assert texts(mods, "m:subject/m:geographic") == ["Korea (South)"]
    corporate = mods.find("m:subject/m:name[@type='corporate']", NS)
    assert texts(corporate, "m:namePart")[0] == "United States"


def test_both_scripts_of_a_record_catalogued_in_two() -> None:
    """An 880 is mapped as the field it stands for, as in the Dublin Core crosswalk."""
    for record in records_of(DEMO / "libfed_demo.xml"):
        linked = {f["6"][:3] for f in record.get_fields("880") if f["6"]}
        if "245" in linked:
            mods = etree.fromstring(MODS.render(record).encode())
            assert len(mods.findall("m:titleInfo/m:title", NS)) >= 2
            return
    pytest.fail("the demo catalogue has lost its records with 880 titles")


# --- served and harvested ------------------------------------------------------------


@pytest.fixture
def catalogue(db: Database) -> int:
    summary = load(db, "marcxml/marc2bibframe2_gwu.xml", "marc/pymarc_marc8.mrc")
    return summary.added + load_demo(db)


def load_demo(db: Database) -> int:
    """The demo catalogue, as `libfed demo` imports it: how many records it added."""
    return import_files(db, REPOSITORY_ID, [DEMO / "libfed_demo.xml"]).added


def test_sickle_harvests_mods_valid_for_every_record(live_server: str, catalogue: int) -> None:
    assert "mods" in FORMATS
    sickle = Sickle(live_server, max_retries=0, timeout=10)
    harvested = list(sickle.ListRecords(metadataPrefix="mods"))
    assert len(harvested) == catalogue
    problems = []
    for record in harvested:
        element = etree.fromstring(record.raw.encode()).find(
            ".//{http://www.openarchives.org/OAI/2.0/}metadata/m:mods", NS
        )
        problems.append(schema_problem(MODS, element) if element is not None else "no mods")
    assert set(problems) == {None}


def test_oaipmh_client_harvests_mods_valid_for_every_record(
    live_server: str, catalogue: int
) -> None:
    registry = MetadataRegistry()
    registry.registerReader("mods", lambda metadata: metadata[0])
    client = Client(live_server, registry, force_http_get=True)
    records = list(client.listRecords(metadataPrefix="mods"))
    assert len(records) == catalogue
    assert {schema_problem(MODS, metadata) for _header, metadata, _about in records} == {None}
    titles = [metadata.findtext("m:titleInfo/m:title", None, NS) for _h, metadata, _a in records]
    assert all(titles)


def test_an_upgraded_database_serves_mods_for_records_stored_before(
    db: Database,
    config: Config,
    client,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    """Records stored by a version without MODS get it from `libfed db upgrade`."""
    with pytest.MonkeyPatch.context() as before_mods:
        before_mods.delitem(FORMATS, MODS.prefix)
        added = load_demo(db)
    answer = client.get("/oai?verb=ListIdentifiers&metadataPrefix=mods")
    assert b"noRecordsMatch" in answer.data

    path = write_config(tmp_path / "libfed.toml", config)
    result = CliRunner().invoke(main, ["--config", str(path), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "mods" in result.output
    with db.session() as session:
        served = session.scalars(
            select(Record.identifier)
            .join(RecordFormat, RecordFormat.record_id == Record.id)
            .where(RecordFormat.prefix == MODS.prefix)
        ).all()
    assert len(served) == added
    answer = client.get(f"/oai?verb=GetRecord&metadataPrefix=mods&identifier={served[0]}")
    assert b"<titleInfo>" in answer.data

    again = CliRunner().invoke(main, ["--config", str(path), "db", "upgrade"])
    assert again.exit_code == 0 and "mods" not in again.output
