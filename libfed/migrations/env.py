"""Alembic environment: run against the connection that libfed.migrate hands in."""

from alembic import context

from libfed import models  # noqa: F401  (registers the tables on Base.metadata)
from libfed.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
