"""What the harvester accepts from people: a source as an operator describes it.

Checked here once, whichever door it came in by (the command line, the pages), and
refused field by field with the services' translatable messages (`Invalid`). The
limits are the harvester's own: a name that makes a `source:<name>` set and a job id,
a base URL that a request is made of, a schedule the scheduler can keep.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
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


# A header name is an HTTP token (RFC 9110 5.6.2); its value printable ASCII, since
# http.client encodes headers as Latin-1 and a line break would start another header,
# neither starting nor ending with a space (requests refuses a leading one).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PRINTABLE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")
MAX_HEADERS = 10
MAX_HEADER_CHARACTERS = 1024
# Headers that frame the message or belong to one connection (hop by hop) are the
# transport's to set, and Accept-Encoding too: the bounds on a decompressed body hold
# only for the encodings it asks for. Cookie, Authorization and User-Agent are allowed:
# providers behind a key or a session ask for them.
REFUSED_HEADERS = frozenset(
    {
        "accept-encoding",
        "connection",
        "content-encoding",
        "content-length",
        "expect",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


# What the pages show for a header's value, since a key is a secret: an edit form sent
# back with it keeps the value stored under that name (`sources.unmasked`).
MASK = "********"


def header_line(line: str) -> tuple[str, str]:
    """`Name: value` as typed on the command line or in the form: split at the first
    colon, spaces around either part dropped (as HTTP drops them)."""
    name, colon, value = line.partition(":")
    if not colon or not name.strip():
        raise ValueError(
            Message("{line!r} is not a header such as 'X-Api-Key: value'", line=line[:80])
        )
    return name.strip(), value.strip()


def _header_lines(value: Any) -> Any:
    """Lines (`Name: value`) become headers; a mapping stays as it is (stored ones)."""
    if not isinstance(value, list):
        return value
    headers: dict[str, str] = {}
    for line in value:
        if not isinstance(line, str):
            raise ValueError(Message("must be text"))
        if not line.strip():
            continue
        name, text = header_line(line)
        if name in headers:
            raise ValueError(Message("the header {name} is given twice", name=name[:80]))
        headers[name] = text
    return headers


def _headers(value: dict[str, str]) -> dict[str, str] | None:
    """The headers sent with each request of the source; none is no header (stored as
    NULL, not as an empty object)."""
    if len(value) > MAX_HEADERS:
        raise ValueError(Message("at most {max} headers", max=MAX_HEADERS))
    seen: set[str] = set()
    for name, text in value.items():
        if len(name) > MAX_HEADER_CHARACTERS or not _TOKEN.fullmatch(name):
            raise ValueError(Message("{name!r} is not a header name", name=name[:80]))
        if name.lower() in REFUSED_HEADERS:
            raise ValueError(
                Message("{name} is set by the harvester itself, not by a source", name=name)
            )
        if name.lower() in seen:
            raise ValueError(Message("the header {name} is given twice", name=name[:80]))
        seen.add(name.lower())
        if text == MASK:
            raise ValueError(
                Message(
                    "type the value of {name}: a masked value keeps only a header stored "
                    "under that name",
                    name=name[:80],
                )
            )
        if len(text) > MAX_HEADER_CHARACTERS or not _PRINTABLE.fullmatch(text):
            raise ValueError(
                Message(
                    "the value of {name} must be 1 to {max} printable ASCII characters, "
                    "on one line",
                    name=name[:80],
                    max=MAX_HEADER_CHARACTERS,
                )
            )
    return value or None


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
# Seconds between two requests of a run, to the millisecond; stored as a float.
Delay = Annotated[
    Decimal, Field(ge=0, le=60, decimal_places=3), PlainSerializer(float, return_type=float)
]
# As a mapping, or as lines `Name: value` (the command line's --header, the form).
Headers = Annotated[dict[str, str], BeforeValidator(_header_lines), AfterValidator(_headers)]
Mode = Literal["records", "identifiers"]
WindowDays = Annotated[int, Field(ge=1, le=3650)]
TimeoutSeconds = Annotated[int, Field(ge=1, le=600)]
Email = Annotated[EmailStr, Field(max_length=320)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceIn(_In):
    """A source to harvest: where, what, and when; and what its provider needs of us
    (docs/harvesting.md, "Per-source settings"). None leaves a setting to the harvester:
    no delay, no header, the whole list at once, the `[harvest]` timeout."""

    name: SourceName
    base_url: BaseUrl
    prefix: Prefix = "oai_dc"
    sets: Annotated[list[SetSpec], Field(max_length=MAX_SETS)] = []  # none: the whole repository
    every_seconds: Interval | None = None
    cron: Cron | None = None
    institution_id: int | None = None
    enabled: bool = True  # a source switched off keeps its records but is not harvested
    request_delay_seconds: Delay | None = None
    headers: Headers | None = None
    mode: Mode = "records"
    window_days: WindowDays | None = None
    timeout_seconds: TimeoutSeconds | None = None
    contact_email: Email | None = None
    reconcile_cron: Cron | None = None

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
