"""The metadata formats this server disseminates: one module per format, registered here.

The registry is the one list that the OAI provider announces and answers for, that
import, harvest intake and accession render records through (`rendered`), that intake
validates against and that `libfed db rerender` brings stored records up to date with.
Adding a format is a module beside these (its prefix, schema, namespace and renderer)
and its line in FORMATS; docs/formats.md shows one.

Every format is rendered from a MARC record; MARC21 is the one stored MARC records are
read back from. A harvested record that came as oai_dc only has no MARC, so it is
served in oai_dc alone, as received.
"""

from __future__ import annotations

from collections.abc import Iterable

from pymarc import Record

from . import marc21, oai_dc
from .entry import MetadataFormat

# prefix -> format, in the order ListMetadataFormats lists them: one line per format.
FORMATS: dict[str, MetadataFormat] = {
    entry.prefix: entry
    for entry in (
        oai_dc.FORMAT,
        marc21.FORMAT,
    )
}

OAI_DC = oai_dc.FORMAT
MARC21 = marc21.FORMAT  # the stored form of a MARC record


def rendered(record: Record, formats: Iterable[MetadataFormat] | None = None) -> dict[str, str]:
    """A checked MARC record in each of `formats` (default: every registered one), by
    prefix: the one way a record becomes what is served, whoever stores it."""
    chosen = FORMATS.values() if formats is None else formats
    return {entry.prefix: entry.render(record) for entry in chosen}


__all__ = ["FORMATS", "MARC21", "OAI_DC", "MetadataFormat", "rendered"]
