"""The audit trail names no domain: `audit_events.shipment_id` becomes `group_id`.

The shared kernel owns the audit trail; which events belong together is the exchange's
business (it groups a shipment's item events with the shipment's own, under the
shipment's id). Every row keeps its value: only the column and its index are renamed.

SQLite renames a column in batch mode by copying the table, and dropping the old table
drops the triggers that keep audit events append-only (0004): they are read from the
schema before the copy and made again, as they were, after it. PostgreSQL renames in
place, and its trigger stays.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _rename(column: str, index: str, to: str, to_index: str) -> None:
    bind = op.get_bind()
    triggers: list[str] = []
    if bind.dialect.name == "sqlite":
        triggers = list(
            bind.scalars(
                sa.text(
                    "SELECT sql FROM sqlite_master "
                    "WHERE type = 'trigger' AND tbl_name = 'audit_events' ORDER BY name"
                )
            )
        )
    with op.batch_alter_table("audit_events") as table:
        table.drop_index(index)
        table.alter_column(column, new_column_name=to, existing_type=sa.Integer())
    # After the batch: inside it, the index would be looked up on the table before the rename.
    op.create_index(to_index, "audit_events", [to, "id"])
    for trigger in triggers:
        op.execute(trigger)


def upgrade() -> None:
    _rename("shipment_id", "ix_audit_events_shipment", "group_id", "ix_audit_events_group")


def downgrade() -> None:
    _rename("group_id", "ix_audit_events_group", "shipment_id", "ix_audit_events_shipment")
