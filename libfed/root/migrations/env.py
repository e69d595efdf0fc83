"""Alembic environment: run against the connection that libfed.root.migrate hands in.

Migrations are assembled at the application level, like the app factory: they know
every domain's tables, through libfed.root.tables.
"""

from alembic import context

from libfed.records.search_index import engine_specific
from libfed.root.tables import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=engine_specific,
)
with context.begin_transaction():
    context.run_migrations()
