"""UNIMARC slim: the original of a record that came as UNIMARC or RUSMARC, kept as it came.

Such a record is converted to MARC 21 (libfed.records.unimarc), which every other format
is rendered from; a conversion loses what MARC 21 has no place for, so the original is
kept beside it and served under this prefix, to partners that read UNIMARC. It is
not rendered from the MARC 21 record (there is no way back): the registry lists it
among the kept formats (`KEPT`), which `rendered` and `libfed db rerender` never render
and a rerender leaves as stored. Only the records that came as UNIMARC have it, as only
those harvested as MARCXML have marc21: ListMetadataFormats with an identifier offers
it for them alone.

The serialisation is the UNIMARC slim schema of the National Library of Florence
(rec/lab/cf/df/sf), the one UNIMARC XML schema published with a namespace; RUSMARC's
UNISlim and MARCXML holding UNIMARC are read (libfed.records.unimarc_reader) and kept
in it too.
"""

from __future__ import annotations

from pymarc import Record

from ..xmltext import escape_attribute, escape_text
from .entry import MetadataFormat

NAMESPACE = "http://www.bncf.firenze.sbn.it/unimarc/slim"
SCHEMA = "http://www.bncf.firenze.sbn.it/progetti/unimarc/slim/documentation/unimarcslim.xsd"
RUSMARC_NAMESPACE = "http://www.rba.ru/rusmarc/soft"  # the Russian Library Association's UNISlim
# The record elements of the two UNIMARC XML serialisations, which a MARCXML file's
# reader takes as records too (libfed.records.marc_reader).
XML_RECORDS = (f"{{{RUSMARC_NAMESPACE}}}record", f"{{{NAMESPACE}}}rec")
_ROOT = (
    f'<rec xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xsi:schemaLocation="{NAMESPACE} {SCHEMA}" type="Bibliographic">'
)


def unimarc_slim(record: Record, leader: str) -> str:
    """A UNIMARC record (pymarc's model, UNIMARC tags) as one UNIMARC slim `<rec>`.

    Text is written as it is; whether the result is valid (subfield codes UNIMARC
    allows, a leader of its shape) is checked against the schema by the reader.
    """
    parts = [_ROOT, "<lab>", escape_text(leader), "</lab>"]
    ordered = sorted(record.fields, key=lambda field: not field.is_control_field())
    for field in ordered:
        tag = escape_attribute(field.tag)
        if field.is_control_field():
            parts.append(f'<cf t="{tag}">{escape_text(field.data or "")}</cf>')
            continue
        ind1, ind2 = (escape_attribute(i) for i in field.indicators)
        parts.append(f'<df t="{tag}" i1="{ind1}" i2="{ind2}">')
        parts.extend(
            f'<sf c="{escape_attribute(code)}">{escape_text(value)}</sf>'
            for code, value in field.subfields
        )
        parts.append("</df>")
    parts.append("</rec>")
    return "".join(parts)


def _kept(record: Record, landing_url: str | None = None) -> str:
    """Never called: the registry renders no kept format (see the module's docstring)."""
    raise LookupError("unimarc is kept as a record came, never rendered from MARC 21")


FORMAT = MetadataFormat("unimarc", SCHEMA, NAMESPACE, _kept)
