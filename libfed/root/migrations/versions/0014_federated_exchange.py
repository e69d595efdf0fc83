"""The federated exchange's tables: peers, the outbox and inbox of signed messages, the
nonces heard, shipments linked to their twins at peers, a shipment's thread of notes and
the claims on offer lists; items gain the id of their twin at a peer.

Every new table starts empty and the new column is nullable: nothing stored changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index(
        op.f("ix_federation_nonces_seen_at"), "federation_nonces", ["seen_at"], unique=False
    )
    op.create_table(
        "peers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("inbox_url", sa.String(length=500), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("protocol_version", sa.String(length=16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("institution_id"),
        sa.UniqueConstraint("key_id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "federation_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("peer_id", "message_id", name="uq_federation_inbox_message"),
    )
    op.create_index(
        "ix_federation_inbox_received", "federation_inbox", ["received_at", "id"], unique=False
    )
    op.create_index(
        op.f("ix_federation_inbox_shipment_id"), "federation_inbox", ["shipment_id"], unique=False
    )
    op.create_table(
        "federation_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("refused_code", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        "ix_federation_outbox_due",
        "federation_outbox",
        ["delivered_at", "next_attempt_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_federation_outbox_peer_id"), "federation_outbox", ["peer_id"], unique=False
    )
    op.create_index(
        op.f("ix_federation_outbox_shipment_id"), "federation_outbox", ["shipment_id"], unique=False
    )
    op.create_table(
        "offer_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("record_identifier", sa.String(length=512), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_offer_claims_peer", "offer_claims", ["peer_id", "id"], unique=False)
    op.create_index(
        "ux_offer_claims_accepted",
        "offer_claims",
        ["record_identifier"],
        unique=True,
        sqlite_where=sa.text("side = 'taken' AND status = 'accepted'"),
        postgresql_where=sa.text("side = 'taken' AND status = 'accepted'"),
    )
    op.create_table(
        "shipment_links",
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
        ),
        sa.PrimaryKeyConstraint("shipment_id"),
        sa.UniqueConstraint("peer_id", "remote_id", name="uq_shipment_links_remote"),
    )
    op.create_table(
        "shipment_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        "ix_shipment_notes_shipment", "shipment_notes", ["shipment_id", "id"], unique=False
    )
    op.add_column("shipment_items", sa.Column("remote_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE shipment_items DROP COLUMN remote_id")
    op.drop_index("ix_shipment_notes_shipment", table_name="shipment_notes")
    op.drop_table("shipment_notes")
    op.drop_table("shipment_links")
    op.drop_index(
        "ux_offer_claims_accepted",
        table_name="offer_claims",
        sqlite_where=sa.text("side = 'taken' AND status = 'accepted'"),
        postgresql_where=sa.text("side = 'taken' AND status = 'accepted'"),
    )
    op.drop_index("ix_offer_claims_peer", table_name="offer_claims")
    op.drop_table("offer_claims")
    op.drop_index(op.f("ix_federation_outbox_shipment_id"), table_name="federation_outbox")
    op.drop_index(op.f("ix_federation_outbox_peer_id"), table_name="federation_outbox")
    op.drop_index("ix_federation_outbox_due", table_name="federation_outbox")
    op.drop_table("federation_outbox")
    op.drop_index(op.f("ix_federation_inbox_shipment_id"), table_name="federation_inbox")
    op.drop_index("ix_federation_inbox_received", table_name="federation_inbox")
    op.drop_table("federation_inbox")
    op.drop_table("peers")
    op.drop_index(op.f("ix_federation_nonces_seen_at"), table_name="federation_nonces")
    op.drop_table("federation_nonces")
