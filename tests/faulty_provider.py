"""A scripted HTTP server on loopback that misbehaves exactly as told.

Each request takes the next step of the script: a response (status, headers,
body), a stall, a connection reset, or a body cut short of its Content-Length.
Raw sockets, not a framework: the faults are things no well-behaved server does.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import parse_qsl

from werkzeug.serving import make_server


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # seconds to wait before answering
    reset: bool = False  # close the connection without answering
    cut_to: int | None = None  # send only this many bytes of the body
    drip: float = 0.0  # seconds between single bytes of the answer, headers included
    drip_body_only: bool = False  # the headers at once, then the body byte by byte
    # A body too large to hold: its pieces are sent, without Content-Length, until the
    # client gives up (each call starts it again).
    stream: Callable[[], Iterable[bytes]] | None = None


@dataclass
class Provider:
    url: str
    requests: list[bytes] = field(default_factory=list)  # raw request heads received
    # (received, answer begun) on time.monotonic() for each request, in the order answered:
    # whether two requests were in flight at once, whatever the machine's load (a client
    # cannot have asked again on the same connection before its answer began).
    spans: list[tuple[float, float]] = field(default_factory=list)


def _serve(
    sock: socket.socket,
    provider: Provider,
    script: list[Reply],
    stop: threading.Event,
    concurrent: bool,
) -> None:
    sock.settimeout(0.2)
    lock = threading.Lock()
    handlers: list[threading.Thread] = []
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        if not concurrent:
            _handle(conn, provider, script, stop, lock)
            continue
        handler = threading.Thread(
            target=_handle, args=(conn, provider, script, stop, lock), daemon=True
        )
        handler.start()
        handlers.append(handler)
    for handler in handlers:
        handler.join()


def _handle(
    conn: socket.socket,
    provider: Provider,
    script: list[Reply],
    stop: threading.Event,
    lock: threading.Lock,
) -> None:
    with conn:
        conn.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            if not chunk:
                break
            head += chunk
        received = time.monotonic()
        with lock:
            provider.requests.append(head)
            step = script.pop(0) if script else Reply(500, b"script exhausted")
        if step.stall:
            time.sleep(step.stall)
        with lock:
            provider.spans.append((received, time.monotonic()))
        _answer(conn, step, stop)


def _answer(conn: socket.socket, step: Reply, stop: threading.Event) -> None:
    if step.reset:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        return
    body = step.body
    length = {} if step.stream else {"Content-Length": str(len(body))}
    headers = {**length, "Connection": "close", **step.headers}
    lines = [f"HTTP/1.1 {step.status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    sent = body if step.cut_to is None else body[: step.cut_to]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    answer = head + sent
    with suppress(OSError):
        if step.drip:
            if step.drip_body_only:
                conn.sendall(head)
                answer = sent
            for byte in answer:
                if stop.wait(step.drip):
                    break
                conn.sendall(bytes([byte]))
            return
        conn.sendall(answer)
        for piece in step.stream() if step.stream else ():
            if stop.is_set():
                break
            conn.sendall(piece)


@contextmanager
def faulty_provider(script: list[Reply], concurrent: bool = False) -> Iterator[Provider]:
    """Serve `script` on a loopback port. One connection at a time unless `concurrent`,
    when each connection is answered in its own thread, so that a client's parallel
    requests show in `spans` as overlapping."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    provider = Provider(f"http://127.0.0.1:{sock.getsockname()[1]}/oai")
    stop = threading.Event()
    thread = threading.Thread(
        target=_serve, args=(sock, provider, list(script), stop, concurrent), daemon=True
    )
    thread.start()
    try:
        yield provider
    finally:
        stop.set()
        thread.join()
        sock.close()


_DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title></oai_dc:dc>'
)


