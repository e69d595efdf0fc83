"""The gunicorn worker of `libfed serve`: gthread, but its one request thread never waits
for a client.

gthread gives a connection to the request thread at its first byte, and the thread then
blocks until the rest of the request comes: four clients sending their heads a byte every
two seconds held both workers of the default server, and /oai answered nobody (an outside
audit). gthread also closes a connection by waiting, on its event loop's thread, up to 2 s
for the client to close too: a client that sent `Connection: close` and then nothing
stalled the whole worker each time.

Here the event loop collects each request whole (its head, and its body up to the
application's limit) without blocking, and the request thread reads it from memory,
never from the socket. A request still incomplete REQUEST_DEADLINE seconds after the
connection could first send it is answered 408. A connection to close is half-closed and
its last bytes are read and dropped by the event loop, for LINGER seconds at most.

HTTP/1.1 in clear only: TLS and HTTP/2 end at the proxy (docs/deploy.md).
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from itertools import takewhile

from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from gunicorn.workers.gthread import TConn, ThreadWorker

from libfed.kernel.api import MAX_BODY_BYTES
from libfed.serving.framing import Framing, read_head

#: Seconds a request may take to arrive, from the moment the connection could send it
#: (accepted, its previous response sent, or its first byte after an idle keep-alive).
REQUEST_DEADLINE = 10.0
#: Seconds a closing connection's last bytes are read (and dropped), as gunicorn does, so
#: that closing with bytes unread does not reset the connection under its last response.
LINGER = 2.0
#: A head may be this long (nginx's default large_client_header_buffers allow 32 KiB).
MAX_HEAD_BYTES = 32 * 1024
#: What one worker may hold of requests being collected: past it, a body is refused (503)
#: rather than held. Heads alone stay far below (256 connections x 32 KiB).
MAX_COLLECTED_BYTES = 32 * 1024 * 1024
_RECV_BYTES = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _refusal(status: str, sentence: str) -> bytes:
    body = sentence.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


TIMED_OUT = _refusal(
    "408 Request Timeout",
    f"The request did not arrive within {REQUEST_DEADLINE:.0f} seconds; please send it again.",
)
HEAD_TOO_LARGE = _refusal(
    "431 Request Header Fields Too Large",
    f"The request's header fields are longer than {MAX_HEAD_BYTES // 1024} KiB.",
)
BODY_TOO_LARGE = _refusal(
    "413 Content Too Large",
    f"The request's body is longer than {MAX_BODY_BYTES // (1024 * 1024)} MiB.",
)
BUSY = _refusal(
    "503 Service Unavailable",
    "The server is receiving too many requests at once; please send it again in a minute.",
)


class CollectedRequests(RequestParser):
    """gunicorn's request parser over the bytes the event loop collected, not the socket."""

    def __init__(self, cfg: Config, client: object) -> None:
        super().__init__(cfg, (), client)  # an iterable source: nothing beyond what is fed
        self.whole = True  # the last request arrived with all of its body
        self.closing = False  # the connection is half-closed, its last bytes to be dropped

    def feed(self, data: bytes, whole: bool) -> None:
        self.unreader.unread(data)
        self.whole = whole


@dataclass
class _Arrival:
    """A request on its way in: its bytes so far, and its framing once the head is in."""

    deadline: float
    data: bytearray = field(default_factory=bytearray)
    framing: Framing | None = None
    scanned: int = 0  # bytes already searched for a line end


