"""HTTP for the harvester: one request, made to survive what providers really do.

Every request has a connect and a read timeout (Sickle and pyoai have none, and a
harvest then hangs forever) and, because a body dripping a byte at a time resets
every read timeout, a deadline for the whole answer (`libfed.kernel.bounded.Deadline`). 5xx, 429,
read timeouts, broken connections and truncated bodies are retried with exponential
backoff and jitter, honouring Retry-After in seconds or as an HTTP-date; a provider
that asks for longer than we are willing to wait is reported as ComeBackLater, so
that its source is parked, not failed.

The body is read as a stream and refused as soon as it weighs more than the
configured size, as sent or once decompressed (a 1 MB gzip bomb inflates to
gigabytes, with or without a Content-Encoding header). Redirects are followed by
hand: only to http(s), a few at most, and never silently to another host, which
would let a partner point us at internal services. The body is returned as bytes:
the XML declaration, not an HTTP charset header that is often wrong, decides how it
is decoded.

A source may ask more of its run's requests (`SourceRequests`): headers sent with
each, hops of a redirect included (a redirect to another host is never followed, so
they never leave the provider's host); a pause between two requests, from the end of
one answer to the start of the next request, retries included (the hops of a
redirect are one request, within its deadline, and follow at once); a timeout of its
own in place of `[harvest] timeout_seconds`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import HTTPError as URLLib3Error

from libfed.kernel.bounded import Deadline, DeadlineAdapter, TooLarge, read_body
from libfed.kernel.config import HarvestConfig

if TYPE_CHECKING:
    from .models import Source

_RETRIED_STATUS = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
_BACKOFF_BASE_SECONDS = 1.0
_BACKOFF_MAX_SECONDS = 120.0
_MIB = 1024 * 1024


class TransportError(Exception):
    """A request that could not be completed; names the URL and why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class RetriesExhausted(TransportError):
    """Every attempt the settings allow failed (5xx, timeouts, broken connections): a
    provider failing on this request, perhaps on one record of it (harvest.isolation)."""


class ComeBackLater(TransportError):
    """The provider asked us to wait longer than `max_retry_after_seconds`."""

    def __init__(self, url: str, until: datetime) -> None:
        super().__init__(url, f"the provider asks to come back at {until:%Y-%m-%d %H:%M} UTC")
        self.until = until


class Moved(TransportError):
    """The provider redirected us to another host: followed only once an operator
    confirms the new base URL, since the partner's server, not we, chose where to go."""

    def __init__(self, url: str, location: str) -> None:
        self.location = location
        parts = urlsplit(location)  # the repository's address: no query, no fragment
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        super().__init__(
            url,
            f"the provider redirects to another host, {self.base_url}; if the repository "
            "moved there, confirm it as the source's new base URL",
        )


@dataclass(frozen=True)
class SourceRequests:
    """What one source's provider needs of each request of a run (docs/harvesting.md,
    "Per-source settings"); the defaults ask nothing more than `[harvest]` does."""

    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    timeout_seconds: float | None = None  # None: `[harvest] timeout_seconds`

    @classmethod
    def of(cls, source: Source) -> SourceRequests:
        """The one place a source's stored settings become its requests' (checked when
        they were stored: `harvest.schemas.SourceIn`)."""
        return cls(
            headers=dict(source.headers or {}),
            delay_seconds=source.request_delay_seconds or 0.0,
            timeout_seconds=source.timeout_seconds,
        )


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


def _looks_like_oai(body: bytes) -> bool:
    return b"OAI-PMH" in body[:2048]


def _same_site(url: str, location: str) -> bool:
    """Whether a redirect stays on the host (and port) we were asked to harvest; an
    upgrade from http to https on the default ports counts as staying."""
    here, there = urlsplit(url), urlsplit(location)
    if (here.hostname or "").lower() != (there.hostname or "").lower():
        return False
    if here.scheme == there.scheme:
        return here.port == there.port
    return (
        here.scheme == "http"
        and there.scheme == "https"
        and here.port in (None, 80)
        and there.port in (None, 443)
    )


