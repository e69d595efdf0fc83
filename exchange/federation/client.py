"""Requests to a peer's server, signed and bounded: a peer is a partner's server, and a
partner's server is hostile until checked like any other.

Each request has one deadline for the whole answer (libfed.kernel.bounded), a size
limit, no redirects followed (a signed request is for the address it names), and an
answer that must be a JSON object of bounded depth. What fails is a PeerUnreachable
with its reason in words, never an exception from deep inside requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import requests

from libfed.kernel.bounded import Deadline, DeadlineAdapter, TooLarge, read_body
from libfed.kernel.config import FederationConfig

from .identity import NodeKey
from .signing import sign

_MAX_DEPTH = 32


class PeerUnreachable(Exception):
    """No usable answer came: the server is down, slow, too large or not speaking JSON."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _depth(value: object, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json_object(raw: bytes, max_bytes: int) -> dict[str, Any]:
    """A JSON object of at most `max_bytes` and _MAX_DEPTH levels, or ValueError saying why.
    Used for answers from peers and for the requests they send us alike."""
    if len(raw) > max_bytes:
        raise ValueError(f"larger than {max_bytes // 1024} KiB")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"not JSON in UTF-8: {str(error)[:200]}") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    if _depth(value, _MAX_DEPTH) > _MAX_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_DEPTH} levels")
    return value


class PeerClient:
    """One HTTP session for talking to peers, kept open between requests (keep-alive)."""

    def __init__(self, settings: FederationConfig, key: NodeKey | None) -> None:
        self.settings = settings
        self.key = key
        self.session = requests.Session()
        adapter = DeadlineAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"libfed/{version('libfed')} (exchange)"
        self.session.headers["Accept"] = "application/json"

    def sibling(self) -> PeerClient:
        """A client with the same settings and key, for another thread: a requests.Session
        is not shared between threads (delivery's lanes each have their own)."""
        return PeerClient(self.settings, self.key)

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, url: str, payload: dict | None = None) -> Answer:
        """Send one request (signed when the client has a key) and read its JSON answer."""
        body = None
        headers = {}
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        prepared = self.session.prepare_request(
            requests.Request(method, url, data=body, headers=headers)
        )
        if self.key is not None:
            sign(prepared, self.key)
        limit = self.settings.max_message_kib * 1024
        timeout = self.settings.timeout_seconds
        deadline = Deadline(timeout)
        try:
            with deadline:
                response = self.session.send(
                    prepared, timeout=(timeout, timeout), stream=True, allow_redirects=False
                )
                with response:
                    raw = read_body(response, deadline, limit, limit)
        except TooLarge as error:
            raise PeerUnreachable(f"{url}: {error}") from None
        except requests.RequestException as error:
            reason = deadline.reason() if deadline.expired else type(error).__name__
            raise PeerUnreachable(f"{url}: {reason}") from None
        if 300 <= response.status_code < 400:
            raise PeerUnreachable(f"{url}: answered {response.status_code} (a redirect)")
        try:
            parsed = parse_json_object(raw, limit)
        except ValueError as error:
            raise PeerUnreachable(
                f"{url}: answered {response.status_code}, but the body is {error}"
            ) from None
        return Answer(response.status_code, parsed)
