"""The XML stored for serving, as UTF-8 bytes: each record's OAI <header>, and in
every format the body that follows it (<metadata> and <about>; nothing once deleted).

Everything a header shows (identifier, datestamp, deletion, sets) changes only
through a write, and every such write gives the record a new datestamp, so both
are rendered when the record is written: a ListRecords page is then the bytes of
one query's rows joined, with no date formatting, no membership query and no
re-encoding of text. The header is stored once per record, not inside each
format's body, so that moving a batch to a later datestamp rewrites small rows only.
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


def record_body(metadata: bytes | None, about: bytes | None = None) -> bytes:
    """What follows the header in a format's <record>: the UTF-8 metadata and the
    `about` container (provenance, for harvested records); nothing for a deleted record."""
    if metadata is None:
        return b""
    return b"".join((b"<metadata>", metadata, b"</metadata>", about or b""))


def record_element(header: bytes, body: bytes) -> bytes:
    """The OAI <record> as served."""
    return b"".join((b"<record>", header, body, b"</record>"))


def metadata_of(body: bytes) -> str | None:
    """The metadata inside a stored body; None for a deleted record."""
    if not body:
        return None
    return body[len(b"<metadata>") : body.rindex(b"</metadata>")].decode()
