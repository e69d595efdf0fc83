"""Reading MARC files of either serialisation, one entry per record, errors included.

A corrupt record must not take its neighbours down with it: ISO 2709 records are
cut at their record terminator, so a wrong length or a broken directory costs one
record and reading resumes at the next; MARCXML is streamed, so a 1 GB file is
never held in memory and a well-formedness error still keeps what came before it.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import mmap
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from pymarc import Record
from pymarc.exceptions import BadSubfieldCodeWarning

from .formats.unimarc import NAMESPACE as UNIMARC_SLIM_NS
from .formats.unimarc import RUSMARC_NAMESPACE
from .formats.unimarc import XML_RECORDS as UNIMARC_XML_RECORDS
from .marcxml import MARC_NS, record_from_element

_TERMINATOR = 0x1D
# One parser for every record: creating the default one per call costs a third of
# the parse. Entities are not resolved and nothing is fetched from the network.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_UTF8 = {"utf-8", "utf8"}
_MARC8 = {"marc-8", "marc8"}
_XML_CHUNK = 1 << 16  # bytes fed to the XML parser at a time
_HEAD = 1 << 16  # bytes looked at to tell what a file holds
# A MARCXML record without a namespace (with one, the MARC namespace itself shows).
_BARE_RECORD = re.compile(rb"<record[\s>]")
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
# UNIMARC XML (libfed.records.unimarc_reader): UNIMARC slim's or RUSMARC UNISlim's namespace.
_UNIMARC_XML = re.compile(
    b"|".join(re.escape(ns.encode()) for ns in (UNIMARC_SLIM_NS, RUSMARC_NAMESPACE))
)


@dataclass(frozen=True)
class Entry:
    """One record of a file, or the reason it could not be read."""

    position: int  # 1-based ordinal of the record in its file
    where: str  # "byte N" or "line N", for people looking at the file
    offset: int  # bytes of the file consumed so far, for progress
    record: Record | None = None
    raw_leader: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RawEntry:
    """One record as cut from its file, not yet decoded: cheap to cut, cheap to send
    to another process, where `decode` does the expensive part."""

    position: int
    where: str
    offset: int
    kind: str = ""  # "iso2709" or "marcxml"
    payload: bytes = b""
    error: str | None = None


class Undecodable(ValueError):
    """The record's bytes do not make a MARC record; the message says why."""


class NotMarc(ValueError):
    """The file holds nothing of MARC (it is empty, a web page, text): said once for the
    file, not as a silent empty import or one rejected 'record' per stretch of noise."""


def _head(path: Path) -> bytes:
    """The file's first bytes, past a UTF-8 byte order mark and leading whitespace."""
    with path.open("rb") as handle:
        return handle.read(_HEAD).removeprefix(b"\xef\xbb\xbf").lstrip()


def file_kind(path: Path) -> str:
    """'marcxml' or 'iso2709', decided by the first significant byte, not the file name."""
    return "marcxml" if _head(path).startswith(b"<") else "iso2709"


def require_marc(path: Path) -> None:
    """NotMarc unless `path` begins as MARC 21 does (the five digits of a record length)
    or is XML with a MARCXML record (or UNIMARC XML, see libfed.records.unimarc_reader)
    in its first 64 KiB. Damaged MARC passes: its
    records are rejected one by one, each with its position, by the reader."""
    head = _head(path)
    if not head:
        reason = "it is empty"
    elif head.startswith(b"<"):
        if MARC_NS.encode() in head or _BARE_RECORD.search(head) or _UNIMARC_XML.search(head):
            return
        reason = "it is an HTML page" if _HTML.search(head) else "it is XML of another kind"
    elif head.lstrip(b"\x1a\x00")[:5].isdigit():
        return
    else:
        reason = "it does not begin with a MARC 21 record length"
    raise NotMarc(f"{path} holds no MARC 21 or MARCXML record ({reason})")


def read_marc(path: Path, encoding: str | None = None) -> Iterator[Entry]:
    """Every record of `path`, decoded; `encoding` overrides what the file claims (e.g. cp1251)."""
    for raw in read_raw(path, encoding):
        if raw.error is not None:
            yield Entry(raw.position, raw.where, raw.offset, error=raw.error)
            continue
        try:
            record, leader = decode(raw, encoding)
        except Undecodable as error:
            yield Entry(raw.position, raw.where, raw.offset, error=str(error))
        else:
            yield Entry(raw.position, raw.where, raw.offset, record=record, raw_leader=leader)


def read_raw(path: Path, encoding: str | None = None) -> Iterator[RawEntry]:
    """Every record of `path` as bytes, or the reason it could not even be cut out."""
    if file_kind(path) == "marcxml":
        yield from _read_marcxml(path, encoding)
    else:
        yield from _read_iso2709(path, encoding)


def decode(raw: RawEntry, encoding: str | None = None) -> tuple[Record, str | None]:
    """The pymarc record of a raw entry and its leader as found; Undecodable if impossible."""
    if raw.kind == "marcxml":
        return record_from_element(etree.fromstring(raw.payload, _PARSER))
    options, _ = _decoder_options(encoding)
    complaints = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(complaints):
            # pymarc guesses a code for a non-ASCII one; such a record is damaged.
            warnings.simplefilter("error", BadSubfieldCodeWarning)
            record = Record(raw.payload, utf8_handling="strict", **options)
    except Exception as error:  # pymarc raises many kinds; each one rejects this record
        raise Undecodable(_error_text(error)) from None
    if "Unable to parse character" in complaints.getvalue():
        # pymarc put a blank for each byte MARC-8 does not define and said so only on
        # stderr: storing that text would store garbage (a Windows-1251 file that
        # claims MARC-8 turns into Latin letters and blanks).
        raise Undecodable(
            "bytes that MARC-8 does not define: the file is probably in another encoding "
            "than its leader says (try --encoding, e.g. cp1251)"
        )
    return record, str(record.leader)


