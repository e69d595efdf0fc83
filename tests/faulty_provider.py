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
