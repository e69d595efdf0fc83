"""OAI record headers, rendered when a record is written.

Everything a header shows (identifier, datestamp, deletion, sets) changes only
through a write, and every such write gives the record a new datestamp, so the
header is stored beside the record: serving a page then formats no dates and
reads no memberships.
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


def render_header(identifier: str, datestamp: datetime, deleted: bool, sets: Iterable[str]) -> str:
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{escape_text(s)}</setSpec>" for s in sorted(sets))
    return (
        f"<header{status}><identifier>{escape_text(identifier)}</identifier>"
        f"<datestamp>{format_datestamp(datestamp)}</datestamp>{specs}</header>"
    )
