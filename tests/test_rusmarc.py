"""RUSMARC import: hand-written ISO 2709 records with Cyrillic titles and authors (UTF-8,
and Windows-1251 as their character set says) and a real record in the Russian Library
Association's UNISlim XML, stored as MARC 21 with title, author, holdings and classes
where a reader and an aggregator look for them, found by search, the original kept."""

# ruff: noqa: RUF001

from __future__ import annotations

from conftest import REPOSITORY_ID, load
from lxml import etree

from libfed.kernel.db import Database
from libfed.records.formats import FORMATS, MARC21, OAI_DC, UNIMARC
from libfed.records.formats.mods import FORMAT as MODS
from libfed.records.xml_schemas import schema_problem
from libfed.search.query import SearchQuery, search
from tests.test_unimarc import NS, marc_of, stored_metadata_of

TOLSTOY = f"oai:{REPOSITORY_ID}:RUSM-0001"
KARIMOV = f"oai:{REPOSITORY_ID}:RUSM-0002"
BULGAKOV = f"oai:{REPOSITORY_ID}:RUSM-0003"


def found(db: Database, text: str) -> list[str]:
    with db.session() as session:
        results = search(session, SearchQuery(text))
    return [h.identifier for e in results.editions for h in e.holdings]


def test_cyrillic_title_and_author_in_every_format(db: Database) -> None:
    summary = load(db, "handwritten/rusmarc_utf8.mrc")
    assert (summary.added, summary.rejected) == (2, [])
    marc = marc_of(db, TOLSTOY)
    assert marc["245"]["a"] == "Война и мир"
    assert marc["245"]["b"] == "роман"
    assert marc["245"]["c"] == "Лев Толстой"
    assert marc["100"]["a"] == "Толстой, Л. Н."
    assert marc["100"]["q"] == "(Лев Николаевич)"
    assert marc["100"]["d"] == "1828-1910"
    assert marc["100"]["4"] == "aut"
    assert marc["020"]["a"] == "978-5-699-12014-7"
    assert (marc["260"]["a"], marc["260"]["b"], marc["260"]["c"]) == ("Москва", "Эксмо", "2019")
    assert marc["300"]["a"] == "1274 с."
    assert marc["080"]["a"] == "821.161.1"
    assert (marc["084"]["a"], marc["084"]["2"]) == ("84(2Рос=Рус)1", "rubbks")
    assert marc["650"]["a"] == "Русская литература"
    assert marc["008"].data[7:11] == "2019" and marc["008"].data[35:38] == "rus"
    assert marc["040"]["a"] == "NLR"
    # RUSMARC's location 899 is this library's holding now (libfed.records.holdings).
    assert marc["852"]["h"] == "84(2)1 Т53" and marc["852"]["p"] == "123456"

    stored = stored_metadata_of(db, TOLSTOY)
    for prefix, xml in stored.items():
        assert schema_problem(FORMATS[prefix], etree.fromstring(xml.encode())) is None, prefix
    dc = etree.fromstring(stored[OAI_DC.prefix].encode())
    assert dc.findtext("dc:title", None, NS).startswith("Война и мир")
    assert dc.findtext("dc:creator", None, NS).startswith("Толстой, Л. Н.")
    assert "rus" in [e.text for e in dc.findall("dc:language", NS)]
    mods = etree.fromstring(stored[MODS.prefix].encode())
    assert mods.findtext("m:titleInfo/m:title", None, NS) == "Война и мир"
    assert mods.findtext("m:name[@usage='primary']/m:namePart", None, NS) == (
        "Толстой, Л. Н. (Лев Николаевич)"
    )
    original = etree.fromstring(stored[UNIMARC.prefix].encode())
    assert original.findtext("u:df[@t='200']/u:sf[@c='a']", None, NS) == "Война и мир"
    assert original.findtext("u:df[@t='700']/u:sf[@c='a']", None, NS) == "Толстой"


def test_uzbek_cyrillic_with_an_editor(db: Database) -> None:
    load(db, "handwritten/rusmarc_utf8.mrc")
    marc = marc_of(db, KARIMOV)
    assert marc["245"]["a"] == "Ўзбек адабиёти тарихи"
    assert marc["245"]["c"] == "Н. Каримов ; масъул муҳаррир Ж. Эшонқулов"
    assert marc["100"]["a"] == "Каримов, Н."
    editor = marc["700"]
    assert (editor["a"], editor["4"]) == ("Эшонқулов, Ж.", "edt")
    assert marc["008"].data[15:18] == "uz " and marc["044"]["c"] == "UZ"


def test_found_by_search_in_either_script(db: Database) -> None:
    load(db, "handwritten/rusmarc_utf8.mrc", "handwritten/rusmarc_cp1251.mrc")
    assert found(db, "Толстой") == [TOLSTOY]
    assert found(db, "война мир") == [TOLSTOY]
    assert found(db, "адабиёти") == [KARIMOV]
    assert found(db, "Булгаков") == [BULGAKOV]


def test_windows_1251_as_its_character_set_says(db: Database) -> None:
    summary = load(db, "handwritten/rusmarc_cp1251.mrc")
    assert (summary.added, summary.rejected) == (1, [])
    marc = marc_of(db, BULGAKOV)
    assert marc["245"]["a"] == "Мастер и Маргарита"
    assert marc["100"]["a"] == "Булгаков, М. А."
    # Kept as UTF-8 text like every stored format: the original's characters, not its bytes.
    kept = stored_metadata_of(db, BULGAKOV)[UNIMARC.prefix]
    assert "Мастер и Маргарита" in kept


def test_a_real_unislim_record_without_leader_or_001(db: Database) -> None:
    summary = load(db, "unimarc/rusmarc_unislim.xml")
    assert (summary.added, summary.rejected) == (1, [])
    with db.session() as session:
        from libfed.records.models import Record

        (identifier,) = session.scalars(
            Record.__table__.select().with_only_columns(Record.identifier)
        )
    assert identifier.startswith(f"oai:{REPOSITORY_ID}:gen-")
    marc = marc_of(db, identifier)
    assert marc["245"]["a"] == "Сучасна соціальна філософія"
    assert marc["100"]["a"] == "Андрущенко, В.П."
    assert marc["700"]["a"] == "Михальченко, М.І."
    assert marc["020"]["a"] == "966-504-025-1"
    assert marc["008"].data[35:38] == "ukr"
    assert {f["h"] for f in marc.get_fields("852")} == {"1/А66"}
    assert len(marc.get_fields("852")) > 100  # one per copy (Koha's 995)
    # The 001 it was given names it in both forms, so a second import is the same record.
    original = etree.fromstring(stored_metadata_of(db, identifier)[UNIMARC.prefix].encode())
    assert original.findtext("u:cf[@t='001']", None, NS) == identifier.rsplit(":", 1)[1]
    assert marc["001"].data == identifier.rsplit(":", 1)[1]
    again = load(db, "unimarc/rusmarc_unislim.xml")
    assert (again.added, again.unchanged) == (0, 1)
    assert MARC21.prefix in stored_metadata_of(db, identifier)


def test_its_page_links_to_the_original(db: Database, client) -> None:  # type: ignore[no-untyped-def]
    load(db, "handwritten/rusmarc_utf8.mrc")
    page = client.get(f"/records/{TOLSTOY}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Война и мир" in text and "Толстой, Л. Н." in text
    assert "metadataPrefix=unimarc" in text and ">UNIMARC<" in text
