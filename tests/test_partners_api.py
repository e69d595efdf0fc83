"""Partners as people write to them, through /api/v1: postal address, telephone, letter
language, contact persons, archiving, and merging a duplicate into the one it duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from libfed.harvest.models import Source
from libfed.kernel.models import AuditEvent
from libfed.kernel.services import services
from tests.conftest import ApiCaller, add_partner, add_shipment, archive_partner

ADDRESS = "Xaqani küçəsi 29\nAZ1000 Bakı"


def test_an_institution_keeps_its_postal_address_phone_and_letter_language(
    api: ApiCaller,
) -> None:
    created = add_partner(
        api,
        "Azərbaycan Milli Kitabxanası",
        "AZ",
        postal_address=f"  {ADDRESS}\n",
        phone="+994 (12) 493-40-03",
        letter_language="az",
    )
    assert created["postal_address"] == ADDRESS  # lines kept, the blanks around trimmed
    assert created["phone"] == "+994 (12) 493-40-03"
    assert created["letter_language"] == "az"
    assert created["archived_at"] is None and created["merged_into_id"] is None
    path = f"/institutions/{created['id']}"
    changed = api.patch(path, {"letter_language": "uz_Cyrl"}, etag=api.etag(path))
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["letter_language"] == "uz_Cyrl"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("postal_address", "x" * 1001),
        ("postal_address", "line\x00"),
        ("phone", "call me"),
        ("phone", "1" * 41),
        ("letter_language", "klingon"),
        ("letter_language", "xx_Zzzz"),
        ("country", "XX"),
    ],
)
def test_hostile_partner_fields_are_refused_and_named(
    api: ApiCaller, field: str, value: str
) -> None:
    response = api.post("/institutions", {"name": "Kitabxana", "country": "AZ", field: value})
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == [field]
    assert api.get("/institutions").get_json()["total"] == 0


def test_archived_and_merged_are_read_only_fields(api: ApiCaller) -> None:
    partner = add_partner(api)
    path = f"/institutions/{partner['id']}"
    for field, value in (("archived_at", "2024-01-01T00:00:00Z"), ("merged_into_id", 1)):
        response = api.patch(path, {field: value}, etag=api.etag(path))
        assert response.status_code == 422
        assert "read-only" in response.get_json()["error"]["fields"][field]


# ------------------------------------------------------------------ contacts


def test_contacts_are_added_changed_and_removed_with_versions_and_audit(
    api: ApiCaller, viewer: ApiCaller, db
) -> None:  # type: ignore[no-untyped-def]
    partner = add_partner(api)
    contacts = f"/institutions/{partner['id']}/contacts"
    response = api.post(
        contacts,
        {
            "name": "Ayşe Yılmaz",
            "position": "Değişim sorumlusu",
            "email": "Ayse@MK.example.org",
            "phone": "+90 312 212 62 00",
        },
    )
    assert response.status_code == 201, response.get_json()
    contact = response.get_json()
    assert response.headers["Location"] == f"/api/v1/contacts/{contact['id']}"
    assert contact["email"] == "Ayse@mk.example.org"
    assert viewer.get(contacts).get_json()["items"] == [contact]
    assert viewer.post(contacts, {"name": "Nobody"}).status_code == 403

    path = f"/contacts/{contact['id']}"
    assert api.patch(path, {"phone": "+90 312 000"}, etag='"7"').status_code == 412
    changed = api.patch(path, {"phone": None, "notes": "Mon–Fri"}, etag='"1"')
    assert changed.status_code == 200 and changed.get_json()["phone"] is None
    assert api.delete(path, etag='"1"').status_code == 412
    assert api.delete(path, etag='"2"').status_code == 204
    assert api.get(path).status_code == 404
    assert api.get(contacts).get_json()["items"] == []
    with db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "contact").order_by(AuditEvent.id)
        ).all()
    assert actions == ["create", "update", "delete"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"position": "no name"}, "name"),
        ({"name": "A", "email": "not an address"}, "email"),
        ({"name": "A", "phone": "ext. nine"}, "phone"),
        ({"name": "n" * 256}, "name"),
        ({"name": "A", "salary": 1}, "salary"),
    ],
)
def test_a_bad_contact_field_is_named(api: ApiCaller, body: dict, field: str) -> None:
    partner = add_partner(api)
    response = api.post(f"/institutions/{partner['id']}/contacts", body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    assert api.get(f"/institutions/{partner['id']}/contacts").get_json()["items"] == []


def test_a_contact_of_an_unknown_institution_is_404(api: ApiCaller) -> None:
    assert api.post("/institutions/4242/contacts", {"name": "A"}).status_code == 404
    assert api.get("/institutions/4242/contacts").status_code == 404


# ------------------------------------------------------------------ archive


def test_an_archived_institution_leaves_the_list_and_comes_back(api: ApiCaller) -> None:
    kept = add_partner(api, "Kept", "TR")
    gone = add_partner(api, "Gone", "TR")
    path = f"/institutions/{gone['id']}"
    assert api.post(f"{path}/archive").status_code == 428
    archived = api.post(f"{path}/archive", etag=api.etag(path))
    assert archived.status_code == 200
    assert archived.get_json()["archived_at"] is not None
    assert [i["id"] for i in api.get("/institutions").get_json()["items"]] == [kept["id"]]
    assert [i["id"] for i in api.get("/institutions?archived=true").get_json()["items"]] == [
        gone["id"]
    ]
    again = api.post(f"{path}/archive", etag=api.etag(path))
    assert again.status_code == 409
    back = api.post(f"{path}/unarchive", etag=api.etag(path))
    assert back.status_code == 200 and back.get_json()["archived_at"] is None
    assert api.get("/institutions").get_json()["total"] == 2


# ------------------------------------------------------------------ merge


def _duplicate_with_history(api: ApiCaller, db) -> tuple[dict, dict, dict]:  # type: ignore[no-untyped-def]
    survivor = add_partner(api, "Milli Kütüphane", "TR", city="Ankara")
    duplicate = add_partner(
        api,
        "Milli Kutuphane",
        "TR",
        isil="DE-101",
        postal_address="Bahçelievler 06490\nAnkara",
        phone="+90 312 212 62 00",
        other_names={"ru": "Национальная библиотека Турции"},
    )
    api.create(f"/institutions/{duplicate['id']}/contacts", {"name": "Ayşe Yılmaz"})
    agreement = api.create(
        "/agreements",
        {"partner_id": duplicate["id"], "basis": "gift", "start_date": "2024-01-01"},
    )
    shipment = add_shipment(api, duplicate["id"], agreement_id=agreement["id"])
    with db.write() as session:
        session.add(
            Source(
                name="ankara", base_url="http://ankara.example/oai", institution_id=duplicate["id"]
            )
        )
    return survivor, duplicate, shipment


def merge(api: ApiCaller, duplicate: dict, into: int, **fields: object):  # type: ignore[no-untyped-def]
    """Partner `duplicate` merged into partner `into`, sent with its current version."""
    path = f"/institutions/{duplicate['id']}"
    return api.post(f"{path}/merge", {"into": into, **fields}, etag=api.etag(path))


def test_a_merge_moves_everything_fills_empty_fields_and_archives_the_duplicate(
    api: ApiCaller, db
) -> None:  # type: ignore[no-untyped-def]
    survivor, duplicate, shipment = _duplicate_with_history(api, db)
    path = f"/institutions/{duplicate['id']}"
    response = merge(api, duplicate, survivor["id"])
    assert response.status_code == 200, response.get_json()
    merged = response.get_json()
    assert merged["id"] == survivor["id"]
    assert merged["city"] == "Ankara"  # the survivor's own values stay
    assert merged["isil"] == "DE-101"  # empty ones are filled from the duplicate
    assert merged["postal_address"] == "Bahçelievler 06490\nAnkara"
    assert merged["other_names"] == {"ru": "Национальная библиотека Турции"}

    gone = api.get(path).get_json()
    assert gone["merged_into_id"] == survivor["id"] and gone["archived_at"] is not None
    assert gone["isil"] is None
    assert api.get(f"/shipments/{shipment['id']}").get_json()["partner_id"] == survivor["id"]
    assert [a["partner_id"] for a in api.get("/agreements").get_json()["items"]] == [survivor["id"]]
    contacts = api.get(f"/institutions/{survivor['id']}/contacts").get_json()["items"]
    assert [c["name"] for c in contacts] == ["Ayşe Yılmaz"]
    with db.session() as session:
        assert session.scalar(select(Source.institution_id)) == survivor["id"]
    history = api.get(f"/shipments/{shipment['id']}/history").get_json()["events"]
    assert history[-1]["changes"]["partner_id"] == [duplicate["id"], survivor["id"]]
    assert api.get("/institutions").get_json()["total"] == 1


def test_a_merge_that_fails_midway_moves_nothing(api: ApiCaller, app, db) -> None:  # type: ignore[no-untyped-def]
    survivor, duplicate, shipment = _duplicate_with_history(api, db)

    def broken(*_args: object) -> None:
        raise RuntimeError("the disk is full")

    services(app).institution_movers.append(broken)
    path = f"/institutions/{duplicate['id']}"
    version = api.etag(path)
    response = api.post(f"{path}/merge", {"into": survivor["id"]}, etag=version)
    assert response.status_code == 500
    assert api.etag(path) == version
    assert api.get(path).get_json()["archived_at"] is None
    assert api.get(f"/shipments/{shipment['id']}").get_json()["partner_id"] == duplicate["id"]
    assert len(api.get(f"/institutions/{duplicate['id']}/contacts").get_json()["items"]) == 1
    assert api.get(f"/institutions/{survivor['id']}").get_json()["isil"] is None
    with db.session() as session:
        assert session.scalar(select(Source.institution_id)) == duplicate["id"]


def test_a_merge_into_itself_an_archived_one_or_from_a_stale_read_is_refused(
    api: ApiCaller,
) -> None:
    survivor = add_partner(api, "Milli Kütüphane", "TR")
    duplicate = add_partner(api, "Milli Kutuphane", "TR")
    archived = add_partner(api, "Old one", "TR")
    archive_partner(api, archived)
    path = f"/institutions/{duplicate['id']}"

    itself = merge(api, duplicate, duplicate["id"])
    assert itself.status_code == 422
    assert "itself" in itself.get_json()["error"]["fields"]["into"]
    into_archived = merge(api, duplicate, archived["id"])
    assert into_archived.status_code == 422
    assert "archived" in into_archived.get_json()["error"]["fields"]["into"]
    unknown = merge(api, duplicate, 4242)
    assert unknown.status_code == 422
    from_archived = merge(api, archived, survivor["id"])
    assert from_archived.status_code == 409
    stale = api.post(f"{path}/merge", {"into": survivor["id"]}, etag='"9"')
    assert stale.status_code == 412
    stale_survivor = merge(api, duplicate, survivor["id"], into_version=9)
    assert stale_survivor.status_code == 412
    assert api.get(path).get_json()["archived_at"] is None
    assert api.get("/institutions").get_json()["total"] == 2


def test_a_merged_duplicate_stays_archived_and_earlier_duplicates_follow(
    api: ApiCaller,
) -> None:
    first = add_partner(api, "A", "TR")
    second = add_partner(api, "B", "TR")
    third = add_partner(api, "C", "TR")
    for duplicate, survivor in ((first, second), (second, third)):
        merged = merge(api, duplicate, survivor["id"])
        assert merged.status_code == 200, merged.get_json()
    assert api.get(f"/institutions/{first['id']}").get_json()["merged_into_id"] == third["id"]
    path = f"/institutions/{second['id']}"
    assert api.post(f"{path}/unarchive", etag=api.etag(path)).status_code == 409
