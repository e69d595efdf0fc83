"""Sets defined by rules (docs/sets.md): a rule per set in `set_rules`, and a flag on
each membership saying whether a rule chose it (`record_sets.by_rule`), so that a
rule's change takes out only the records it put in, never those assigned by hand.

Every membership stored before is a hand-assigned one: the flag defaults to false.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "set_rules",
        sa.Column("set_spec", sa.String(255), nullable=False),
        sa.Column("rule_json", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["set_spec"], ["sets.spec"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("set_spec"),
    )
    with op.batch_alter_table("record_sets") as table:
        table.add_column(
            sa.Column("by_rule", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # Members a rule chose stay members, as hand-assigned ones: older code knows no other.
    with op.batch_alter_table("record_sets") as table:
        table.drop_column("by_rule")
    op.drop_table("set_rules")
