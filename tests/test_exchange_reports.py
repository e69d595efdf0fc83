"""Balance and country reports against figures worked out by hand for a small programme."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import ApiCaller, add_partner, add_shipment


def shipped(
    api: ApiCaller, partner: dict, direction: str, items: list[dict], moves: list[tuple[str, str]]
) -> dict:
    shipment = add_shipment(api, partner["id"], direction, items=items)
    for to, at in moves:
        response = api.move(shipment["id"], to, at=at)
        assert response.status_code == 200, response.get_json()
    return shipment


def eur(title: str, copies: int, value: str, currency: str = "EUR", **extra: object) -> dict:
    return {"title": title, "copies": copies, "unit_value": value, "currency": currency, **extra}


SENT_2025 = [("packed", "2025-02-27T10:00:00Z"), ("dispatched", "2025-03-01T10:00:00Z")]


@pytest.fixture
def programme(api: ApiCaller) -> dict[str, dict]:
    tr = add_partner(api, "Milli Kütüphane", "TR")
    ru = add_partner(api, "BAN", "RU", kind="academic_library")
    az = add_partner(api, "Bakı Dövlət Universiteti", "AZ", kind="university")
    de = add_partner(api, "Staatsbibliothek zu Berlin", "DE", isil="DE-1")
    add_partner(api, "Harvested only", "FR")  # no agreement, no shipment: not in the balance
    api.create(
        "/agreements",
        {"partner_id": de["id"], "basis": "copy_for_copy", "start_date": "2023-01-01"},
    )
    # Counted, to Türkiye: 2 titles, 5 copies, 40.00 EUR.
    shipped(
        api,
        tr,
        "outgoing",
        [eur("A", 3, "10.00"), eur("B", 2, "5.00")],
        [*SENT_2025, ("delivered", "2025-03-20T10:00:00Z")],
    )
    # Not counted: lost, returned, only packed.
    shipped(
        api,
        tr,
        "outgoing",
        [eur("Lost", 4, "9.00")],
        [*SENT_2025, ("lost", "2025-06-01T00:00:00Z")],
    )
    shipped(
        api,
        tr,
        "outgoing",
        [eur("Back", 7, "9.00")],
        [*SENT_2025, ("returned", "2025-06-01T00:00:00Z")],
    )
    shipped(api, tr, "outgoing", [eur("Waiting", 1, "1.00")], [("packed", "2025-05-01T00:00:00Z")])
    # To Russia: one in 2024 (10 copies), one in 2025 (2 titles, 5 copies, 1200.00 RUB).
    shipped(
        api,
        ru,
        "outgoing",
        [eur("Old", 10, "1.00", "RUB")],
        [("packed", "2024-12-19T00:00:00Z"), ("dispatched", "2024-12-20T00:00:00Z")],
    )
    shipped(
        api,
        ru,
        "outgoing",
        [eur("C", 4, "300", "RUB"), {"title": "D", "copies": 1}],
        [
            ("packed", "2025-05-30T00:00:00Z"),
            ("dispatched", "2025-06-01T00:00:00Z"),
            ("delivered", "2025-06-20T00:00:00Z"),
            ("acknowledged", "2025-07-01T00:00:00Z"),
        ],
    )
    # From Türkiye: 3 titles listed, 2 arrived, 3 copies, 150.00 TRY.
    shipped(
        api,
        tr,
        "incoming",
        [
            eur("X", 2, "50", "TRY"),
            eur("Y", 3, "50", "TRY", received_copies=1),
            eur("Z", 1, "50", "TRY", received_copies=0),
        ],
        [("received", "2025-04-01T00:00:00Z")],
    )
    # From Russia: one received and accessioned (1 title, 6 copies, 12.00 EUR), one expected.
    shipped(
        api,
        ru,
        "incoming",
        [eur("E", 6, "2.00")],
        [("received", "2025-02-01T00:00:00Z"), ("accessioned", "2025-02-10T00:00:00Z")],
    )
    shipped(api, ru, "incoming", [eur("Promised", 100, "1.00")], [])
    # At home: 2 titles, 30 copies, 100.00 AZN.
    shipped(
        api,
        az,
        "outgoing",
        [eur("F", 20, "5", "AZN"), {"title": "G", "copies": 10}],
        [("packed", "2025-08-30T00:00:00Z"), ("dispatched", "2025-09-01T00:00:00Z")],
    )
    return {"TR": tr, "RU": ru, "AZ": az, "DE": de}


def flows(ts: int, cs: int, vs: dict, tr: int, cr: int, vr: dict, vd: dict) -> dict:
    return {
        "titles_sent": ts,
        "copies_sent": cs,
        "value_sent": vs,
        "titles_received": tr,
        "copies_received": cr,
        "value_received": vr,
        "titles_difference": ts - tr,
        "copies_difference": cs - cr,
        "value_difference": vd,
    }


def test_balance_per_partner_matches_the_hand_computed_figures(
    api: ApiCaller, programme: dict[str, dict]
) -> None:
    report = api.get("/reports/balance?year=2025").get_json()
    assert report["year"] == 2025
    rows = {row["partner_id"]: row for row in report["rows"]}
    assert set(rows) == {p["id"] for p in programme.values()}
    assert rows[programme["TR"]["id"]] == {
        "partner_id": programme["TR"]["id"],
        "partner": "Milli Kütüphane",
        "country": "TR",
        "domestic": False,
        **flows(
            2, 5, {"EUR": "40.00"}, 2, 3, {"TRY": "150.00"}, {"EUR": "40.00", "TRY": "-150.00"}
        ),
    }
    assert rows[programme["RU"]["id"]] == {
        "partner_id": programme["RU"]["id"],
        "partner": "BAN",
        "country": "RU",
        "domestic": False,
        **flows(
            2, 5, {"RUB": "1200.00"}, 1, 6, {"EUR": "12.00"}, {"EUR": "-12.00", "RUB": "1200.00"}
        ),
    }
    assert rows[programme["AZ"]["id"]]["domestic"] is True
    assert rows[programme["AZ"]["id"]]["copies_sent"] == 30
    assert rows[programme["AZ"]["id"]]["value_sent"] == {"AZN": "100.00"}
    # An agreement but nothing exchanged this year: listed, with zeros.
    assert rows[programme["DE"]["id"]] == {
        "partner_id": programme["DE"]["id"],
        "partner": "Staatsbibliothek zu Berlin",
        "country": "DE",
        "domestic": False,
        **flows(0, 0, {}, 0, 0, {}, {}),
    }
    assert report["totals"] == flows(
        6,
        40,
        {"AZN": "100.00", "EUR": "40.00", "RUB": "1200.00"},
        3,
        9,
        {"EUR": "12.00", "TRY": "150.00"},
        {"AZN": "100.00", "EUR": "28.00", "RUB": "1200.00", "TRY": "-150.00"},
    )


def test_the_year_is_the_year_of_dispatch_or_receipt(
    api: ApiCaller, programme: dict[str, dict]
) -> None:
    report = api.get("/reports/balance?year=2024").get_json()
    assert report["totals"]["copies_sent"] == 10
    assert report["totals"]["value_sent"] == {"RUB": "10.00"}
    assert api.get("/reports/balance?year=2023").get_json()["totals"]["copies_sent"] == 0


def test_countries_report_splits_domestic_and_international(
    api: ApiCaller, programme: dict[str, dict]
) -> None:
    report = api.get("/reports/countries?year=2025").get_json()
    by_country = {row["country"]: row for row in report["rows"]}
    assert list(by_country) == ["AZ", "RU", "TR"]  # Germany exchanged nothing in 2025
    assert by_country["AZ"]["domestic"] is True and by_country["AZ"]["partners"] == 1
    assert by_country["TR"]["country_name"] == "Türkiye"
    assert by_country["RU"]["copies_received"] == 6
    assert report["domestic"] == flows(2, 30, {"AZN": "100.00"}, 0, 0, {}, {"AZN": "100.00"})
    assert report["international"] == flows(
        4,
        10,
        {"EUR": "40.00", "RUB": "1200.00"},
        3,
        9,
        {"EUR": "12.00", "TRY": "150.00"},
        {"EUR": "28.00", "RUB": "1200.00", "TRY": "-150.00"},
    )
    assert report["totals"]["copies_sent"] == 40 and report["totals"]["copies_received"] == 9


def test_reports_come_as_csv_for_spreadsheets(api: ApiCaller, programme: dict[str, dict]) -> None:
    response = api.get("/reports/balance?year=2025", headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "balance-2025.csv" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    turkey = next(row for row in rows if row["partner"] == "Milli Kütüphane")
    assert turkey["copies_sent"] == "5" and turkey["copies_received"] == "3"
    assert turkey["value_sent_EUR"] == "40.00" and turkey["value_received_TRY"] == "150.00"
    assert turkey["value_difference_TRY"] == "-150.00" and turkey["value_sent_RUB"] == "0.00"
    countries = api.get("/reports/countries?year=2025", headers={"Accept": "text/csv"})
    header = countries.get_data(as_text=True).removeprefix("\ufeff").splitlines()[0]
    assert header.startswith("country,country_name,domestic,partners,titles_sent")


def test_a_report_needs_a_year(api: ApiCaller) -> None:
    for query in ("", "?year=last", "?year=12"):
        response = api.get(f"/reports/balance{query}")
        assert response.status_code == 400
        assert "year" in response.get_json()["error"]["fields"]


def test_a_report_follows_every_change_and_says_when_nothing_changed(api: ApiCaller) -> None:
    partner = add_partner(api, "Milli Kütüphane", "TR")
    first = api.get("/reports/balance?year=2026")
    assert first.get_json()["totals"]["copies_sent"] == 0
    etag = first.headers["ETag"]
    assert api.get("/reports/balance?year=2026", headers={"If-None-Match": etag}).status_code == 304

    shipment = add_shipment(api, partner["id"])
    api.move(shipment["id"], "packed")
    api.move(shipment["id"], "dispatched")
    second = api.get("/reports/balance?year=2026", headers={"If-None-Match": etag})
    assert second.status_code == 200 and second.headers["ETag"] != etag
    assert second.get_json()["totals"]["copies_sent"] == 2

    renaming = f"/institutions/{partner['id']}"
    api.patch(renaming, {"name": "Türkiye Millî Kütüphanesi"}, etag=api.etag(renaming))
    renamed = api.get("/reports/balance?year=2026").get_json()
    assert renamed["rows"][0]["partner"] == "Türkiye Millî Kütüphanesi"
    as_csv = api.get("/reports/balance?year=2026", headers={"Accept": "text/csv"})
    assert as_csv.headers["ETag"] != api.get("/reports/balance?year=2026").headers["ETag"]


def test_an_agreement_shows_the_copies_counted_under_it_per_year(api: ApiCaller) -> None:
    partner = add_partner(api, "BAN", "RU")
    agreement = api.create(
        "/agreements",
        {
            "partner_id": partner["id"],
            "basis": "copy_for_copy",
            "start_date": "2024-01-01",
            "annual_quota": 10,
        },
    )
    assert agreement["copies_by_year"] == {}
    under = {"agreement_id": agreement["id"]}
    shipped(
        api,
        partner,
        "outgoing",
        [eur("A", 4, "1.00"), eur("B", 2, "1.00")],
        [("packed", "2025-03-01T00:00:00Z"), ("dispatched", "2025-03-02T00:00:00Z")],
    )  # not under it
    for items, moves in (
        ([eur("C", 5, "1.00")], SENT_2025),
        ([eur("Lost", 7, "1.00")], [*SENT_2025, ("lost", "2025-04-01T00:00:00Z")]),
        (
            [eur("D", 3, "1.00")],
            [("packed", "2024-05-01T00:00:00Z"), ("dispatched", "2024-05-02T00:00:00Z")],
        ),
    ):
        shipment = add_shipment(api, partner["id"], items=items, **under)
        for to, at in moves:
            assert api.move(shipment["id"], to, at=at).status_code == 200
    incoming = add_shipment(
        api, partner["id"], "incoming", items=[eur("E", 4, "1.00", received_copies=3)], **under
    )
    api.move(incoming["id"], "received", at="2025-06-01T00:00:00Z")

    read = api.get(f"/agreements/{agreement['id']}").get_json()
    assert read["copies_by_year"] == {
        "2024": {"sent": 3, "received": 0},
        "2025": {"sent": 5, "received": 3},
    }
    listed = api.get(f"/agreements?partner_id={partner['id']}").get_json()["items"]
    assert listed[0]["copies_by_year"] == read["copies_by_year"]
    history = api.get(f"/agreements/{agreement['id']}/history").get_json()["events"]
    assert "copies_by_year" not in history[0]["changes"]  # derived, not audited


def test_a_line_worth_more_than_an_integer_holds_is_summed(api: ApiCaller) -> None:
    """10 copies at 2.2 million rials: 2.2e9 minor units, beyond PostgreSQL's INTEGER."""
    partner = add_partner(api, "Kitabxana", "IR")
    shipment = add_shipment(
        api,
        partner["id"],
        items=[
            {"title": "Shahnameh", "copies": 10, "unit_value": "2200000.00", "currency": "IRR"},
            {"title": "Divan", "copies": 3, "unit_value": "9000000.00", "currency": "IRR"},
        ],
    )
    assert shipment["copies"] == 13
    assert shipment["value"] == {"IRR": "49000000.00"}  # 22,000,000.00 + 27,000,000.00


