"""The exchange pages through HTTP, as a coordinator's browser uses them (forms, cookies,
CSRF tokens): sign-in, partners, shipments, items, transitions, the dashboard."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from libfed.accounts.users import find_user, set_password, update_user
from libfed.kernel import clock
from libfed.records.importer import import_files
from tests.conftest import PASSWORD, REPOSITORY_ID, ROOT, WebClient, add_partner, add_shipment

DEMO = ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"


def _location(response) -> str:  # type: ignore[no-untyped-def]
    return response.headers["Location"]


def _shipment_id(response) -> int:  # type: ignore[no-untyped-def]
    return int(re.search(r"/shipments/(\d+)$", _location(response)).group(1))


@pytest.fixture
def catalogue(db):  # type: ignore[no-untyped-def]
    import_files(db, REPOSITORY_ID, [Path(DEMO)])


# ------------------------------------------------------------------ signing in


def test_pages_need_a_signed_in_user(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/shipments?status=draft")
    assert response.status_code == 302
    assert _location(response) == "/sign-in?next=/shipments?status%3Ddraft"


def test_a_wrong_password_is_refused_with_a_message(app, web_users) -> None:  # type: ignore[no-untyped-def]
    web = WebClient(app.test_client())
    response = web.sign_in(web_users["coordinator"], "not the password")
    assert response.status_code == 401
    assert "The user name or the password is not right." in response.get_data(as_text=True)
    assert web.get("/").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(app, web_users) -> None:  # type: ignore[no-untyped-def]
    web = WebClient(app.test_client())
    csrf = web.csrf()
    response = web.client.post(
        "/sign-in?next=/partners",
        data={"name": "coordinator-user", "password": PASSWORD, "csrf_token": csrf},
    )
    assert _location(response) == "/partners"
    for hostile in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        web = WebClient(app.test_client())
        response = web.client.post(
            "/sign-in",
            query_string={"next": hostile},
            data={"name": "coordinator-user", "password": PASSWORD, "csrf_token": web.csrf()},
        )
        assert _location(response) == "/", hostile


def test_a_form_without_its_csrf_token_is_refused(pages: WebClient) -> None:
    response = pages.client.post("/partners/new", data={"name": "X", "country": "TR"})
    assert response.status_code == 400
    assert "too old" in response.get_data(as_text=True)
    assert "X" not in pages.text("/partners").split("<main", 1)[1]


def test_disabling_a_user_or_changing_their_password_ends_their_sessions(
    app, db, web_users, pages: WebClient
) -> None:  # type: ignore[no-untyped-def]
    assert pages.get("/").status_code == 200
    with db.write() as session:
        set_password(session, find_user(session, "coordinator-user"), "another long password")
    assert pages.get("/").status_code == 302
    viewer = WebClient(app.test_client())
    viewer.sign_in("viewer-user")
    assert viewer.get("/").status_code == 200
    with db.write() as session:
        update_user(session, find_user(session, "viewer-user"), active=False)
    assert viewer.get("/").status_code == 302


def test_sign_out_ends_the_session(pages: WebClient) -> None:
    response = pages.post("/sign-out")
    assert _location(response) == "/sign-in"
    assert pages.get("/").status_code == 302


def test_a_viewer_sees_but_cannot_change(viewer_pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    page = viewer_pages.text(f"/shipments/{shipment['id']}")
    assert "Azərbaycan tarixi" in page
    assert "Mark as packed" not in page and "Add an item" not in page
    assert "New outgoing shipment" not in viewer_pages.text("/shipments")
    assert viewer_pages.get("/shipments/new").status_code == 403
    response = viewer_pages.post(
        f"/shipments/{shipment['id']}/transition", {"to": "packed", "version": shipment["version"]}
    )
    assert response.status_code == 403
    assert api.get(f"/shipments/{shipment['id']}").get_json()["status"] == "draft"


# ------------------------------------------------------------------ partners


def test_a_partner_is_added_and_shown_with_its_names(pages: WebClient) -> None:
    response = pages.post(
        "/partners/new",
        {
            "name": "Rossiyskaya gosudarstvennaya biblioteka",
            "country": "ru",
            "kind": "national_library",
            "city": "Moskva",
            "name_ru": "Российская государственная библиотека",
        },
    )
    assert response.status_code == 303
    page = pages.text(_location(response))
    assert "Российская государственная библиотека" in page
    assert "Russia" in page and "international" in page
    assert "Rossiyskaya gosudarstvennaya biblioteka" in pages.text("/partners")


def test_a_refused_partner_keeps_what_was_typed_and_names_the_field(pages: WebClient) -> None:
    response = pages.post(
        "/partners/new",
        {
            "name": "Bakı Dövlət Universiteti",
            "country": "XX",
            "kind": "university",
            "email": "not an address",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="e-country" class="error">[^<]*XX[^<]*country code', page)
    assert 'id="e-email"' in page
    assert 'value="Bakı Dövlət Universiteti"' in page
    assert re.search(r'<select id="f-country"[^>]*aria-invalid="true"', page)
    assert 'aria-invalid="true"' in page


def test_hostile_text_is_shown_as_text(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api, name='<script>alert("x")</script> & Co')
    page = pages.text(f"/partners/{partner['id']}")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in page


def test_an_edit_made_from_a_stale_page_keeps_the_typed_values(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    form = pages.text(f"/partners/{partner['id']}/edit")
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    api.patch(
        f"/institutions/{partner['id']}",
        {"city": "Ankara"},
        etag=api.etag(f"/institutions/{partner['id']}"),
    )
    response = pages.post(
        f"/partners/{partner['id']}/edit",
        {
            "version": version,
            "name": "Milli Kütüphane Başkanlığı",
            "country": "TR",
            "kind": "national_library",
        },
    )
    assert response.status_code == 409
    assert 'value="Milli Kütüphane Başkanlığı"' in response.get_data(as_text=True)
    assert api.get(f"/institutions/{partner['id']}").get_json()["city"] == "Ankara"


# ------------------------------------------------------------------ shipments


def _new_shipment(pages: WebClient, partner_id: int, **fields: str) -> int:
    response = pages.post(
        "/shipments/new", {"direction": "outgoing", "partner_id": partner_id, **fields}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return _shipment_id(response)


def test_items_are_added_by_isbn_from_the_catalogue(pages: WebClient, api, catalogue) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    ident = _new_shipment(pages, partner["id"], reference="TR-2026/1")
    response = pages.post(f"/shipments/{ident}/items", {"isbn": "978-9952-20-531-2", "copies": "3"})
    assert response.status_code == 303
    item = api.get(f"/shipments/{ident}/items").get_json()["items"][0]
    assert item["title"] == "Yeddi gözəl"
    assert item["isbn"] == "9789952205312" and item["copies"] == 3
    assert item["record_identifier"] == f"oai:{REPOSITORY_ID}:AZLIB-D0001"
    assert "Yeddi gözəl" in pages.text(f"/shipments/{ident}")


def test_an_isbn_outside_the_catalogue_asks_for_the_title(pages: WebClient, api, catalogue) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    ident = _new_shipment(pages, partner["id"])
    response = pages.post(f"/shipments/{ident}/items", {"isbn": "9780306406157", "copies": "2"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "No record of this server has this ISBN: type the title." in page
    assert re.search(r'id="f-isbn"[^>]*value="9780306406157"', page)
    bad = pages.post(f"/shipments/{ident}/items", {"isbn": "978030640615X", "title": "T"})
    assert 'id="e-isbn"' in bad.get_data(as_text=True)
    assert api.get(f"/shipments/{ident}/items").get_json()["items"] == []


def test_the_catalogue_search_offers_records_to_add(pages: WebClient, api, catalogue) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    ident = _new_shipment(pages, partner["id"])
    page = pages.text(f"/shipments/{ident}?q=Samarqand")
    assert "Samarqand tarixi" in page
    identifier = re.search(r'name="record_identifier" value="([^"]+)"', page).group(1)
    response = pages.post(
        f"/shipments/{ident}/items",
        {
            "title": "Samarqand tarixi : qadimgi davrlardan XX asr boshlarigacha",
            "record_identifier": identifier,
        },
    )
    assert response.status_code == 303
    assert (
        api.get(f"/shipments/{ident}/items").get_json()["items"][0]["record_identifier"]
        == identifier
    )


def test_only_the_transitions_allowed_now_are_offered(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    buttons = re.findall(r'name="to" value="(\w+)"', pages.text(f"/shipments/{shipment['id']}"))
    assert buttons == ["packed", "cancelled"]
    response = pages.post(
        f"/shipments/{shipment['id']}/transition", {"to": "packed", "version": shipment["version"]}
    )
    assert response.status_code == 303
    page = pages.text(f"/shipments/{shipment['id']}")
    assert "The shipment is now packed." in page
    assert re.findall(r'name="to" value="(\w+)"', page) == ["dispatched", "cancelled"]
    assert "draft → packed" in page


@pytest.mark.parametrize("version", [None, "", "*", "-1"])
def test_a_change_posted_without_the_version_it_was_made_from_is_refused(  # type: ignore[no-untyped-def]
    pages: WebClient, api, version: str | None
) -> None:
    """A hand-made post cannot skip the stale-edit check by leaving the version out."""
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    sent = {"to": "packed"} | ({} if version is None else {"version": version})
    pages.post(f"/shipments/{shipment['id']}/transition", sent)
    assert "Someone changed this" in pages.text(f"/shipments/{shipment['id']}")
    assert api.get(f"/shipments/{shipment['id']}").get_json()["status"] == "draft"
    edit = {"name": "Başka", "country": "TR", "kind": "national_library"}
    response = pages.post(f"/partners/{partner['id']}/edit", edit)
    assert response.status_code == 409
    assert api.get(f"/institutions/{partner['id']}").get_json()["name"] == partner["name"]


def test_a_transition_from_a_stale_page_is_refused_and_explained(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    api.move(shipment["id"], "packed")
    response = pages.post(
        f"/shipments/{shipment['id']}/transition",
        {"to": "cancelled", "version": shipment["version"]},
        headers={"Referer": f"/shipments/{shipment['id']}"},
    )
    assert response.status_code == 303
    assert "Someone changed this" in pages.text(f"/shipments/{shipment['id']}")
    assert api.get(f"/shipments/{shipment['id']}").get_json()["status"] == "packed"


def test_a_backdated_dispatch_is_read_in_the_configured_zone(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    three_days_ago = (clock.utc_now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    shipment = api.move(shipment["id"], "packed", at=three_days_ago).get_json()
    day = (clock.utc_now() - timedelta(days=2)).date()
    pages.post(
        f"/shipments/{shipment['id']}/transition",
        {"to": "dispatched", "version": shipment["version"], "at": f"{day}T10:30"},
    )
    moved = api.get(f"/shipments/{shipment['id']}").get_json()
    assert moved["status"] == "dispatched"
    assert moved["dispatched_at"] == f"{day}T10:30:00Z"  # the tests' zone is UTC


def test_the_packing_list_carries_customs_data_for_international_partners(
    pages: WebClient, api
) -> None:  # type: ignore[no-untyped-def]
    abroad = add_partner(api)
    shipment = add_shipment(
        api,
        abroad["id"],
        customs_hs_code="4901",
        customs_content_type="gift",
        customs_declared_value="20.00",
        customs_currency="EUR",
    )
    page = pages.text(f"/shipments/{shipment['id']}/packing-list")
    assert "Azərbaycan tarixi" in page and "4901" in page and "€20.00" in page
    assert "Customs declaration" in page
    home = add_partner(api, name="Bakı Dövlət Universiteti", country="AZ")
    domestic = add_shipment(api, home["id"])
    assert "Customs declaration" not in pages.text(f"/shipments/{domestic['id']}/packing-list")


def test_the_shipment_list_filters_and_reports_bad_filters(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    add_shipment(api, partner["id"], reference="OUT-1")
    add_shipment(api, partner["id"], direction="incoming", reference="IN-1")
    incoming = pages.text("/shipments?direction=incoming")
    assert "IN-1" in incoming and "OUT-1" not in incoming
    response = pages.get("/shipments?year=99999")
    assert response.status_code == 400
    assert 'id="e-year"' in response.get_data(as_text=True)


def test_the_dashboard_lists_what_waits(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    draft = add_shipment(api, partner["id"], reference="DRAFT-1")
    late = add_shipment(api, partner["id"], reference="LATE-1")
    now = clock.utc_now()
    api.move(late["id"], "packed", at=(now - timedelta(days=46)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    api.move(late["id"], "dispatched", at=(now - timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    page = pages.text("/")
    drafts = page.split('id="wait-draft"', 1)[1].split("</section>", 1)[0]
    overdue = page.split('id="wait-unacknowledged"', 1)[1].split("</section>", 1)[0]
    assert f"/shipments/{draft['id']}" in drafts and "LATE-1" not in drafts
    assert "LATE-1" in overdue


def test_an_agreement_is_added_and_changed_from_the_partner_page(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    assert "Add an agreement" in pages.text(f"/partners/{partner['id']}")
    refused = pages.post(
        f"/partners/{partner['id']}/agreements/new",
        {
            "basis": "copy_for_copy",
            "start_date": "2026-01-01",
            "end_date": "2025-01-01",
        },
    )
    assert refused.status_code == 422
    assert 'value="2025-01-01"' in refused.get_data(as_text=True)
    response = pages.post(
        f"/partners/{partner['id']}/agreements/new",
        {
            "basis": "value_for_value",
            "start_date": "2025-01-01",
            "annual_quota": "40",
        },
    )
    assert response.status_code == 303
    (agreement,) = api.get(f"/agreements?partner_id={partner['id']}").get_json()["items"]
    assert (agreement["basis"], agreement["annual_quota"]) == ("value_for_value", 40)
    page = pages.text(f"/partners/{partner['id']}")
    assert "value for value" in page and "40" in page
    pages.post(
        f"/agreements/{agreement['id']}/edit",
        {
            "version": agreement["version"],
            "basis": "value_for_value",
            "start_date": "2025-01-01",
            "annual_quota": "",
            "notes": "Renewed by letter",
        },
    )
    changed = api.get(f"/agreements/{agreement['id']}").get_json()
    assert changed["annual_quota"] is None and changed["notes"] == "Renewed by letter"


def test_partners_are_named_in_the_page_language_when_the_ledger_knows_it(
    pages: WebClient, api
) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(
        api,
        name="Millî Kütüphane Başkanlığı",
        other_names={"az": "Türkiyə Milli Kitabxanası", "ru": "Национальная библиотека Турции"},
    )
    add_shipment(api, partner["id"], reference="TR-7")
    assert "Millî Kütüphane Başkanlığı" in pages.text("/shipments")
    pages.in_language("az")
    for path in ("/shipments", "/partners", f"/partners/{partner['id']}", "/"):
        assert "Türkiyə Milli Kitabxanası" in pages.text(path), path
    assert "Millî Kütüphane Başkanlığı" in pages.text(
        f"/partners/{partner['id']}"
    )  # its own name too
    pages.in_language("uz_Latn")
    assert "Millî Kütüphane Başkanlığı" in pages.text("/shipments")  # no Uzbek name: its own


def test_pages_forbid_framing_and_foreign_scripts(pages: WebClient, api) -> None:  # type: ignore[no-untyped-def]
    response = pages.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/sign-in", "/no-such-page"):
        assert "Content-Security-Policy" in pages.get(path).headers
    assert "onclick=" not in pages.text(
        f"/shipments/{add_shipment(api, add_partner(api)['id'])['id']}/packing-list"
    )


def test_password_guessing_is_slowed_per_user_name(app, web_users) -> None:  # type: ignore[no-untyped-def]
    guesser = WebClient(app.test_client())
    for _attempt in range(10):
        assert guesser.sign_in("coordinator-user", "guess").status_code == 401
    blocked = guesser.sign_in("coordinator-user", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many wrong passwords" in blocked.get_data(as_text=True)
    other = WebClient(app.test_client())
    assert other.sign_in("viewer-user").status_code == 302  # another name is not blocked


def test_times_are_shown_in_the_configured_zone(config, db, api) -> None:  # type: ignore[no-untyped-def]
    from libfed.root.app import create_app
    from tests.conftest import signed_in_as

    baku = create_app(
        config.model_copy(update={"web": config.web.model_copy(update={"timezone": "Asia/Baku"})}),
        db,
    )
    with db.write() as session:
        set_password(session, find_user(session, "coordinator-user"), PASSWORD)
    pages = signed_in_as(baku, "coordinator-user")
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"])
    api.move(shipment["id"], "packed", at="2025-03-01T20:30:00Z")
    page = pages.text(f"/shipments/{shipment['id']}")
    assert "Mar 2, 2025, 12:30:00\u202fAM" in page  # 20:30 UTC is past midnight in Baku (+4)
