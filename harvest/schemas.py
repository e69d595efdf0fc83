"""What the harvester accepts from people: a source as an operator describes it.

Checked here once, whichever door it came in by (the command line, the pages), and
refused field by field with the services' translatable messages (`Invalid`). The
limits are the harvester's own: a name that makes a `source:<name>` set and a job id,
a base URL that a request is made of, a schedule the scheduler can keep.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from libfed.kernel.errors import Message

from .models import NAME_PATTERN

_NAME = re.compile(NAME_PATTERN)
_BASE_URL = re.compile(r"https?://[^\s?#]+")
_INTERVAL = re.compile(r"([0-9]+)([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            Message("{value!r} is not a source name (letters, digits, '_', '.', '-')", value=value)
        )
    return value


def _base_url(value: str) -> str:
    if not _BASE_URL.fullmatch(value):
        raise ValueError(Message("{value!r} is not an http(s) base URL without query", value=value))
    return value


def _interval(value: Any) -> Any:
    """Seconds stay seconds; text is read as typed: '6h' -> 21600 (units s, m, h, d)."""
    if not isinstance(value, str):
        return value
    match = _INTERVAL.fullmatch(value.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(Message("{value!r} is not an interval such as 30m, 6h or 1d", value=value))
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def _cron(value: str) -> str:
    # Imported here: the scheduler's library is not needed to list sources.
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as error:
        raise ValueError(
            Message("{value!r} is not a cron expression", value=value, detail=str(error))
        ) from None
    return value


# Bounded as their columns are (harvest_sources), since a form sends whatever it is sent.
SourceName = Annotated[str, Field(max_length=64), AfterValidator(_name)]
BaseUrl = Annotated[str, Field(max_length=1024), AfterValidator(_base_url)]
Prefix = Annotated[str, Field(min_length=1, max_length=64)]
# A setSpec as OAI-PMH requests carry it; a source asks for at most MAX_SETS of them.
SetSpec = Annotated[str, Field(min_length=1, max_length=255)]
MAX_SETS = 100
# Seconds between runs, or the interval as typed (30m, 6h, 1d).
Interval = Annotated[int, BeforeValidator(_interval)]
Cron = Annotated[str, Field(max_length=128), AfterValidator(_cron)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceIn(_In):
    """A source to harvest: where, what, and when."""

    name: SourceName
    base_url: BaseUrl
    prefix: Prefix = "oai_dc"
    sets: Annotated[list[SetSpec], Field(max_length=MAX_SETS)] = []  # none: the whole repository
    every_seconds: Interval | None = None
    cron: Cron | None = None
    institution_id: int | None = None
    enabled: bool = True  # a source switched off keeps its records but is not harvested

    @model_validator(mode="after")
    def _one_schedule(self) -> SourceIn:
        if self.every_seconds and self.cron:
            raise ValueError(
                Message("a source has an interval or a cron schedule, not both", field="cron")
            )
        return self


class SourceMove(_In):
    """Where a source's provider moved: the base URL it is harvested from from now on."""

    base_url: BaseUrl