# ------------------------------------------------------------------ value for value


@pytest.fixture
def value_agreement(api: ApiCaller) -> dict:
    """A value-for-value agreement with Berlin. 2025: sent 3 copies at 20.00 AZN and 1 at
    10.00 EUR; received 2 copies at 50.00 EUR (1 of 3 listed at 7.00 EUR never arrived).
    2024: sent 1 copy at 15.00 AZN. One shipment of 2025 outside the agreement."""
    partner = add_partner(api, "Staatsbibliothek zu Berlin", "DE")
    agreement = api.create(
        "/agreements",
        {"partner_id": partner["id"], "basis": "value_for_value", "start_date": "2024-01-01"},
    )
    under = {"agreement_id": agreement["id"]}
    for items, moves in (
        ([eur("A", 3, "20.00", "AZN"), eur("B", 1, "10.00")], SENT_2025),
        (
            [eur("C", 1, "15.00", "AZN")],
            [("packed", "2024-05-01T00:00:00Z"), ("dispatched", "2024-05-02T00:00:00Z")],
        ),
    ):
        shipment = add_shipment(api, partner["id"], items=items, **under)
        for to, at in moves:
            assert api.move(shipment["id"], to, at=at).status_code == 200
    incoming = add_shipment(
        api,
        partner["id"],
        "incoming",
        items=[eur("D", 2, "50.00"), eur("E", 3, "7.00", received_copies=0)],
        **under,
    )
    api.move(incoming["id"], "received", at="2025-06-01T00:00:00Z")
    shipped(api, partner, "outgoing", [eur("Outside", 9, "99.00")], SENT_2025)
    return api.get(f"/agreements/{agreement['id']}").get_json()