def _decoder_options(encoding: str | None) -> tuple[dict, bool]:
    """pymarc options for an override, and whether leader/09 must be blanked first.

    pymarc trusts leader/09 = 'a' over any file_encoding, so a mislabelled file
    only decodes with the override if that flag is cleared before parsing.
    """
    if encoding is None:
        return {}, False
    name = encoding.lower()
    if name in _UTF8:
        return {"force_utf8": True}, False
    if name in _MARC8:
        return {"file_encoding": "iso8859-1"}, True
    if _codec_name(encoding) == "iso8859-1":
        # pymarc takes file_encoding="iso8859-1" (that exact spelling) to mean MARC-8.
        return {"file_encoding": "latin-1"}, True
    return {"file_encoding": encoding}, True


def is_known_encoding(encoding: str) -> bool:
    """Whether `--encoding` can be honoured: MARC-8 or a codec Python knows."""
    return encoding.lower() in _MARC8 or _codec_name(encoding) is not None


def _codec_name(encoding: str) -> str | None:
    """Python's canonical name of `encoding` ('latin-1' -> 'iso8859-1'); None if unknown."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def _error_text(error: Exception) -> str:
    if isinstance(error, BadSubfieldCodeWarning):
        return "corrupt data: a subfield code is not ASCII (wrong encoding or damaged bytes)"
    if isinstance(error, UnicodeDecodeError):
        return (
            f"bytes that are not valid {error.encoding} at offset {error.start} of a field: "
            "damaged, or the file is in another encoding (see --encoding)"
        )
    text = str(error).strip()
    text = text or (error.__doc__ or type(error).__name__).strip().splitlines()[0]
    return f"cannot parse the record: {text}"


def _read_iso2709(path: Path, encoding: str | None) -> Iterator[RawEntry]:
    _, blank_flag = _decoder_options(encoding)
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        position = 0
        start = 0
        while True:
            while start < size and data[start] in b"\r\n\t \x1a\x00":
                start += 1
            if start >= size:
                return
            position += 1
            end = data.find(bytes([_TERMINATOR]), start)
            where = f"byte {start}"
            if end < 0:
                yield RawEntry(position, where, size, error="truncated: no record terminator")
                return
            head = bytes(data[start : start + 5])
            if not head.isdigit():
                yield RawEntry(
                    position, where, end + 1, error=f"record length {head!r} is not a number"
                )
                start = end + 1
                continue
            if start + int(head) != end + 1:
                yield RawEntry(
                    position,
                    where,
                    end + 1,
                    error=f"record length {int(head)} does not match the record terminator "
                    f"at byte {end}",
                )
                start = end + 1
                continue
            chunk = bytearray(data[start : end + 1])
            if blank_flag and len(chunk) > 9:
                chunk[9] = ord(" ")
            yield RawEntry(position, where, end + 1, "iso2709", bytes(chunk))
            start = end + 1


def _no_xml_encoding(encoding: str) -> str:
    return (
        f"an XML file cannot be read as {encoding!r}: import it without --encoding "
        "(a MARCXML file names its own encoding) or with one the XML parser knows"
    )


def _read_marcxml(path: Path, encoding: str | None) -> Iterator[RawEntry]:
    position = 0
    if encoding is not None:
        # libxml2 knows Python's canonical spellings ('iso8859-1') but not every alias
        # ('latin-1'), and MARC-8 is no XML encoding at all.
        canonical = None if encoding.lower() in _MARC8 else _codec_name(encoding)
        if canonical is None:
            yield RawEntry(1, "line 1", path.stat().st_size, error=_no_xml_encoding(encoding))
            return
        encoding = canonical
    try:
        parser = etree.XMLPullParser(
            events=("end",),
            tag=(f"{{{MARC_NS}}}record", "record", *UNIMARC_XML_RECORDS),
            encoding=encoding,
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        )
    except LookupError:  # known to Python, not to libxml2 (e.g. mac-cyrillic)
        yield RawEntry(1, "line 1", path.stat().st_size, error=_no_xml_encoding(encoding))
        return
    # Fed by hand rather than through iterparse: lxml 6.2's iterparse drops the records
    # it parsed from a chunk when that chunk also holds a syntax error, whereas the
    # events a pull parser collected before the error can still be read.
    with path.open("rb") as handle:
        read = 0

        def parsed() -> Iterator[RawEntry]:
            nonlocal position
            for _event, element in parser.read_events():
                position += 1
                yield RawEntry(
                    position,
                    f"line {element.sourceline}",
                    read,
                    "marcxml",
                    etree.tostring(element, encoding="utf-8"),
                )
                element.clear(keep_tail=True)
                parent = element.getparent()
                while parent is not None and element.getprevious() is not None:
                    del parent[0]

        try:
            while chunk := handle.read(_XML_CHUNK):
                read += len(chunk)
                try:
                    parser.feed(chunk)
                except etree.XMLSyntaxError:
                    yield from parsed()  # the records completed before the error
                    raise
                yield from parsed()
            # Not drained on failure: at a premature end, libxml2 closes the open elements
            # itself, and the record cut short would come out as if complete.
            parser.close()
            yield from parsed()
        except etree.XMLSyntaxError as error:
            position += 1
            yield RawEntry(
                position,
                f"line {error.lineno}",
                read,
                error=f"XML is not well-formed, reading stopped here: {error.msg}",
            )
