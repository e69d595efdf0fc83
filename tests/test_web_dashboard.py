"""The dashboard through HTTP, as a coordinator opens it in the morning: each waiting
shipment dated by the state it waits in (not by when it was typed in), in the page's
language; deliveries nobody acknowledged and harvests that failed are flagged."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from babel import dates

from libfed.harvest.models import Run
from libfed.harvest.sources import add_source
from libfed.kernel import clock
from libfed.kernel.db import Database
from libfed.kernel.services import Services
from tests.conftest import WebClient, add_partner, add_shipment


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _days_ago(days: int) -> datetime:
    return clock.utc_now() - timedelta(days=days)


def _section(page: str, kind: str) -> str:
    """The dashboard's section of one kind of wait."""
    assert f'id="wait-{kind}"' in page, f"no section {kind}"
    return page.split(f'id="wait-{kind}"', 1)[1].split("</section>", 1)[0]


def _shown(day: date, locale: str = "en") -> str:
    """A day as the page writes it in `locale` (the tests' zone is UTC)."""
    return dates.format_date(day, "medium", locale=locale)


def test_a_waiting_shipment_is_dated_by_its_state_not_by_its_entry(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    packed = add_shipment(api, partner["id"], reference="PACKED-1")
    packed_on = _days_ago(20)
    api.move(packed["id"], "packed", at=_at(packed_on))
    late = add_shipment(api, partner["id"], reference="LATE-1")
    api.move(late["id"], "packed", at=_at(_days_ago(61)))
    api.move(late["id"], "dispatched", at=_at(_days_ago(60)))
    draft = add_shipment(api, partner["id"], reference="DRAFT-1")
    page = pages.text("/")
    today = _shown(clock.utc_now().date())
    packed_section = _section(page, "packed")
    assert "PACKED-1" in packed_section
    assert f"packed {_shown(packed_on.date())}" in packed_section
    assert today not in packed_section  # entered today, packed twenty days ago
    # Dispatched sixty days ago and never acknowledged: a reminder, dated by its dispatch.
    assert f"dispatched {_shown(_days_ago(60).date())}" in _section(page, "unacknowledged")
    # A draft has no date but its start: it is dated by its entry.
    assert f"/shipments/{draft['id']}" in _section(page, "draft")
    assert f"started {today}" in _section(page, "draft")


def test_the_dates_are_written_as_the_page_language_writes_them(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], reference="PACKED-RU")
    packed_on = _days_ago(20)
    api.move(shipment["id"], "packed", at=_at(packed_on))
    assert pages.post("/language", {"language": "ru", "next": "/"}).status_code == 302
    packed = _section(pages.text("/"), "packed")
    assert _shown(packed_on.date(), "ru") in packed
    assert _shown(packed_on.date()) not in packed


def test_a_delivery_never_acknowledged_is_flagged(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)

    def delivered(reference: str, days_ago: int, acknowledged: bool = False) -> dict:
        shipment = add_shipment(api, partner["id"], reference=reference)
        api.move(shipment["id"], "packed", at=_at(_days_ago(days_ago + 3)))
        api.move(shipment["id"], "dispatched", at=_at(_days_ago(days_ago + 2)))
        api.move(shipment["id"], "delivered", at=_at(_days_ago(days_ago)))
        if acknowledged:
            api.move(shipment["id"], "acknowledged", at=_at(_days_ago(days_ago - 1)))
        return shipment

    june = delivered("JUNE-1", 170)
    delivered("RECENT-1", 5)
    delivered("THANKED-1", 100, acknowledged=True)
    page = pages.text("/")
    flagged = _section(page, "unacknowledged")
    assert "Sent more than 30 days ago, not acknowledged" in flagged
    assert f"/shipments/{june['id']}" in flagged
    assert f"delivered {_shown(_days_ago(170).date())}" in flagged
    assert "RECENT-1" not in flagged and "THANKED-1" not in flagged


def _harvested(db: Database, name: str, *statuses: str, enabled: bool = True) -> None:
    """A source whose runs ended in `statuses`, the last one last."""
    with db.write() as session:
        source = add_source(session, name, f"http://{name}.example/oai")
        source.enabled = enabled
        for status in statuses:
            session.add(
                Run(source_id=source.id, started_at=clock.utc_now(), status=status, errors=[])
            )


def test_failed_harvests_are_flagged(pages: WebClient, db: Database) -> None:
    assert 'id="wait-harvests"' not in pages.text("/")  # nothing failed, nothing said
    _harvested(db, "broken", "succeeded", "failed")
    _harvested(db, "mended", "failed", "succeeded")
    _harvested(db, "retrying", "failed", "running")  # the last finished run failed
    _harvested(db, "switched-off", "failed", enabled=False)
    _harvested(db, "resuming", "partial")
    flagged = _section(pages.text("/"), "harvests")
    assert "Harvests that failed" in flagged
    assert ">broken<" in flagged and ">retrying<" in flagged
    for fine in ("mended", "switched-off", "resuming"):
        assert fine not in flagged


def test_without_a_harvester_no_harvest_has_failed(config, db: Database) -> None:  # type: ignore[no-untyped-def]
    bare = Services(config, db, "not a secret")
    with db.session() as session:
        assert bare.failed_harvest_sources(session) == []


@pytest.mark.parametrize("status", ["draft", "packed", "dispatched", "delivered", "expected"])
def test_all_of_them_leads_to_the_shipments_in_that_state(
    pages: WebClient, api, status: str
) -> None:  # type: ignore[no-untyped-def]
    """With more shipments waiting than shown, the link lists them all by their state."""
    partner = add_partner(api)
    direction = "incoming" if status == "expected" else "outgoing"
    path = {"draft": [], "packed": ["packed"], "dispatched": ["packed", "dispatched"]}
    path["delivered"] = [*path["dispatched"], "delivered"]
    for _ in range(11):
        shipment = add_shipment(api, partner["id"], direction=direction)
        for step, state in enumerate(path.get(status, [])):
            api.move(shipment["id"], state, at=_at(_days_ago(90 - step)))
    page = pages.text("/")
    assert f'href="/shipments?status={status}"' in page