def test_a_value_agreement_balances_value_per_currency_never_summed(
    value_agreement: dict,
) -> None:
    assert value_agreement["copies_by_year"] == {
        "2024": {"sent": 1, "received": 0},
        "2025": {"sent": 4, "received": 2},
    }
    assert value_agreement["value_by_year"] == {
        "2024": {"sent": {"AZN": "15.00"}, "received": {}, "difference": {"AZN": "15.00"}},
        "2025": {
            "sent": {"AZN": "60.00", "EUR": "10.00"},
            "received": {"EUR": "100.00"},
            "difference": {"AZN": "60.00", "EUR": "-90.00"},
        },
    }


def test_the_value_agreements_report_has_the_years_balance(
    api: ApiCaller, value_agreement: dict
) -> None:
    api.create(  # copy for copy: not in this report
        "/agreements",
        {
            "partner_id": value_agreement["partner_id"],
            "basis": "copy_for_copy",
            "start_date": "2025-01-01",
        },
    )
    (row,) = api.get("/reports/agreements?year=2025").get_json()["rows"]
    assert row == {
        "agreement_id": value_agreement["id"],
        "partner_id": value_agreement["partner_id"],
        "partner": "Staatsbibliothek zu Berlin",
        "country": "DE",
        "start_date": "2024-01-01",
        "end_date": None,
        "copies_sent": 4,
        "copies_received": 2,
        "value_sent": {"AZN": "60.00", "EUR": "10.00"},
        "value_received": {"EUR": "100.00"},
        "value_difference": {"AZN": "60.00", "EUR": "-90.00"},
    }
    # In force in 2026 with nothing exchanged yet: listed, empty; before it began: absent.
    (later,) = api.get("/reports/agreements?year=2026").get_json()["rows"]
    assert later["copies_sent"] == 0 and later["value_difference"] == {}
    assert api.get("/reports/agreements?year=2023").get_json()["rows"] == []


