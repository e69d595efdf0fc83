"""Room for every customs content type: "commercial_sample" has 17 characters.

SQLite never enforced the old limit of 16; PostgreSQL refused such a shipment.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shipments") as table:
        table.alter_column("customs_content_type", type_=sa.String(32), existing_type=sa.String(16))


def downgrade() -> None:
    with op.batch_alter_table("shipments") as table:
        table.alter_column("customs_content_type", type_=sa.String(16), existing_type=sa.String(32))
