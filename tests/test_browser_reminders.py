"""The reminder digest delivered to an SMTP sink, from a real browser (Debian's Chromium):
an administrator reads the reminders on the dashboard (a parcel never acknowledged, one
expected and late, an agreement over its quota), presses "Send the reminder digest now",
and each coordinator with an address gets their mail, in their language. The dashboard
axe-clean, and no wider than a phone at 390 px.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from babel import dates
from browser import checked, submit
from conftest import (
    PASSWORD,
    ApiCaller,
    add_agreement,
    add_partner,
    add_shipment,
    config_dict,
    dispatched_at,
)
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from libfed.accounts.models import User
from libfed.exchange.models import Shipment
from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from tests.smtp_sink import Sink, body, smtp_sink

pytestmark = pytest.mark.slow


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def config(database_url: str, sink: Sink) -> Config:
    """conftest's configuration, mailing through the sink (conftest's app uses it)."""
    return parse_config(
        config_dict(database_url) | {"mail": {"host": "127.0.0.1", "port": sink.port}}
    )


@pytest.fixture
def reminders(api: ApiCaller, db: Database, web_users: dict[str, str]) -> dict:
    """A parcel to Ankara sent 45 days ago and never acknowledged, one from Minsk expected
    a week ago, and Ankara's agreement over its quota; the coordinator reads Russian and
    has an address, as has the administrator."""
    ankara = add_partner(api, "Milli Kütüphane", "TR")
    minsk = add_partner(api, "Центральная научная библиотека", "BY")
    agreement = add_agreement(api, ankara["id"], annual_quota=1)
    sent = add_shipment(
        api,
        ankara["id"],
        reference="MEK-EX/45",
        agreement_id=agreement["id"],
        moves=dispatched_at(datetime.now(UTC) - timedelta(days=45)),
    )
    late = add_shipment(api, minsk["id"], direction="incoming", reference="ЦНБ-МКО 7")  # noqa: RUF001
    expected_by = date.today() - timedelta(days=7)
    with db.write() as session:
        session.execute(
            update(Shipment).where(Shipment.id == late["id"]).values(expected_by=expected_by)
        )
        for name, email, language in (
            (web_users["coordinator"], "coordinator@library.example.az", "ru"),
            (web_users["admin"], "admin@library.example.az", None),
        ):
            user = session.scalars(select(User).where(User.name == name)).one()
            user.email, user.language = email, language
    return {"sent": sent, "late": late, "expected_by": expected_by}


def test_reminder_digest_delivered_to_the_smtp_sink(
    page: Page, sink: Sink, reminders: dict, web_users: dict[str, str]
) -> None:
    page.goto("/sign-in")
    page.get_by_label("User name").fill(web_users["admin"])
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, page.get_by_role("button", name="Sign in"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")

    unacknowledged = page.get_by_role("region", name="Sent more than 30 days ago")
    expect(unacknowledged).to_contain_text("MEK-EX/45")
    expect(unacknowledged).to_contain_text("45 days without acknowledgement")
    late = page.get_by_role("region", name="Expected shipments past their date")
    expect(late).to_contain_text("7 days late")
    over = page.get_by_role("region", name="Agreements over their annual quota")
    expect(over).to_contain_text("2 of 1 copy sent this year (200%)")
    checked(page, "reminders-dashboard")

    submit(page, page.get_by_role("button", name="Send the reminder digest now"))
    expect(page.get_by_role("status")).to_have_text("The reminder digest went to 2 people.")
    checked(page, "reminders-sent")

    mails = {message["To"]: message for message in sink.received}
    assert set(mails) == {"coordinator@library.example.az", "admin@library.example.az"}
    english = mails["admin@library.example.az"]
    assert english["Subject"] == "3 exchange reminders this week"
    shipment_link = f"/shipments/{reminders['sent']['id']}"
    assert shipment_link in body(english, "plain") and shipment_link in body(english, "html")
    russian = body(mails["coordinator@library.example.az"], "plain")
    assert dates.format_date(reminders["expected_by"], "medium", locale="ru") in russian
    assert "Отправка" in russian  # the shipment, named in Russian