class HTTPTransport:
    """GET requests to OAI-PMH providers over one pooled session, for one run of one
    source (`source`: what its provider needs of them)."""

    def __init__(
        self,
        settings: HarvestConfig,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        source: SourceRequests | None = None,
    ) -> None:
        source = source or SourceRequests()
        if source.timeout_seconds is not None:
            settings = settings.model_copy(update={"timeout_seconds": source.timeout_seconds})
        self.settings = settings
        self.session = session or requests.Session()
        adapter = DeadlineAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self.session.headers.update(source.headers)  # after ours: a source may name its agent
        self._delay = source.delay_seconds
        self._sleep = sleep
        self._now = now
        # Faults survived by retrying, for the run log: (url, what happened).
        self.incidents: list[tuple[str, str]] = []
        # The monotonic time by which the whole run must end: no request outlives it.
        self.run_deadline: float | None = None
        # When the last answer (or failure) of this run ended, for the source's pace.
        self._answered: float | None = None
        # The body of the last answer refused with an HTTP error status: what the provider
        # said, kept with a record quarantined because of it (harvest.isolation).
        self.last_refused: bytes = b""
        # Requests sent, failed ones included (a client counts only the answers it got).
        self.attempts = 0

    def pause(self, url: str, attempt: int, reason: str) -> None:
        """Back off before retrying `url`, and note why."""
        self.incidents.append((url, f"retried after: {reason}"))
        self._sleep_within_run(url, self._wait(url, attempt, None))

    def _wait(self, url: str, attempt: int, header: str | None) -> float:
        asked = retry_after(header, self._now())
        if asked is not None and asked > self.settings.max_retry_after_seconds:
            raise ComeBackLater(url, self._now() + timedelta(seconds=asked))
        if asked is not None:
            wait = asked
        else:
            backoff = min(_BACKOFF_MAX_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)
            wait = backoff + random.uniform(0, _BACKOFF_BASE_SECONDS)
        return wait

    def _sleep_within_run(self, url: str, wait: float) -> None:
        if self.run_deadline is not None and time.monotonic() + wait > self.run_deadline:
            raise TransportError(url, "the run's deadline passes before the next try")
        self._sleep(wait)

    def _keep_pace(self, url: str) -> None:
        """Wait out what is left of the source's delay since the last answer ended: a
        backoff as long already counts towards it, and a first request never waits."""
        if self._delay and self._answered is not None:
            wait = self._answered + self._delay - time.monotonic()
            if wait > 0:
                self._sleep_within_run(url, wait)

    def _deadline(self) -> Deadline:
        seconds = self.settings.request_deadline_seconds
        if self.run_deadline is not None:
            seconds = min(seconds, max(self.run_deadline - time.monotonic(), 0.0))
        return Deadline(seconds)

    def _get(self, url: str, deadline: Deadline) -> tuple[str, requests.Response, bytes]:
        """The final URL, response and body of `url`, redirects followed as the class says."""
        timeout = self.settings.timeout_seconds
        for _hop in range(self.settings.max_redirects + 1):
            response = self.session.get(
                url, timeout=(timeout, timeout), stream=True, allow_redirects=False
            )
            with response:
                if response.status_code in _REDIRECT_STATUS and "Location" in response.headers:
                    location = urljoin(url, response.headers["Location"])
                    if urlsplit(location).scheme not in ("http", "https"):
                        raise TransportError(
                            url,
                            f"the provider redirects to a {urlsplit(location).scheme or 'relative'}"
                            ": address; only http and https are followed",
                        )
                    if not _same_site(url, location):
                        raise Moved(url, location)
                    url = location
                    continue
                body = read_body(
                    response,
                    deadline,
                    self.settings.max_response_mib * _MIB,
                    self.settings.max_decompressed_mib * _MIB,
                )
                return url, response, body
        raise TransportError(url, f"more than {self.settings.max_redirects} redirects")

    def fetch(self, base_url: str, params: Mapping[str, str]) -> Fetched:
        """The body of one OAI-PMH request, after as many retries as the settings allow."""
        url = requests.Request("GET", base_url, params=dict(params)).prepare().url or base_url
        reason = ""
        for attempt in range(self.settings.max_retries + 1):
            header = None
            self.attempts += 1
            self._keep_pace(url)  # before the deadline starts: the wait is ours, not theirs
            deadline = self._deadline()
            try:
                with deadline:
                    try:
                        final_url, response, body = self._get(url, deadline)
                    finally:
                        self._answered = time.monotonic()
            except TooLarge as error:
                raise TransportError(url, str(error)) from None
            except requests.Timeout:
                if deadline.expired:
                    raise TransportError(url, deadline.reason()) from None
                reason = f"no answer within {self.settings.timeout_seconds:g} s"
            except requests.exceptions.ContentDecodingError:
                reason = "the body does not decompress as its Content-Encoding says"
            except (requests.RequestException, URLLib3Error, OSError) as error:
                if deadline.expired:
                    raise TransportError(url, deadline.reason()) from None
                reason = f"connection failed or body cut short: {type(error).__name__}"
            else:
                if deadline.expired:  # the cut may have left a head or body that parses
                    raise TransportError(url, deadline.reason())
                if response.status_code < 400 or (
                    response.status_code not in _RETRIED_STATUS and _looks_like_oai(body)
                ):
                    # Some providers send OAI-PMH errors with a 4xx status: the body says more.
                    return Fetched(final_url, response.status_code, body, attempt + 1)
                reason = f"HTTP {response.status_code}"
                self.last_refused = body
                if response.status_code not in _RETRIED_STATUS:
                    raise TransportError(url, reason)
                header = response.headers.get("Retry-After")
            wait = self._wait(url, attempt, header)  # raises ComeBackLater on a long wait
            if attempt < self.settings.max_retries:
                self.incidents.append((url, f"retried after: {reason}"))
                self._sleep_within_run(url, wait)
        raise RetriesExhausted(url, f"{reason}, after {self.settings.max_retries + 1} attempts")