class SlowClientWorker(ThreadWorker):
    """gthread whose event loop, not the request thread, waits on every client.

    Every way to the request thread (a new connection, a kept-alive one that became
    readable, a pipelined request behind a response) passes through `enqueue_req`, which
    here starts collecting the request; `_hand_over` then submits it."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # Each in order of deadline, as each deadline is its start plus a constant.
        self._arrivals: dict[TConn, _Arrival] = {}
        self._lingering: dict[TConn, float] = {}
        self._collected = 0  # bytes held in all arrivals

    def enqueue_req(self, conn: TConn) -> None:
        parser: CollectedRequests | None = conn.parser
        pending = parser.unreader.take_buffered() if parser is not None else b""
        if parser is not None and parser.closing:
            self._linger(conn)
            return
        arrival = _Arrival(time.monotonic() + REQUEST_DEADLINE)
        self._arrivals[conn] = arrival
        self._watch(conn, self._receive)
        if pending:  # a pipelined request, read along with the last one
            self._collect(conn, arrival, pending)

    def _receive(self, conn: TConn, _sock: object) -> None:
        data = self._recv(conn)
        if data == b"":
            self._close(conn)
        elif data is not None:
            self._collect(conn, self._arrivals[conn], data)

    def _collect(self, conn: TConn, arrival: _Arrival, data: bytes) -> None:
        arrival.data += data
        self._collected += len(data)
        if arrival.framing is None:
            try:
                arrival.framing = self._read_head(conn, arrival)
            except Exception:  # the parser refuses it: the request thread says why
                self._hand_over(conn, arrival, whole=False)
                return
            if arrival.framing is None:
                if len(arrival.data) > MAX_HEAD_BYTES:
                    self._refuse(conn, HEAD_TOO_LARGE)
                return
            length = arrival.framing.content_length
            if length is not None and length > MAX_BODY_BYTES:
                # The application refuses it from its length alone, in its own words.
                self._hand_over(conn, arrival, whole=False)
                return
            if arrival.framing.expects_continue:
                with suppress(OSError):
                    conn.sock.send(_CONTINUE)  # gunicorn sends one more, which clients skip
        if arrival.framing.complete(arrival.data):
            self._hand_over(conn, arrival, whole=True)
        elif len(arrival.data) - arrival.framing.head > MAX_BODY_BYTES:  # chunked
            self._refuse(conn, BODY_TOO_LARGE)
        elif self._collected > MAX_COLLECTED_BYTES:
            self._refuse(conn, BUSY)

    def _read_head(self, conn: TConn, arrival: _Arrival) -> Framing | None:
        """Only when a line has ended since the last try: not at every byte of a drip."""
        if arrival.data.find(b"\n", arrival.scanned) < 0:
            return None
        arrival.scanned = len(arrival.data)
        number = conn.parser.req_count + 1 if conn.parser is not None else 1
        return read_head(self.cfg, bytes(arrival.data), conn.client, number)

    def _hand_over(self, conn: TConn, arrival: _Arrival, whole: bool) -> None:
        self._forget(conn)
        if conn.parser is None:
            conn.parser = CollectedRequests(self.cfg, conn.client)
        conn.parser.feed(bytes(arrival.data), whole)
        conn.data_ready = True  # gthread would otherwise wait up to 5 s for more bytes
        super().enqueue_req(conn)

    def handle(self, conn: TConn) -> bool:
        """In the request thread. A connection that is not kept alive is half-closed here
        and returned to the event loop to linger, not to gthread's blocking close; so is
        one whose request was refused before its body arrived (the rest may be coming)."""
        if super().handle(conn) and conn.parser.whole:
            return True
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return False  # gone already
        conn.parser.closing = True
        return True

    def murder_pending(self) -> None:
        """gthread calls this every second or sooner, serving and stopping alike."""
        super().murder_pending()
        now = time.monotonic()
        for conn, _ in list(takewhile(lambda item: item[1] <= now, self._lingering.items())):
            self._close(conn)
        late = takewhile(lambda item: item[1].deadline <= now, self._arrivals.items())
        for conn, arrival in list(late):
            if arrival.data:
                self._refuse(conn, TIMED_OUT)
            else:
                self._close(conn)

    def _refuse(self, conn: TConn, answer: bytes) -> None:
        """Answer in a few bytes, which the socket's buffer takes, then linger."""
        status = answer.split(b"\r\n", 1)[0].decode()
        self.log.info("Sent %s to %s", status, conn.client)
        with suppress(OSError):
            conn.sock.send(answer)
            conn.sock.shutdown(socket.SHUT_WR)
        self._forget(conn)
        self._linger(conn)

    def _linger(self, conn: TConn) -> None:
        self._lingering[conn] = time.monotonic() + LINGER
        self._watch(conn, self._drain)

    def _drain(self, conn: TConn, _sock: object) -> None:
        if self._recv(conn) == b"":
            self._close(conn)

    def _watch(self, conn: TConn, callback: Callable[[TConn, object], None]) -> None:
        conn.sock.setblocking(False)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(callback, conn))

    @staticmethod
    def _recv(conn: TConn) -> bytes | None:
        """What the client sent: b"" when it has closed, None when nothing has come."""
        try:
            return conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""

    def _close(self, conn: TConn) -> None:
        self._forget(conn)
        self.nr_conns -= 1
        conn.close()

    def _forget(self, conn: TConn) -> None:
        arrival = self._arrivals.pop(conn, None)
        if arrival is not None:
            self._collected -= len(arrival.data)
        self._lingering.pop(conn, None)
        self.poller.unregister(conn.sock)
