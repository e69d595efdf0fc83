"""Browser safety of the app shell, through real HTTP on loopback: sessions that end on
the server when their browser signs out, and the headers every response carries."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import requests
from conftest import PASSWORD, Clock
from flask import Flask
from sqlalchemy import func, select

from libfed.accounts.models import WebSession
from libfed.accounts.users import find_user, set_password, update_user
from libfed.kernel.db import Database

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


def sign_out(browser: requests.Session, site: str) -> None:
    response = browser.post(
        f"{site}/sign-out",
        data={"csrf_token": _csrf(browser, site)},
        allow_redirects=False,
        timeout=10,
    )
    assert response.headers["Location"] == "/sign-in"


def may_see_the_dashboard(browser: requests.Session, site: str) -> bool:
    response = browser.get(f"{site}/", allow_redirects=False, timeout=10)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/sign-in?next=")
        return False
    assert response.status_code == 200
    return True


def copy_of(browser: requests.Session) -> requests.Session:
    """Another browser holding the same cookies, as someone who copied them would."""
    thief = requests.Session()
    thief.cookies.update(browser.cookies)
    return thief


def live_sessions(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(WebSession))


# ------------------------------------------------------------------ sessions


def test_a_cookie_copied_before_sign_out_is_refused_after_it(site: str) -> None:
    laptop = signed_in(site)
    desktop = signed_in(site)  # the same user in another browser
    copied = copy_of(laptop)
    assert may_see_the_dashboard(copied, site)

    sign_out(laptop, site)

    assert not may_see_the_dashboard(copied, site)
    assert not may_see_the_dashboard(laptop, site)
    assert may_see_the_dashboard(desktop, site)


def test_a_session_lasts_session_hours_after_the_last_request(
    site: str, app: Flask, clock: Clock
) -> None:
    lifetime = app.permanent_session_lifetime
    assert lifetime == timedelta(hours=12)  # [web] session_hours, by default
    browser = signed_in(site)
    for _ in range(3):  # each request within the lifetime keeps the session alive
        clock.advance((lifetime - timedelta(minutes=1)).total_seconds())
        assert may_see_the_dashboard(browser, site)
    clock.advance((lifetime + timedelta(seconds=1)).total_seconds())
    assert not may_see_the_dashboard(browser, site)


def test_expired_sessions_are_removed_at_the_next_sign_in(
    site: str, app: Flask, db: Database, clock: Clock
) -> None:
    signed_in(site)
    signed_in(site, "viewer-user")
    assert live_sessions(db) == 2
    clock.advance((app.permanent_session_lifetime + timedelta(seconds=1)).total_seconds())
    signed_in(site)
    assert live_sessions(db) == 1


def test_the_database_holds_only_a_digest_of_the_session_id(
    site: str, app: Flask, db: Database
) -> None:
    """A copy of the database (a backup) signs nobody in."""
    browser = signed_in(site)
    cookie = browser.cookies["libfed_session"]
    session_id = app.session_interface.get_signing_serializer(app).loads(cookie)["session_id"]
    assert len(session_id) >= 43  # 256 random bits
    with db.session() as session:
        stored = session.scalars(select(WebSession.digest)).all()
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]


@pytest.mark.parametrize("change", ["password", "disable"])
def test_a_password_change_or_disabling_ends_every_session_of_that_user_only(
    site: str, db: Database, change: str
) -> None:
    laptop, desktop = signed_in(site), signed_in(site)
    viewer = signed_in(site, "viewer-user")
    with db.write() as session:
        user = find_user(session, COORDINATOR)
        if change == "password":
            set_password(session, user, "another long password")
        else:
            update_user(session, user, active=False)
    assert not may_see_the_dashboard(laptop, site)
    assert not may_see_the_dashboard(desktop, site)
    assert may_see_the_dashboard(viewer, site)
    assert live_sessions(db) == 1


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
