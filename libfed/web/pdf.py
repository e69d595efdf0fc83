"""A `Document` written as an A4 PDF with fpdf2: one writer for every letter and list.

fpdf2 is pure Python; the text is set in DejaVu Sans (bundled in `fonts/`, with its
licence), which has the Cyrillic, Azerbaijani (ə, ğ, ş) and Uzbek (ʻ, ʼ, ў, қ) letters the
core PDF fonts lack. A character DejaVu has no glyph for (CJK, say) is left out with a
logged warning, never an error: a partner's name must not stop a letter; a currency sign
it lacks (the manat's ₼, which Azerbaijani amounts use) is written as the currency's ISO
code instead, so that no amount loses its unit. Every text
has been clipped by `libfed.web.documents`, and fpdf2 breaks a word wider than its
column, so no input makes a line run off the page.
"""

from __future__ import annotations

import dataclasses
import io
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import get_currency_symbol
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from .documents import (
    Block,
    Document,
    Facts,
    Heading,
    Label,
    Letterhead,
    Link,
    Paragraph,
    Parties,
    Party,
    Signatures,
    Table,
)
from .i18n import html_lang

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVu"
MARGIN = 20  # mm, on every side of an A4 page
GAP = 8  # mm between columns side by side
SIZE = 10.5  # pt, of the body text
LINE = 5.2  # mm, height of a line of body text
MUTED = (90, 90, 90)
QR_SIDE = 32  # mm: a phone's camera reads it from arm's length


