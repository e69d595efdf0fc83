"""Date windows over a provider's datestamps: the from/until of a list request.

Some providers refuse (or time out on) a list over years, and a window that holds a
record the provider cannot serve has to be cut in half until the record is cornered
(harvest.isolation). Both need windows in the provider's own granularity, with
OAI-PMH's inclusive bounds: consecutive windows must neither overlap nor leave a gap,
so each ends one unit (a day, or a second) before the next begins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = "YYYY-MM-DD"


@dataclass(frozen=True)
class Window:
    """Inclusive bounds as the provider's granularity writes them; None: unbounded
    (no `from`: from the beginning; no `until`: up to the provider's now)."""

    start: str | None
    end: str | None

    def arguments(self) -> dict[str, str]:
        return {
            **({"from": self.start} if self.start else {}),
            **({"until": self.end} if self.end else {}),
        }

    def __str__(self) -> str:
        return f"{self.start or '…'}..{self.end or '…'}"


def parse(stamp: str) -> datetime:
    """A UTCdatetime of either granularity (fractions of seconds dropped), naive UTC."""
    if len(stamp) == 10:
        return datetime.strptime(stamp, "%Y-%m-%d")
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")


def written(moment: datetime, granularity: str | None) -> str:
    return moment.strftime("%Y-%m-%d" if granularity == DAY else "%Y-%m-%dT%H:%M:%SZ")


def _unit(granularity: str | None) -> timedelta:
    """The smallest step the provider can tell apart."""
    return timedelta(days=1) if granularity == DAY else timedelta(seconds=1)


def _floor(moment: datetime, granularity: str | None) -> datetime:
    return moment.replace(hour=0, minute=0, second=0) if granularity == DAY else moment


def following(stamp: str, granularity: str | None) -> str:
    """Where the window after one that ends at `stamp` begins."""
    return written(_floor(parse(stamp), granularity) + _unit(granularity), granularity)


def windows(start: str, end: str, days: int, granularity: str | None) -> Iterator[Window]:
    """Consecutive windows of at most `days` days from `start` to `end`, both included."""
    unit, size = _unit(granularity), timedelta(days=days)
    first, last = _floor(parse(start), granularity), _floor(parse(end), granularity)
    while first <= last:
        until = min(first + size - unit, last)
        yield Window(written(first, granularity), written(until, granularity))
        first = until + unit


def halves(window: Window, granularity: str | None) -> tuple[Window, Window] | None:
    """The window cut in two at its middle; None for one that cannot be cut (unbounded,
    or a single day or second: the provider cannot be asked for less)."""
    if window.start is None or window.end is None:
        return None
    unit = _unit(granularity)
    first, last = _floor(parse(window.start), granularity), _floor(parse(window.end), granularity)
    steps = (last - first) // unit
    if steps < 1:
        return None
    middle = first + (steps // 2) * unit
    return (
        Window(written(first, granularity), written(middle, granularity)),
        Window(written(middle + unit, granularity), written(last, granularity)),
    )
