"""UTCdatetime values of requests and responses, at day or second granularity."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from libfed.kernel.clock import utc_now as now_utc
from libfed.records.stored_xml import format_datestamp as format_utc

__all__ = ["DAY", "SECONDS", "format_utc", "now_utc", "parse_utc", "until_bound"]

DAY = "YYYY-MM-DD"
SECONDS = "YYYY-MM-DDThh:mm:ssZ"
_FORMATS = {DAY: "%Y-%m-%d", SECONDS: "%Y-%m-%dT%H:%M:%SZ"}
# ASCII digits only: `\d` would also take full-width and other Unicode digits (and strptime parses them).
_PATTERNS = {
    DAY: re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    SECONDS: re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"),
}


def parse_utc(value: str) -> tuple[datetime, str]:
    """A naive-UTC datetime and the granularity `value` was written in; ValueError if neither.

    Only the two forms the protocol defines are accepted: no offsets, no
    fractions, no missing Z (a harvester sending those has a bug worth seeing).
    """
    for granularity, pattern in _PATTERNS.items():
        if pattern.fullmatch(value):
            return datetime.strptime(value, _FORMATS[granularity]), granularity
    raise ValueError(f"{value!r} is not a UTC date (YYYY-MM-DD) or datetime (YYYY-MM-DDThh:mm:ssZ)")


def until_bound(value: datetime, granularity: str) -> datetime:
    """The last second an `until` covers: a day means the whole day, inclusive."""
    return value + timedelta(days=1, seconds=-1) if granularity == DAY else value
