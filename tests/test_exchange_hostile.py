"""Hostile input: stored and returned verbatim, never executed, never a server error."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import ApiCaller, add_partner, add_shipment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libfed.kernel.db import Database

HOSTILE = [
    "Robert'); DROP TABLE shipments;--",
    "1' OR '1'='1",
    '"; DELETE FROM audit_events; --',
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}} ${7*7} %s %(name)s",
    '=HYPERLINK("http://evil.example","click")',  # a CSV formula
    "\u202egnp.exe",  # right-to-left override
    "\u216b \ufb01 \u01c5 \U0001d518\U0001d52b\U0001d526 \U0001f69a\U0001f4da",  # look-alikes, emoji
    "Qarabağ — Şuşa, İçərişəhər, ı/İ, ə",
    "Ўзбекистон кутубхонаси ҚҲ қҳ",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_stored_and_returned_verbatim(
    api: ApiCaller, db: Database, text: str
) -> None:
    partner = add_partner(api, name=text, city=text, notes=text)
    assert (partner["name"], partner["city"], partner["notes"]) == (text, text, text)
    shipment = add_shipment(
        api,
        partner["id"],
        items=[{"title": text, "author": text}],
        reference=text[:64],
        notes=f"{text}\n{text}",
    )
    item = api.get(f"/shipments/{shipment['id']}/items").get_json()["items"][0]
    assert (item["title"], item["author"]) == (text, text)
    assert api.get(f"/shipments/{shipment['id']}").get_json()["notes"] == f"{text}\n{text}"
    # The tables are all still there and nothing else changed.
    assert api.get("/shipments").get_json()["total"] == 1
    assert len(api.get(f"/shipments/{shipment['id']}/history").get_json()["events"]) == 2
    listed = api.get("/institutions").get_json()["items"]
    assert [p["name"] for p in listed] == [text]


def test_csv_cells_cannot_become_spreadsheet_formulas(api: ApiCaller) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    partner = add_partner(api, name=formula)
    shipment = add_shipment(api, partner["id"])
    api.move(shipment["id"], "packed")
    api.move(shipment["id"], "dispatched")
    text = api.get("/reports/balance?year=2026", headers={"Accept": "text/csv"}).get_data(
        as_text=True
    )
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0]["partner"] == "'" + formula  # shown as text, not run
    assert rows[0]["copies_sent"] == "2"
    assert api.get("/reports/balance?year=2026").get_json()["rows"][0]["partner"] == formula


@pytest.mark.parametrize(
    "text",
    ["nul\x00inside", "bell\x07", "escape\x1b[31m", "c1\x85control", "\ud800 lone surrogate"],
)
def test_control_characters_and_lone_surrogates_are_refused_not_stored(
    api: ApiCaller, text: str
) -> None:
    body = json.dumps({"name": text, "country": "TR"})
    response = api.client.post(
        "/api/v1/institutions",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 422
    assert "name" in response.get_json()["error"]["fields"]
    assert api.get("/institutions").get_json()["total"] == 0


def test_query_strings_are_parameters_not_sql(api: ApiCaller) -> None:
    partner = add_partner(api)
    add_shipment(api, partner["id"])
    for query in ("status=draft' OR '1'='1", "partner_id=1 OR 1=1", "year=2026;DROP TABLE x"):
        response = api.get(f"/shipments?{query}")
        assert response.status_code == 400
    assert api.get("/shipments").get_json()["total"] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "name",
    "country",
    "kind",
    "isil",
    "email",
    "other_names",
    "partner_id",
    "direction",
    "agreement_id",
    "title",
    "isbn",
    "copies",
    "unit_value",
    "currency",
    "weight_kg",
    "to",
    "at",
    "start_date",
    "basis",
    "received_copies",
    "record_identifier",
    "year",
]
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=6)
paths = st.sampled_from(
    [
        "/institutions",
        "/agreements",
        "/shipments",
        "/shipments/1/items",
        "/shipments/1/transitions",
        "/users",
    ]
)


@given(path=paths, body=bodies, method=st.sampled_from(["POST", "PATCH"]))
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_bodies_never_cause_a_server_error(
    admin: ApiCaller, path: str, body: dict, method: str
) -> None:
    target = (
        path
        if method == "POST"
        else {
            "/institutions": "/institutions/1",
            "/agreements": "/agreements/1",
            "/shipments": "/shipments/1",
        }.get(path, path)
    )
    response = admin.call(method, target, body, etag='"1"')
    assert response.status_code < 500, response.get_json()
    assert "error" in response.get_json() or response.status_code in (200, 201)
