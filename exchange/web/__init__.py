"""The exchange pages: dashboard, partners (with their exchange lists), shipments and
reports, for coordinators.

They call the same services as /api/v1 (`exchange.shipments`, `exchange.items`, …),
so a rule holds alike whether a shipment is changed from a browser or a script.
"""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from libfed.web.i18n import label_codes
from libfed.web.menu import MenuEntry

from .common import country_label, display_name, record_url
from .labels import (
    ACTION_LABELS,
    BASIS_LABELS,
    CONTENT_LABELS,
    DIRECTION_LABELS,
    FIELD_LABELS,
    KIND_LABELS,
    OBJECT_LABELS,
    STATE_LABELS,
)

blueprint = Blueprint("exchange_pages", __name__, template_folder="templates")
MENU = [
    MenuEntry("dashboard", "exchange_pages.dashboard", _l("Dashboard")),
    MenuEntry("partners", "exchange_pages.partners", _l("Partners")),
    MenuEntry("shipments", "exchange_pages.shipments", _l("Shipments")),
    MenuEntry("reports", "exchange_pages.reports", _l("Reports")),
]
label_codes({**STATE_LABELS, **DIRECTION_LABELS, **FIELD_LABELS, **OBJECT_LABELS})


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
        "display_name": display_name,
        "record_url": record_url,
    }


from . import (  # noqa: E402, F401  (routes)
    agreements,
    dashboard,
    from_search,
    letters,
    lists,
    partners,
    peer_offers,
    peers,
    receipt,
    reconciliation,
    reports,
    shipments,
)
