"""What the registry knows of a metadata format: its OAI-PMH names and its renderer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pymarc import Record


@dataclass(frozen=True)
class MetadataFormat:
    """A format as ListMetadataFormats announces it, and how a MARC record is written in it.

    `render` takes a record that `libfed.records.marc_checks.checked` accepted and the
    address of the record's public page here (libfed.records.site; None where there is
    none to give, as in tests of the mapping alone), and returns the metadata element as
    text (no XML declaration: it is stored inside OAI's <metadata>), valid against
    `schema`; the XML Schema's local copy must be in the project's `schemas/` folder,
    where intake and the tests validate against it. The page's address is the one thing
    a rendering says beyond the MARC: it is what aggregators link to (BASE, CORE).

    `stored_as` names another registered format when this one is the same metadata
    under a second prefix (`marcxml` for `marc21`): nothing is stored under it, and it
    is served from that format's stored rendering, so it needs no storage of its own
    and no rerender to be offered for every record that has the other one.
    """

    prefix: str
    schema: str
    namespace: str
    render: Callable[[Record, str | None], str]
    stored_as: str | None = None

    @property
    def stored_prefix(self) -> str:
        """The prefix under which this format's renderings are stored and read."""
        return self.stored_as or self.prefix