class _Writer:
    def __init__(self, document: Document) -> None:
        self.pdf = pdf = FPDF(format="A4", unit="mm")
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=MARGIN)
        pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        pdf.set_title(document.title)
        pdf.set_lang(html_lang(document.language))
        pdf.set_creator("libfed")
        pdf.add_page()
        self.font()

    @property
    def width(self) -> float:
        return self.pdf.epw

    def font(self, size: float = SIZE, bold: bool = False, muted: bool = False) -> None:
        self.pdf.set_font(FAMILY, "B" if bold else "", size)
        self.pdf.set_text_color(*(MUTED if muted else (0, 0, 0)))

    def text(self, text: str, height: float = LINE, width: float = 0) -> None:
        """Text wrapped in the column from the current x, the cursor left under it."""
        x = self.pdf.get_x()
        self.pdf.multi_cell(width, height, text, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.pdf.set_x(x)

    def space(self, mm: float) -> None:
        self.pdf.ln(mm)

    def height_of(self, width: float, text: str, height: float = LINE) -> float:
        lines = self.pdf.multi_cell(
            width, height, text, align=Align.L, dry_run=True, output="LINES"
        )
        return len(lines) * height

    def keep_together(self, height: float) -> None:
        """A new page first if `height` no longer fits on this one (and would on a new one)."""
        room = self.pdf.h - MARGIN - self.pdf.get_y()
        if room < height < self.pdf.h - 2 * MARGIN:
            self.pdf.add_page()

    # ------------------------------------------------------------------ blocks

    def letterhead(self, block: Letterhead) -> None:
        self.font(13, bold=True)
        self.text(block.name, 6.5)
        self.font(9, muted=True)
        for line in block.lines:
            self.text(line, 4.6)
        self.font()
        y = self.pdf.get_y() + 2
        self.pdf.set_draw_color(*MUTED)
        self.pdf.line(MARGIN, y, MARGIN + self.width, y)
        self.space(6)

    def party(self, party: Party, x: float, width: float, size: float = SIZE) -> float:
        """The party in the column at x; returns the y under it."""
        self.pdf.set_x(x)
        self.font(8.5, bold=True, muted=True)
        self.text(party.label, 4.6, width)
        for number, line in enumerate(party.lines):
            self.font(size, bold=number == 0)
            self.text(line, size * 0.5, width)
        self.font()
        return self.pdf.get_y()

    def parties_height(self, parties: tuple[Party, ...], width: float, size: float) -> float:
        heights = []
        for party in parties:
            self.font(size)
            heights.append(
                4.6 + sum(self.height_of(width, line, size * 0.5) for line in party.lines)
            )
        self.font()
        return max(heights, default=0)

    def side_by_side(self, parties: tuple[Party, ...], size: float = SIZE) -> None:
        """Parties in columns when they fit on one page, else one under the other."""
        count = max(len(parties), 1)
        width = (self.width - GAP * (count - 1)) / count
        height = self.parties_height(parties, width, size)
        if height > self.pdf.h - 2 * MARGIN - 20:
            for party in parties:
                self.party(party, MARGIN, self.width, size)
                self.space(3)
            return
        self.keep_together(height)
        top, bottom = self.pdf.get_y(), self.pdf.get_y()
        for index, party in enumerate(parties):
            self.pdf.set_y(top)
            bottom = max(bottom, self.party(party, MARGIN + index * (width + GAP), width, size))
        self.pdf.set_xy(MARGIN, bottom)

    def parties(self, block: Parties) -> None:
        self.side_by_side(block.parties)
        self.space(5)

    def heading(self, block: Heading) -> None:
        self.keep_together(20)
        self.space(2)
        self.font(12, bold=True)
        self.text(block.text, 6.5)
        self.font()
        self.space(2)

    def paragraph(self, block: Paragraph) -> None:
        self.text(block.text)
        self.space(2.5)

    def facts(self, block: Facts) -> None:
        self.font(SIZE - 0.5)
        with self.pdf.table(
            col_widths=(2, 3),
            first_row_as_headings=False,
            borders_layout=TableBordersLayout.NONE,
            line_height=LINE,
            padding=(0.6, 1, 0.6, 0),
        ) as table:
            for fact in block.facts:
                row = table.row()
                row.cell(fact.label, style=FontFace(emphasis="BOLD"))
                row.cell(fact.value)
        self.font()
        self.space(4)

    def table(self, block: Table) -> None:
        self.keep_together(25)
        self.font(SIZE, bold=True)
        self.text(block.caption, 6)
        self.font(8.5)
        aligns = tuple(Align.R if column.numeric else Align.L for column in block.columns)
        with self.pdf.table(
            col_widths=tuple(column.width for column in block.columns),
            text_align=aligns,
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            line_height=4.4,
            repeat_headings=1,
            padding=1,
        ) as table:
            headings = table.row()
            for column in block.columns:
                headings.cell(column.heading)
            for cells in block.rows:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
            if block.total is not None:
                row = table.row()
                span = len(block.columns) - len(block.total_values)
                row.cell(block.total, colspan=span, align=Align.L, style=FontFace(emphasis="BOLD"))
                for value in block.total_values:
                    row.cell(value)
        self.font()
        self.space(5)

    def signatures(self, block: Signatures) -> None:
        count = max(len(block.signatures), 1)
        width = (self.width - GAP * (count - 1)) / count
        self.keep_together(8 + 10 * max((len(s.fields) for s in block.signatures), default=0))
        self.space(4)
        top = bottom = self.pdf.get_y()
        for index, signature in enumerate(block.signatures):
            x = MARGIN + index * (width + GAP)
            self.pdf.set_xy(x, top)
            self.font(SIZE, bold=True)
            self.text(signature.label, 6, width)
            self.font(8.5, muted=True)
            for name in signature.fields:
                self.pdf.set_x(x)
                self.space(4)
                self.pdf.set_x(x)
                y = self.pdf.get_y()
                self.text(name, 4.4, width * 0.35)
                self.pdf.set_draw_color(0, 0, 0)
                self.pdf.line(x + width * 0.36, y + 4, x + width, y + 4)
                self.pdf.set_y(max(self.pdf.get_y(), y + 4.4))
            bottom = max(bottom, self.pdf.get_y())
        self.font()
        self.pdf.set_xy(MARGIN, bottom)
        self.space(6)

    def label(self, block: Label) -> None:
        """A dashed box to cut along: the caption, sender small, recipient large."""
        inner = self.width - 12
        height = (
            6
            + self.parties_height((block.sender,), inner, 8.5)
            + self.parties_height((block.recipient,), inner, 13)
            + (self.height_of(inner, block.note) if block.note else 0)
            + 18
        )
        self.keep_together(height)
        top = self.pdf.get_y()
        self.pdf.set_xy(MARGIN + 6, top + 5)
        self.font(SIZE, bold=True)
        self.text(block.caption, 6, inner)
        self.party(block.sender, MARGIN + 6, inner, 8.5)
        self.pdf.set_xy(MARGIN + 6, self.pdf.get_y() + 4)
        self.party(block.recipient, MARGIN + 6, inner, 13)
        if block.note:
            self.pdf.set_xy(MARGIN + 6, self.pdf.get_y() + 3)
            self.font(9, muted=True)
            self.text(block.note, LINE, inner)
            self.font()
        bottom = self.pdf.get_y() + 5
        if bottom > top:  # a label taller than a page (hostile text) goes unboxed
            with self.pdf.local_context():
                self.pdf.set_dash_pattern(dash=2, gap=1.5)
                self.pdf.set_draw_color(*MUTED)
                self.pdf.rect(MARGIN, top, self.width, bottom - top)
        self.pdf.set_xy(MARGIN, bottom + 8)

    def link(self, block: Link) -> None:
        """The QR code, and beside it the caption and the address to type."""
        side = QR_SIDE
        self.keep_together(side + 4)
        top = self.pdf.get_y()
        image = io.BytesIO()
        block.qr().save(image, kind="png", scale=8, border=2)
        image.seek(0)
        self.pdf.image(image, x=MARGIN, y=top, w=side, h=side, link=block.url)
        self.pdf.set_xy(MARGIN + side + GAP / 2, top + 2)
        width = self.width - side - GAP / 2
        self.text(block.caption, LINE, width)
        self.font(SIZE, bold=True)
        self.text(block.url, LINE, width)
        self.font()
        self.pdf.set_xy(MARGIN, max(self.pdf.get_y(), top + side) + 4)

    def block(self, block: Block) -> None:
        self.pdf.set_x(MARGIN)
        match block:
            case Letterhead():
                self.letterhead(block)
            case Parties():
                self.parties(block)
            case Heading():
                self.heading(block)
            case Paragraph():
                self.paragraph(block)
            case Facts():
                self.facts(block)
            case Table():
                self.table(block)
            case Signatures():
                self.signatures(block)
            case Label():
                self.label(block)
            case Link():
                self.link(block)


@lru_cache(maxsize=1)
def _glyphs() -> frozenset[int]:
    """The code points the body font draws (both weights cover the same ones)."""
    return frozenset(TTFont(FONTS / "DejaVuSans.ttf").getBestCmap())


@lru_cache(maxsize=16)
def _currency_codes(language: str) -> dict[str, str]:
    """Currency sign -> ISO code, for the signs this language writes amounts with."""
    locale = Locale.parse(language)
    signs = {get_currency_symbol(code, locale=locale): code for code in locale.currencies}
    return {sign: code for sign, code in signs.items() if len(sign) == 1}


def _drawable(value: Any, codes: dict[str, str]) -> Any:
    """The value with every currency sign the font lacks spelt as its ISO code."""
    if isinstance(value, str):
        glyphs = _glyphs()
        return "".join(
            codes.get(char, char)
            if unicodedata.category(char) == "Sc" and ord(char) not in glyphs
            else char
            for char in value
        )
    if isinstance(value, tuple):
        return tuple(_drawable(item, codes) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value,
            **{
                field.name: _drawable(getattr(value, field.name), codes)
                for field in dataclasses.fields(value)
                if field.init
            },
        )
    return value


def write_pdf(document: Document) -> bytes:
    """The document as the bytes of an A4 PDF."""
    document = _drawable(document, _currency_codes(document.language))
    writer = _Writer(document)
    for block in document.blocks:
        writer.block(block)
    return bytes(writer.pdf.output())
