"""The harvester's controls of issue 18, in one migration so that its parts share it:

- per-source settings real providers need (`harvest_sources`): a delay between
  requests, custom headers, the listing mode (ListRecords, or ListIdentifiers with
  GetRecord per record), a date-window size, a timeout, a contact address for failure
  mail, a reconciliation schedule, what Identify said of deletions, and when the source
  is next due (the queue harvest workers take from);
- per run (`harvest_runs`): its kind (a harvest or a reconciliation), the records that
  left a set, the alerts it raised and when they were mailed;
- per quarantined record (`harvest_quarantine`): its source, identifier and datestamp,
  so that a later run tries it again, how often it was tried, and when it came through;
- `harvest_changes`: what each run changed, record by record, with the fields of a
  changed record before and after.

Every existing source keeps today's behaviour: ListRecords, no delay, no window, the
configured timeout.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("harvest_sources") as table:
        table.add_column(sa.Column("request_delay_seconds", sa.Float(), nullable=True))
        table.add_column(sa.Column("headers", sa.JSON(), nullable=True))
        table.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="records"))
        table.add_column(sa.Column("window_days", sa.Integer(), nullable=True))
        table.add_column(sa.Column("timeout_seconds", sa.Integer(), nullable=True))
        table.add_column(sa.Column("contact_email", sa.String(320), nullable=True))
        table.add_column(sa.Column("reconcile_cron", sa.String(128), nullable=True))
        table.add_column(sa.Column("deleted_record", sa.String(16), nullable=True))
        table.add_column(sa.Column("reconciled_at", sa.DateTime(), nullable=True))
        table.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("harvest_runs") as table:
        table.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="harvest"))
        table.add_column(sa.Column("left_sets", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("alerts", sa.JSON(), nullable=True))
        table.add_column(sa.Column("reported_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("harvest_quarantine") as table:
        table.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("identifier", sa.String(1000), nullable=True))
        table.add_column(sa.Column("datestamp", sa.String(32), nullable=True))
        table.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        table.add_column(sa.Column("resolved_at", sa.DateTime(), nullable=True))
        table.create_foreign_key(
            "fk_harvest_quarantine_source_id",
            "harvest_sources",
            ["source_id"],
            ["id"],
            ondelete="CASCADE",
        )
        table.create_index("ix_harvest_quarantine_source_id", ["source_id"])
    op.create_table(
        "harvest_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(1024), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["harvest_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_harvest_changes_run_id", "harvest_changes", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_harvest_changes_run_id", table_name="harvest_changes")
    op.drop_table("harvest_changes")
    with op.batch_alter_table("harvest_quarantine") as table:
        table.drop_index("ix_harvest_quarantine_source_id")
        table.drop_constraint("fk_harvest_quarantine_source_id", type_="foreignkey")
        for column in ("resolved_at", "attempts", "datestamp", "identifier", "source_id"):
            table.drop_column(column)
    with op.batch_alter_table("harvest_runs") as table:
        for column in ("reported_at", "alerts", "left_sets", "kind"):
            table.drop_column(column)
    with op.batch_alter_table("harvest_sources") as table:
        for column in (
            "due_at",
            "reconciled_at",
            "deleted_record",
            "reconcile_cron",
            "contact_email",
            "timeout_seconds",
            "window_days",
            "mode",
            "headers",
            "request_delay_seconds",
        ):
            table.drop_column(column)
