"""Browser safety of the app shell, through real HTTP on loopback: the headers every
response carries."""

from __future__ import annotations

import re

import pytest
import requests
from conftest import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COORDINATOR = "coordinator-user"


@pytest.fixture
def site(live_server: str, web_users: dict[str, str]) -> str:
    """The app on loopback with its users (password PASSWORD): its root URL."""
    return live_server.removesuffix("/oai")


def _csrf(browser: requests.Session, site: str) -> str:
    found = _CSRF.search(browser.get(f"{site}/sign-in", timeout=10).text)
    assert found, "the sign-in page has no CSRF token"
    return found.group(1)


def signed_in(site: str, name: str = COORDINATOR) -> requests.Session:
    """A browser (a cookie jar) that has signed in with the form."""
    browser = requests.Session()
    response = browser.post(
        f"{site}/sign-in",
        data={"name": name, "password": PASSWORD, "csrf_token": _csrf(browser, site)},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return browser


# ------------------------------------------------------------------ headers

PAGE_POLICY = "default-src 'self'"
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"


def test_every_kind_of_response_forbids_sniffing_and_framing(
    site: str, tokens: dict[str, str]
) -> None:
    """Pages, redirects, errors, /oai, /api/v1, CSV downloads and static files alike."""
    coordinator = signed_in(site)
    anonymous = requests.Session()
    bearer = {"Authorization": f"Bearer {tokens['viewer']}"}
    cases = [
        # (who, path, headers, status, type, policy: the start of its CSP)
        (coordinator, "/", {}, 200, "text/html", PAGE_POLICY),
        (anonymous, "/", {}, 302, "text/html", PAGE_POLICY),
        (anonymous, "/no-such-page", {}, 404, "text/html", PAGE_POLICY),
        (anonymous, "/oai?verb=Identify", {}, 200, "text/xml", "default-src 'none'; script-src"),
        (anonymous, "/oai/static/oai2.xsl", {}, 200, "application/xslt+xml", DATA_POLICY),
        (anonymous, "/oai/static/oai2.css", {}, 200, "text/css", DATA_POLICY),
        (anonymous, "/oai/static/libfed.css", {}, 404, "text/html", PAGE_POLICY),
        (anonymous, "/static/libfed.css", {}, 200, "text/css", DATA_POLICY),
        (anonymous, "/static/favicon.svg", {}, 200, "image/svg+xml", DATA_POLICY),
        (anonymous, "/api/v1/institutions", bearer, 200, "application/json", DATA_POLICY),
        (anonymous, "/api/v1/institutions", {}, 401, "application/json", DATA_POLICY),
        (anonymous, "/api/v1/no-such-thing", bearer, 404, "application/json", DATA_POLICY),
        (coordinator, "/reports/balance.csv?year=2026", {}, 200, "text/csv", DATA_POLICY),
    ]
    for who, path, headers, status, kind, policy in cases:
        response = who.get(f"{site}{path}", headers=headers, allow_redirects=False, timeout=10)
        where = f"{path} -> {response.status_code} {response.headers.get('Content-Type')}"
        assert response.status_code == status, where
        assert response.headers["Content-Type"].split(";")[0] == kind, where
        assert response.headers["X-Content-Type-Options"] == "nosniff", where
        assert response.headers["X-Frame-Options"] == "DENY", where
        assert response.headers["Referrer-Policy"] == "same-origin", where
        assert response.headers["Content-Security-Policy"].startswith(policy), where
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], where
