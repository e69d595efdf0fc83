"""A shipment's history in words: each changed field's value as the page says it.

The audit trail keeps values as the API shows them (flags as true/false, times in UTC,
states and kinds as codes, partners and agreements by id), so that replaying it rebuilds
the object; people read "withdrawn: no → yes" and a time in their own zone instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from libfed.web.formatting import day, moment, number

from .common import partner_names
from .labels import BASIS_LABELS, CONTENT_LABELS, DIRECTION_LABELS, STATE_LABELS

# Fields whose values are codes, each with the words for its codes.
_CODE_WORDS: dict[str, dict[str, Any]] = {
    "status": STATE_LABELS,
    "direction": DIRECTION_LABELS,
    "customs_content_type": CONTENT_LABELS,
    "basis": BASIS_LABELS,
}


def history_names(session: Session, events: Iterable[dict]) -> dict[int, str]:
    """The partners a history's changes name by id, by their names in the page's language."""
    ids = {
        value
        for event in events
        for value in event["changes"].get("partner_id", [])
        if isinstance(value, int)
    }
    return partner_names(session, ids) if ids else {}


def change_words(partners: dict[int, str], name: str, value: Any) -> str:
    """One value of a changed field as the page says it; "—" for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if name in _CODE_WORDS:
        return str(_CODE_WORDS[name].get(value, value))
    if name == "partner_id":
        return partners.get(value, str(value))
    if name.endswith("_at"):
        return moment(value)
    if name.endswith("_date") or name == "expected_by":
        return day(value)
    if isinstance(value, int) and name not in ("year", "agreement_id"):
        return number(value)
    return str(value)
