"""The exchange ledger: versioned institutions, users and API tokens, the append-only
audit trail and its change counter, agreements, shipments, their items and per-shipment
totals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_APPEND_ONLY = "audit events are append-only"


def _versioned() -> list[sa.Column]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    # Institutions existed (unused) since 0002: give them versions and require a country.
    with op.batch_alter_table("institutions") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE institutions SET version = 1, created_at = CURRENT_TIMESTAMP, "
        "updated_at = CURRENT_TIMESTAMP"
    )
    with op.batch_alter_table("institutions") as batch:
        batch.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("created_at", existing_type=sa.DateTime(), nullable=False)
        batch.alter_column("updated_at", existing_type=sa.DateTime(), nullable=False)
        batch.alter_column("country", existing_type=sa.String(2), nullable=False)
        batch.create_index("ix_institutions_country", ["country"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        *_versioned(),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_events_entity", "audit_events", ["entity", "entity_id", "id"])
    op.create_index("ix_audit_events_shipment", "audit_events", ["shipment_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )

    op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO counters (name, value) VALUES ('ledger', 0)")

    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("institutions.id"), nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("annual_quota", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        *_versioned(),
    )
    op.create_index("ix_agreements_partner_id", "agreements", ["partner_id"])

    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("institutions.id"), nullable=False),
        sa.Column("agreement_id", sa.Integer(), sa.ForeignKey("agreements.id"), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("carrier", sa.String(128), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column("parcels", sa.Integer(), nullable=True),
        sa.Column("weight_grams", sa.Integer(), nullable=True),
        sa.Column("postage_minor", sa.Integer(), nullable=True),
        sa.Column("postage_currency", sa.String(3), nullable=True),
        sa.Column("customs_content_type", sa.String(16), nullable=True),
        sa.Column("customs_hs_code", sa.String(12), nullable=True),
        sa.Column("customs_declared_value_minor", sa.Integer(), nullable=True),
        sa.Column("customs_currency", sa.String(3), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        *(
            sa.Column(f"{state}_at", sa.DateTime(), nullable=True)
            for state in (
                "packed",
                "dispatched",
                "delivered",
                "acknowledged",
                "lost",
                "returned",
                "received",
                "accessioned",
                "cancelled",
            )
        ),
        *_versioned(),
    )
    op.create_index(
        "ix_shipments_year_direction_status", "shipments", ["year", "direction", "status"]
    )
    op.create_index("ix_shipments_partner", "shipments", ["partner_id", "id"])
    op.create_index("ix_shipments_status", "shipments", ["status", "id"])
    op.create_index("ix_shipments_agreement_id", "shipments", ["agreement_id"])

    op.create_table(
        "shipment_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("shipment_id", sa.Integer(), sa.ForeignKey("shipments.id"), nullable=False),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("author", sa.String(500), nullable=True),
        sa.Column("isbn", sa.String(13), nullable=True),
        sa.Column("issn", sa.String(9), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(3), nullable=True),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("received_copies", sa.Integer(), nullable=True),
        sa.Column("unit_value_minor", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("record_identifier", sa.String(512), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        *_versioned(),
    )
    op.create_index("ix_shipment_items_shipment", "shipment_items", ["shipment_id", "id"])
    op.create_index("ix_shipment_items_isbn", "shipment_items", ["isbn"])

    op.create_table(
        "shipment_totals",
        sa.Column("shipment_id", sa.Integer(), sa.ForeignKey("shipments.id"), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("titles", sa.Integer(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("received_titles", sa.Integer(), nullable=False),
        sa.Column("received_copies", sa.Integer(), nullable=False),
        sa.Column("received_value_minor", sa.BigInteger(), nullable=False),
    )
