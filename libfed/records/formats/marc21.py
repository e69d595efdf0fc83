"""MARC 21 as MARCXML (MARC21slim): the form in which MARC records are stored, and from
which every other format is rendered again (`libfed db rerender`)."""

from __future__ import annotations

from ..marcxml import MARC_NS, MARC_SCHEMA, record_to_marcxml
from .entry import MetadataFormat

FORMAT = MetadataFormat("marc21", MARC_SCHEMA, MARC_NS, record_to_marcxml)
