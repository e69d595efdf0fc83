"""The dumps page in a real browser (Debian's Chromium): a visitor sees each file with its
size and SHA-256, the page fits a phone's 390 px (a checksum is 64 characters) and a
desktop with nothing axe-core finds wrong, and the "latest" link downloads the very file
the checksum is of."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from browser import checked
from conftest import ROOT, Clock, config_dict, load
from playwright.sync_api import Page, expect

from libfed.kernel.config import Config, parse_config
from libfed.kernel.db import Database
from libfed.oai import dumps

pytestmark = pytest.mark.slow

DEMO = ROOT / "libfed" / "root" / "demo" / "data" / "libfed_demo.xml"


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return parse_config(
        config_dict(database_url) | {"dumps": {"directory": str(tmp_path / "dumps")}}
    )


def test_the_dumps_page_lists_and_downloads_the_files(
    page: Page, db: Database, config: Config, clock: Clock
) -> None:
    load(db, str(DEMO))
    dump = dumps.make_dump(config, db)
    page.goto("/dumps/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Downloads of the whole catalogue")
    for entry in dump.files:
        expect(page.get_by_text(entry.sha256)).to_be_visible()
    expect(page.get_by_role("heading", level=3)).to_have_text(
        ["MARC 21 (MARCXML)", "MODS", "Dublin Core (OAI-PMH)", "JSON Lines"]
    )
    checked(page, "dumps")

    jsonl = next(entry for entry in dump.files if entry.format == "jsonl")
    facts = page.locator("dl").filter(has_text=jsonl.sha256)
    with page.expect_download() as downloading:
        facts.get_by_role("link", name="latest").click()
    download = downloading.value
    assert download.suggested_filename == f"{dump.stamp}-records.jsonl.gz"
    assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == jsonl.sha256
