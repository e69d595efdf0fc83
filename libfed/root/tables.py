"""Every package's tables, registered on one metadata: what the migrations describe.

Each package declares its own tables; only the composition root knows all of them.
"""

from __future__ import annotations

import libfed.accounts.models
import libfed.exchange.federation.models
import libfed.exchange.models
import libfed.harvest.models
import libfed.kernel.models
import libfed.records.models  # noqa: F401  (each registers its tables)
from libfed.kernel.db import Base

METADATA = Base.metadata
