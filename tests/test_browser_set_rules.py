"""The sets page in a real browser (Debian's Chromium): an administrator defines a set by
a rule on a phone, counts the records before saving, and both pages fit a phone and a
desktop with nothing axe-core finds wrong."""

from __future__ import annotations

from browser import PHONE, checked, submit
from playwright.sync_api import Page, expect
from test_browser import labelled, sign_in

from libfed.kernel.db import Database
from tests.records_helpers import put


def test_an_administrator_defines_a_set_by_a_rule_on_a_phone(
    page: Page, db: Database, web_users: dict[str, str]
) -> None:
    for n, language in enumerate(["aze", "aze", "rus"]):
        put(db, f"r{n}", title=f"Kitab {n}", language=language, date="1995", subject="Tarix")
    put(db, "hand", title="Əl ilə", language="aze", sets=("picked:by-hand",))
    sign_in(page, web_users["admin"])
    page.set_viewport_size(PHONE)
    page.goto("/sets")
    checked(page, "sets-01-list")

    page.get_by_text("Define a set by a rule").click()
    page.get_by_label(labelled("Set")).fill("lang:aze")
    submit(page, page.get_by_role("button", name="Continue"))
    page.get_by_label("Name").fill("Azerbaijani books")
    page.get_by_label("Languages").fill("aze")
    page.get_by_label("Years").fill("1990-2000")
    page.get_by_label("Subject words").fill("tarix")
    submit(page, page.get_by_role("button", name="Count the records"))
    expect(page.get_by_role("status")).to_contain_text("Records that would be in the set: 2.")
    checked(page, "sets-02-rule-counted", forms=("main form",))

    submit(page, page.get_by_role("button", name="Save the rule"))
    expect(page.get_by_role("status")).to_contain_text("Records in the set: 2")
    page.goto("/sets")
    row = page.get_by_role("row").filter(has_text="lang:aze")
    expect(row).to_contain_text("Azerbaijani books")
    expect(row).to_contain_text("1990-2000")
    checked(page, "sets-03-list-with-rule")
