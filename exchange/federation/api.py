"""/api/v1 for the federated exchange: peers, their messages, claims and reconciliation.

Each operation is declared once here (libfed.kernel.api): routing, validation, roles and
the OpenAPI document follow; the logic lives in the service modules beside this one.
"""

from __future__ import annotations

from flask import Response

from libfed.kernel.api import Api, ApiError, reply
from libfed.kernel.callers import Caller
from libfed.kernel.services import services

from .identity import NodeKey
from .reconciliation import reconcile
from .schemas import Reconciliation, ReconciliationQuery

api = Api("federation")


# ------------------------------------------------------------------ reconciliation


@api.route(
    "GET",
    "/peers/{peer_id}/reconciliation",
    summary="Both ledgers' year with a peer, side by side",
    tag="peers",
    role="coordinator",
    query=ReconciliationQuery,
    response=Reconciliation,
)
def peers_reconciliation(caller: Caller, peer_id: int, query: ReconciliationQuery) -> Response:
    """Our side and the peer's (fetched now, signed): copies and value per currency each
    way, as each side's balance reports count them, and the shipments that differ. 502,
    with the reason in words, when the peer's server gives no usable answer."""
    own = services()
    outcome = reconcile(own.db, own.config.federation, own.part(NodeKey), peer_id, query.year)
    if outcome.compared is None:
        raise ApiError(
            502, "peer_unreachable", f"the peer gave no usable answer: {outcome.failure}"
        )
    return reply(outcome.compared.model_dump(mode="json"))
