"""Printable documents (letters, labels, lists) as data: one value, two renderings.

A domain says what a document says as a `Document` of blocks, every word already in the
document's language; the page shell shows it as HTML (`web/document.html`) and writes
it as PDF (`libfed.web.pdf`) from that same value, so the printed page and the PDF file
never say different things. Text from outside (a partner's name, an address, a title)
is clipped here, once, so that neither rendering can be made to grow without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from markupsafe import Markup
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from segno import QRCode

# Longest text of one line (a name, an address line, a table cell) and most lines of
# one address: beyond them a document prints an ellipsis, not a page of one word.
LINE_CHARS = 300
ADDRESS_LINES = 12


def clip(text: str | None, limit: int = LINE_CHARS) -> str:
    """The text on one line (no control characters), at most `limit` characters."""
    flat = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def lines(text: str | None, limit: int = ADDRESS_LINES) -> tuple[str, ...]:
    """Text typed on several lines (an address) as its non-empty lines, clipped."""
    kept = [clip(line) for line in (text or "").splitlines()]
    kept = [line for line in kept if line]
    return tuple(kept[:limit])


@dataclass(frozen=True)
class Letterhead:
    """Who writes: a name in bold and the lines under it (address, phone, e-mail)."""

    kind: ClassVar[str] = "letterhead"
    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Party:
    """A labelled address: "Sender", "Recipient", "To". `key` marks it for the page."""

    label: str
    lines: tuple[str, ...]
    key: str | None = None


@dataclass(frozen=True)
class Parties:
    """Addresses side by side (one under the other on a narrow screen)."""

    kind: ClassVar[str] = "parties"
    parties: tuple[Party, ...]


@dataclass(frozen=True)
class Heading:
    kind: ClassVar[str] = "heading"
    text: str


@dataclass(frozen=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    text: str


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    key: str | None = None


@dataclass(frozen=True)
class Facts:
    """Labelled values, one per line ("Reference: MEK-EX/2026/12")."""

    kind: ClassVar[str] = "facts"
    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Column:
    heading: str
    # Share of the table's width, and whether its cells are numbers (set right).
    width: int = 1
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """Rows under headings; `total` is a last row whose label spans the columns before
    its first value (`total_values`, one per remaining column)."""

    kind: ClassVar[str] = "table"
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    total: str | None = None
    total_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signature:
    """A signing party: who signs ("Sent by"), and the lines to fill in by hand."""

    label: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Signatures:
    kind: ClassVar[str] = "signatures"
    signatures: tuple[Signature, ...]


@dataclass(frozen=True)
class Label:
    """An address label for one parcel ("Parcel 1/3"), to cut out and stick on."""

    kind: ClassVar[str] = "label"
    caption: str
    sender: Party
    recipient: Party
    note: str = ""


@dataclass(frozen=True)
class Link:
    """An address to open on a phone, printed as a QR code beside its caption (which
    spells the address out, for typing it from paper)."""

    kind: ClassVar[str] = "link"
    url: str
    caption: str

    def qr(self) -> QRCode:
        """The address as a QR code (level M: a letter may be creased or smudged)."""
        import segno  # loaded only when a document carries a link

        return segno.make(self.url, error="m", micro=False)

    def svg(self) -> Markup:
        """The QR code as inline SVG for the page: drawn from the address's bits alone,
        so no text of it reaches the markup."""
        return Markup(self.qr().svg_inline(scale=4, svgclass="qr", lineclass=None))


# A document's blocks; each names its `kind`, by which the page's template draws it.
Block = Letterhead | Parties | Heading | Paragraph | Facts | Table | Signatures | Label | Link


@dataclass(frozen=True)
class Document:
    """A printable document: its title (the PDF's and the page's), its language (a
    locale id of libfed.web.i18n.LANGUAGES), its blocks in order, and the base of its
    file name (safe characters only: see `filename`)."""

    title: str
    language: str
    name: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


def filename(*parts: str | int | None, suffix: str = ".pdf") -> str:
    """A download's file name of ASCII letters, digits, '.', '_' and '-' only, whatever
    the parts hold (a reference typed in Cyrillic, a slash, a quote), at most 100 long."""
    words = [re.sub(r"[^A-Za-z0-9._-]+", "-", str(part)).strip("-.") for part in parts if part]
    base = "-".join(word for word in words if word)[:100].strip("-.") or "document"
    return base + suffix


def pdf_response(document: Document) -> Response:
    """The document as a PDF download: private to whoever asked (never kept by a cache
    on the way), named safely."""
    from .pdf import write_pdf  # fpdf2 and the fonts load only when a PDF is asked for

    return Response(
        write_pdf(document),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename(document.name)}"',
            "Cache-Control": "no-store, private",
        },
    )
