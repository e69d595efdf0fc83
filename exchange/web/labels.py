"""The words the pages show for the ledger's codes (states, directions, kinds), translated."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

STATE_LABELS = {
    "draft": _l("draft"),
    "packed": _l("packed"),
    "dispatched": _l("dispatched"),
    "delivered": _l("delivered"),
    "acknowledged": _l("acknowledged"),
    "cancelled": _l("cancelled"),
    "lost": _l("lost"),
    "returned": _l("returned"),
    "expected": _l("expected"),
    "received": _l("received"),
    "accessioned": _l("accessioned"),
}
# The button that moves a shipment to the state.
ACTION_LABELS = {
    "packed": _l("Mark as packed"),
    "dispatched": _l("Mark as dispatched"),
    "delivered": _l("Mark as delivered"),
    "acknowledged": _l("Mark as acknowledged"),
    "cancelled": _l("Cancel the shipment"),
    "lost": _l("Mark as lost"),
    "returned": _l("Mark as returned"),
    "received": _l("Mark as received"),
    "accessioned": _l("Mark as accessioned"),
}
# The kinds of object the services name in their refusals ("no {what} with id {id}").
OBJECT_LABELS = {"agreement": _l("agreement"), "shipment": _l("shipment"), "item": _l("item")}
DIRECTION_LABELS = {"outgoing": _l("outgoing"), "incoming": _l("incoming")}
KIND_LABELS = {
    "national_library": _l("national library"),
    "academic_library": _l("academy library"),
    "university": _l("university library"),
    "school": _l("school library"),
    "public_library": _l("public library"),
    "other": lazy_pgettext("kind of library", "other"),
}
CONTENT_LABELS = {
    "gift": lazy_pgettext("CN 22 category", "gift"),
    "documents": _l("documents"),
    "commercial_sample": _l("commercial sample"),
    "returned_goods": _l("returned goods"),
    "sale_of_goods": _l("sale of goods"),
    "other": lazy_pgettext("CN 22 category", "other"),
}
BASIS_LABELS = {
    "copy_for_copy": _l("copy for copy"),
    "value_for_value": _l("value for value"),
    "gift": lazy_pgettext("agreement basis", "gift"),
    "other": lazy_pgettext("agreement basis", "other"),
}
# Field names as the history shows them.
FIELD_LABELS = {
    "partner_id": _l("partner"),
    "agreement_id": _l("agreement"),
    "reference": _l("reference"),
    "carrier": _l("carrier"),
    "tracking_number": _l("tracking number"),
    "parcels": _l("parcels"),
    "weight_kg": _l("weight (kg)"),
    "postage_cost": _l("postage"),
    "postage_currency": _l("postage currency"),
    "customs_content_type": _l("customs content type"),
    "customs_hs_code": _l("HS code"),
    "customs_declared_value": _l("declared value"),
    "customs_currency": _l("declared value currency"),
    "notes": _l("notes"),
    "title": _l("title"),
    "author": _l("author"),
    "isbn": _l("ISBN"),
    "issn": _l("ISSN"),
    "year": _l("year"),
    "language": _l("language"),
    "copies": _l("copies"),
    "received_copies": _l("copies received"),
    "expected_by": _l("expected by"),
    "unit_value": _l("unit value"),
    "currency": _l("currency"),
    "record_identifier": _l("catalogue record"),
    "removed": _l("withdrawn"),
    "status": _l("status"),
    "direction": _l("direction"),
    "start_date": _l("start date"),
    "end_date": _l("end date"),
    "basis": _l("basis"),
    "annual_quota": _l("annual quota (copies)"),
    "name": _l("name"),
    "country": _l("country"),
    "kind": _l("kind"),
    "city": _l("city"),
    "email": _l("e-mail"),
    "oai_base_url": _l("OAI-PMH address"),
    "note": _l("note"),
    "at": _l("time of the step"),
}
