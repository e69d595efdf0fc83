"""The dashboard through HTTP, as a coordinator opens it in the morning: each waiting
shipment dated by the state it waits in (not by when it was typed in), in the page's
language; deliveries nobody acknowledged and harvests that failed are flagged."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from babel import dates
from sqlalchemy import select, update

from libfed.accounts.models import User
from libfed.exchange.models import Shipment
from libfed.harvest.models import Run
from libfed.harvest.sources import add_source
from libfed.kernel import clock
from libfed.kernel.config import parse_config
from libfed.kernel.db import Database
from libfed.kernel.models import MailDigest
from libfed.kernel.services import Services
from libfed.root.app import create_app
from tests.conftest import (
    WebClient,
    add_agreement,
    add_partner,
    add_shipment,
    config_dict,
    dispatched_at,
    signed_in_as,
)
from tests.smtp_sink import free_port


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
    add_shipment(api, partner["id"], reference="LATE-1", moves=dispatched_at(_days_ago(60)))
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
    pages.in_language("ru")
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


# ------------------------------------------------------------------ reminders


def _quota_agreement(api, partner_id: int, quota: int, copies: int, days_ago: int) -> None:  # type: ignore[no-untyped-def]
    """An agreement with `quota` copies a year, `copies` of them sent `days_ago`."""
    agreement = add_agreement(api, partner_id, annual_quota=quota)
    add_shipment(
        api,
        partner_id,
        agreement_id=agreement["id"],
        items=[{"title": "Kitab", "copies": copies}],
        moves=dispatched_at(_days_ago(days_ago)),
    )


def test_each_kind_of_reminder_is_on_the_dashboard(
    pages: WebClient, api, db: Database, clock
) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime(2024, 11, 20, 9, 0))  # late in the year: quotas fill up
    partner = add_partner(api, "Milli Kütüphane", "TR")
    neighbour = add_partner(api, "Национальная библиотека Беларуси", "BY")
    expected = add_shipment(api, partner["id"], direction="incoming", reference="IN-1")
    on_time = add_shipment(api, partner["id"], direction="incoming", reference="IN-2")
    with db.write() as session:
        for shipment, due in ((expected, date(2024, 11, 6)), (on_time, date(2024, 11, 30))):
            session.execute(
                update(Shipment).where(Shipment.id == shipment["id"]).values(expected_by=due)
            )
    _quota_agreement(api, neighbour["id"], quota=10, copies=9, days_ago=40)  # 90 %: near
    _quota_agreement(api, partner["id"], quota=4, copies=6, days_ago=5)  # 150 %: over
    _quota_agreement(api, partner["id"], quota=100, copies=3, days_ago=5)  # 3 %: fine
    page = pages.text("/")
    late = _section(page, "late")
    assert "Expected shipments past their date" in late
    assert f"/shipments/{expected['id']}" in late and "IN-2" not in late
    assert f"expected by {_shown(date(2024, 11, 6))}, 14 days late" in late
    # The work list of expected parcels dates each by the day it is expected, when known.
    assert f"expected by {_shown(date(2024, 11, 30))}" in _section(page, "expected")
    near = _section(page, "quota-near")
    assert "Agreements near their annual quota" in near
    assert "Agreement with Национальная библиотека Беларуси" in near
    assert "9 of 10 copies sent this year (90%)" in near
    over = _section(page, "quota-over")
    assert "6 of 4 copies sent this year (150%)" in over
    assert "3 of 100" not in page
    # The neighbour's shipment went forty days ago and nobody acknowledged it.
    assert "40 days without acknowledgement" in _section(page, "unacknowledged")


def test_the_acknowledgement_wait_is_the_configured_one(
    database_url: str,
    db: Database,
    web_users: dict[str, str],
    api,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    partner = add_partner(api)
    add_shipment(api, partner["id"], reference="TWELVE", moves=dispatched_at(_days_ago(12)))
    assert "TWELVE" not in _section(pages_of(database_url, db, web_users), "unacknowledged")
    ten_days = pages_of(database_url, db, web_users, acknowledgement_days=10)
    flagged = _section(ten_days, "unacknowledged")
    assert "Sent more than 10 days ago, not acknowledged" in flagged and "TWELVE" in flagged


def pages_of(database_url: str, db: Database, web_users: dict[str, str], **exchange: object) -> str:
    """The dashboard of an application with these [exchange] settings, as a coordinator."""
    settings = config_dict(database_url)
    settings["exchange"] |= exchange
    app = create_app(parse_config(settings), db)
    return signed_in_as(app, web_users["coordinator"]).text("/")


def test_only_an_admin_may_send_the_digest_from_the_dashboard(
    pages: WebClient, viewer_pages: WebClient, admin_pages: WebClient
) -> None:
    assert "Send the reminder digest now" not in pages.text("/")
    assert "Send the reminder digest now" not in viewer_pages.text("/")
    for someone in (pages, viewer_pages):
        assert someone.post("/reminders/send").status_code == 403
    dashboard = admin_pages.text("/")
    assert "Send the reminder digest now" in dashboard
    assert "No mail server is configured in the settings" in dashboard
    # Without [mail] host nothing goes, and the admin is told why.
    sent = admin_pages.post("/reminders/send", follow_redirects=True)
    assert sent.status_code == 200
    assert "No mail server is configured: no mail was sent." in sent.get_data(as_text=True)


def test_sending_the_digest_needs_the_forms_token(admin_pages: WebClient) -> None:
    refused = admin_pages.client.post("/reminders/send")  # no csrf_token
    assert refused.status_code == 400


def test_a_mail_server_that_is_down_is_named_on_the_page_and_nothing_is_recorded(
    database_url: str,
    db: Database,
    web_users: dict[str, str],
    api,  # type: ignore[no-untyped-def]
) -> None:
    partner = add_partner(api)
    add_shipment(api, partner["id"], reference="LATE", moves=dispatched_at(_days_ago(40)))
    with db.write() as session:
        admin = session.scalars(select(User).where(User.name == web_users["admin"])).one()
        admin.email = "admin@library.example.az"
    port = free_port()  # nothing listens there
    settings = config_dict(database_url) | {"mail": {"host": "127.0.0.1", "port": port}}
    web = signed_in_as(create_app(parse_config(settings), db), web_users["admin"])
    page = web.post("/reminders/send", follow_redirects=True).get_data(as_text=True)
    assert f"The reminder digest was not sent: the mail server 127.0.0.1:{port} said:" in page
    with db.session() as session:
        assert session.scalars(select(MailDigest)).all() == []
