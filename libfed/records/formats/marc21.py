"""MARC 21 as MARCXML (MARC21slim): the form in which MARC records are stored, and from
which every other format is rendered again (`libfed db rerender`)."""

from __future__ import annotations

from pymarc import Record

from ..marcxml import MARC_NS, MARC_SCHEMA, record_to_marcxml
from .entry import MetadataFormat


def render_marc21(record: Record, landing_url: str | None = None) -> str:
    """The record as it is: its page's address is not catalogue data (an 856 would say
    that the resource itself is online there)."""
    return record_to_marcxml(record)


FORMAT = MetadataFormat("marc21", MARC_SCHEMA, MARC_NS, render_marc21)
