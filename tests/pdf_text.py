"""The text of a PDF that libfed.web.pdf wrote, read back without a PDF library.

fpdf2 writes text in embedded TrueType subsets: each string is a run of two-byte glyph
codes, which the font's ToUnicode map turns back into characters. Enough of PDF is read
here for that (objects, Flate streams, `Tf` and `Tj`), so that a test can say what a
letter's PDF says, as a person reading it would; and how many pages it has.
"""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number -> (its dictionary, its stream decoded, or None)."""
    found: dict[int, tuple[bytes, bytes | None]] = {}
    for match in _OBJECT.finditer(data):
        body = match.group(2)
        stream = None
        if b"stream" in body:
            body, rest = body.split(b"stream", 1)
            raw = rest[: rest.rfind(b"endstream")].strip(b"\r\n")
            try:
                stream = zlib.decompress(raw) if b"FlateDecode" in body else raw
            except zlib.error:  # an image (a QR code) whose bytes hold "endobj": no text
                stream = None
        found[int(match.group(1))] = (body, stream)
    return found


def _cmap(stream: bytes) -> dict[bytes, str]:
    codes = {}
    for section in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
        for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", section):
            codes[bytes.fromhex(code.decode())] = bytes.fromhex(text.decode()).decode("utf-16-be")
    return codes


def _literal(content: bytes, start: int) -> tuple[bytes, int]:
    """The PDF literal string opening at content[start] ('('), and where it ends."""
    out, depth, i = bytearray(), 1, start + 1
    while depth and i < len(content):
        char = content[i : i + 1]
        if char == b"\\":
            following = content[i + 1 : i + 2]
            if following.isdigit():
                digits = re.match(rb"[0-7]{1,3}", content[i + 1 : i + 4])
                assert digits
                out.append(int(digits.group(), 8))
                i += 1 + len(digits.group())
                continue
            out += _ESCAPES.get(following, following)
            i += 2
            continue
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if not depth:
                break
        out += char
        i += 1
    return bytes(out), i + 1


def pdf_text(data: bytes) -> str:
    """Every string the PDF shows, in drawing order, one per line."""
    objects = _objects(data)
    fonts: dict[bytes, dict[bytes, str]] = {}
    for body, stream in objects.values():
        if stream is None and b"/Font" in body:
            for name, number in re.findall(rb"/(F\d+) (\d+) 0 R", body):
                font = objects[int(number)][0]
                unicode = re.search(rb"/ToUnicode (\d+) 0 R", font)
                if unicode:
                    fonts[name] = _cmap(objects[int(unicode.group(1))][1] or b"")
    shown: list[str] = []
    for body, stream in objects.values():
        if stream is None or b"BT" not in stream or b"/Length1" in body:
            continue  # not a page's content: a font, a glyph map, metadata
        font: dict[bytes, str] = {}
        i = 0
        while i < len(stream):
            if stream[i : i + 1] == b"/":
                chosen = re.match(rb"/(F\d+) [\d.]+ Tf", stream[i:])
                if chosen:
                    font = fonts.get(chosen.group(1), {})
                    i += chosen.end()
                    continue
            if stream[i : i + 1] == b"(":
                raw, i = _literal(stream, i)
                shown.append(
                    "".join(font.get(raw[j : j + 2], "\ufffd") for j in range(0, len(raw), 2))
                )
                continue
            i += 1
    return "\n".join(shown)


def page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))
