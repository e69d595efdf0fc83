"""OAI identifiers of local records: oai:<repositoryIdentifier>:<local part>."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, urlencode

from pymarc import Record

from .formats import OAI_DC

# The local-identifier characters of the oai-identifier scheme, less ':' (anything
# else is percent-encoded as UTF-8, so a control number with spaces or Cyrillic stays
# a URI). A local record's identifier has no ':' after the repository's: the
# harvester's oai:<repository>:<source>:<identifier at the source> can never collide.
_SAFE = "-_.!~*'();/?@&=+$,"
SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")


def local_part(record: Record) -> str:
    """MARC 001, or when it is missing a digest of the system number (035) or the record.

    The fallback is stable: the same record imported again gets the same identifier.
    """
    control = record.get("001")
    number = (control.data or "").strip() if control is not None else ""
    if number:
        return quote(number, safe=_SAFE)
    system = next((f["a"] for f in record.get_fields("035") if f["a"]), None)
    basis = f"035:{system.strip()}" if system else record.as_json(sort_keys=True)
    return "gen-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]


def oai_identifier(repository_identifier: str, record: Record) -> str:
    return f"oai:{repository_identifier}:{local_part(record)}"


# What the oai-identifier scheme allows after the repository's name, less '%', which is
# encoded too so that the source's identifier can always be read back (a%20b and "a b"
# must not become one record).
_HARVESTED_SAFE = "-_.!~*'();/?:@&=+$,"


def harvested_identifier(repository_identifier: str, source: str, original: str) -> str:
    """This server's identifier of a record harvested from `source` (a source name).

    Identify says that our identifiers follow the oai-identifier scheme, and a source's
    may not (spaces, Cyrillic, brackets): what the scheme forbids is percent-encoded as
    UTF-8; the provenance keeps the original as the source wrote it.
    """
    return f"oai:{repository_identifier}:{source}:{quote(original, safe=_HARVESTED_SAFE)}"


def is_set_spec(value: str) -> bool:
    return bool(SET_SPEC.fullmatch(value))


def get_record_url(base_url: str, identifier: str, metadata_prefix: str = OAI_DC.prefix) -> str:
    """Where a record is read over OAI-PMH (GetRecord, oai_dc unless another format is
    named): the data provider serves this library's records and the harvested ones
    alike, so any record has one."""
    query = {"verb": "GetRecord", "metadataPrefix": metadata_prefix, "identifier": identifier}
    return f"{base_url}?{urlencode(query)}"
