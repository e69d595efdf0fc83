"""Importing MARC files into the repository, as an operator and a harvester see it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from conftest import CLOCK_START, FIXTURES, REPOSITORY_ID, ROOT, SITE, Clock, load
from lxml import etree
from pymarc import Field, Indicators, Leader, Record, Subfield
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from libfed.kernel.db import Database
from libfed.records import importer
from libfed.records import repository as records
from libfed.records.formats import rendered_formats
from libfed.records.importer import ImportSummary, import_files
from libfed.records.marc_reader import NotMarc
from libfed.records.models import OAISet, RecordFormat, RecordSet
from libfed.records.models import Record as RecordRow
from libfed.records.repository import stored_metadata, tombstone
from libfed.records.stored_xml import metadata_of
from tests.backends import Databases

# Every format a record with MARC is stored in.
STORED_FORMATS = {entry.prefix for entry in rendered_formats()}

MARC21_SLIM = ROOT / "schemas" / "loc.gov" / "standards" / "marcxml" / "schema" / "MARC21slim.xsd"
OAI_DC_XSD = ROOT / "schemas" / "openarchives.org" / "OAI" / "2.0" / "oai_dc.xsd"
# oai-identifier.xsd's pattern for a full identifier.
OAI_IDENTIFIER = re.compile(
    r"oai:[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+:[a-zA-Z0-9\-_\.!~\*'\(\);/\?:@&=\+$,%]+"
)
PREFIX = f"oai:{REPOSITORY_ID}:"
T0 = CLOCK_START

# file -> (added, updated, unchanged, [(position, where, reason excerpt)]), each checked
# against tests/fixtures/README.md:
EXPECTED = {
    # 6 Russian records in Windows-1251 (imported with --encoding cp1251).
    "marc/pymarc_1251_russian_cp1251.mrc": (6, 0, 0, []),
    # 8 records: 6 deliberately broken; the 2 sound ones are identical and have no 001,
    # so they share one generated identifier: the second is "unchanged".
    "marc/pymarc_bad_records.mrc": (
        1,
        0,
        1,
        [
            (2, "byte 127", "Base address exceeds size of record"),
            (3, "byte 254", "Unable to locate base address of record"),
            (4, "byte 381", "Invalid directory"),
            (5, "byte 509", "not valid ascii"),
            (6, "byte 637", "invalid literal for int() with base 10: b'f0037'"),
            (7, "byte 764", "Unable to locate fields in record data"),
        ],
    ),
    "marc/pymarc_marc8.mrc": (1, 0, 0, []),
    # Its "invalid UTF-8" is a subfield code that is not a MARC character.
    "marc/pymarc_utf8_invalid.mrc": (
        0,
        0,
        0,
        [(1, "byte 0", "a subfield code is not ASCII")],
    ),
    "marc/pymarc_utf8_with_leader_flag.mrc": (1, 0, 0, []),
    "marcxml/marc2bibframe2_ConvSpec-880.xml": (0, 0, 0, [(1, "line 2", "no leader")]),
    "marcxml/marc2bibframe2_gwu.xml": (99, 0, 0, []),
    # 99 records, but records 25 and 27 are byte-identical repeats of records 24 and 26
    # (001 4609321 and 4609990, "Biblia Latina"): 97 distinct records.
    "marcxml/marc2bibframe2_princeton.xml": (97, 0, 2, []),
    "marcxml/pymarc_bad_tag.xml": (
        0,
        0,
        0,
        [(1, "line 2", "leader is 17 characters long, not 24")],
    ),
    "marcxml/pymarc_batch.xml": (2, 0, 0, []),
}


def encoding_for(name: str) -> str | None:
    return "cp1251" if "cp1251" in name else None


def stored(db: Database) -> dict[str, RecordRow]:
    with db.session() as session:
        return {r.identifier: r for r in session.scalars(select(RecordRow))}


def datestamps(db: Database) -> dict[str, datetime]:
    return {ident: row.datestamp for ident, row in stored(db).items()}


def formats_of(db: Database, identifier: str) -> dict[str, str | None]:
    with db.session() as session:
        return stored_metadata(session, identifier)


def memberships(db: Database, identifier: str) -> dict[str, datetime]:
    """set spec -> the datestamp copied into the membership row."""
    with db.session() as session:
        rows = session.execute(
            select(RecordSet.set_spec, RecordSet.datestamp, RecordSet.identifier)
            .join(RecordRow, RecordRow.id == RecordSet.record_id)
            .where(RecordRow.identifier == identifier)
        ).all()
    assert all(row.identifier == identifier for row in rows)
    return {row.set_spec: row.datestamp for row in rows}


def all_sets(db: Database) -> dict[str, OAISet]:
    with db.session() as session:
        return {s.spec: s for s in session.scalars(select(OAISet))}


def table_count(db: Database, model: type) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def counts(summary: ImportSummary) -> tuple[int, int, int, int]:
    return summary.added, summary.updated, summary.unchanged, len(summary.rejected)


def identifier_of(xml_path: Path, control_number: str) -> str:
    assert control_number in xml_path.read_text(encoding="utf-8")
    return PREFIX + control_number


def marc_file(path: Path, *items: Record) -> Path:
    path.write_bytes(b"".join(r.as_marc() for r in items))
    return path


def marc_record(control: str | None, title: str, *extra: Field) -> Record:
    record = Record(leader=Leader("00000nam a2200000   4500"))
    if control is not None:
        record.add_field(Field(tag="001", data=control))
    record.add_field(
        Field(tag="245", indicators=Indicators("1", "0"), subfields=[Subfield("a", title)])
    )
    for field in extra:
        record.add_field(field)
    return record


# --- every fixture --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_import_of_each_fixture(db: Database, name: str) -> None:
    added, updated, unchanged, rejections = EXPECTED[name]
    summary = load(db, name, encoding=encoding_for(name))
    assert counts(summary) == (added, updated, unchanged, len(rejections))
    for rejection, (position, where, reason) in zip(summary.rejected, rejections, strict=True):
        assert rejection.file == str(FIXTURES / name)
        assert rejection.position == position
        assert rejection.where == where
        assert reason in rejection.reason
        # The line printed for the operator carries all of it.
        assert str(rejection) == (
            f"{FIXTURES / name}: record {position} ({where}): {rejection.reason}"
        )
    assert table_count(db, RecordRow) == added
    assert table_count(db, RecordFormat) == len(STORED_FORMATS) * added
    assert table_count(db, RecordSet) == 0


def test_import_of_every_fixture_together(db: Database) -> None:
    """One database, all files: the totals add up and nothing is counted twice."""
    summaries = {name: load(db, name, encoding=encoding_for(name)) for name in sorted(EXPECTED)}
    # The MARC-8 and the UTF-8 copies of one record share 001 "2": the UTF-8 file,
    # read second, updates that item (its accents are decomposed) and adds nothing.
    assert counts(summaries["marc/pymarc_utf8_with_leader_flag.mrc"]) == (0, 1, 0, 0)
    total_added = sum(s.added for s in summaries.values())
    assert total_added == 6 + 1 + 1 + 99 + 97 + 2
    assert sum(len(s.rejected) for s in summaries.values()) == 6 + 1 + 1 + 1
    assert table_count(db, RecordRow) == total_added
    assert table_count(db, RecordFormat) == len(STORED_FORMATS) * total_added


def test_marc8_and_utf8_copies_share_an_identifier(db: Database) -> None:
    first = load(db, "marc/pymarc_marc8.mrc")
    second = load(db, "marc/pymarc_utf8_with_leader_flag.mrc")
    assert counts(first) == (1, 0, 0, 0)
    assert counts(second) == (0, 1, 0, 0)
    assert list(stored(db)) == [PREFIX + "2"]


# --- re-imports and datestamps ----------------------------------------------------------


def test_reimporting_an_identical_file_changes_nothing(db: Database, clock: Clock) -> None:
    name = "marcxml/marc2bibframe2_gwu.xml"
    assert counts(load(db, name, sets={"music": "Music"})) == (99, 0, 0, 0)
    before = datestamps(db)
    before_sets = memberships(db, PREFIX + "7704213")
    assert set(before.values()) == {T0}

    clock.advance(3600)
    assert counts(load(db, name, sets={"music": None})) == (0, 0, 99, 0)
    assert datestamps(db) == before
    assert memberships(db, PREFIX + "7704213") == before_sets
    assert all_sets(db)["music"].name == "Music"  # None keeps the name


def test_reimport_of_files_with_rejections_is_also_unchanged(db: Database, clock: Clock) -> None:
    names = ["marc/pymarc_bad_records.mrc", "marcxml/marc2bibframe2_princeton.xml"]
    load(db, *names)
    before = datestamps(db)
    clock.advance()
    summary = load(db, *names)
    assert counts(summary) == (0, 0, 2 + 99, 6)
    assert datestamps(db) == before


def test_changed_record_gets_a_new_datestamp_and_the_others_keep_theirs(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    copy = tmp_path / "batch.xml"
    shutil.copy(FIXTURES / "marcxml" / "pymarc_batch.xml", copy)
    assert counts(import_files(db, REPOSITORY_ID, [copy], sets={"x": "X"})) == (2, 0, 0, 0)
    charles = identifier_of(copy, "5637241")
    white_house = identifier_of(copy, "12149120")
    assert datestamps(db) == {charles: T0, white_house: T0}

    text = copy.read_text(encoding="utf-8")
    assert text.count("The White House") == 1
    copy.write_text(text.replace("The White House", "The Green House"), encoding="utf-8")
    later = clock.advance(90)

    summary = import_files(db, REPOSITORY_ID, [copy])
    assert counts(summary) == (0, 1, 1, 0)
    assert datestamps(db) == {charles: T0, white_house: later}
    # The per-set copy of the datestamp follows, so selective harvests see the change.
    assert memberships(db, white_house) == {"x": later}
    assert memberships(db, charles) == {"x": T0}
    formats = formats_of(db, white_house)
    assert "The Green House" in (formats["marc21"] or "")
    assert "The Green House" in (formats["oai_dc"] or "")
    assert "The White House" not in (formats["marc21"] or "")


def test_repeated_identifier_within_one_file_last_one_wins(
    db: Database, clock: Clock, tmp_path: Path
) -> None:
    path = marc_file(
        tmp_path / "twice.mrc",
        marc_record("dup-1", "First version"),
        marc_record("dup-1", "Second"),
    )
    summary = import_files(db, REPOSITORY_ID, [path])
    assert counts(summary) == (1, 1, 0, 0)
    assert table_count(db, RecordRow) == 1
    assert "Second" in (formats_of(db, PREFIX + "dup-1")["marc21"] or "")


# --- sets ------------------------------------------------------------------------------


def test_joining_a_set_is_a_change_and_memberships_add_up(db: Database, clock: Clock) -> None:
    name = "marcxml/pymarc_batch.xml"
    assert counts(load(db, name)) == (2, 0, 0, 0)
    idents = sorted(stored(db))
    assert all(memberships(db, i) == {} for i in idents)

    t1 = clock.advance()
    assert counts(load(db, name, sets={"x": "X"})) == (0, 2, 0, 0)
    assert datestamps(db) == dict.fromkeys(idents, t1)
    assert all(memberships(db, i) == {"x": t1} for i in idents)

    t2 = clock.advance()
    assert counts(load(db, name, sets={"a:b": "A, part B"})) == (0, 2, 0, 0)
    assert datestamps(db) == dict.fromkeys(idents, t2)
    # Additive: still in x; in a:b, and so in its parent a too.
    assert all(memberships(db, i) == {"x": t2, "a": t2, "a:b": t2} for i in idents)
    sets = all_sets(db)
    assert set(sets) == {"x", "a", "a:b"}
    assert sets["x"].name == "X"
    assert sets["a:b"].name == "A, part B"
    assert sets["a"].name == "a"  # a created parent is named after its spec

    clock.advance()
    assert counts(load(db, name, sets={"x": None, "a": None})) == (0, 0, 2, 0)
    assert datestamps(db) == dict.fromkeys(idents, t2)


def test_import_into_a_deep_set_creates_every_ancestor(db: Database) -> None:
    summary = load(db, "marc/pymarc_marc8.mrc", sets={"lib:branch:shelf": "Shelf 3"})
    assert summary.added == 1
    assert set(all_sets(db)) == {"lib", "lib:branch", "lib:branch:shelf"}
    assert set(memberships(db, PREFIX + "2")) == {"lib", "lib:branch", "lib:branch:shelf"}


def test_sets_are_created_even_when_every_record_is_rejected(db: Database) -> None:
    summary = load(db, "marcxml/pymarc_bad_tag.xml", sets={"empty": "Empty"})
    assert counts(summary) == (0, 0, 0, 1)
    assert set(all_sets(db)) == {"empty"}


def test_renaming_a_set_through_an_import_is_not_a_record_change(
    db: Database, clock: Clock
) -> None:
    load(db, "marcxml/pymarc_batch.xml", sets={"x": "Old name"})
    before = datestamps(db)
    clock.advance()
    summary = load(db, "marcxml/pymarc_batch.xml", sets={"x": "New name"})
    assert counts(summary) == (0, 0, 2, 0)
    assert datestamps(db) == before
    assert all_sets(db)["x"].name == "New name"


# --- identifiers -----------------------------------------------------------------------


def test_identifiers_are_built_from_001(db: Database) -> None:
    load(db, "marcxml/marc2bibframe2_gwu.xml")
    idents = set(stored(db))
    assert len(idents) == 99
    assert PREFIX + "7704213" in idents
    assert all(OAI_IDENTIFIER.fullmatch(i) for i in idents)


def test_001_with_spaces_and_cyrillic_is_percent_encoded(db: Database, tmp_path: Path) -> None:
    path = marc_file(
        tmp_path / "local.mrc",
        marc_record("RU 001 Книга", "Книга"),
        marc_record("  50%/a  ", "Half"),
        marc_record("ocm:123", "Colon"),
    )
    summary = import_files(db, REPOSITORY_ID, [path])
    assert counts(summary) == (3, 0, 0, 0)
    idents = set(stored(db))
    assert idents == {
        PREFIX + "RU%20001%20%D0%9A%D0%BD%D0%B8%D0%B3%D0%B0",
        PREFIX + "50%25/a",  # surrounding blanks trimmed, '%' itself encoded
        # No ':' in a local part: oai:<repo>:<source>:<id> is the harvester's form.
        PREFIX + "ocm%3A123",
    }
    assert all(OAI_IDENTIFIER.fullmatch(i) for i in idents)


def test_cp1251_identifiers(db: Database) -> None:
    load(db, "marc/pymarc_1251_russian_cp1251.mrc", encoding="cp1251")
    assert set(stored(db)) == {PREFIX + f"ru03-00000{n}RKP" for n in range(1, 7)}


def test_records_without_001_get_a_stable_generated_identifier(
    db: Database, tmp_path: Path
) -> None:
    load(db, "marc/pymarc_bad_records.mrc")
    (generated,) = stored(db)
    assert re.fullmatch(re.escape(PREFIX) + r"gen-[0-9a-f]{24}", generated)

    # The same record found again, alone and in another file, is the same item.
    again = load(db, "marc/pymarc_bad_records.mrc")
    assert (again.added, again.unchanged) == (0, 2)
    single = tmp_path / "single.mrc"
    single.write_bytes((FIXTURES / "marc" / "pymarc_bad_records.mrc").read_bytes()[:127])
    assert counts(import_files(db, REPOSITORY_ID, [single], site=SITE)) == (0, 0, 1, 0)
    assert list(stored(db)) == [generated]


def test_generated_identifier_uses_the_system_number(db: Database, tmp_path: Path) -> None:
    system = Field(tag="035", indicators=Indicators(" ", " "), subfields=[Subfield("a", "(X)1")])
    path = marc_file(
        tmp_path / "no001.mrc",
        marc_record(None, "Version one", system),
        marc_record(None, "Another book"),
    )
    import_files(db, REPOSITORY_ID, [path])
    first = set(stored(db))
    assert len(first) == 2

    # Same 035, corrected title: an update of the same item, not a new one.
    path = marc_file(tmp_path / "no001.mrc", marc_record(None, "Version two", system))
    assert counts(import_files(db, REPOSITORY_ID, [path])) == (0, 1, 0, 0)
    assert set(stored(db)) == first


# --- atomicity -------------------------------------------------------------------------


def test_a_failing_batch_leaves_no_trace_and_earlier_batches_stay_whole(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_SIZE", 10)
    real_store = importer.store
    calls: list[int] = []

    def store_then_fail_on_the_second_batch(
        session: Session, batch: Sequence[records.NewRecord]
    ) -> list[records.Outcome]:
        calls.append(len(batch))
        outcomes = real_store(session, batch)  # rows written inside the transaction...
        if len(calls) == 2:
            raise OSError("disk full")  # ...then the batch fails
        return outcomes

    monkeypatch.setattr(importer, "store", store_then_fail_on_the_second_batch)
    with pytest.raises(OSError, match="disk full"):
        load(db, "marcxml/marc2bibframe2_gwu.xml", sets={"music:scores": "Scores"})
    assert calls == [10, 10]

    gwu = FIXTURES / "marcxml" / "marc2bibframe2_gwu.xml"
    first_ten = re.findall(r'<controlfield tag="001">([^<]+)</controlfield>', gwu.read_text())[:10]
    rows = stored(db)
    assert set(rows) == {PREFIX + n for n in first_ten}
    for identifier in rows:
        formats = formats_of(db, identifier)
        assert set(formats) == STORED_FORMATS
        assert all(formats.values())
        assert set(memberships(db, identifier)) == {"music", "music:scores"}
    # Nothing of the failed batch: no orphan formats or memberships either.
    assert table_count(db, RecordRow) == 10
    assert table_count(db, RecordFormat) == 10 * len(STORED_FORMATS)
    assert table_count(db, RecordSet) == 20

    # The import can simply be run again.
    monkeypatch.setattr(importer, "store", real_store)
    summary = load(db, "marcxml/marc2bibframe2_gwu.xml", sets={"music:scores": None})
    assert counts(summary) == (89, 0, 10, 0)


def test_a_file_without_marc_stops_the_import_before_anything_is_written(
    db: Database, tmp_path: Path
) -> None:
    page = tmp_path / "export.mrc"  # what a catalogue's web export sends once signed out
    page.write_text("<html><body>Your session has expired.</body></html>", encoding="utf-8")
    batch = FIXTURES / "marcxml" / "pymarc_batch.xml"
    with pytest.raises(NotMarc, match=r"export\.mrc holds no MARC 21 or MARCXML record"):
        import_files(db, REPOSITORY_ID, [batch, page], sets={"x": "X"})
    assert table_count(db, RecordRow) == 0 and table_count(db, OAISet) == 0


# --- what is stored --------------------------------------------------------------------


@pytest.fixture(scope="module")
def marc21_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(MARC21_SLIM)))


@pytest.fixture(scope="module")
def oai_dc_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(OAI_DC_XSD)))


@pytest.fixture
def validated_import(db: Database) -> Iterator[Database]:
    load(db, "marcxml/marc2bibframe2_gwu.xml")
    load(db, "marcxml/marc2bibframe2_princeton.xml")
    load(db, "marc/pymarc_1251_russian_cp1251.mrc", encoding="cp1251")
    load(db, "marc/pymarc_marc8.mrc")
    yield db


def test_every_record_has_both_formats_and_they_validate(
    validated_import: Database,
    marc21_schema: etree.XMLSchema,
    oai_dc_schema: etree.XMLSchema,
) -> None:
    db = validated_import
    with db.session() as session:
        rows = session.execute(
            select(RecordRow.identifier, RecordFormat.prefix, RecordFormat.body_xml).join(
                RecordFormat, RecordFormat.record_id == RecordRow.id
            )
        ).all()
    by_record: dict[str, dict[str, str | None]] = {}
    for identifier, prefix, xml in rows:
        by_record.setdefault(identifier, {})[prefix] = metadata_of(xml)
    assert len(by_record) == 99 + 97 + 6 + 1 == table_count(db, RecordRow)
    invalid = []
    for identifier, formats in by_record.items():
        assert set(formats) == STORED_FORMATS, identifier
        marc21 = etree.fromstring(formats["marc21"].encode("utf-8"))
        if not marc21_schema.validate(marc21):
            invalid.append(f"{identifier} marc21: {marc21_schema.error_log.last_error}")
        # The stored leader says Unicode whatever the source said.
        leader = marc21.findtext("{http://www.loc.gov/MARC21/slim}leader")
        assert leader is not None and len(leader) == 24 and leader[9] == "a", identifier
        oai_dc = etree.fromstring(formats["oai_dc"].encode("utf-8"))
        if not oai_dc_schema.validate(oai_dc):
            invalid.append(f"{identifier} oai_dc: {oai_dc_schema.error_log.last_error}")
    assert invalid == []


def test_cp1251_titles_are_stored_in_cyrillic(db: Database) -> None:
    load(db, "marc/pymarc_1251_russian_cp1251.mrc", encoding="cp1251")
    formats = formats_of(db, PREFIX + "ru03-000001RKP")
    assert "Основы гидравлического расчета инженерных сетей" in (formats["marc21"] or "")
    assert "Основы гидравлического расчета инженерных сетей" in (formats["oai_dc"] or "")


def test_illegal_xml_characters_are_stripped_at_import(
    db: Database, tmp_path: Path, marc21_schema: etree.XMLSchema
) -> None:
    note = Field(
        tag="500", indicators=Indicators(" ", " "), subfields=[Subfield("a", "Note\x0b\x01 end")]
    )
    path = marc_file(
        tmp_path / "controls.mrc", marc_record("ctl\x0b-1", "Broken\ufffe title\uffff\x0b", note)
    )
    summary = import_files(db, REPOSITORY_ID, [path])
    assert counts(summary) == (1, 0, 0, 0)
    (identifier,) = stored(db)
    assert identifier == PREFIX + "ctl-1"
    formats = formats_of(db, identifier)
    for prefix, xml in formats.items():
        assert xml is not None
        for bad in ("\x0b", "\x01", "\ufffe", "\uffff"):
            assert bad not in xml, (prefix, bad)
        etree.fromstring(xml.encode("utf-8"))  # parses: a harvester's parser would too
    assert "Broken title" in (formats["marc21"] or "")
    assert "Note end" in (formats["marc21"] or "")
    assert marc21_schema.validate(etree.fromstring((formats["marc21"] or "").encode("utf-8")))


# --- deletion --------------------------------------------------------------------------


def test_tombstone_and_resurrection(db: Database, clock: Clock) -> None:
    load(db, "marcxml/pymarc_batch.xml", sets={"a:b": "AB"})
    charles, white_house = PREFIX + "5637241", PREFIX + "12149120"
    assert datestamps(db) == {charles: T0, white_house: T0}

    t1 = clock.advance()
    with db.write() as session:
        assert tombstone(session, white_house) is True
    row = stored(db)[white_house]
    assert row.deleted is True
    assert row.datestamp == t1
    # Still listed in the same formats and sets, as a deletion, with the new datestamp.
    assert formats_of(db, white_house) == dict.fromkeys(STORED_FORMATS)
    assert memberships(db, white_house) == {"a": t1, "a:b": t1}
    # The neighbour is untouched.
    assert stored(db)[charles].deleted is False
    assert stored(db)[charles].datestamp == T0
    assert all(formats_of(db, charles).values())

    clock.advance()
    with db.write() as session:
        assert tombstone(session, white_house) is False  # already deleted
        assert tombstone(session, PREFIX + "no-such-record") is False
    assert stored(db)[white_house].datestamp == t1

    t3 = clock.advance()
    summary = load(db, "marcxml/pymarc_batch.xml")
    assert counts(summary) == (0, 1, 1, 0)
    row = stored(db)[white_house]
    assert row.deleted is False
    assert row.datestamp == t3
    formats = formats_of(db, white_house)
    assert set(formats) == STORED_FORMATS
    assert all(formats.values())
    assert memberships(db, white_house) == {"a": t3, "a:b": t3}
    assert stored(db)[charles].datestamp == T0


def test_parallel_import_stores_exactly_what_a_serial_one_does(
    databases: Databases, migrated_template: str, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    """Large inputs are prepared in worker processes; the result must not depend on it."""
    names = [
        "marcxml/marc2bibframe2_gwu.xml",
        "marc/pymarc_bad_records.mrc",
        "marcxml/marc2bibframe2_princeton.xml",
    ]

    def run(parallel: bool, folder: str) -> tuple[ImportSummary, dict]:
        monkeypatch.setattr(importer, "PARALLEL_FROM_BYTES", 0 if parallel else 2**40)
        monkeypatch.setattr(importer, "WINDOW", 16)  # several windows per file
        db = Database(databases.copy(migrated_template, folder))
        try:
            summary = load(db, *names, sets={"s": "S"})
            with db.session() as session:
                content = {
                    (ident, prefix): metadata_of(xml)
                    for ident, prefix, xml in session.execute(
                        select(
                            RecordRow.identifier, RecordFormat.prefix, RecordFormat.body_xml
                        ).join(RecordFormat, RecordFormat.record_id == RecordRow.id)
                    )
                }
        finally:
            db.dispose()
        return summary, content

    serial_summary, serial = run(False, "serial")
    parallel_summary, parallel = run(True, "parallel")
    assert counts(serial_summary) == (99 + 1 + 97, 0, 1 + 2, 6)
    assert counts(parallel_summary) == counts(serial_summary)
    assert parallel_summary.rejected == serial_summary.rejected
    assert parallel == serial
