"""The exchange pages: dashboard, partners, shipments and reports, for coordinators.

They call the same services as /api/v1 (`exchange.shipments`, `exchange.items`, …),
so a rule holds alike whether a shipment is changed from a browser or a script.
"""

from flask import Blueprint

from .common import country_label
from .labels import (
    ACTION_LABELS,
    BASIS_LABELS,
    CONTENT_LABELS,
    DIRECTION_LABELS,
    FIELD_LABELS,
    KIND_LABELS,
    STATE_LABELS,
)

blueprint = Blueprint("exchange_pages", __name__, template_folder="templates")


@blueprint.app_context_processor
def _labels() -> dict:
    return {
        "STATE_LABELS": STATE_LABELS,
        "ACTION_LABELS": ACTION_LABELS,
        "DIRECTION_LABELS": DIRECTION_LABELS,
        "KIND_LABELS": KIND_LABELS,
        "CONTENT_LABELS": CONTENT_LABELS,
        "BASIS_LABELS": BASIS_LABELS,
        "FIELD_LABELS": FIELD_LABELS,
        "country_label": country_label,
    }


from . import dashboard, partners, reports, shipments  # noqa: E402, F401  (routes)
