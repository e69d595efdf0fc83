"""Reading MARC files: format detection, every fixture, damaged files, encodings."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from conftest import FIXTURES

from libfed.records.marc_reader import Entry, file_kind, read_marc

MARC = FIXTURES / "marc"
MARCXML = FIXTURES / "marcxml"
CP1251 = MARC / "pymarc_1251_russian_cp1251.mrc"
GWU = MARCXML / "marc2bibframe2_gwu.xml"
CYRILLIC = re.compile("[\u0400-\u04ff]")

# (readable records, unreadable entries) per fixture, from tests/fixtures/README.md.
# Records the reader can parse but the importer rejects (no leader, a 17-character
# leader) still count as read here: judging them is libfed.records.marc_checks' job.
EXPECTED_COUNTS = {
    "marc/pymarc_1251_russian_cp1251.mrc": (6, 0),
    "marc/pymarc_bad_records.mrc": (2, 6),
    "marc/pymarc_marc8.mrc": (1, 0),
    "marc/pymarc_utf8_invalid.mrc": (0, 1),
    "marc/pymarc_utf8_with_leader_flag.mrc": (1, 0),
    "marcxml/marc2bibframe2_ConvSpec-880.xml": (1, 0),
    "marcxml/marc2bibframe2_gwu.xml": (99, 0),
    "marcxml/marc2bibframe2_princeton.xml": (99, 0),
    "marcxml/pymarc_bad_tag.xml": (1, 0),
    "marcxml/pymarc_batch.xml": (2, 0),
}


def counts(entries: list[Entry]) -> tuple[int, int]:
    good = sum(1 for e in entries if e.record is not None and e.error is None)
    bad = sum(1 for e in entries if e.record is None and e.error is not None)
    assert good + bad == len(entries), "every entry is either a record or an error"
    return good, bad


def titles(entries: list[Entry]) -> list[str]:
    return [e.record["245"]["a"] for e in entries if e.record is not None]


def test_every_fixture_is_listed() -> None:
    on_disk = {f"{p.parent.name}/{p.name}" for p in FIXTURES.glob("marc*/*") if p.is_file()}
    assert on_disk == set(EXPECTED_COUNTS)


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_file_kind_of_each_fixture(name: str) -> None:
    expected = "marcxml" if name.startswith("marcxml/") else "iso2709"
    assert file_kind(FIXTURES / name) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_read_marc_counts_of_each_fixture(name: str) -> None:
    encoding = "cp1251" if "cp1251" in name else None
    entries = list(read_marc(FIXTURES / name, encoding))
    assert counts(entries) == EXPECTED_COUNTS[name]
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))


def test_file_kind_ignores_the_file_name(tmp_path: Path) -> None:
    xml_named_mrc = tmp_path / "catalogue.mrc"
    shutil.copy(GWU, xml_named_mrc)
    iso_named_xml = tmp_path / "catalogue.xml"
    shutil.copy(CP1251, iso_named_xml)
    no_extension = tmp_path / "export"
    shutil.copy(GWU, no_extension)

    assert file_kind(xml_named_mrc) == "marcxml"
    assert file_kind(iso_named_xml) == "iso2709"
    assert file_kind(no_extension) == "marcxml"
    # ...and the files read as what they are.
    assert counts(list(read_marc(xml_named_mrc))) == (99, 0)
    assert counts(list(read_marc(iso_named_xml, "cp1251"))) == (6, 0)


def test_file_kind_with_a_byte_order_mark_and_leading_whitespace(tmp_path: Path) -> None:
    body = GWU.read_bytes()
    with_bom = tmp_path / "bom.dat"
    with_bom.write_bytes(b"\xef\xbb\xbf" + body)
    assert file_kind(with_bom) == "marcxml"
    assert counts(list(read_marc(with_bom))) == (99, 0)

    # Whitespace before the root element (no XML declaration) is well-formed XML.
    without_declaration = body.split(b"?>", 1)[1]
    padded = tmp_path / "padded.dat"
    padded.write_bytes(b"\xef\xbb\xbf\n\n  \t" + without_declaration)
    assert file_kind(padded) == "marcxml"
    assert counts(list(read_marc(padded))) == (99, 0)

    spaces_only = tmp_path / "spaces.dat"
    spaces_only.write_bytes(b"\r\n   " + body)
    assert file_kind(spaces_only) == "marcxml"


def test_iso2709_with_leading_blank_lines_is_still_iso2709(tmp_path: Path) -> None:
    padded = tmp_path / "padded.mrc"
    padded.write_bytes(b"\r\n\n" + CP1251.read_bytes() + b"\n")
    assert file_kind(padded) == "iso2709"
    assert counts(list(read_marc(padded, "cp1251"))) == (6, 0)


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(b"")
    assert list(read_marc(empty)) == []


def test_bad_records_are_reported_in_place_and_reading_resumes() -> None:
    entries = list(read_marc(MARC / "pymarc_bad_records.mrc"))
    assert [e.position for e in entries if e.record is not None] == [1, 8]
    errors = [e for e in entries if e.error is not None]
    assert [e.position for e in errors] == [2, 3, 4, 5, 6, 7]
    # Each error points at the record's first byte, for someone opening the file.
    assert [e.where for e in errors] == [
        "byte 127",
        "byte 254",
        "byte 381",
        "byte 509",
        "byte 637",
        "byte 764",
    ]
    reasons = [e.error for e in errors]
    assert "Base address exceeds size of record" in reasons[0]
    assert "base address" in reasons[1]
    assert "Invalid directory" in reasons[2]
    assert "not valid ascii" in reasons[3]
    assert "f0037" in reasons[4]
    assert "Unable to locate fields" in reasons[5]
    assert titles(entries) == ["The pragmatic programmer : ", "The pragmatic programmer : "]


def test_invalid_utf8_record_is_reported_not_guessed() -> None:
    (entry,) = read_marc(MARC / "pymarc_utf8_invalid.mrc")
    assert entry.record is None
    assert entry.where == "byte 0"
    assert "subfield code is not ASCII" in (entry.error or "")


def cut_in_the_middle_of(path: Path, entries: list[Entry], index: int, target: Path) -> int:
    """Write `path` cut halfway through its entry `index` (0-based) to `target`."""
    start = 0 if index == 0 else entries[index - 1].offset
    end = entries[index].offset
    cut = (start + end) // 2
    target.write_bytes(path.read_bytes()[:cut])
    return start


def test_truncated_iso2709_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    whole = list(read_marc(CP1251, "cp1251"))
    truncated = tmp_path / "truncated.mrc"
    start = cut_in_the_middle_of(CP1251, whole, 3, truncated)

    entries = list(read_marc(truncated, "cp1251"))
    assert counts(entries) == (3, 1)
    assert titles(entries) == titles(whole)[:3]
    last = entries[-1]
    assert last.position == 4
    assert last.where == f"byte {start}"
    assert "truncated" in (last.error or "")


def test_truncated_first_record(tmp_path: Path) -> None:
    path = tmp_path / "stub.mrc"
    path.write_bytes(CP1251.read_bytes()[:100])
    (entry,) = read_marc(path)
    assert entry.position == 1
    assert entry.record is None
    assert "truncated" in (entry.error or "")


def test_record_with_a_wrong_length_costs_only_itself(tmp_path: Path) -> None:
    data = bytearray(CP1251.read_bytes())
    whole = list(read_marc(CP1251, "cp1251"))
    second = whole[0].offset
    data[second : second + 5] = b"00010"  # record 2 claims to be 10 bytes long
    damaged = tmp_path / "damaged.mrc"
    damaged.write_bytes(bytes(data))

    entries = list(read_marc(damaged, "cp1251"))
    assert counts(entries) == (5, 1)
    assert entries[1].position == 2
    assert entries[1].where == f"byte {second}"
    assert "does not match" in (entries[1].error or "")
    assert titles(entries) == [t for i, t in enumerate(titles(whole)) if i != 1]


def test_marcxml_cut_mid_record_keeps_the_records_before(tmp_path: Path) -> None:
    lines = GWU.read_text(encoding="utf-8").splitlines(keepends=True)
    whole = list(read_marc(GWU))
    third_starts = int(whole[2].where.removeprefix("line "))
    fourth_starts = int(whole[3].where.removeprefix("line "))
    cut_line = (third_starts + fourth_starts) // 2
    truncated = tmp_path / "truncated.xml"
    truncated.write_text("".join(lines[:cut_line]), encoding="utf-8")

    entries = list(read_marc(truncated))
    assert counts(entries) == (2, 1)
    assert titles(entries) == titles(whole)[:2]
    assert [e.where for e in entries[:2]] == [whole[0].where, whole[1].where]
    error = entries[-1]
    assert error.position == 3
    match = re.fullmatch(r"line (\d+)", error.where)
    assert match, error.where
    # The line named is inside the broken record, not before it.
    assert third_starts <= int(match.group(1)) <= cut_line + 1
    assert "not well-formed" in (error.error or "")


def test_marcxml_broken_in_the_middle_keeps_the_records_before(tmp_path: Path) -> None:
    text = GWU.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    whole = list(read_marc(GWU))
    fifth_starts = int(whole[4].where.removeprefix("line "))
    # An unescaped ampersand inside record 5, with the rest of the file intact.
    lines[fifth_starts + 2] = lines[fifth_starts + 2].replace(">", ">AT&T ", 1)
    broken = tmp_path / "broken.xml"
    broken.write_text("".join(lines), encoding="utf-8")

    entries = list(read_marc(broken))
    assert counts(entries) == (4, 1)
    assert entries[-1].position == 5
    assert entries[-1].where == f"line {fifth_starts + 3}"


def test_cp1251_with_the_encoding_override_gives_cyrillic_titles() -> None:
    entries = list(read_marc(CP1251, "cp1251"))
    found = [t.strip(" /:") for t in titles(entries)]
    assert found[0] == "Основы гидравлического расчета инженерных сетей"
    assert "Экономика строительства" in found
    assert all(CYRILLIC.search(t) for t in found)


def test_cp1251_without_the_override_is_refused_with_a_hint() -> None:
    # The file claims MARC-8: decoded as such it would be garbage, so it is refused.
    entries = list(read_marc(CP1251))
    assert counts(entries) == (0, 6)
    assert all("MARC-8" in (e.error or "") and "--encoding" in (e.error or "") for e in entries)


def test_cp1251_read_as_utf8_is_refused_record_by_record() -> None:
    entries = list(read_marc(CP1251, "utf-8"))
    assert counts(entries) == (0, 6)
    assert all("utf-8" in (e.error or "") and "--encoding" in (e.error or "") for e in entries)


def test_marc8_is_converted_to_unicode() -> None:
    (entry,) = read_marc(MARC / "pymarc_marc8.mrc")
    record = entry.record
    assert record is not None
    assert record["240"]["a"] == "De la solitude \u00e0 la communaut\u00e9."
    assert record["500"]["a"] == "Translation of De la solitude \u00e0 la communaut\u00e9."
    assert record["245"]["a"] == "Escape from loneliness /"


def test_marc8_and_utf8_copies_of_one_record_read_the_same() -> None:
    (marc8,) = read_marc(MARC / "pymarc_marc8.mrc")
    (utf8,) = read_marc(MARC / "pymarc_utf8_with_leader_flag.mrc")
    assert marc8.record is not None and utf8.record is not None

    def text(entry: Entry) -> list[str]:
        return [unicodedata.normalize("NFC", f.value()) for f in entry.record.fields]

    assert text(marc8) == text(utf8)


def test_marcxml_leader_is_reported_as_found() -> None:
    (no_leader,) = read_marc(MARCXML / "marc2bibframe2_ConvSpec-880.xml")
    assert no_leader.raw_leader is None
    (short,) = read_marc(MARCXML / "pymarc_bad_tag.xml")
    assert short.raw_leader is not None and len(short.raw_leader) == 17


def test_progress_offsets_grow_to_the_file_size() -> None:
    for path, encoding in ((CP1251, "cp1251"), (GWU, None)):
        entries = list(read_marc(path, encoding))
        offsets = [e.offset for e in entries]
        assert offsets == sorted(offsets)
        assert 0 < offsets[-1] <= path.stat().st_size


def iso2709(fields: list[tuple[str, bytes]], leader_09: str = " ") -> bytes:
    """One ISO 2709 record built byte by byte (pymarc would re-encode the text)."""
    directory = b""
    data = b""
    for tag, value in fields:
        body = value + b"\x1e"
        directory += f"{tag}{len(body):04d}{len(data):05d}".encode("ascii")
        data += body
    directory += b"\x1e"
    base = 24 + len(directory)
    length = base + len(data) + 1
    leader = f"{length:05d}nam {leader_09}22{base:05d}   4500"
    return leader.encode("ascii") + directory + data + b"\x1d"


def latin1_iso2709(path: Path, title: str) -> Path:
    path.write_bytes(iso2709([("001", b"latin-1"), ("245", b"10\x1fa" + title.encode("latin-1"))]))
    return path


@pytest.mark.parametrize("encoding", ["latin-1", "iso8859-1", "ISO-8859-1", "latin1"])
def test_iso2709_latin1_override_in_any_spelling(tmp_path: Path, encoding: str) -> None:
    # pymarc takes file_encoding="iso8859-1" to mean MARC-8: every spelling of
    # ISO-8859-1 must still mean ISO-8859-1.
    path = latin1_iso2709(tmp_path / "latin1.mrc", "Bibliothèque nationale")
    (entry,) = read_marc(path, encoding)
    assert entry.error is None
    assert titles([entry]) == ["Bibliothèque nationale"]


def latin1_marcxml(path: Path, title: str) -> Path:
    # A common mislabelling: ISO-8859-1 bytes under a UTF-8 declaration.
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
        "<record><leader>00000nam a2200000   4500</leader>"
        '<controlfield tag="001">x1</controlfield>'
        f'<datafield tag="245" ind1="1" ind2="0"><subfield code="a">{title}</subfield>'
        "</datafield></record>\n</collection>\n"
    )
    path.write_bytes(text.encode("latin-1"))
    return path


@pytest.mark.parametrize("encoding", ["latin-1", "iso8859-1", "ISO-8859-1", "latin1"])
def test_marcxml_encoding_override_in_any_python_spelling(tmp_path: Path, encoding: str) -> None:
    path = latin1_marcxml(tmp_path / "latin1.xml", "Bibliothèque nationale")
    unreadable = list(read_marc(path))
    assert counts(unreadable) == (0, 1)
    (entry,) = read_marc(path, encoding)
    assert entry.error is None
    assert titles([entry]) == ["Bibliothèque nationale"]


@pytest.mark.parametrize("encoding", ["marc-8", "MARC8", "no-such-encoding"])
def test_marcxml_with_an_encoding_xml_cannot_have_is_an_error_entry(
    tmp_path: Path, encoding: str
) -> None:
    # One error for the file, not an exception that ends a multi-file import.
    path = tmp_path / "batch.xml"
    shutil.copy(MARCXML / "pymarc_batch.xml", path)
    entries = list(read_marc(path, encoding))
    assert counts(entries) == (0, 1)
    assert entries[0].position == 1
    assert encoding in (entries[0].error or "")
