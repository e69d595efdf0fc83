"""An HTTP answer read within bounds of time and size, whatever the server does.

A read timeout restarts with every byte, so a server dripping one byte a second
keeps a request alive for ever, in the body or already in the headers, before
`requests` returns anything. A `Deadline` therefore watches the sockets of the
request made in its thread (the connection classes of `DeadlineAdapter` report them)
and shuts them down when the time is up: the blocked read then fails at once, and
the request ends with the deadline as its reason.

The body is read in chunks and inflated here, not by urllib3, so that its size as
sent and once decompressed are both counted as they grow and refused past their
limit, long before memory runs out. A gzip or zlib body sent without a
Content-Encoding header (common on old providers) is recognised by its first bytes.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib
from contextlib import suppress
from types import TracebackType

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CHUNK = 64 * 1024
_MIB = 1024 * 1024
_watching = threading.local()


class TooLarge(Exception):
    """The answer weighs more than we accept; the message says which limit it passed."""


class Deadline:
    """The time one request may take in all, enforced on its sockets.

    Used as a context manager around the request, in the thread that makes it.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def reason(self) -> str:
        return f"no complete answer within {self.seconds:g} s"

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def check(self) -> None:
        """Raise when the time is up (between chunks: a fast drip never blocks a read)."""
        if time.monotonic() > self.ends:
            self.expired = True
            raise requests.Timeout(self.reason())

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> Deadline:
        _watching.deadline = self
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        _watching.deadline = None


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):  # already closed: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


def _report(sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_watching, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _report(self.sock)

    def request(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        _report(self.sock)  # a kept-alive connection, reused: already connected
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _report(self.sock)

    def request(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        _report(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections that a `Deadline` can cut."""

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


class _Inflater:
    """Decompresses gzip or zlib (or raw deflate) chunk by chunk, never past `limit`."""

    def __init__(self, kind: str, limit: int) -> None:
        self.kind, self.limit, self.size = kind, limit, 0
        self._started = False
        self._decompressor = self._new()

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.kind == "gzip" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            try:
                # At most a MiB at a time: zlib's output is built, then copied once more.
                piece = self._decompressor.decompress(data, min(self.limit - self.size + 1, _MIB))
            except zlib.error:
                if self.kind == "deflate" and not self._started:
                    # "deflate" as many servers send it: raw, without the zlib header.
                    self._decompressor, self.kind = zlib.decompressobj(-zlib.MAX_WBITS), "raw"
                    continue
                raise
            self._started = True
            self.size += len(piece)
            if self.size > self.limit:
                raise TooLarge(f"the response inflates to more than {self.limit // _MIB} MiB")
            out.append(piece)
            if self._decompressor.unconsumed_tail:
                data = self._decompressor.unconsumed_tail
            elif self._decompressor.eof and self._decompressor.unused_data.strip(b"\0"):
                data = self._decompressor.unused_data  # a gzip of several members
                self._decompressor = self._new()
            else:
                data = b""
        return b"".join(out)

    @property
    def complete(self) -> bool:
        return self._decompressor.eof or self.kind == "raw"


def _sniffed(head: bytes) -> str | None:
    """The compression of a body sent without Content-Encoding, from its first bytes."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if len(head) > 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "deflate"
    return None


def read_body(
    response: requests.Response, deadline: Deadline, max_sent: int, max_inflated: int
) -> bytes:
    """The whole body of a streamed `response`, decompressed; TooLarge past a limit.

    ContentDecodingError when the body does not decompress as its Content-Encoding
    says; a body that merely looked compressed is returned as it came.
    """
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("x-gzip", "gzip"):
        advertised: str | None = "gzip"
    elif encoding == "deflate":
        advertised = "deflate"
    elif encoding in ("", "identity"):
        advertised = None
    else:
        raise TooLarge(f"the response is encoded as {encoding!r}, which was not asked for")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_sent:
        raise TooLarge(
            f"the response announces {int(declared) // _MIB} MiB, over {max_sent // _MIB} MiB"
        )
    sent = 0
    raw: list[bytes] = []
    inflater = _Inflater(advertised, max_inflated) if advertised else None
    out: list[bytes] = []
    sniffing = advertised is None
    for chunk in response.raw.stream(_CHUNK, decode_content=False):
        deadline.check()
        sent += len(chunk)
        if sent > max_sent:
            raise TooLarge(f"the response is larger than {max_sent // _MIB} MiB")
        if sniffing:
            sniffing = False
            kind = _sniffed(chunk)
            if kind:
                inflater = _Inflater(kind, max_inflated)
        if inflater is None:
            out.append(chunk)
            continue
        if not advertised:
            raw.append(chunk)  # kept, in case it only looked compressed
        try:
            out.append(inflater.feed(chunk))
        except zlib.error:
            if advertised:
                raise requests.exceptions.ContentDecodingError(
                    "the body does not decompress as its Content-Encoding says"
                ) from None
            inflater, out = None, raw
    if inflater is not None and not inflater.complete:
        if advertised:
            raise requests.exceptions.ContentDecodingError(
                "the body does not decompress as its Content-Encoding says"
            )
        out = raw
    body = b"".join(out)
    if inflater is None and len(body) > max_inflated:
        raise TooLarge(f"the response is larger than {max_inflated // _MIB} MiB")
    return body
