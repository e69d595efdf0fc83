"""Each format's stored <record> loses its copy of the header: only the body is kept.

The header (and its datestamp) is stored once, in records.header_xml, and joined
when served. An import that must move a batch to a later datestamp (see
libfed.records.store) then rewrites the small header rows, not every format's
metadata: on PostgreSQL, rewriting the metadata took longer than the second it
was racing, and the import never finished.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_HEADER_END = "3c2f6865616465723e"  # </header>
_RECORD_END_LENGTH = len("</record>")


def upgrade() -> None:
    op.execute("ALTER TABLE record_formats RENAME COLUMN record_xml TO body_xml")
    if op.get_bind().dialect.name == "postgresql":
        end = f"(position('\\x{_HEADER_END}'::bytea in body_xml) + 9)"
        op.execute(
            f"UPDATE record_formats SET body_xml = substring(body_xml from {end} "
            f"for length(body_xml) - {end} + 1 - {_RECORD_END_LENGTH})"
        )
    else:  # SQLite's instr and substr count bytes in a blob
        end = f"(instr(body_xml, X'{_HEADER_END}') + 9)"
        op.execute(
            f"UPDATE record_formats SET body_xml = substr(body_xml, {end}, "
            f"length(body_xml) - {end} + 1 - {_RECORD_END_LENGTH})"
        )


def downgrade() -> None:
    op.execute("ALTER TABLE record_formats RENAME COLUMN body_xml TO record_xml")
    start, end = "3c7265636f72643e", "3c2f7265636f72643e"  # <record>, </record>
    if op.get_bind().dialect.name == "postgresql":
        whole = f"'\\x{start}'::bytea || records.header_xml || record_xml || '\\x{end}'::bytea"
        op.execute(
            f"UPDATE record_formats SET record_xml = {whole} "
            "FROM records WHERE records.id = record_formats.record_id"
        )
    else:  # SQLite's || makes text of blobs: cast back
        whole = f"X'{start}' || records.header_xml || record_xml || X'{end}'"
        op.execute(
            f"UPDATE record_formats SET record_xml = (SELECT CAST({whole} AS BLOB) "
            "FROM records WHERE records.id = record_formats.record_id)"
        )
