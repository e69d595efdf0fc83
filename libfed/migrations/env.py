"""Alembic environment: run against the connection that libfed.migrate hands in.

Migrations are assembled at the application level, like the app factory: they know
every domain's tables, imported here to register them on Base.metadata.
"""

from alembic import context

import exchange.models  # noqa: F401
import harvest.models  # noqa: F401
import libfed.models  # noqa: F401
from libfed.db import Base
from libfed.search.index import engine_specific

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=engine_specific,
)
with context.begin_transaction():
    context.run_migrations()
