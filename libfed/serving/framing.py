"""Where an HTTP/1.1 request ends, told from the bytes received so far: the event loop of
libfed/serving/worker.py collects each request whole before a request thread sees it.

The head is read by gunicorn's own parser, fed the bytes so far, so that its rules (its
limits, what it refuses, Expect) decide; the request thread parses the same bytes again.
Only a chunked body's end is found here, and each of its bytes is looked at once: a body
sent in one-byte chunks must not be rescanned from its start at every packet.
"""

from __future__ import annotations

from dataclasses import dataclass

from gunicorn.config import Config
from gunicorn.http.body import LengthReader
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader

_HEX_DIGITS = b"0123456789abcdefABCDEF"


def read_head(cfg: Config, data: bytes, client: object, number: int) -> Framing | None:
    """The framing of the request at the start of `data`; None while its head is still
    incomplete. Raises what gunicorn's parser raises for a head it refuses."""
    unreader = IterUnreader([data])
    try:
        request = Request(cfg, unreader, client, number)
    except NoMoreData:
        return None
    body = request.body.reader
    return Framing(
        head=len(data) - len(unreader.buf.getvalue()),
        content_length=body.length if isinstance(body, LengthReader) else None,
        expects_continue=request._expected_100_continue,
    )


@dataclass
class Framing:
    """A request whose head has arrived: how long the head is, and how its body ends."""

    head: int  # bytes, the blank line included
    content_length: int | None  # None: the body is chunked
    expects_continue: bool  # the client waits for "100 Continue" before sending its body
    _next_line: int = 0  # where the next chunk-size line starts, or the trailer search
    _in_trailers: bool = False  # the last chunk (size 0) has arrived
    _unframed: bool = False  # a chunk-size line that is none: the parser refuses it

    def complete(self, data: bytes | bytearray) -> bool:
        """Whether `data`, which starts with the head, holds the whole request (or all
        that the parser will read of it)."""
        if self.content_length is not None:
            return len(data) >= self.head + self.content_length
        if not self._in_trailers:
            self._read_chunks(data)
        return self._unframed or (self._in_trailers and self._trailers_end(data))

    def _read_chunks(self, data: bytes | bytearray) -> None:
        self._next_line = max(self._next_line, self.head)
        while not self._unframed and not self._in_trailers:
            line_end = data.find(b"\r\n", self._next_line)
            if line_end < 0:
                return
            digits = bytes(data[self._next_line : line_end]).split(b";", 1)[0].rstrip(b" \t")
            if not digits or digits.strip(_HEX_DIGITS):
                self._unframed = True
            elif (size := int(digits, 16)) == 0:
                self._in_trailers, self._next_line = True, line_end
            else:
                self._next_line = line_end + 2 + size + 2
                if self._next_line > len(data):
                    return

    def _trailers_end(self, data: bytes | bytearray) -> bool:
        """Trailer lines, if any, then an empty line: the end of the body."""
        if data.find(b"\r\n\r\n", self._next_line) >= 0:
            return True
        self._next_line = max(self._next_line, len(data) - 3)
        return False
