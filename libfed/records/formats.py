"""The metadata formats this server can disseminate, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str


OAI_DC = MetadataFormat(
    "oai_dc",
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
    "http://www.openarchives.org/OAI/2.0/oai_dc/",
)
MARC21 = MetadataFormat(
    "marc21",
    "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd",
    "http://www.loc.gov/MARC21/slim",
)

FORMATS: dict[str, MetadataFormat] = {f.prefix: f for f in (OAI_DC, MARC21)}
