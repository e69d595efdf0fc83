"""Each part of the application renders its own errors (libfed.kernel.rendering): JSON
under /api/v1, plain HTTP under /oai, the HTML error page on the pages; an unmatched URL
by whoever owns its prefix, and anything unexpected logged wherever it happens."""

from __future__ import annotations

import pytest
from conftest import WebClient

SHELL = "Back to the first page"  # the HTML error page's link home
WERKZEUG = "<title>404 Not Found</title>"


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("a bug")


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1"])
def test_an_unknown_url_under_the_api_is_json(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_method_the_api_does_not_take_is_json_with_allow(client) -> None:  # type: ignore[no-untyped-def]
    response = client.delete("/api/v1/search")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/oai/no-such-thing", "/oai/static/libfed.css"])
def test_an_unknown_url_under_oai_is_plain_http(client, path: str) -> None:  # type: ignore[no-untyped-def]
    """Unmatched (the prefix's owner answers) or refused by the endpoint's own view."""
    response = client.get(path)
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert WERKZEUG in text
    assert SHELL not in text


def test_a_method_oai_does_not_take_is_plain_http_with_allow(client) -> None:  # type: ignore[no-untyped-def]
    response = client.put("/oai")
    assert response.status_code == 405
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))
    assert SHELL not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1x", "/oai-elsewhere/x"])
def test_an_unknown_page_is_the_html_error_page(client, path: str) -> None:  # type: ignore[no-untyped-def]
    """A prefix is owned segment by segment: /api/v1x is no part of the API."""
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert SHELL in response.get_data(as_text=True)


def test_a_refusal_on_a_page_is_the_html_error_page(pages: WebClient) -> None:
    response = pages.get("/partners/999999")
    assert response.status_code == 404
    assert SHELL in response.get_data(as_text=True)


def test_an_unexpected_error_in_the_api_is_json_and_logged(
    client,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("libfed.search.api.run_search", _boom)
    response = client.get("/api/v1/search?q=word")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal"
    assert "unhandled error in GET /api/v1/search" in caplog.text


def test_an_unexpected_error_on_a_page_is_the_html_error_page_and_logged(
    pages: WebClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("libfed.search.web.languages_present", _boom)
    response = pages.get("/search")
    assert response.status_code == 500
    assert SHELL in response.get_data(as_text=True)
    assert "unhandled error in GET /search" in caplog.text


def test_an_unexpected_error_under_oai_is_logged(
    client,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("libfed.oai.provider.Provider.respond", _boom)
    response = client.get("/oai?verb=Identify")
    assert response.status_code == 500
    assert "unhandled error in GET /oai" in caplog.text
