"""Records stored as the import or a harvest stores them, for tests of what reads them."""

from __future__ import annotations

from conftest import REPOSITORY_ID

from libfed.kernel.db import Database
from libfed.records.repository import NewRecord, store

DC = (
    '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">{}</oai_dc:dc>'
)


def dc(**elements: str | list[str]) -> str:
    """oai_dc with these elements (a list gives the element repeated)."""
    parts = []
    for name, values in elements.items():
        for value in [values] if isinstance(values, str) else values:
            parts.append(f"<dc:{name}>{value}</dc:{name}>")
    return DC.format("".join(parts))


def put(
    db: Database,
    local_id: str,
    source: str | None = None,
    sets: tuple[str, ...] = (),
    marc: str | None = None,
    **elements: str | list[str],
) -> str:
    """Store one record (harvested from `source` when given, with MARCXML `marc` too when
    given); its identifier."""
    identifier = (
        f"oai:{REPOSITORY_ID}:{source}:{local_id}" if source else f"oai:{REPOSITORY_ID}:{local_id}"
    )
    memberships = (*sets, *(("source", f"source:{source}") if source else ()))
    formats = {"oai_dc": dc(**elements), **({"marc21": marc} if marc else {})}
    with db.write() as session:
        store(session, [NewRecord.of(identifier, formats, memberships)])
    return identifier
