"""The metadata formats this server disseminates: one module per format, registered here.

The registry is the one list that the OAI provider announces and answers for, that
import, harvest intake and accession render records through (`rendered`), that intake
validates against and that `libfed db rerender` brings stored records up to date with.
Adding a format is a module beside these (its prefix, schema, namespace and renderer)
and its line in FORMATS; docs/formats.md shows one.

Every format is rendered from a MARC record; MARC21 is the one stored MARC records are
read back from. A harvested record that came as oai_dc only has no MARC, so it is
served in oai_dc alone, as received. A format that is another one under a second
prefix (`marcxml`) is an alias (`MetadataFormat.stored_as`): served from the other's
stored rendering, never rendered or stored itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from pymarc import Record

from . import marc21, marcxml, mods, oai_dc, unimarc
from .entry import MetadataFormat

# prefix -> format, in the order ListMetadataFormats lists them: one line per format.
FORMATS: dict[str, MetadataFormat] = {
    entry.prefix: entry
    for entry in (
        oai_dc.FORMAT,
        marc21.FORMAT,
        marcxml.FORMAT,
        mods.FORMAT,
        unimarc.FORMAT,
    )
}

# Raised when a renderer's output changes for records already stored: `libfed db upgrade`
# then renders every record again (libfed.records.rerender.renderings_outdated).
RENDERERS_VERSION = 2  # 2: the record's page in oai_dc and MODS, holdings as 852

OAI_DC = oai_dc.FORMAT
MARC21 = marc21.FORMAT  # the stored form of a MARC record
UNIMARC = unimarc.FORMAT
# Formats kept as a record came, never rendered from its MARC 21 (a UNIMARC original):
# stored and served for the records that came with them, left as stored by a rerender.
KEPT = frozenset({unimarc.FORMAT.prefix})


def rendered(
    record: Record,
    formats: Iterable[MetadataFormat] | None = None,
    *,
    landing_url: str | None = None,
) -> dict[str, str]:
    """A checked MARC record in each of `formats` (default: every registered one), by
    stored prefix: the one way a record becomes what is served, whoever stores it. An
    alias is rendered as the format it is stored as. `landing_url` is the record's
    public page (libfed.records.site.Site.landing_url), named by the formats that
    link to it."""
    chosen = rendered_formats() if formats is None else formats
    chosen = [entry for entry in chosen if entry.prefix not in KEPT]
    return {entry.stored_prefix: entry.render(record, landing_url) for entry in chosen}


def rendered_formats() -> list[MetadataFormat]:
    """The formats a record with MARC is rendered and stored in: all but the aliases
    and the kept ones."""
    return [
        entry for entry in FORMATS.values() if entry.stored_as is None and entry.prefix not in KEPT
    ]


def stored_prefix(prefix: str) -> str:
    """The prefix whose stored rendering serves `prefix` (itself unless an alias)."""
    entry = FORMATS.get(prefix)
    return prefix if entry is None else entry.stored_prefix


__all__ = [
    "FORMATS",
    "KEPT",
    "MARC21",
    "OAI_DC",
    "RENDERERS_VERSION",
    "UNIMARC",
    "MetadataFormat",
    "rendered",
    "rendered_formats",
    "stored_prefix",
]
