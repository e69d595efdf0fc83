"""HTTP for the harvester: one request, made to survive what providers really do.

Every request has a connect and a read timeout (Sickle and pyoai have none, and a
harvest then hangs forever). 5xx, 429, timeouts, broken connections and truncated
bodies are retried with exponential backoff and jitter, honouring Retry-After in
seconds or as an HTTP-date; a provider that asks for longer than we are willing to
wait is reported as ComeBackLater, so that its source is parked, not failed. The
body is returned as bytes: the XML declaration, not an HTTP charset header that
is often wrong, decides how it is decoded.
"""

from __future__ import annotations

import gzip
import random
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import requests

from libfed.config import HarvestConfig

_RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
_BACKOFF_BASE_SECONDS = 1.0
_BACKOFF_MAX_SECONDS = 120.0


class TransportError(Exception):
    """A request that could not be completed; names the URL and why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class ComeBackLater(TransportError):
    """The provider asked us to wait longer than `max_retry_after_seconds`."""

    def __init__(self, url: str, until: datetime) -> None:
        super().__init__(url, f"the provider asks to come back at {until:%Y-%m-%d %H:%M} UTC")
        self.until = until


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body: bytes
    attempts: int


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def undo_unadvertised_compression(body: bytes) -> bytes:
    """A gzip or zlib body sent without Content-Encoding, decompressed; others as they are."""
    if body[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            return body
    if body[:1] == b"\x78" and len(body) > 2 and (body[0] * 256 + body[1]) % 31 == 0:
        try:
            return zlib.decompress(body)
        except zlib.error:
            return body
    return body


def _looks_like_oai(body: bytes) -> bool:
    return b"OAI-PMH" in body[:2048]


class HTTPTransport:
    """GET requests to OAI-PMH providers over one pooled session."""

    def __init__(
        self,
        settings: HarvestConfig,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self._sleep = sleep
        self._now = now
        # Faults survived by retrying, for the run log: (url, what happened).
        self.incidents: list[tuple[str, str]] = []

    def pause(self, url: str, attempt: int, reason: str) -> None:
        """Back off before retrying `url`, and note why."""
        self.incidents.append((url, f"retried after: {reason}"))
        self._sleep(self._wait(url, attempt, None))

    def _wait(self, url: str, attempt: int, header: str | None) -> float:
        asked = retry_after(header, self._now())
        if asked is not None and asked > self.settings.max_retry_after_seconds:
            raise ComeBackLater(url, self._now() + timedelta(seconds=asked))
        if asked is not None:
            return asked
        backoff = min(_BACKOFF_MAX_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)
        return backoff + random.uniform(0, _BACKOFF_BASE_SECONDS)

    def fetch(self, base_url: str, params: Mapping[str, str]) -> Fetched:
        """The body of one OAI-PMH request, after as many retries as the settings allow."""
        timeout = self.settings.timeout_seconds
        url = requests.Request("GET", base_url, params=dict(params)).prepare().url or base_url
        reason = ""
        for attempt in range(self.settings.max_retries + 1):
            header = None
            try:
                response = self.session.get(url, timeout=(timeout, timeout))
                body = undo_unadvertised_compression(response.content)
            except requests.Timeout:
                reason = f"no answer within {timeout:g} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
                reason = f"connection failed or body cut short: {type(error).__name__}"
            except requests.exceptions.ContentDecodingError:
                reason = "the body does not decompress as its Content-Encoding says"
            else:
                if response.status_code < 400 or (
                    response.status_code not in _RETRIED_STATUS and _looks_like_oai(body)
                ):
                    # Some providers send OAI-PMH errors with a 4xx status: the body says more.
                    return Fetched(url, response.status_code, body, attempt + 1)
                reason = f"HTTP {response.status_code}"
                if response.status_code not in _RETRIED_STATUS:
                    raise TransportError(url, reason)
                header = response.headers.get("Retry-After")
            wait = self._wait(url, attempt, header)  # raises ComeBackLater on a long wait
            if attempt < self.settings.max_retries:
                self.incidents.append((url, f"retried after: {reason}"))
                self._sleep(wait)
        raise TransportError(url, f"{reason}, after {self.settings.max_retries + 1} attempts")
