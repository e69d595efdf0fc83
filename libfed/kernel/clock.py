"""The one clock every write reads, so that a test can set the time in one place."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, in UTC, at the one-second granularity of OAI datestamps."""
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)
