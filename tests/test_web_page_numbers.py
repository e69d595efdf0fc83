"""Every paged page reads `?page=` alike (libfed.web.forms.page_number): a value that is
no page number is the first page, and one past the last allowed is the last allowed,
never a server error."""

from __future__ import annotations

import pytest
from conftest import WebClient

from libfed.harvest.models import Source
from libfed.kernel.db import Database
from libfed.web.forms import page_number

ODD = ["x", "0", "-3", "1.5", "", "99999999999", "٣"]


@pytest.mark.parametrize("raw", ODD)
def test_odd_page_numbers_are_pages(raw: str) -> None:
    assert 1 <= page_number({"page": raw}) <= 1_000_000


@pytest.mark.parametrize("raw", ODD)
def test_the_partners_page_takes_any_page_number(pages: WebClient, raw: str) -> None:
    assert pages.get(f"/partners?page={raw}").status_code == 200


@pytest.mark.parametrize("raw", ODD)
def test_a_harvest_source_page_takes_any_page_number(
    viewer_pages: WebClient, db: Database, raw: str
) -> None:
    with db.write() as session:
        session.add(Source(name="az-nl", base_url="http://127.0.0.1:9/oai", prefix="oai_dc"))
    assert viewer_pages.get(f"/harvesting/az-nl?page={raw}").status_code == 200
