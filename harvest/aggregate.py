"""A harvested record in the form this server serves it again, with its provenance.

Every format that can be derived is offered: a record the source sent as MARCXML in
every format of the registry (libfed.records.formats), rendered from it as local
records are; one sent as UNIMARC or RUSMARC likewise from its MARC 21 conversion, with
the original kept (`unimarc`); one sent as oai_dc only in oai_dc, as received. Each is checked and
repaired by `harvest.intake` first. Each format carries an OAI `about` container with
the record's origin, `altered` telling whether that format is the one received
exactly, or was repaired or derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libfed.harvest.listing import HarvestedRecord
from libfed.records.formats import MARC21, OAI_DC, UNIMARC
from libfed.records.identifiers import harvested_identifier, is_set_spec
from libfed.records.models import IDENTIFIER_LENGTH, SET_SPEC_LENGTH
from libfed.records.repository import NewRecord
from libfed.records.site import Site
from libfed.records.stored_xml import format_datestamp
from libfed.records.xmltext import escape_attribute, escape_text

from .intake import (
    Refused,
    checked_marcxml,
    checked_oai_dc,
    checked_unimarc,
    parse,
    restored_oai_dc,
)

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


def mirrored_set(source: str, spec: str) -> str | None:
    """The set here of the records a source lists in its harvested set `spec`
    (`source:NAME:SPEC`), so that a record that leaves that set at the source can leave
    it here (harvest.reconcile); None when `spec` cannot name a set here."""
    mirrored = f"{source_sets(source)[1]}:{spec}"
    return mirrored if is_set_spec(mirrored) and len(mirrored) <= SET_SPEC_LENGTH else None


def provenance(record: HarvestedRecord, base_url: str, harvested: datetime, altered: bool) -> str:
    return _PROVENANCE.format(
        harvested=format_datestamp(harvested),
        altered="true" if altered else "false",
        base_url=escape_text(base_url),
        identifier=escape_text(record.identifier),
        datestamp=escape_text(record.datestamp),
        namespace=escape_attribute(record.namespace or ""),
    )


@dataclass(frozen=True)
class Aggregated:
    """A harvested record in its stored form, and the repairs it took to get there."""

    entry: NewRecord
    repairs: tuple[str, ...]


def aggregated(
    record: HarvestedRecord,
    repository_identifier: str,
    source: str,
    base_url: str,
    harvested: datetime,
    site: Site | None = None,
    within: str | None = None,
) -> Aggregated:
    """The stored form of a live harvested record; NotAggregable if none can be made.
    With `site`, the formats rendered from its MARC name its page here (a record sent
    as oai_dc only is stored as received, with the source's identifiers alone). `within`
    is the source's set the record was listed in (none for the whole repository): the
    record joins its mirror here (mirrored_set)."""
    if record.metadata is None:
        raise NotAggregable(f"{record.identifier}: no metadata")
    identifier = harvested_identifier(repository_identifier, source, record.identifier)
    try:
        root = parse(record.metadata)
        landing = site.landing_url(identifier) if site else None
        unimarc = checked_unimarc(root, landing)
        if unimarc is not None or record.namespace == MARC21.namespace:
            marc = unimarc or checked_marcxml(root, landing)
            formats = marc.formats
            repairs = record.repairs + marc.repairs
            # The format received is MARC21, or UNIMARC kept (as received only if it came
            # as UNIMARC slim); the others are derived from it.
            received = UNIMARC.prefix if unimarc else MARC21.prefix
            as_sent = not repairs and (unimarc is None or record.namespace == UNIMARC.namespace)
            about = {
                prefix: provenance(
                    record, base_url, harvested, altered=not (prefix == received and as_sent)
                )
                for prefix in formats
            }
        elif record.namespace == OAI_DC.namespace or (
            record.namespace is None and (root := restored_oai_dc(root)) is not None
        ):
            dc = checked_oai_dc(root)
            repairs = record.repairs + dc.repairs
            altered = bool(repairs) or record.namespace is None
            formats = {OAI_DC.prefix: dc.xml}
            about = {OAI_DC.prefix: provenance(record, base_url, harvested, altered=altered)}
        else:
            raise NotAggregable(
                f"{record.identifier}: no oai_dc can be derived from "
                f"{record.namespace or 'no namespace'}"
            )
    except Refused as error:
        raise NotAggregable(f"{record.identifier}: {error}") from None
    if len(identifier) > IDENTIFIER_LENGTH:
        raise NotAggregable(
            f"{record.identifier[:60]}…: too long an identifier to be served here "
            f"({len(identifier)} characters of {IDENTIFIER_LENGTH} once encoded)"
        )
    mirrored = mirrored_set(source, within) if within else None
    entry = NewRecord.of(
        identifier,
        formats,
        source_sets(source) + ((mirrored,) if mirrored else ()),
        about,
    )
    return Aggregated(entry, repairs)
