"""What a coordinator's daily work needs kept: partners' postal addresses, contact people,
archive and merge; users' e-mail addresses; references numbered per year; when an expected shipment is due; the
digests already mailed.

Every new column is nullable and every new table starts empty, so existing rows keep
their meaning: no partner is archived, no reference is renumbered.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place: a batch copy would drop a table that shipments and sources point at,
    # which SQLite refuses while foreign keys are on.
    op.add_column("institutions", sa.Column("postal_address", sa.Text(), nullable=True))
    op.add_column("institutions", sa.Column("phone", sa.String(64), nullable=True))
    op.add_column("institutions", sa.Column("letter_language", sa.String(16), nullable=True))
    op.add_column("institutions", sa.Column("archived_at", sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's ADD COLUMN takes a REFERENCES clause when the default is null.
        op.execute(
            "ALTER TABLE institutions ADD COLUMN merged_into_id INTEGER REFERENCES institutions (id)"
        )
    else:
        op.add_column("institutions", sa.Column("merged_into_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_institutions_merged_into_id",
            "institutions",
            "institutions",
            ["merged_into_id"],
            ["id"],
        )
    op.add_column("users", sa.Column("email", sa.String(255), nullable=True))
    op.create_table(
        "institution_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("position", sa.String(255), nullable=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["institution_id"], ["institutions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_institution_contacts_institution_id", "institution_contacts", ["institution_id"]
    )
    op.add_column("shipments", sa.Column("expected_by", sa.Date(), nullable=True))
    op.create_table(
        "reference_counters",
        sa.Column("pattern", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pattern", "year"),
    )
    op.create_table(
        "mail_digests",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "period"),
    )


def downgrade() -> None:
    op.drop_table("mail_digests")
    op.drop_table("reference_counters")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("expected_by")
    op.drop_table("institution_contacts")
    op.execute("ALTER TABLE users DROP COLUMN email")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_institutions_merged_into_id", "institutions", type_="foreignkey")
    # SQLite (3.35+) drops a column in place unless it is part of a constraint: the
    # reference goes with its column.
    for column in ("merged_into_id", "archived_at", "letter_language", "phone", "postal_address"):
        op.execute(f"ALTER TABLE institutions DROP COLUMN {column}")
