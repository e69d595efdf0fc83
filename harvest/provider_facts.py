"""What a provider's Identify says that the harvester keeps on the source.

Kept apart from `run` and `reconcile`, which both write it (at every harvest and every
reconciliation) and one of which schedules by it: a provider that declares
`deletedRecord=no` (or `transient`) is reconciled by default (harvest.reconcile).
"""

from __future__ import annotations

from oaipmh.common import Identify
from sqlalchemy import update

from libfed.kernel.db import Database

from .models import Source

# The protocol's three values; anything else a provider writes is kept as unknown (None).
DELETED_RECORD = ("no", "persistent", "transient")


def remember_deleted_record(db: Database, source_id: int, identify: Identify) -> None:
    """Store Identify's deletedRecord on the source, only when it changed."""
    said = (identify.deletedRecord() or "").strip()
    value = said if said in DELETED_RECORD else None
    with db.write() as session:
        session.execute(
            update(Source)
            .where(Source.id == source_id, Source.deleted_record.is_distinct_from(value))
            .values(deleted_record=value)
            .execution_options(synchronize_session=False)
        )
