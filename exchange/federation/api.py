"""/api/v1 for the federated exchange: peers, their messages, claims and reconciliation.

Each operation is declared once here (libfed.kernel.api): routing, validation, roles and
the OpenAPI document follow; the logic lives in the service modules beside this one.
"""

from __future__ import annotations

from libfed.kernel.api import Api

api = Api("federation")