# ------------------------------------------------------------------ several years


def test_years_compare_each_year_and_sum_the_range_per_partner_and_country(
    api: ApiCaller, programme: dict[str, dict]
) -> None:
    report = api.get("/reports/years?first=2023&last=2025").get_json()
    assert (report["first"], report["last"]) == (2023, 2025)
    by_year = {row["year"]: row for row in report["rows"]}
    assert list(by_year) == [2023, 2024, 2025]
    assert by_year[2023] == {"year": 2023, **flows(0, 0, {}, 0, 0, {}, {})}
    assert by_year[2024]["copies_sent"] == 10
    assert by_year[2024]["value_sent"] == {"RUB": "10.00"}
    assert by_year[2025]["copies_sent"] == 40 and by_year[2025]["copies_received"] == 9
    assert report["totals"]["copies_sent"] == 50
    assert report["totals"]["value_sent"] == {"AZN": "100.00", "EUR": "40.00", "RUB": "1210.00"}

    partners = {row["partner"]: row for row in report["partners"]}
    assert partners["BAN"]["copies_sent"] == 15  # 10 in 2024, 5 in 2025
    assert partners["BAN"]["value_sent"] == {"RUB": "1210.00"}
    assert partners["BAN"]["value_difference"] == {"EUR": "-12.00", "RUB": "1210.00"}
    assert "Staatsbibliothek zu Berlin" not in partners  # nothing moved in the range
    countries = {row["country"]: row for row in report["countries"]}
    assert list(countries) == ["AZ", "RU", "TR"]
    assert countries["RU"]["copies_sent"] == 15 and countries["RU"]["partners"] == 1

    as_csv = api.get("/reports/years?first=2023&last=2025", headers={"Accept": "text/csv"})
    assert "years-2023-2025.csv" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True).removeprefix("\ufeff"))))
    assert [row["year"] for row in rows] == ["2023", "2024", "2025"]
    assert rows[1]["value_sent_RUB"] == "10.00"


def test_a_range_of_years_is_bounded_and_in_order(api: ApiCaller) -> None:
    for query, field in (
        ("first=2025&last=2020", "last"),
        ("first=2000&last=2020", "last"),  # 21 years
        ("first=twenty&last=2020", "first"),
        ("last=2020", "first"),
    ):
        response = api.get(f"/reports/years?{query}")
        assert response.status_code == 400, query
        assert field in response.get_json()["error"]["fields"], query
    assert api.get("/reports/years?first=2001&last=2020").status_code == 200  # 20 years
