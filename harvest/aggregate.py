"""A harvested record in the form this server serves it again, with its provenance.

Every format that can be derived is offered: oai_dc always (as received, or made
from MARCXML by the same crosswalk as local records), marc21 when the source sent
MARCXML. Each format carries an OAI `about` container with the record's origin,
`altered` telling whether that format is the one received or derived from it.
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from libfed.crosswalk import render_oai_dc
from libfed.formats import MARC21, OAI_DC
from libfed.identifiers import harvested_identifier
from libfed.marc_checks import RecordRejected, checked
from libfed.marcxml import record_from_element, record_to_marcxml
from libfed.records import NewRecord
from libfed.stored_xml import format_datestamp
from libfed.xmltext import escape_attribute, escape_text

from .pages import HarvestedRecord

_PROVENANCE = (
    '<about><provenance xmlns="http://www.openarchives.org/OAI/2.0/provenance" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/provenance '
    'http://www.openarchives.org/OAI/2.0/provenance.xsd">'
    '<originDescription harvestDate="{harvested}" altered="{altered}">'
    "<baseURL>{base_url}</baseURL><identifier>{identifier}</identifier>"
    "<datestamp>{datestamp}</datestamp><metadataNamespace>{namespace}</metadataNamespace>"
    "</originDescription></provenance></about>"
)


class NotAggregable(ValueError):
    """The record cannot be offered in any format of this server; the message says why."""


def source_sets(source: str) -> tuple[str, ...]:
    return ("source", f"source:{source}")


def provenance(record: HarvestedRecord, base_url: str, harvested: datetime, altered: bool) -> str:
    return _PROVENANCE.format(
        harvested=format_datestamp(harvested),
        altered="true" if altered else "false",
        base_url=escape_text(base_url),
        identifier=escape_text(record.identifier),
        datestamp=escape_text(record.datestamp),
        namespace=escape_attribute(record.namespace or ""),
    )


_DC_NS = "http://purl.org/dc/elements/1.1/"


def _restored_oai_dc(metadata: bytes) -> str | None:
    """oai_dc whose namespaces a provider stripped (<dc><title>...), put back; else None."""
    root = etree.fromstring(metadata)
    if root.tag != "dc":
        return None
    dc = etree.Element(
        f"{{{OAI_DC.namespace}}}dc", nsmap={"oai_dc": OAI_DC.namespace, "dc": _DC_NS}
    )
    for child in root:
        if isinstance(child.tag, str) and "}" not in child.tag:
            etree.SubElement(dc, f"{{{_DC_NS}}}{child.tag}").text = child.text
    return etree.tostring(dc, encoding="unicode")


def aggregated(
    record: HarvestedRecord,
    repository_identifier: str,
    source: str,
    base_url: str,
    harvested: datetime,
) -> NewRecord:
    """The stored form of a live harvested record; NotAggregable if none can be made."""
    if record.metadata is None:
        raise NotAggregable(f"{record.identifier}: no metadata")
    received = record.metadata.decode("utf-8")
    if record.namespace == OAI_DC.namespace:
        formats = {"oai_dc": received}
        about = {"oai_dc": provenance(record, base_url, harvested, altered=False)}
    elif record.namespace == MARC21.namespace:
        try:
            marc, leader = record_from_element(etree.fromstring(record.metadata))
            marc = checked(marc, leader)
        except RecordRejected as error:
            raise NotAggregable(f"{record.identifier}: MARCXML refused: {error}") from None
        formats = {"marc21": record_to_marcxml(marc), "oai_dc": render_oai_dc(marc)}
        # Written again from the checked record: altered only if its leader was repaired.
        repaired = str(marc.leader) != leader
        about = {
            "marc21": provenance(record, base_url, harvested, altered=repaired),
            "oai_dc": provenance(record, base_url, harvested, altered=True),
        }
    elif record.namespace is None and (restored := _restored_oai_dc(record.metadata)):
        formats = {"oai_dc": restored}
        about = {"oai_dc": provenance(record, base_url, harvested, altered=True)}
    else:
        raise NotAggregable(
            f"{record.identifier}: no oai_dc can be derived from {record.namespace or 'no namespace'}"
        )
    return NewRecord.of(
        harvested_identifier(repository_identifier, source, record.identifier),
        formats,
        source_sets(source),
        about,
    )
