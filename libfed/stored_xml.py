"""The XML stored for serving: each record's OAI <header>, and its whole <record>
element in every format, as UTF-8 bytes.

Everything a header shows (identifier, datestamp, deletion, sets) changes only
through a write, and every such write gives the record a new datestamp, so both
are rendered when the record is written: a ListRecords page is then the bytes of
one query's rows joined, with no date formatting, no membership query and no
re-encoding of text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .xmltext import escape_text


def format_datestamp(value: datetime) -> str:
    """UTCdatetime at second granularity.

    Not strftime: glibc writes year 999 as "999", which is no xs:dateTime.
    """
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def render_header(
    identifier: str, datestamp: datetime, deleted: bool, sets: Iterable[str]
) -> bytes:
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{escape_text(s)}</setSpec>" for s in sorted(sets))
    return (
        f"<header{status}><identifier>{escape_text(identifier)}</identifier>"
        f"<datestamp>{format_datestamp(datestamp)}</datestamp>{specs}</header>"
    ).encode()


def record_element(header: bytes, metadata: bytes | None, about: bytes | None = None) -> bytes:
    """The OAI <record>: the header, and unless the record is deleted its UTF-8 metadata
    and `about` container (provenance, for harvested records)."""
    if metadata is None:
        return b"<record>" + header + b"</record>"
    return b"".join(
        (b"<record>", header, b"<metadata>", metadata, b"</metadata>", about or b"", b"</record>")
    )


def metadata_of(record_xml: bytes) -> str | None:
    """The metadata inside a stored <record>; None for a deleted record."""
    start = record_xml.find(b"<metadata>", record_xml.find(b"</header>"))
    if start < 0:
        return None
    return record_xml[start + len(b"<metadata>") : record_xml.rindex(b"</metadata>")].decode()
