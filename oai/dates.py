"""UTCdatetime values of requests and responses, at day or second granularity."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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


def format_utc(value: datetime) -> str:
    # Not strftime: glibc writes year 999 as "999", which is no xs:dateTime.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)