@dataclass
class DatedProvider:
    """An honest provider of dated records (day granularity) that answers from/until
    windows, resumption tokens, ListIdentifiers and GetRecord, except that a page holding
    a `broken` record fails with HTTP 500, as a provider's serialiser does: a record
    cornered only by asking for smaller windows. `queries` holds every request's arguments."""

    url: str
    stamps: dict[str, str]  # identifier -> datestamp (YYYY-MM-DD)
    now: str  # responseDate
    earliest: str
    page_size: int = 5
    broken: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    list_records_broken: bool = False  # every ListRecords fails (ListIdentifiers works)
    broken_headers: bool = False  # a ListIdentifiers page holding a broken record fails too
    down: bool = False  # every list request fails with HTTP 502 (Identify still answers)
    queries: list[dict[str, str]] = field(default_factory=list)
    refusals: int = 0  # answers with an HTTP error status
    stall: float = 0.0  # seconds each list request takes

    def _envelope(self, body: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f"<responseDate>{self.now}</responseDate><request>{self.url}</request>{body}"
            "</OAI-PMH>"
        ).encode()

    def _header(self, identifier: str) -> str:
        status = ' status="deleted"' if identifier in self.deleted else ""
        return (
            f"<header{status}><identifier>{identifier}</identifier>"
            f"<datestamp>{self.stamps[identifier]}</datestamp></header>"
        )

    def _record(self, identifier: str) -> str:
        metadata = (
            "" if identifier in self.deleted else f"<metadata>{_DC.format(identifier)}</metadata>"
        )
        return f"<record>{self._header(identifier)}{metadata}</record>"

    def answer(self, query: dict[str, str]) -> tuple[int, bytes]:
        """(status, body) for one request."""
        self.queries.append(query)
        status, body = self._answer(query)
        self.refusals += status >= 400
        return status, body

    def _answer(self, query: dict[str, str]) -> tuple[int, bytes]:
        verb = query.get("verb", "")
        if verb == "Identify":
            return 200, self._envelope(
                "<Identify><repositoryName>dated</repositoryName>"
                f"<baseURL>{self.url}</baseURL><protocolVersion>2.0</protocolVersion>"
                "<adminEmail>a@example.org</adminEmail>"
                f"<earliestDatestamp>{self.earliest}</earliestDatestamp>"
                "<deletedRecord>persistent</deletedRecord>"
                "<granularity>YYYY-MM-DD</granularity></Identify>"
            )
        if verb == "GetRecord":
            identifier = query.get("identifier", "")
            if identifier in self.broken:
                return 500, f"the serialiser failed on {identifier}".encode()
            if identifier not in self.stamps:
                return 200, self._envelope('<error code="idDoesNotExist"/>')
            return 200, self._envelope(f"<GetRecord>{self._record(identifier)}</GetRecord>")
        if verb not in ("ListRecords", "ListIdentifiers"):
            return 200, self._envelope('<error code="badVerb"/>')
        if self.down:
            return 502, b"bad gateway"
        time.sleep(self.stall)
        if "resumptionToken" in query:
            start, until, offset = query["resumptionToken"].split("|")
        else:
            start, until, offset = query.get("from", ""), query.get("until", ""), "0"
        if any("T" in stamp for stamp in (start, until)):
            return 200, self._envelope('<error code="badArgument"/>')
        chosen = sorted(
            (stamp, identifier)
            for identifier, stamp in self.stamps.items()
            if (not start or stamp >= start) and (not until or stamp <= until)
        )
        if not chosen:
            return 200, self._envelope('<error code="noRecordsMatch"/>')
        first = int(offset)
        shown = [identifier for _, identifier in chosen[first : first + self.page_size]]
        if verb == "ListRecords" and self.list_records_broken:
            return 500, b"ListRecords is broken"
        if (verb == "ListRecords" or self.broken_headers) and any(i in self.broken for i in shown):
            return 500, f"the serialiser failed on a record of {start}..{until}".encode()
        more = first + self.page_size < len(chosen)
        token = f"{start}|{until}|{first + self.page_size}" if more else ""
        items = self._record if verb == "ListRecords" else self._header
        return 200, self._envelope(
            f"<{verb}>{''.join(items(i) for i in shown)}"
            f"<resumptionToken>{token}</resumptionToken></{verb}>"
        )


@contextmanager
def dated_provider(
    records: int, days: int, first: str = "2026-01-01", page_size: int = 5
) -> Iterator[DatedProvider]:
    """`records` records oai:x:0… spread evenly over `days` days from `first`, served on a
    loopback port; its responseDate is the day after the last."""
    start = date.fromisoformat(first)
    stamps = {
        f"oai:x:{n}": (start + timedelta(days=n * days // records)).isoformat()
        for n in range(records)
    }
    provider = DatedProvider(
        url="",
        stamps=stamps,
        now=f"{(start + timedelta(days=days)).isoformat()}T00:00:00Z",
        earliest=first,
        page_size=page_size,
    )

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        status, body = provider.answer(dict(parse_qsl(environ.get("QUERY_STRING", ""))))
        start_response(f"{status} X", [("Content-Type", "text/xml")])
        return [body]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    provider.url = f"http://127.0.0.1:{server.server_port}/oai"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join()
