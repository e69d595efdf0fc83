"""The sets page: sets with their members for everyone signed in, and for an
administrator the rule form with its count before saving (docs/sets.md)."""

from __future__ import annotations

import threading

import pytest
from conftest import REPOSITORY_ID, WebClient
from records_helpers import put

from libfed.kernel.db import Database
from libfed.records.set_membership import set_summaries


def test_an_administrator_counts_saves_and_removes_a_rule(
    db: Database, admin_pages: WebClient, client
) -> None:
    for n, language in enumerate(["aze", "aze", "rus"]):
        put(db, f"r{n}", title=f"Book {n}", language=language, date="1995")
    page = admin_pages.get("/sets/new?spec=lang:aze", follow_redirects=True)
    assert page.status_code == 200 and "This set does not exist yet" in page.get_data(as_text=True)

    typed = {"name": "Azerbaijani", "languages": "aze", "years": "1990-2000"}
    counted = admin_pages.post("/sets/lang:aze", {**typed, "action": "preview"})
    assert counted.status_code == 200
    assert "Records that would be in the set: 2." in counted.get_data(as_text=True)
    with db.session() as session:
        assert set_summaries(session, ["lang:aze"]) == []  # nothing saved by a count

    saved = admin_pages.post("/sets/lang:aze", {**typed, "action": "save"}, follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Rule saved. Records in the set: 2; datestamps changed: 2." in text
    assert 'value="1990-2000"' in text  # the form shows the rule saved
    listed = admin_pages.text("/sets")
    assert "lang:aze" in listed and "Azerbaijani" in listed
    oai = client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&set=lang:aze")
    assert oai.get_data(as_text=True).count("<identifier>") == 2

    removed = admin_pages.post("/sets/lang:aze/remove-rule", follow_redirects=True)
    assert "The set keeps its records (2)" in removed.get_data(as_text=True)
    with db.session() as session:
        assert set_summaries(session, ["lang:aze"])[0].rule is None


def test_a_bad_rule_is_refused_beside_its_field_and_nothing_is_saved(
    db: Database, admin_pages: WebClient
) -> None:
    refused = admin_pages.post(
        "/sets/lang:x",
        {"years": "2000-1990", "fields": "650a~history\n65a=x", "action": "save"},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "the first must not be later" in text and "is not a field condition" in text
    assert "650a~history\n65a=x" in text  # kept as typed
    assert admin_pages.post("/sets/lang:x", {"action": "save"}).status_code == 422
    assert admin_pages.get("/sets/new?spec=source:partner").status_code == 422
    with db.session() as session:
        assert set_summaries(session, ["lang:x"]) == []


def test_a_viewer_sees_the_sets_but_not_the_form_and_a_post_needs_its_token(
    db: Database, viewer_pages: WebClient, admin_pages: WebClient, client
) -> None:
    put(db, "r1", title="Bir", language="aze", sets=("hand",))
    listed = viewer_pages.text("/sets")
    assert "hand" in listed and "no rule" in listed
    assert "Define a set by a rule" not in listed
    assert viewer_pages.get("/sets/hand").status_code == 403
    assert viewer_pages.post("/sets/hand", {"languages": "aze"}).status_code == 403
    assert client.get("/sets").status_code == 302  # sign in first
    forged = admin_pages.client.post("/sets/hand", data={"languages": "aze", "action": "save"})
    assert forged.status_code == 400
    with db.session() as session:
        assert set_summaries(session, ["hand"])[0].rule is None
    assert f"oai:{REPOSITORY_ID}:r1"


def test_over_a_large_catalogue_the_records_are_evaluated_after_the_answer(
    db: Database, admin_pages: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("libfed.oai.web.INLINE_RECORDS", 1)
    for n, language in enumerate(["aze", "aze", "rus"]):
        put(db, f"r{n}", title=f"Book {n}", language=language)

    saved = admin_pages.post("/sets/lang:aze", {"languages": "aze", "action": "save"})

    assert saved.status_code == 303
    for thread in threading.enumerate():
        if thread.name == "set-rule:lang:aze":
            thread.join(timeout=60)
    text = admin_pages.text("/sets/lang:aze")
    assert "The stored records are being evaluated now" in text
    with db.session() as session:
        assert set_summaries(session, ["lang:aze"])[0].members == 2
